import NetPoll

/// Serves one echo connection: writes back what it reads until the peer closes.
struct EchoHandler {
  let connection: TCPConnection
  let idleTimeout: Duration?
  let writeTimeout: Duration?

  func run() async {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    defer { buffer.deallocate() }
    while true {
      if let idleTimeout { connection.setReadDeadline(after: idleTimeout) }
      do {
        let n = try await connection.read(into: buffer)
        if n == 0 { return }
        if let writeTimeout { connection.setWriteDeadline(after: writeTimeout) }
        try await connection.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      } catch {
        return  // reset, deadline or close: the connection ends either way
      }
    }
  }
}
