#if canImport(Glibc)
  import Glibc
#endif

/// A listening TCP socket on the runtime: `socket`, `SO_REUSEADDR`, `bind`, `listen`; `accept`
/// parks the task until a connection arrives.
public final class TCPListener: Sendable {
  let handle: PollFD
  /// The address the socket is bound to (with the real port when port 0 was asked for).
  public let localAddress: SocketAddress

  /// Binds and listens on `address` (non-blocking, close-on-exec).
  public init(on runtime: NetPollRuntime, address: SocketAddress, backlog: Int32 = 511)
    throws(NetPollError)
  {
    let sys = runtime.sys
    let fd: Int32
    do { fd = try sys.socket(domain: address.family) } catch {
      throw .system(syscall: "socket", errno: error)
    }
    do {
      try sys.setsockopt(fd: fd, option: .reuseAddress, value: 1)
    } catch {
      try? sys.close(fd: fd)
      throw .system(syscall: "setsockopt", errno: error)
    }
    do {
      try sys.bind(fd: fd, address: address)
    } catch {
      try? sys.close(fd: fd)
      throw .system(syscall: "bind", errno: error)
    }
    do {
      try sys.listen(fd: fd, backlog: backlog)
    } catch {
      try? sys.close(fd: fd)
      throw .system(syscall: "listen", errno: error)
    }
    do {
      localAddress = try sys.getsockname(fd: fd)
    } catch {
      try? sys.close(fd: fd)
      throw .system(syscall: "getsockname", errno: error)
    }
    handle = try PollFD(fd: fd, runtime: runtime)
  }

  /// Convenience: parses `HOST:PORT` and listens there.
  public convenience init(on runtime: NetPollRuntime, address: String, backlog: Int32 = 511)
    throws(NetPollError)
  {
    try self.init(on: runtime, address: SocketAddress(address), backlog: backlog)
  }

  /// The listening fd.
  public var fd: Int32 { handle.fd }

  /// Accepts a connection (`accept4`, or `IORING_OP_ACCEPT` in completion mode), parking while
  /// none is pending.
  public func accept() async throws(NetPollError) -> TCPConnection {
    let newFD = try await handle.io.accept(handle)
    return try TCPConnection(fd: newFD, runtime: handle.runtime)
  }

  /// Stops listening; a task parked in ``accept()`` wakes with ``NetPollError/closed``.
  public func close() { handle.close() }

  /// Sets or clears the deadline for ``accept()``.
  public func setAcceptDeadline(after duration: Duration?) {
    handle.runtime.setDeadline(handle.pd, .read, after: duration)
  }

  /// Waits until `duration` has passed, a connection becomes ready to accept, or the listener is
  /// closed, without accepting: parks on the listener (epoll/io_uring readiness) under a read
  /// deadline of the runtime's own timer. It replaces any ``setAcceptDeadline(after:)`` and
  /// clears it on return. A server that ran out of fds (EMFILE) backs off with it: unlike
  /// `Task.sleep`, it needs no timer thread of libdispatch's, which opens files of its own.
  public func pause(for duration: Duration) async {
    guard (try? handle.acquire()) != nil else { return }  // closed: the next accept says so
    defer { handle.release() }
    let runtime = handle.runtime
    runtime.setDeadline(handle.pd, .read, after: duration)
    try? await runtime.wait(handle.pd, .read)  // readiness, the deadline, or close
    runtime.setDeadline(handle.pd, .read, after: nil)
  }
}
