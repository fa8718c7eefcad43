import Glibc
import NetPollTrace
import Synchronization
import Testing

@testable import NetPoll

/// Go issue 59545: an event collected for an fd that is then closed and reused must not reach
/// the new owner.
@Suite struct FDReuse {
  @Test(
    "a stale event for a closed-and-reused fd is dropped and recorded, not delivered",
    arguments: Backend.available)
  func staleEventIsDropped(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let reused = SendableBox<(PollToken, PollToken)>()
    let trace = try await h.run { rt in
      let listener = try TCPListener(on: rt, address: "127.0.0.1:0")
      // Close an accepted connection and accept the next one until the kernel hands the new one
      // the old number (other tests in this process open fds too, so it may take a few tries).
      var clients: [TCPConnection] = []
      clients.append(try await TCPConnection.connect(to: listener.localAddress, on: rt))
      var first = try await listener.accept()
      var attempt = (first.debugToken, first.debugToken, first, first)
      for _ in 0..<500 {
        let next = try await TCPConnection.connect(to: listener.localAddress, on: rt)
        clients.append(next)
        let oldToken = first.debugToken
        first.close()  // no operation holds it: deregistered and closed at once
        let second = try await listener.accept()
        attempt = (oldToken, second.debugToken, first, second)
        if second.debugToken.fd == oldToken.fd { break }
        first = second
      }
      let (oldToken, newToken, _, second) = attempt
      let client2 = clients.last!
      reused.value = (oldToken, newToken)
      try #require(newToken.fd == oldToken.fd, "the kernel reused the fd number")
      #expect(newToken.tag != oldToken.tag)

      async let got = second.read(maxBytes: 10)
      try await eventually("the new owner parks") { second.debugReadState == .parked }
      // The event the kernel returned for the old registration arrives now.
      // inject() dispatches before it returns: a wake, had there been one, has happened.
      rt.inject([PollEvent(token: oldToken, readable: true, writable: true)])
      #expect(second.debugReadState == .parked, "the new owner was not woken")
      try await client2.write([5])
      #expect(try await got == [5])
      for c in clients { c.close() }
      second.close()
      listener.close()
    }
    let (old, new) = reused.value!
    // The injected event is dropped as stale, stamped with the new owner's tag. io_uring may
    // also report the old registration's own final completion after the fd was reused: a real
    // stale event, dropped the same way, so there may be more than one.
    let stale = trace.of(.stale).filter { $0.a == Int64(old.fd) && $0.c == Int64(new.tag) }
    #expect(stale.count >= 1)
    #expect(stale.allSatisfy { $0.b == Int64(old.tag) }, "only the old registration's events are dropped")
    let staleSeq = stale.first?.seq ?? 0
    let later = trace.waits(fd: new.fd).filter { $0.kind == .wake && $0.seq > staleSeq }
    #expect(later.count == 1, "one wake, by the real data")
    #expect(later.first?.d == TraceWakeReason.ready.rawValue)
  }
}

/// The same drop, with nothing injected: the kernel reports an fd, and before the runtime handles
/// the report the fd is closed and its number registered again (the poll hook runs in exactly
/// that window, on the polling thread).
@Suite struct RealStaleEvent {
  /// What the hook did: whether it ran, and the connection that took the closed fd's number.
  final class Reuse: Sendable {
    let state = Mutex<(fired: Bool, reused: TCPConnection?)>((false, nil))
  }

  @Test(
    "a report the kernel made for an fd closed and reused before dispatch is recorded as stale",
    arguments: Backend.available.filter { $0 != .uringCompletion })
  func kernelReportOvertakenByReuse(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let found = SendableBox<(PollToken, PollToken)>()
    let trace = try await h.run { rt in
      // Other tests in this process open fds too, so the lowest free number may be taken
      // between the close and the socket(2): try again with a fresh connection.
      for _ in 0..<50 {
        let (server, client, listener) = try await Harness.pair(rt)
        let old = server.debugToken
        let reuse = Reuse()
        rt.setPollHook { events in
          guard events.contains(where: { $0.token.fd == old.fd && $0.token.tag == old.tag }) else { return }
          let first = reuse.state.withLock { s in
            defer { s.fired = true }
            return !s.fired
          }
          guard first else { return }
          server.close()  // nothing holds it: deregistered and closed now
          let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
          if fd == old.fd {
            let taken = try? TCPConnection(fd: fd, runtime: rt)
            reuse.state.withLock { $0.reused = taken }
          } else if fd >= 0 {
            Glibc.close(fd)
          }
        }
        try await client.write([1])  // an edge for the hook, if the ADD's own was seen already
        try await eventually("the poller reported the fd") { reuse.state.withLock { $0.fired } }
        rt.setPollHook(nil)
        client.close()
        listener.close()
        if let new = reuse.state.withLock({ $0.reused }) {
          found.value = (old, new.debugToken)
          new.close()
          break
        }
      }
    }
    let (old, new) = try #require(found.value, "the kernel never gave the closed fd's number back")
    #expect(new.fd == old.fd && new.tag != old.tag)
    let fd = Int64(old.fd)
    let oldTag = Int64(old.tag)
    let newTag = Int64(new.tag)
    let oldData = Int64(bitPattern: old.userData)
    // epoll: a ready-list item names fd and tag; uring: a poll completion's user_data is the token.
    func reports(_ r: TraceRecord) -> Bool {
      if r.kind == .readyItem { return r.a == fd && r.b == oldTag }
      return r.kind == .uringCQE && r.a == oldData
    }
    let reportSeq = try #require(
      trace.first(where: reports)?.seq, "the kernel's report of fd \(fd) tag \(oldTag)")
    let close = trace.first { (r: TraceRecord) -> Bool in r.kind == .close && r.a == fd && r.seq > reportSeq }
    let closeSeq = try #require(close?.seq, "the fd's close after the report")
    let stale = trace.first { (r: TraceRecord) -> Bool in r.kind == .stale && r.a == fd && r.b == oldTag }
    let staleSeq = try #require(stale?.seq, "a stale event for the old tag")
    #expect(closeSeq < staleSeq, "the close came between the report and its handling")
    #expect(stale?.c == newTag, "the stale event names the fd's new owner")
    let wokeByIt = trace.contains { (r: TraceRecord) -> Bool in
      r.kind == .wake && r.b == fd && r.seq == staleSeq + 1
    }
    #expect(!wokeByIt, "the report woke nobody")
  }
}
