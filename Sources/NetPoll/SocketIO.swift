import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// How a socket operation reaches the kernel, completion-shaped: each call returns when the
/// operation is done (or has failed, or was interrupted by a deadline, a close or a task cancel).
///
/// Two implementations:
/// - ``ReadinessSocketIO`` (epoll, io_uring readiness mode) makes the system call, and on EAGAIN
///   parks on the poll descriptor until the poller reports readiness, then retries (Go's model).
/// - ``URingCompletion`` (io_uring completion mode) submits the operation itself to the ring
///   (`IORING_OP_ACCEPT`, `RECV`, `SEND`) and parks until its CQE arrives: no EAGAIN round trip.
///
/// Rules every implementation keeps:
/// - the caller holds no reference on `handle`; the implementation takes one for the call
///   (``PollFD/acquire()``), so the fd is not closed while the kernel may still use it;
/// - a buffer passed in is the kernel's until the call returns: a deadline, close or cancel
///   interrupts the operation, but the call returns only once the kernel is done with the buffer
///   (with the bytes moved, if the interruption lost the race);
/// - a suspended task is logged as `park` and its resumption as `wake`, one each, with the reasons
///   of ``TraceWakeReason``;
/// - at most one task waits per direction: a second one gets ``NetPollError/concurrentWait``;
/// - every park goes through ``NetPollRuntime/park(_:_:_:published:refused:)``, the one copy of
///   the park protocol.
///
/// A backend vends its ``Poller`` and its ``SocketIO`` together (``Backend/makeDriver(sys:ringEntries:)``);
/// the runtime above never asks which one it got.
protocol SocketIO: Sendable {
  /// The system call ``register(fd:token:)`` makes, to name it in an error ("epoll_ctl").
  var registrationCall: String { get }
  /// Prepares `fd` for this I/O model when it joins the runtime: a readiness registration with
  /// the poller (``Poller/open(fd:token:)``), or nothing where each operation is its own
  /// submission (completion mode).
  func register(fd: Int32, token: PollToken) throws(Errno)
  /// Undoes ``register(fd:token:)`` before the fd is closed (the `DEL` of "DEL before close").
  func deregister(fd: Int32, token: PollToken) throws(Errno)
  /// A close, deadline or cancel took `waiter` from its semaphore. Returns true when the waiter
  /// is parked on a kernel operation that this call is now cancelling (the operation's end will
  /// resume it, so its buffer is never the kernel's after it returns); false when the caller
  /// should wake it at once.
  func interrupt(_ waiter: Waiter, reason: TraceWakeReason) -> Bool

  /// Accepts one connection on the listening socket; returns its fd (non-blocking, close-on-exec).
  func accept(_ handle: PollFD) async throws(NetPollError) -> Int32
  /// Reads into `buffer`; returns the byte count, 0 at end of stream.
  func read(_ handle: PollFD, into buffer: UnsafeMutableRawBufferPointer) async throws(NetPollError) -> Int
  /// Writes from `buffer`; returns the bytes written (at least one unless `buffer` is empty).
  func write(_ handle: PollFD, from buffer: UnsafeRawBufferPointer) async throws(NetPollError) -> Int
  /// Waits for a non-blocking `connect` (already started, EINPROGRESS) to finish and returns
  /// normally if it succeeded.
  func finishConnect(_ handle: PollFD) async throws(NetPollError)
}

/// ``SocketIO`` on a readiness poller: the system call, and on EAGAIN a park until the fd is
/// ready in that direction (``PollFD/perform(_:_:levelCheck:mayStayReady:drainCheck:drains:_:)``).
struct ReadinessSocketIO: SocketIO {
  /// The readiness poller fds are registered with.
  let poller: any Poller

  var registrationCall: String { poller.registrationCall }

  func register(fd: Int32, token: PollToken) throws(Errno) { try poller.open(fd: fd, token: token) }

  func deregister(fd: Int32, token: PollToken) throws(Errno) { try poller.close(fd: fd, token: token) }

  /// A task parked for readiness holds nothing in the kernel: wake it at once.
  func interrupt(_ waiter: Waiter, reason: TraceWakeReason) -> Bool { false }

  func accept(_ handle: PollFD) async throws(NetPollError) -> Int32 {
    let sys = handle.runtime.sys
    let fd = handle.fd
    // No level check: a false EAGAIN here delays the queued connections until the next one
    // arrives and brings an edge, and checking would cost a poll(2) at the end of every burst.
    return try await handle.perform(.read, "accept") { () throws(Errno) in try sys.accept(fd: fd) }
  }

  func read(_ handle: PollFD, into buffer: UnsafeMutableRawBufferPointer) async throws(NetPollError) -> Int {
    let sys = handle.runtime.sys
    let fd = handle.fd
    // Any read that returns ends the doubt a wake left. A read that filled the buffer may leave
    // data queued, but checking after it would cost a poll(2) per message to every reader of
    // exact-size messages (the next read finds that data anyway, unless its EAGAIN is false).
    // A short read (not 0: end of stream has no edge after it) drained the stream socket.
    let count = buffer.count
    return try await handle.perform(
      .read, "read", levelCheck: true, mayStayReady: { _ in false }, drainCheck: true,
      drains: { $0 > 0 && $0 < count }, { () throws(Errno) in try sys.read(fd: fd, into: buffer) })
  }

  func write(_ handle: PollFD, from buffer: UnsafeRawBufferPointer) async throws(NetPollError) -> Int {
    let sys = handle.runtime.sys
    let fd = handle.fd
    let count = buffer.count
    // A write that took everything never filled the buffer: no "writable" edge will follow it.
    // Checking there is cheap, since a write rarely meets EAGAIN.
    return try await handle.perform(
      .write, "write", levelCheck: true, mayStayReady: { $0 == count },
      { () throws(Errno) in try sys.write(fd: fd, from: buffer) })
  }

  func finishConnect(_ handle: PollFD) async throws(NetPollError) {
    let sys = handle.runtime.sys
    let fd = handle.fd
    try await handle.perform(.write, "connect") { () throws(Errno) in
      let status = try sys.socketError(fd: fd)
      if status == 0 { return }
      if status == EINPROGRESS || status == EALREADY { throw .wouldBlock }
      throw Errno(status)
    }
  }
}
