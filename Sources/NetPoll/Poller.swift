/// How long ``Poller/poll(delay:into:)`` may wait, after Go's `netpoll(delay)`:
/// a negative delay blocks, zero polls, a positive delay waits up to that many nanoseconds.
public enum PollDelay: Sendable, Equatable {
  /// Wait until an event or a ``Poller/wakeup()``.
  case block
  /// Return at once with whatever is ready.
  case nonBlocking
  /// Wait at most this many nanoseconds.
  case nanoseconds(Int64)
}

/// What a registration's 64-bit user data carries: the fd and the sequence tag of the poll
/// descriptor that owned it when it was registered. An event whose tag no longer matches the
/// fd's current descriptor belongs to a closed-and-reused fd and is dropped (Go issue 59545).
public struct PollToken: Sendable, Hashable {
  public var fd: Int32
  public var tag: UInt32

  public init(fd: Int32, tag: UInt32) {
    self.fd = fd
    self.tag = tag
  }

  /// The packed form stored in `epoll_event.data.u64` or an SQE's `user_data`.
  public var userData: UInt64 { UInt64(tag) << 32 | UInt64(UInt32(bitPattern: fd)) }

  public init(userData: UInt64) {
    fd = Int32(bitPattern: UInt32(truncatingIfNeeded: userData))
    tag = UInt32(truncatingIfNeeded: userData >> 32)
  }
}

/// One readiness report: which registration, and which directions became ready.
public struct PollEvent: Sendable {
  public var token: PollToken
  public var readable: Bool
  public var writable: Bool
  /// The peer hung up or the socket has an error (`EPOLLRDHUP|EPOLLHUP|EPOLLERR`), or the backend
  /// cannot tell whether it did (a re-armed poll whose edges may have been lost): a read may
  /// return end of stream or an error with no further edge to announce it.
  public var hangup: Bool

  public init(token: PollToken, readable: Bool, writable: Bool, hangup: Bool = false) {
    self.token = token
    self.readable = readable
    self.writable = writable
    self.hangup = hangup
  }
}

/// The kernel readiness interface: the only code that knows whether epoll or io_uring runs.
///
/// Modelled on Go's netpoll backend (`netpollinit`, `netpollopen`, `netpollclose`, `netpoll`,
/// `netpollBreak`, `netpollIsPollDescriptor`). The backend only translates; the generic runtime
/// (``NetPollRuntime``) owns poll descriptors, decides who to wake and drops stale events.
///
/// Rules every implementation keeps:
/// - ``open(fd:token:)`` registers `fd` once, for both directions, edge-triggered: an event is
///   reported when a direction *becomes* ready, and the runtime retries its call until EAGAIN before
///   it parks again. Error and hang-up conditions count as both readable and writable.
/// - ``poll(delay:into:)`` is called by one thread at a time (the worker holding the poller role);
///   ``open(fd:token:)``, ``close(fd:token:)`` and ``wakeup()`` may be called from any thread.
/// - ``close(fd:token:)`` is called before the fd is closed; after it returns, no new event for the
///   registration is produced, though one already collected may still be reported (the tag
///   catches it).
/// - ``wakeup()`` makes a blocked or the next ``poll(delay:into:)`` return promptly; concurrent
///   wake-ups fold into one. It may race ``shutdown()`` (work enqueued from outside the runtime
///   breaks the poll): after shutdown it does nothing.
/// - ``shutdown()`` hands the kernel whatever the backend prepared and has not yet submitted (a
///   trace never shows a submission that no kernel entry carried), then releases its objects.
/// - Every system call goes through ``Syscalls``, so the trace sees it.
public protocol Poller: AnyObject, Sendable {
  /// The `trace_start.backend` name ("epoll", "uring").
  var name: String { get }
  /// The system call ``open(fd:token:)`` makes, to name it in an error ("epoll_ctl").
  var registrationCall: String { get }
  /// Starts reporting readiness of `fd` in both directions, tagged with `token`.
  func open(fd: Int32, token: PollToken) throws(Errno)
  /// Stops reporting readiness of `fd`.
  func close(fd: Int32, token: PollToken) throws(Errno)
  /// Waits up to `delay` and appends what became ready to `events` (at most 128 per call).
  func poll(delay: PollDelay, into events: inout [PollEvent]) throws(Errno)
  /// Interrupts a blocking ``poll(delay:into:)`` from any thread.
  func wakeup()
  /// True when `fd` is one of the poller's own descriptors (Go's `netpollIsPollDescriptor`).
  func isPollerDescriptor(_ fd: Int32) -> Bool
  /// Releases the poller's kernel objects; called once, when no thread can poll any more.
  func shutdown()
}
