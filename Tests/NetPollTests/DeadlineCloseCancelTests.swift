import Glibc
import NetPoll
import NetPollTrace
import Testing

/// Waking a parked task for a reason other than readiness, on every backend.
@Suite(.enabled(if: timingTestsEnabled)) struct DeadlineCloseCancel {
  @Test("a read deadline wakes a parked reader with .deadlineExceeded", arguments: Backend.available)
  func readDeadline(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let fd = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fd.value = server.fd
      let start = nowMs()
      server.setReadDeadline(after: .milliseconds(100))
      await #expect(throws: NetPollError.deadlineExceeded) { try await server.read(maxBytes: 10) }
      let elapsed = nowMs() - start
      #expect(elapsed >= 95, "woke after \(elapsed) ms")
      #expect(elapsed < 1000, "woke after \(elapsed) ms")
      // Expired stays expired until reset, as in Go.
      await #expect(throws: NetPollError.deadlineExceeded) { try await server.read(maxBytes: 10) }
      server.setReadDeadline(after: nil)
      try await client.write([1])
      #expect(try await server.read(maxBytes: 10) == [1])
      server.close()
      client.close()
      listener.close()
    }
    let wakes = trace.waits(fd: fd.value!).filter { $0.kind == .wake }
    #expect(wakes.first?.d == TraceWakeReason.deadline.rawValue)
  }

  @Test("a deadline in the past fails the call without parking", arguments: Backend.available)
  func pastDeadline(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let fd = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fd.value = server.fd
      server.setReadDeadline(after: .zero)
      await #expect(throws: NetPollError.deadlineExceeded) { try await server.read(maxBytes: 10) }
      server.close()
      client.close()
      listener.close()
    }
    #expect(trace.waits(fd: fd.value!).isEmpty)
  }

  @Test("a later deadline replaces an earlier one", arguments: Backend.available)
  func deadlineReset(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      server.setReadDeadline(after: .milliseconds(50))
      server.setReadDeadline(after: .seconds(10))
      async let got = server.read(maxBytes: 10)
      try await Task.sleep(for: .milliseconds(150))  // past the first deadline
      #expect(server.debugReadState == .parked, "still waiting")
      try await client.write([9])
      #expect(try await got == [9])
      server.close()
      client.close()
      listener.close()
    }
  }

  @Test("a write deadline wakes a writer parked on a peer that never reads", arguments: Backend.available)
  func writeDeadline(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let fd = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fd.value = server.fd
      let big = [UInt8](repeating: 0x5a, count: 32 << 20)
      async let writing: Void = {
        await #expect(throws: NetPollError.deadlineExceeded) { try await server.write(big) }
      }()
      try await eventually("the writer parks on a full socket buffer") { server.debugWriteState == .parked }
      server.setWriteDeadline(after: .milliseconds(100))
      await writing
      server.close()
      client.close()
      listener.close()
    }
    let waits = trace.waits(fd: fd.value!)
    #expect(waits.contains { $0.kind == .park && $0.c == TraceMode.write.rawValue })
    #expect(waits.last?.kind == .wake && waits.last?.d == TraceWakeReason.deadline.rawValue)
  }

  @Test(
    "close wakes a parked reader with .closed, and the fd is deregistered before it is closed",
    arguments: Backend.available)
  func closeWakesReader(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let fd = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fd.value = server.fd
      async let result: Void = {
        await #expect(throws: NetPollError.closed) { try await server.read(maxBytes: 10) }
      }()
      try await eventually("the reader parks") { server.debugReadState == .parked }
      server.close()
      await result
      await #expect(throws: NetPollError.closed) { try await server.read(maxBytes: 10) }
      client.close()
      listener.close()
    }
    let serverFD = Int64(fd.value!)
    let wake = trace.first { $0.kind == .wake && $0.b == serverFD }
    #expect(wake?.d == TraceWakeReason.close.rawValue)
    let close = trace.first { $0.kind == .close && $0.a == serverFD }
    #expect(close != nil)
    #expect((wake?.seq ?? .max) < (close?.seq ?? 0), "the waiter is woken before close(2)")
    if backend == .epoll {
      let ctlDel: Int64 = 2  // EPOLL_CTL_DEL
      let del = trace.first { r in r.kind == .epollCtl && r.c == serverFD && r.b == ctlDel }
      #expect(del != nil)
      #expect((del?.seq ?? .max) < (close?.seq ?? 0), "DEL before close")
      #expect((wake?.seq ?? .max) < (del?.seq ?? 0), "the waiter is woken before the DEL")
    }
    if backend == .uringCompletion {
      // The parked RECV is cancelled and its final CQE reaped before the wake, so the buffer
      // is no longer the kernel's when the task resumes, nor the fd when close(2) runs.
      let recv = try #require(trace.first { $0.kind == .uringSQE && $0.a == 27 && $0.b == serverFD })
      let final = try #require(trace.first { $0.kind == .uringCQE && $0.a == recv.c })
      #expect(final.seq < (wake?.seq ?? 0), "final CQE before the wake")
    }
  }

  @Test("cancelling a parked task wakes it with .cancelled", arguments: Backend.available)
  func cancelWakesReader(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let fd = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fd.value = server.fd
      let reader = rt.spawn { try await server.read(maxBytes: 10) }
      try await eventually("the reader parks") { server.debugReadState == .parked }
      reader.cancel()
      await #expect(throws: NetPollError.cancelled) { try await reader.value }
      // The socket still works for the next reader.
      try await client.write([4])
      #expect(try await server.read(maxBytes: 10) == [4])
      server.close()
      client.close()
      listener.close()
    }
    let wakes = trace.waits(fd: fd.value!).filter { $0.kind == .wake }
    #expect(wakes.first?.d == TraceWakeReason.cancel.rawValue)
  }

  /// Cancellation ends the wait of a task the runtime did not start (a task-group child, which
  /// inherits the runtime's task-local identity but is another task), and a task that parks
  /// again after taking its cancellation is refused at once, every time.
  @Test(
    "cancelling a parked child task, and a task that parks again after its cancel, ends the wait",
    arguments: Backend.available)
  func cancelChildAndRepark(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          await #expect(throws: NetPollError.cancelled) { try await server.read(maxBytes: 10) }
        }
        try? await eventually("the child parks") { server.debugReadState == .parked }
        group.cancelAll()
      }
      let reader = rt.spawn { () async throws -> Int in
        var cancelled = 0
        for _ in 0..<3 {
          do throws(NetPollError) {
            _ = try await server.read(maxBytes: 10)
          } catch .cancelled {
            cancelled += 1
          }
        }
        return cancelled
      }
      try await eventually("the reader parks") { server.debugReadState == .parked }
      reader.cancel()
      #expect(try await reader.value == 3, "the first wait and the two after it end cancelled")
      try await client.write([5])
      #expect(try await server.read(maxBytes: 10) == [5])
      server.close()
      client.close()
      listener.close()
    }
  }
}
