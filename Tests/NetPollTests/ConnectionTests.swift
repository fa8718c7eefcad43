import Glibc
import NetPoll
import NetPollServer
import NetPollTrace
import Synchronization
import Testing

/// Sockets over real loopback connections, on every backend.
@Suite struct Connections {
  @Test("200 concurrent echo connections each get every byte back", arguments: Backend.available)
  func manyConnections(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let trace = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      let load = LoadGenerator(address: server.localAddress, connections: 200, requests: 20, size: 3000)
      let report = await load.run(on: rt)
      #expect(report.errors == [])
      #expect(report.requests == 200 * 20)
      server.stop()
      await serving.value
      #expect(server.connectionCount == 0)
    }
    // Every park is matched by a wake of the same task, fd and mode.
    var parked: [Int64: TraceRecord] = [:]
    for r in trace where r.kind == .park || r.kind == .wake {
      if r.kind == .park {
        #expect(parked[r.a] == nil, "task \(r.a) parked twice")
        parked[r.a] = r
      } else {
        let p = parked.removeValue(forKey: r.a)
        #expect(p?.b == r.b && p?.c == r.c, "wake of task \(r.a) matches its park")
      }
    }
    #expect(parked.isEmpty, "every park has its wake")
  }

  @Test("a peer reset fails the read with ECONNRESET", arguments: Backend.available)
  func peerReset(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      async let result = server.read(maxBytes: 10)
      try await eventually("the reader parks") { server.debugReadState == .parked }
      // SO_LINGER with a zero timeout turns close into a reset.
      var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
      setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
      client.close()
      do {
        let bytes = try await result
        Issue.record("read returned \(bytes) after a reset")
      } catch let error as NetPollError {
        #expect(error.errno == .connectionReset)
      }
      server.close()
      listener.close()
    }
  }

  @Test(
    "half-close: the reader sees end of stream, the other direction keeps working",
    arguments: Backend.available)
  func halfClose(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      try await client.write(Array("last words".utf8))
      try client.shutdownWrite()
      var got: [UInt8] = []
      while true {
        let chunk = try await server.read(maxBytes: 100)
        if chunk.isEmpty { break }
        got += chunk
      }
      #expect(got == Array("last words".utf8))
      try await server.write(Array("reply".utf8))
      #expect(try await client.read(maxBytes: 100) == Array("reply".utf8))
      server.close()
      client.close()
      listener.close()
    }
  }

  @Test("connect to a port nobody listens on fails with ECONNREFUSED", arguments: Backend.available)
  func connectRefused(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      // A socket bound but not listening holds its port (no other test can take it) and
      // refuses connections.
      let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      defer { close(holder) }
      var sin = sockaddr_in()
      sin.sin_family = sa_family_t(AF_INET)
      sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
      var len = socklen_t(MemoryLayout<sockaddr_in>.size)
      try withUnsafeMutablePointer(to: &sin) { p in
        try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
          try #require(bind(holder, sa, len) == 0)
          try #require(getsockname(holder, sa, &len) == 0)
        }
      }
      let address = try SocketAddress("127.0.0.1:\(UInt16(bigEndian: sin.sin_port))")
      do {
        let c = try await TCPConnection.connect(to: address, on: rt)
        c.close()
        Issue.record("connected to a closed port")
      } catch let error as NetPollError {
        #expect(error.errno == .connectionRefused)
      }
    }
  }

  @Test("IPv6 loopback works end to end", arguments: Backend.available)
  func ipv6(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt, address: "[::1]:0")
      #expect(listener.localAddress.description.hasPrefix("[::1]:"))
      try await client.write([1, 2, 3])
      #expect(try await server.read(maxBytes: 10) == [1, 2, 3])
      server.close()
      client.close()
      listener.close()
    }
  }

  @Test(
    "the HTTP server answers keep-alive requests and refuses heads over 16 KiB with 431",
    arguments: Backend.available)
  func http(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .http)
      let serving = rt.spawn { await server.run() }
      let c = try await TCPConnection.connect(to: server.localAddress, on: rt)
      for _ in 0..<3 {
        try await c.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let reply = String(decoding: try await c.read(maxBytes: 4096), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
      }
      let huge = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 17 * 1024) + "\r\n\r\n"
      try await c.write(Array(huge.utf8))
      var reply: [UInt8] = []
      while true {
        let chunk = try await c.read(maxBytes: 4096)
        if chunk.isEmpty { break }
        reply += chunk
      }
      #expect(String(decoding: reply, as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
      c.close()
      server.stop()
      await serving.value
    }
  }

  enum PeerEnd: String, CaseIterable, CustomTestStringConvertible {
    case reset, halfClose
    var testDescription: String { rawValue }
  }

  @Test(
    "a reset or a half-close ends only its connection: another one, open alongside, keeps being served",
    arguments: Backend.available, PeerEnd.allCases)
  func peerEndsOnlyItsConnection(_ backend: Backend, _ end: PeerEnd) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      let bystander = try await TCPConnection.connect(to: server.localAddress, on: rt)
      let leaving = try await TCPConnection.connect(to: server.localAddress, on: rt)
      for c in [bystander, leaving] {
        try await c.write([1, 2, 3])
        #expect(try await c.read(maxBytes: 3) == [1, 2, 3])
      }
      #expect(server.connectionCount == 2)
      // The bystander has a request in flight while the other connection ends.
      try await bystander.write([4])
      switch end {
      case .reset:
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(leaving.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        leaving.close()
      case .halfClose:
        try leaving.shutdownWrite()
        #expect(try await leaving.read(maxBytes: 8) == [], "the server ends its side after the FIN")
        leaving.close()
      }
      try await eventually("the server drops the connection that ended") { server.connectionCount == 1 }
      #expect(try await bystander.read(maxBytes: 1) == [4], "the request in flight is answered")
      for i in 0..<20 {
        let message = [UInt8](repeating: UInt8(i), count: 1000)
        try await bystander.write(message)
        var got: [UInt8] = []
        while got.count < message.count {
          got += try await bystander.read(maxBytes: message.count - got.count)
        }
        #expect(got == message)
      }
      #expect(server.connectionCount == 1, "the bystander is still connected")
      bystander.close()
      try await eventually("the server forgets the bystander") { server.connectionCount == 0 }
      server.stop()
      await serving.value
    }
  }

  @Test("stopping the server wakes every parked task with reason close", arguments: Backend.available)
  func stopWakesEveryone(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let recorder = h.recorder
    let seen = Mutex<[TraceRecord]>([])
    let parkedAtStop = Mutex<Set<Int64>>([])
    let trace = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      var clients: [TCPConnection] = []
      for _ in 0..<20 { clients.append(try await TCPConnection.connect(to: server.localAddress, on: rt)) }
      // Wait for the state, not for a while: the accept loop and the 20 handlers all parked.
      try await eventually("the accept loop and 20 handlers park") {
        seen.withLock { $0 += recorder.drainAll() }
        return Self.openParks(seen.withLock { $0 }).count == 21
      }
      parkedAtStop.withLock { $0 = Set(Self.openParks(seen.withLock { $0 }).keys) }
      server.stop()
      await serving.value
      for c in clients { c.close() }
    }
    let all = seen.withLock { $0 } + trace
    #expect(Self.openParks(all).isEmpty, "every park has its wake")
    let parked = parkedAtStop.withLock { $0 }
    #expect(parked.count == 21)
    // Each task parked when stop() was called is next woken with reason close.
    let before = seen.withLock { $0.count }
    for task in parked {
      let wake = all[before...].first { $0.kind == .wake && $0.a == task }
      #expect(
        wake?.d == TraceWakeReason.close.rawValue, "task \(task): \(wake.map(describe) ?? "never woken")")
    }
  }

  /// Tasks parked and not yet woken, with their park.
  static func openParks(_ trace: [TraceRecord]) -> [Int64: TraceRecord] {
    var parked: [Int64: TraceRecord] = [:]
    for r in trace {
      if r.kind == .park { parked[r.a] = r }
      if r.kind == .wake { parked[r.a] = nil }
    }
    return parked
  }
}
