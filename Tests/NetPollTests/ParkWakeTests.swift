import Glibc
import NetPollTrace
import Testing

@testable import NetPoll

/// Park, wake and latched readiness, on every backend.
@Suite struct ParkWake {
  @Test(
    "a reader with no data parks and is woken with reason ready when the peer writes",
    arguments: Backend.available)
  func parkedReaderWakesOnData(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let serverFD = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      serverFD.value = server.fd
      async let got = server.read(maxBytes: 100)
      try await eventually("the reader parks") { server.debugReadState == .parked }
      try await client.write(Array("hello".utf8))
      #expect(try await got == Array("hello".utf8))
      server.close()
      client.close()
      listener.close()
    }
    let waits = trace.waits(fd: serverFD.value!)
    let parks = waits.filter { $0.kind == .park && $0.c == TraceMode.read.rawValue }
    let wakes = waits.filter { $0.kind == .wake && $0.c == TraceMode.read.rawValue }
    #expect(parks.count == 1)
    #expect(wakes.count == 1)
    #expect(wakes.first?.a == parks.first?.a, "wake names the parked task")
    #expect(wakes.first?.d == TraceWakeReason.ready.rawValue)
    #expect((parks.first?.seq ?? 0) < (wakes.first?.seq ?? 0))
  }

  // Readiness backends only: in completion mode the kernel makes the call, so nothing is latched.
  @Test(
    "a readiness that arrives before the park is latched: the next wait returns without parking",
    arguments: Backend.available.filter(\.isReadinessBased))
  func latchedReadiness(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let serverFD = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      serverFD.value = server.fd
      // Empty the socket and arm the edge: the first read returns EAGAIN and parks...
      async let first = server.read(maxBytes: 10)
      try await eventually("the reader parks") { server.debugReadState == .parked }
      try await client.write([1])
      #expect(try await first == [1])
      // ...now data arrives while nobody waits: the poller latches it on the descriptor.
      try await client.write([2, 3])
      try await eventually("the readiness is latched") { server.debugReadState == .ready }
      #expect(try await server.read(maxBytes: 10) == [2, 3])
      // Delivered once: the next read's EAGAIN consumes the latch, retries, and parks; it must
      // stay parked until new data arrives (a latch delivered again would wake it with nothing
      // to read: an extra park and wake in the trace).
      async let third = server.read(maxBytes: 10)
      try await eventually("the next reader parks") { server.debugReadState == .parked }
      try await client.write([4])
      #expect(try await third == [4])
      server.close()
      client.close()
      listener.close()
    }
    let waits = trace.waits(fd: serverFD.value!).filter { $0.c == TraceMode.read.rawValue }
    let parks = waits.filter { $0.kind == .park }
    let readyWakes = waits.filter { $0.kind == .wake && $0.d == TraceWakeReason.ready.rawValue }
    #expect(parks.count == 2, "the first and the third read parked, the latched one did not")
    #expect(readyWakes.count == 2, "one wake per park: the latched readiness woke nobody")
  }

  @Test("a second task waiting in the same direction is refused, not lost", arguments: Backend.available)
  func concurrentWaitIsRefused(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      async let first = server.read(maxBytes: 10)
      try await eventually("the first reader parks") { server.debugReadState == .parked }
      await #expect(throws: NetPollError.concurrentWait) { try await server.read(maxBytes: 10) }
      try await client.write([7])
      #expect(try await first == [7])
      server.close()
      client.close()
      listener.close()
    }
  }

  @Test("accept parks until a client connects", arguments: Backend.available)
  func acceptParks(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let listenFD = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let listener = try TCPListener(on: rt, address: "127.0.0.1:0")
      listenFD.value = listener.fd
      async let accepted = listener.accept()
      try await eventually("accept parks") { listener.debugAcceptState == .parked }
      let client = try await TCPConnection.connect(to: listener.localAddress, on: rt)
      let server = try await accepted
      server.close()
      client.close()
      listener.close()
    }
    let waits = trace.waits(fd: listenFD.value!)
    #expect(waits.map(\.kind) == [.park, .wake])
  }

  @Test(
    "a task hopping between two runtimes wakes the blocked poller of the one it goes to",
    .enabled(if: timingTestsEnabled), arguments: Backend.available)
  func hopWakesOtherRuntime(_ backend: Backend) async throws {
    // One worker each, idle, so each blocks in the kernel while the task is on the other. An
    // armed read deadline bounds each block (3 s there, 6 s here): a lost wake-up shows as a slow
    // round trip instead of a hang.
    let here = try NetPollRuntime(backend: backend, workers: 1)
    let there = try NetPollRuntime(backend: backend, workers: 1)
    let (hereServer, hereClient, hereListener) = try await Harness.pair(here)
    let (thereServer, thereClient, thereListener) = try await Harness.pair(there)
    defer {
      for c in [hereServer, hereClient, thereServer, thereClient] { c.close() }
      hereListener.close()
      thereListener.close()
      here.shutdown()
      there.shutdown()
    }
    hereServer.setReadDeadline(after: .seconds(6))
    thereServer.setReadDeadline(after: .seconds(3))
    try await eventually("both workers block in a poll") {
      [here, there].allSatisfy { rt in rt.scheduler.state.withLock { s, _ in s.pointee.pollerBlocked } }
    }
    let start = nowMs()
    await here.run {
      await there.run {}  // enqueued there by here's worker, then back here by there's
    }
    let elapsed = nowMs() - start
    #expect(elapsed < 1000, "the round trip took \(elapsed) ms")
  }
}

/// A value set inside a test's runtime closure and read after it.
final class SendableBox<T: Sendable>: @unchecked Sendable {  // written once before it is read
  var value: T?
}
