import Glibc
import NetPollServer
import NetPollTrace
import Testing

@testable import NetPoll

/// io_uring with a submission queue far smaller than the work in flight: every few SQEs the SQ
/// is full, and whoever prepares the next one must make room without holding up the poll that
/// would drain it (no spin under the submission lock, no precondition failure).
@Suite struct FullSubmissionQueue {
  static let uringBackends = Backend.available.filter { $0 != .epoll }

  @Test(
    "a 2-entry SQ under 128 echo connections serves every request, through refused submissions",
    .timeLimit(.minutes(1)), arguments: uringBackends)
  func tinyRingUnderLoad(_ backend: Backend) async throws {
    let h = try Harness(backend, workers: 2, ringEntries: 2)
    let ring = try #require(h.runtime.poller as? URingPoller)
    // A long run of refused submissions (EBUSY, as for a CQ overflow backlog) while the SQ is
    // full: work queues up behind it and must all go in once the kernel takes submissions again.
    ring.injectedBusyEnters.store(400, ordering: .relaxed)
    let trace = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      let load = LoadGenerator(address: server.localAddress, connections: 128, requests: 30, size: 1024)
      let report = await load.run(on: rt)
      #expect(report.errors == [])
      #expect(report.requests == 128 * 30)
      #expect(ring.injectedBusyEnters.load(ordering: .relaxed) <= 0, "every injected EBUSY was met")
      server.stop()
      await serving.value
    }
    let setup = try #require(trace.first { $0.kind == .uringSetup && $0.ret >= 0 })
    #expect(setup.b == 2, "the SQ has 2 entries")
    // Every prepared SQE was submitted exactly once, even when an enter had to be retried.
    let submitted = trace.of(.uringEnter).filter { $0.ret >= 0 }.reduce(Int64(0)) { $0 + $1.ret }
    #expect(submitted == Int64(trace.of(.uringSQE).count), "SQEs consumed by the kernel, as prepared")
    var parked = Set<Int64>()
    for r in trace where r.kind == .park || r.kind == .wake {
      if r.kind == .park { parked.insert(r.a) } else { parked.remove(r.a) }
    }
    #expect(parked.isEmpty, "every park has its wake")
  }
}
