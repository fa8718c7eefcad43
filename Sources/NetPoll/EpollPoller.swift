import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The ``Poller`` on epoll: one edge-triggered registration per fd
/// (`EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET`), up to 128 events per `epoll_wait`, and an eventfd to
/// break a blocking wait.
// @unchecked Sendable: `events` is touched only by the one polling thread.
public final class EpollPoller: Poller, @unchecked Sendable {
  public let name = "epoll"
  public let registrationCall = "epoll_ctl"
  static let maxEvents = 128
  private static let registration = UInt32(
    EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue)
  // The eventfd's registration carries tag 0; poll descriptors' tags start at 1.
  private static let wakeupTag: UInt32 = 0

  private let sys: Syscalls
  private let epfd: Int32
  private let wakeFD: Int32
  /// Set by the first ``wakeup()`` until the poller drains the eventfd: later ones are folded.
  private let wakeupPending = Atomic<Bool>(false)
  /// Set by ``shutdown()`` before it closes the eventfd. A wake-up writes under this lock, so none
  /// can write to the number after it was closed (and possibly reused by another open).
  private let closed = Mutex(false)
  private let events: UnsafeMutableBufferPointer<epoll_event>

  /// Creates the epoll instance and its wake-up eventfd (Go's `netpollinit`).
  public init(sys: Syscalls) throws(Errno) {
    self.sys = sys
    epfd = try sys.epollCreate()
    do {
      wakeFD = try sys.eventfd()
    } catch {
      try? sys.close(fd: epfd)
      throw error
    }
    events = .allocate(capacity: Self.maxEvents)
    let token = PollToken(fd: wakeFD, tag: Self.wakeupTag)
    // Level-triggered, unlike the sockets: a non-blocking poll may see the wake-up without
    // draining it, and the next blocking poll must still see it (as in Go's netpoll_epoll.go).
    try sys.epollCtl(
      epfd: epfd, op: EPOLL_CTL_ADD, fd: wakeFD, events: UInt32(EPOLLIN.rawValue),
      data: token.userData, tag: token.tag)
  }

  public func open(fd: Int32, token: PollToken) throws(Errno) {
    try sys.epollCtl(
      epfd: epfd, op: EPOLL_CTL_ADD, fd: fd, events: Self.registration, data: token.userData,
      tag: token.tag)
  }

  public func close(fd: Int32, token: PollToken) throws(Errno) {
    try sys.epollCtl(epfd: epfd, op: EPOLL_CTL_DEL, fd: fd, events: 0, data: 0, tag: token.tag)
  }

  public func poll(delay: PollDelay, into out: inout [PollEvent]) throws(Errno) {
    let timeoutMs: Int32 =
      switch delay {
      case .block: -1
      case .nonBlocking: 0
      // Round up: a deadline must not be polled for a moment too early and spin.
      case .nanoseconds(let ns): Int32(clamping: max(1, (ns + 999_999) / 1_000_000))
      }
    let n: Int
    do {
      n = try sys.epollWait(epfd: epfd, events: events, timeoutMs: timeoutMs) {
        let t = PollToken(userData: $0.data.u64)
        return (t.fd, t.tag)
      }
    } catch Errno.interrupted {
      return  // the caller recomputes its timeout and polls again
    }
    for i in 0..<n {
      let ev = events[i]
      let token = PollToken(userData: ev.data.u64)
      if token.fd == wakeFD && token.tag == Self.wakeupTag {
        if delay != .nonBlocking { drainWakeup() }
        continue
      }
      let bits = ev.events
      let errOrHup = bits & UInt32(EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
      let readable =
        errOrHup || bits & UInt32(EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLPRI.rawValue) != 0
      let writable = errOrHup || bits & UInt32(EPOLLOUT.rawValue) != 0
      let hangup = errOrHup || bits & UInt32(EPOLLRDHUP.rawValue) != 0
      if readable || writable {
        out.append(PollEvent(token: token, readable: readable, writable: writable, hangup: hangup))
      }
    }
  }

  /// Reads the eventfd back to zero so the next ``wakeup()`` makes a new edge.
  private func drainWakeup() {
    var counter: UInt64 = 0
    _ = try? withUnsafeMutableBytes(of: &counter) { buf throws(Errno) in
      try sys.read(fd: wakeFD, into: buf)
    }
    wakeupPending.store(false, ordering: .releasing)
  }

  public func wakeup() {
    guard !wakeupPending.exchange(true, ordering: .acquiringAndReleasing) else { return }
    // Taken once per folded wake-up, next to a write(2): uncontended except against shutdown.
    closed.withLock { closed in
      guard !closed else { return }  // shut down: nobody polls any more
      var one: UInt64 = 1
      do throws(Errno) {
        _ = try withUnsafeBytes(of: &one) { buf throws(Errno) in try sys.write(fd: wakeFD, from: buf) }
      } catch .wouldBlock {
        // The counter is full, so a wake-up is already pending.
      } catch {
        preconditionFailure("EpollPoller: write to wake-up eventfd \(wakeFD) failed: \(error)")
      }
    }
  }

  public func isPollerDescriptor(_ fd: Int32) -> Bool { fd == epfd || fd == wakeFD }

  public func shutdown() {
    closed.withLock { $0 = true }
    // Deregistered like every other fd, so a trace never shows a close of a registered fd.
    try? sys.epollCtl(epfd: epfd, op: EPOLL_CTL_DEL, fd: wakeFD, events: 0, data: 0, tag: Self.wakeupTag)
    try? sys.close(fd: wakeFD)
    try? sys.close(fd: epfd)
    events.deallocate()
  }
}
