import Glibc
import NetPollTrace
import Synchronization
import Testing

@testable import NetPoll

/// On the readiness backends a short read proves the socket drained, so the next read parks on
/// the descriptor without first asking the kernel for an EAGAIN; the descriptor's latch (or the
/// wake) carries every edge that came after the short read.
@Suite struct ShortRead {
  static let readinessBackends = Backend.available.filter(\.isReadinessBased)

  /// The server side's `read` records that failed with EAGAIN.
  static func eagainReads(_ trace: [TraceRecord], fd: Int32) -> Int {
    trace.filter { $0.kind == .read && $0.a == Int64(fd) && $0.errno == EAGAIN }.count
  }

  @Test("after a short read the next read parks without an EAGAIN read", arguments: readinessBackends)
  func noEagainAfterShortRead(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let serverFD = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      serverFD.value = server.fd
      let echo = rt.spawn {
        while true {
          let bytes = try await server.read(maxBytes: 64)
          if bytes.isEmpty { return }
          try await server.write(bytes)
        }
      }
      for i in 0..<20 {
        try await client.write(Array("ping \(i)".utf8))
        #expect(try await client.read(maxBytes: 64) == Array("ping \(i)".utf8))
      }
      try client.shutdownWrite()
      try await echo.value
      server.close()
      client.close()
      listener.close()
    }
    let fd = try #require(serverFD.value)
    // Before: one EAGAIN read per request (16-20 of 20). Now the connection's first read, which
    // follows no short read, and the odd stale latch (an edge reported while its bytes were
    // already being read, such as a writable edge whose mask also says readable) may meet one.
    #expect(Self.eagainReads(trace, fd: fd) <= 5, "EAGAIN reads on the server side, 20 requests")
    #expect(trace.filter { $0.kind == .read && $0.a == Int64(fd) && $0.ret > 0 }.count == 20)
  }

  @Test(
    "data that arrives between a short read and the next read is read from the latch, without a park",
    arguments: readinessBackends)
  func dataAfterShortReadIsLatched(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let serverFD = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      serverFD.value = server.fd
      // The first read parks (nothing has arrived) and its wake takes the only edge "one" makes,
      // so no latch is left over; its short read drains the socket.
      let first = rt.spawn { try await server.read(maxBytes: 64) }
      try await eventually("the first reader to park") {
        server.handle.pd.load(.read) > PollDescriptor.Semaphore.waiting
      }
      try await client.write(Array("one".utf8))
      #expect(try await first.value == Array("one".utf8))
      // The next edge comes while nobody waits: the poller latches it on the descriptor.
      try await client.write(Array("two".utf8))
      try await eventually("the edge to be latched") {
        server.handle.pd.load(.read) == PollDescriptor.Semaphore.ready
      }
      #expect(try await server.read(maxBytes: 64) == Array("two".utf8))
      // And once more with the reader parked first: the wake carries the edge.
      let reader = rt.spawn { try await server.read(maxBytes: 64) }
      try await eventually("the reader to park") {
        server.handle.pd.load(.read) > PollDescriptor.Semaphore.waiting
      }
      try await client.write(Array("three".utf8))
      #expect(try await reader.value == Array("three".utf8))
      server.close()
      client.close()
      listener.close()
    }
    let fd = try #require(serverFD.value)
    // Only the first read, which follows no short read, asks the kernel and meets EAGAIN.
    #expect(Self.eagainReads(trace, fd: fd) == 1)
    #expect(trace.waits(fd: fd).filter { $0.kind == .park }.count == 2, "the second read did not park")
  }

  @Test(
    "data and the peer's FIN in one edge after a park: the read after the short read returns end of stream",
    arguments: readinessBackends)
  func finWithDataIsNotMissed(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      for round in 0..<20 {
        let (server, client, listener) = try await Harness.pair(rt)
        let reader = rt.spawn { () async throws -> [[UInt8]] in
          var got: [[UInt8]] = []
          // Only a hang guard: long enough that a loaded machine never trips it.
          server.setReadDeadline(after: .seconds(10))
          while true {
            let bytes = try await server.read(maxBytes: 64)
            got.append(bytes)
            if bytes.isEmpty { return got }
          }
        }
        try await eventually("the reader to park") {
          server.handle.pd.load(.read) > PollDescriptor.Semaphore.waiting
        }
        // Back to back on loopback: the poller usually collects both as one readiness, which
        // carries the hang-up; the short read of the data must not park for an edge that has
        // already been reported.
        var byte: UInt8 = 0x78
        _ = Glibc.write(client.fd, &byte, 1)
        Glibc.shutdown(client.fd, Int32(SHUT_WR))
        let got = try await reader.value
        #expect(got == [[0x78], []], "round \(round)")
        server.close()
        client.close()
        listener.close()
      }
    }
  }
}
