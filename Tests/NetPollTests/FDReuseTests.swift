import Glibc
import NetPoll
import NetPollTrace
import Testing

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
