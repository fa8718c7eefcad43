import Glibc
import NetPoll
import NetPollServer
import NetPollTrace
import Synchronization
import Testing

/// Peers that misbehave (issue 6, "Faults"): the server cuts them by its deadlines and keeps
/// serving everyone else. Kernel faults (strace injection), fd exhaustion, a full trace disk and
/// signals are checked against the binary by `tools/check-faults`.
@Suite(.enabled(if: timingTestsEnabled)) struct ReliabilityFaults {
  @Test(
    "a client that connects and never sends is cut by the idle deadline (echo and HTTP)",
    arguments: Backend.available, ServerProtocol.allCases)
  func silentClientIsCut(_ backend: Backend, _ proto: ServerProtocol) async throws {
    let h = try Harness(backend)
    let trace = try await h.run { rt in
      let server = try Server(
        runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: proto, idleTimeout: .milliseconds(150))
      let serving = rt.spawn { await server.run() }
      // Timed from before the connect: the server may accept and arm its deadline before this
      // task resumes from connect, so a start taken after it can be late by a loaded scheduler.
      let start = nowMs()
      let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
      #expect(try await c.read(maxBytes: 1) == [], "the server closes the connection")
      let elapsed = nowMs() - start
      #expect(elapsed >= 149 && elapsed < 2_000, "cut after \(elapsed) ms")
      try await eventually("the server forgets it") { server.connectionCount == 0 }
      c.close()
      server.stop()
      await serving.value
    }
    #expect(
      trace.of(.wake).contains {
        $0.d == TraceWakeReason.deadline.rawValue && $0.c == TraceMode.read.rawValue
      })
  }

  @Test(
    "slowloris: an HTTP head trickled a byte at a time is cut by the idle deadline",
    arguments: Backend.available)
  func slowlorisIsCut(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let server = try Server(
        runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .http, idleTimeout: .milliseconds(200))
      let serving = rt.spawn { await server.run() }
      // Timed from before the connect: the server arms the head's deadline after its accept.
      let start = nowMs()
      let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
      try await eventually("the server accepts it") { server.connectionCount == 1 }
      // The cut is the server's close: our read ends (end of stream, or a reset).
      let cutAt = Atomic<Int64>(0)
      let watcher = rt.spawn {
        _ = try? await c.read(maxBytes: 1)
        cutAt.store(Int64(nowMs() * 1000), ordering: .releasing)
      }
      // One byte every 40 ms: each read is well inside the timeout, the head never completes.
      var sent = 0
      for byte in Array("GET / HTTP/1.1\r\nHost: slow\r\nX-Padding: ".utf8)
        + Array(repeating: UInt8(ascii: "a"), count: 200)
      {
        if cutAt.load(ordering: .acquiring) != 0 { break }
        do { try await c.write([byte]) } catch { break }
        sent += 1
        try await Task.sleep(for: .milliseconds(40))
      }
      await watcher.value
      let elapsed = Double(cutAt.load(ordering: .acquiring)) / 1000 - start
      #expect(sent >= 3, "only \(sent) bytes were trickled before the cut: not a slow head")
      #expect(elapsed >= 199, "cut after \(elapsed) ms, before the 200 ms deadline")
      #expect(elapsed < 3_000, "cut after \(elapsed) ms (timeout 200 ms)")
      try await eventually("the server forgets it") { server.connectionCount == 0 }
      // A well-behaved client is still served.
      let ok = try await TCPConnection.connect(to: server.localAddress, on: rt)
      try await ok.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
      #expect(String(decoding: try await ok.read(maxBytes: 4096), as: UTF8.self).hasPrefix("HTTP/1.1 200 OK"))
      ok.close()
      c.close()
      server.stop()
      await serving.value
    }
  }

  @Test(
    "a client that never reads: the server's write parks, its write deadline fires, the connection is cut",
    arguments: Backend.available)
  func clientThatNeverReads(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let trace = try await h.run { rt in
      let server = try Server(
        runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo, writeTimeout: .milliseconds(200))
      let serving = rt.spawn { await server.run() }
      let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
      // Send far more than both socket buffers hold, never reading the echo back. The server's
      // write fills our receive buffer and parks; when its deadline fires it closes, and our
      // write fails (reset) or ends at the server's close.
      c.setWriteDeadline(after: .seconds(5))
      let big = [UInt8](repeating: 0x61, count: 64 << 20)
      let start = nowMs()
      do throws(NetPollError) {
        try await c.write(big)
        Issue.record("64 MiB were written to a server that stopped reading")
      } catch {
        #expect(error != .deadlineExceeded, "the server never cut us (our own 5 s deadline fired)")
      }
      let elapsed = nowMs() - start
      #expect(elapsed < 3_000, "cut after \(elapsed) ms")
      try await eventually("the server forgets it") { server.connectionCount == 0 }
      c.close()
      server.stop()
      await serving.value
    }
    let writeDeadlineWakes = trace.of(.wake).filter {
      $0.c == TraceMode.write.rawValue && $0.d == TraceWakeReason.deadline.rawValue
    }
    #expect(writeDeadlineWakes.count >= 1, "the server's parked write woke with reason deadline")
  }

  @Test("a peer reset in the middle of a reply fails that connection only", arguments: Backend.available)
  func resetMidWrite(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      for _ in 0..<20 {
        let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
        // 8 MiB to echo: the server is still writing it back when we reset.
        let sending = rt.spawn { try await c.write([UInt8](repeating: 7, count: 8 << 20)) }
        _ = try await c.read(maxBytes: 65_536)  // the echo has started
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        c.close()
        _ = await sending.result
      }
      try await eventually("every reset connection is dropped") { server.connectionCount == 0 }
      // The server still serves.
      let report = await LoadGenerator(address: server.localAddress, connections: 8, requests: 20, size: 1000)
        .run(on: rt)
      #expect(report.errors == [])
      server.stop()
      await serving.value
      #expect(rt.registeredCount == 0, "no fd leaked by a reset")
    }
  }

  @Test(
    "half-close: the server echoes everything sent before the FIN, then closes", arguments: Backend.available)
  func halfCloseAgainstServer(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
      let sent = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
      try await c.write(sent)
      try c.shutdownWrite()
      var got: [UInt8] = []
      while true {
        let chunk = try await c.read(maxBytes: 65_536)
        if chunk.isEmpty { break }
        got += chunk
      }
      #expect(got == sent)
      c.close()
      try await eventually("the server closed its side") { server.connectionCount == 0 }
      server.stop()
      await serving.value
    }
  }

  @Test(
    "--max-connections: connections beyond the bound are closed on accept, and admitted again once others leave",
    arguments: Backend.available)
  func maxConnectionsBound(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let server = try Server(
        runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo, maxConnections: 10)
      let serving = rt.spawn { await server.run() }
      var kept: [TCPConnection] = []
      for _ in 0..<10 {
        let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
        try await c.write([1])
        #expect(try await c.read(maxBytes: 1) == [1])
        kept.append(c)
      }
      var refusedSeen = 0
      for _ in 0..<20 {
        let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
        // Closed on accept: end of stream (or a reset), never an echo.
        try? await c.write([2])
        let got = try? await c.read(maxBytes: 1)
        if got == nil || got == [] { refusedSeen += 1 }
        #expect(server.connectionCount <= 10)
        c.close()
      }
      #expect(refusedSeen == 20)
      #expect(server.refusedConnections == 20)
      for c in kept { c.close() }
      try await eventually("the kept connections end") { server.connectionCount == 0 }
      let again = try await TCPConnection.connect(to: server.localAddress, on: rt)
      try await again.write([3])
      #expect(try await again.read(maxBytes: 1) == [3], "admitted once there is room")
      again.close()
      server.stop()
      await serving.value
    }
  }
}

extension ServerProtocol: CustomTestStringConvertible {
  public var testDescription: String { rawValue }
}
