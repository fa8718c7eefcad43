import Glibc
import NetPollTrace
import Synchronization
import Testing

@testable import NetPoll

/// The monitor thread (Go's sysmon netpoll duty) polls when every worker is busy. While it holds
/// the poller role, a worker that runs out of work goes to sleep, expecting the poller to cover the
/// kernel; when the monitor lets the role go it must hand it on to that sleeper, or nobody blocks in
/// the kernel and a readiness waits for the monitor's next tick (10 ms).
@Suite(.enabled(if: timingTestsEnabled)) struct MonitorHandOff {
  /// Spins without yielding or awaiting, for `ms` milliseconds or until `done` (or its task is
  /// cancelled): a job Swift cannot preempt.
  static func spin(ms: Double, until done: () -> Bool) {
    let end = nowMs() + ms
    while nowMs() < end && !done() && !Task.isCancelled {}
  }

  /// One round: returns the milliseconds from the client's write to the parked reader's return.
  static func servedAfterMonitorPoll(_ backend: Backend) async throws -> Double {
    let h = try Harness(backend, workers: 2)
    let rt = h.runtime
    defer { rt.shutdown() }
    // Everything below runs off the runtime: a job of ours on its workers would wake the sleeping
    // worker and hide the hole.
    let (server, client, listener) = try await Harness.pair(rt)
    defer {
      server.close()
      client.close()
      listener.close()
    }
    let servedAt = Atomic<UInt64>(0)
    let reader = rt.spawn {
      _ = try await server.read(maxBytes: 16)
      servedAt.store(UInt64(nowMs() * 1000), ordering: .releasing)
    }
    try await eventually("the reader to park") {
      server.handle.pd.load(.read) > PollDescriptor.Semaphore.waiting
    }
    // Both workers busy: a long job that never yields, and a short one that ends once the
    // monitor holds the poller role, so its worker finds the queue empty inside that window.
    let busy = Atomic<Int>(0)
    let monitorPolling = Atomic<Bool>(false)
    let long = rt.spawn {
      busy.add(1, ordering: .relaxed)
      Self.spin(ms: 2000) { false }
    }
    let short = rt.spawn {
      busy.add(1, ordering: .relaxed)
      Self.spin(ms: 2000) { monitorPolling.load(ordering: .acquiring) }
    }
    try await eventually("both workers to be busy") { busy.load(ordering: .relaxed) == 2 }
    // The monitor's first poll waits (bounded) until the short job's worker has gone to sleep,
    // then sends the reader its data from the client: the window is always hit, not by luck.
    let wroteAt = Atomic<UInt64>(0)
    let scheduler = rt.scheduler
    let clientFD = client.fd
    scheduler.state.withLock { s, _ in
      s.pointee.afterMonitorPoll = {
        guard wroteAt.load(ordering: .acquiring) == 0 else { return }
        monitorPolling.store(true, ordering: .releasing)
        let start = nowMs()
        while scheduler.state.withLock({ s, _ in s.pointee.sleepers }) == 0 && nowMs() - start < 2000 {
          usleep(100)
        }
        var ping: UInt32 = 0x676e_6970
        wroteAt.store(UInt64(nowMs() * 1000), ordering: .releasing)
        _ = Glibc.write(clientFD, &ping, 4)
      }
    }
    try await eventually("the reader to be served") { servedAt.load(ordering: .acquiring) != 0 }
    long.cancel()
    let latency = Double(servedAt.load(ordering: .acquiring) - wroteAt.load(ordering: .acquiring)) / 1000
    _ = try await reader.value
    _ = await long.value
    _ = await short.value
    return latency
  }

  @Test(
    "a readiness that arrives after the monitor polled is served at once while a worker is busy",
    arguments: Backend.available)
  func monitorHandsOnThePollerRole(_ backend: Backend) async throws {
    // Before the fix every round waited for the monitor's next tick (9-11 ms measured); after it,
    // a fraction of a millisecond. Scheduling noise only adds, so the best of five rounds is
    // held to a bound well under the 10 ms tick.
    var rounds: [Double] = []
    for _ in 0..<5 { rounds.append(try await Self.servedAfterMonitorPoll(backend)) }
    let best = rounds.min()!
    print("MONITOR \(backend): served \(rounds.map { String(format: "%.3f", $0) }) ms after the write")
    #expect(best < 5, "served \(rounds.map { String(format: "%.2f", $0) }) ms after the write")
  }
}
