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
/// - at most one task waits per direction: a second one gets ``NetPollError/concurrentWait``.
protocol SocketIO: Sendable {
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
/// ready in that direction (``PollFD/perform(_:_:_:)``).
struct ReadinessSocketIO: SocketIO {
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
    let never: (Int) -> Bool = { _ in false }
    return try await handle.perform(.read, "read", mayStayReady: never) { () throws(Errno) in
      try sys.read(fd: fd, into: buffer)
    }
  }

  func write(_ handle: PollFD, from buffer: UnsafeRawBufferPointer) async throws(NetPollError) -> Int {
    let sys = handle.runtime.sys
    let fd = handle.fd
    let count = buffer.count
    // A write that took everything never filled the buffer: no "writable" edge will follow it.
    // Checking there is cheap, since a write rarely meets EAGAIN.
    let tookAll: (Int) -> Bool = { $0 == count }
    return try await handle.perform(.write, "write", mayStayReady: tookAll) { () throws(Errno) in
      try sys.write(fd: fd, from: buffer)
    }
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

extension NetPollRuntime {
  /// The runtime's ``SocketIO``: the completion engine of an io_uring poller in completion mode,
  /// otherwise the readiness loop. Looked up once per fd (``PollFD``), not per operation.
  var socketIO: any SocketIO {
    if let uring = poller as? URingPoller, let completion = uring.completion { return completion }
    return ReadinessSocketIO()
  }

  /// The completion engine, when the runtime runs io_uring in completion mode.
  var completion: URingCompletion? { (poller as? URingPoller)?.completion }
}
