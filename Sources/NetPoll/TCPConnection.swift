#if canImport(Glibc)
  import Glibc
#endif

/// A connected TCP socket on the runtime. Reads and writes park the task until they can complete:
/// on EAGAIN until the poller reports readiness (epoll, uring), or on the ring operation itself
/// until its completion (uring-completion). One task may read while another writes.
public final class TCPConnection: Sendable {
  let handle: PollFD

  init(fd: Int32, runtime: NetPollRuntime) throws(NetPollError) {
    handle = try PollFD(fd: fd, runtime: runtime)
  }

  /// Connects to `address`: a non-blocking `connect`, then a park until the socket is writable
  /// and `SO_ERROR` says how it went.
  public static func connect(to address: SocketAddress, on runtime: NetPollRuntime) async throws(NetPollError)
    -> TCPConnection
  {
    let sys = runtime.sys
    let fd: Int32
    do { fd = try sys.socket(domain: address.family) } catch {
      throw .system(syscall: "socket", errno: error)
    }
    // Registered before connect so the writability edge that completes it cannot be missed.
    let connection = try TCPConnection(fd: fd, runtime: runtime)
    let handle = connection.handle
    do {
      try handle.withReference("connect") { () throws(Errno) in
        do throws(Errno) {
          try sys.connect(fd: fd, address: address)
        } catch {
          if error != .inProgress { throw error }
        }
      }
      try await handle.io.finishConnect(handle)
    } catch {
      connection.close()
      throw error
    }
    return connection
  }

  /// Convenience: parses `HOST:PORT` and connects.
  public static func connect(to address: String, on runtime: NetPollRuntime) async throws(NetPollError)
    -> TCPConnection
  {
    try await connect(to: SocketAddress(address), on: runtime)
  }

  /// The connection's fd.
  public var fd: Int32 { handle.fd }

  /// Reads into `buffer` (`read(2)`, or `IORING_OP_RECV` in completion mode); returns the byte
  /// count, 0 at end of stream. The buffer is the kernel's until the call returns.
  public func read(into buffer: UnsafeMutableRawBufferPointer) async throws(NetPollError) -> Int {
    try await handle.io.read(handle, into: buffer)
  }

  /// Reads up to `maxBytes`; an empty array means end of stream.
  public func read(maxBytes: Int) async throws(NetPollError) -> [UInt8] {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxBytes, alignment: 1)
    defer { buffer.deallocate() }
    let n = try await read(into: buffer)
    return Array(buffer[0..<n])
  }

  /// Writes all of `buffer` (`write(2)`, or `IORING_OP_SEND` in completion mode), parking
  /// whenever the socket buffer is full.
  public func write(_ buffer: UnsafeRawBufferPointer) async throws(NetPollError) {
    var offset = 0
    while offset < buffer.count {
      let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
      offset += try await handle.io.write(handle, from: rest)
    }
  }

  /// Writes all of `bytes`.
  public func write(_ bytes: [UInt8]) async throws(NetPollError) {
    // The bytes are copied out because an array's storage may not be borrowed across a suspension.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { buffer.deallocate() }
    buffer.copyBytes(from: bytes)
    try await write(UnsafeRawBufferPointer(buffer))
  }

  /// Half-closes the connection (`shutdown(SHUT_WR)`): the peer reads end of stream.
  public func shutdownWrite() throws(NetPollError) {
    let sys = handle.runtime.sys
    let fd = handle.fd
    try handle.withReference("shutdown") { () throws(Errno) in try sys.shutdown(fd: fd, how: Int32(SHUT_WR)) }
  }

  /// Sets (a duration from now) or clears (`nil`) the read deadline; a parked reader wakes with
  /// ``NetPollError/deadlineExceeded`` when it passes, and later reads fail until it is reset.
  public func setReadDeadline(after duration: Duration?) {
    handle.runtime.setDeadline(handle.pd, .read, after: duration)
  }

  /// Sets or clears the write deadline, as ``setReadDeadline(after:)`` does for reads.
  public func setWriteDeadline(after duration: Duration?) {
    handle.runtime.setDeadline(handle.pd, .write, after: duration)
  }

  /// Closes the connection; parked tasks wake with ``NetPollError/closed``. Idempotent.
  public func close() { handle.close() }
}
