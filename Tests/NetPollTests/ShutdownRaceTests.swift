import Glibc
import NetPollTrace
import Synchronization
import Testing

@testable import NetPoll

/// Shutting a runtime down while wake-ups are still arriving: whatever the poller prepared goes
/// to the kernel before its kernel objects are released, and nothing is prepared (or written)
/// after that. The trace is the witness: on io_uring every recorded SQE is covered by an enter's
/// `to_submit` (what `tools/check-acceptance` checks on a whole server run).
@Suite struct ShutdownRace {
  static let uringBackends = Backend.available.filter { $0 != .epoll }

  /// The SQEs recorded and the sum of the enters' `to_submit`, and whether anything touched the
  /// ring after its close.
  static func submissionBalance(_ trace: [TraceRecord]) -> (sqes: Int, submitted: Int64, afterClose: Int) {
    let ring = trace.first { $0.kind == .uringSetup && $0.ret >= 0 }?.a
    let closeSeq = trace.first { $0.kind == .close && $0.a == ring }?.seq ?? .max
    let afterClose = trace.filter {
      ($0.kind == .uringSQE || $0.kind == .uringEnter) && $0.seq > closeSeq
    }.count
    return (trace.of(.uringSQE).count, trace.of(.uringEnter).reduce(0) { $0 + $1.b }, afterClose)
  }

  @Test(
    "a wake-up queued while every worker is busy at shutdown is submitted before the ring closes",
    arguments: uringBackends)
  func wakeupDuringShutdownIsSubmitted(_ backend: Backend) async throws {
    // One worker, busy in a job that does not yield, so no poll is running when shutdown breaks
    // the poller: its wake-up NOP is queued for a poll that will never come (the CI flake).
    let h = try Harness(backend, workers: 1)
    let started = Atomic<Bool>(false)
    h.runtime.spawn {
      started.store(true, ordering: .releasing)
      let end = nowMs() + 50
      while nowMs() < end {}
    }
    try await eventually("the busy job to start") { started.load(ordering: .acquiring) }
    h.runtime.shutdown()
    let balance = Self.submissionBalance(h.recorder.drainAll())
    #expect(balance.sqes > 0, "the shutdown's wake-up prepared a NOP")
    #expect(Int64(balance.sqes) == balance.submitted, "every recorded SQE was submitted")
    #expect(balance.afterClose == 0, "nothing was prepared or entered after the ring's close")
  }

  @Test(
    "wake-ups from another thread racing shutdown: all submitted, none after the close",
    arguments: Backend.available)
  func wakeupsRacingShutdown(_ backend: Backend) async throws {
    for round in 0..<40 {
      let h = try Harness(backend, workers: 2)
      let rt = h.runtime
      let stop = Atomic<Bool>(false)
      let stopping = Atomic<Bool>(false)
      let wakes = Atomic<Int>(0)
      // Runtime work and bare wake-ups from outside the runtime, as a server's last
      // connections and a signal handler produce them while it shuts down. New jobs stop when
      // shutdown starts (it waits for the queue to empty); the wake-ups go on.
      let hammer = OSThread(name: "test-wakeups") {
        while !stop.load(ordering: .acquiring) {
          rt.poller.wakeup()
          if wakes.add(1, ordering: .relaxed).newValue % 8 == 0 && !stopping.load(ordering: .acquiring) {
            rt.spawn {}
          }
        }
      }
      try await eventually("wake-ups to flow") { wakes.load(ordering: .relaxed) > 100 + round }
      stopping.store(true, ordering: .releasing)
      rt.shutdown()
      // Keep waking a runtime that is gone: a no-op, never a write to a released descriptor.
      let after = wakes.load(ordering: .relaxed)
      try await eventually("wake-ups after shutdown") { wakes.load(ordering: .relaxed) > after + 100 }
      stop.store(true, ordering: .releasing)
      hammer.join()
      let trace = h.recorder.drainAll()
      if backend == .epoll {
        let eventFD = try #require(trace.first { $0.kind == .eventfd }?.ret)
        let closeSeq = try #require(trace.first { $0.kind == .close && $0.a == eventFD }?.seq)
        let late = trace.filter { $0.kind == .write && $0.a == eventFD && $0.seq > closeSeq }
        #expect(late.isEmpty, "round \(round): \(late.count) eventfd writes after its close")
      } else {
        let balance = Self.submissionBalance(trace)
        #expect(
          Int64(balance.sqes) == balance.submitted,
          "round \(round): \(balance.sqes) SQEs recorded, to_submit adds up to \(balance.submitted)")
        #expect(balance.afterClose == 0, "round \(round): ring touched after its close")
      }
    }
  }
}
