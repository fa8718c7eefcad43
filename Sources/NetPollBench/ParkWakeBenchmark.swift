import NetPoll

/// Park/wake round trips: two tasks on one runtime ping-pong one byte over a loopback TCP pair.
/// Each round trip is two parks (a read that hit EAGAIN) and two wakes by the poller, so it
/// measures the runtime's whole readiness path: write → kernel → poll → wake → resume.
struct ParkWakeBenchmark {
  var backend: Backend
  var workers: Int
  var seconds: Double

  /// Round trips per second.
  func run() async throws -> Double {
    let runtime = try NetPollRuntime(backend: backend, workers: workers)
    defer { runtime.shutdown() }
    let seconds = self.seconds
    return try await runtime.run {
      let listener = try TCPListener(on: runtime, address: "127.0.0.1:0")
      let address = listener.localAddress
      let accepting = runtime.spawn { () async throws -> TCPConnection in try await listener.accept() }
      let client = try await TCPConnection.connect(to: address, on: runtime)
      let server = try await accepting.value
      let echo = runtime.spawn { () async throws in
        let byte = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { byte.deallocate() }
        while try await server.read(into: byte) == 1 {
          try await server.write(UnsafeRawBufferPointer(byte))
        }
      }
      let byte = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
      defer { byte.deallocate() }
      byte[0] = 42
      var trips = 0
      let t0 = monotonicNanos()
      let deadline = t0 + UInt64(seconds * 1e9)
      repeat {
        for _ in 0..<64 {
          try await client.write(UnsafeRawBufferPointer(byte))
          guard try await client.read(into: byte) == 1 else { throw NetPollError.closed }
        }
        trips += 64
      } while monotonicNanos() < deadline
      let elapsed = monotonicNanos() - t0
      try client.shutdownWrite()
      try await echo.value
      client.close()
      server.close()
      listener.close()
      return Double(trips) / (Double(elapsed) / 1e9)
    }
  }
}
