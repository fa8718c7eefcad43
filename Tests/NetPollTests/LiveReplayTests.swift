import Foundation
import NetPoll
import NetPollLiveReplay
import Testing

/// A sample trace and the backend it is replayed on: one other than its own.
struct SampleReplay: CustomTestStringConvertible, Sendable {
  let name: String
  let target: Backend
  var testDescription: String { "\(name) on \(target)" }

  static let traces = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("traces")

  var path: String { Self.traces.appendingPathComponent("\(name).jsonl").path }

  /// Every sample trace (echo, http, deadline × epoll, uring, uring-completion), each sent to the
  /// next backend round the ring epoll → uring → uring-completion → epoll.
  static let all: [SampleReplay] = ["echo", "http", "deadline"].flatMap { workload in
    [
      SampleReplay(name: "\(workload)-epoll", target: .uring),
      SampleReplay(name: "\(workload)-uring", target: .uringCompletion),
      SampleReplay(name: "\(workload)-uring-completion", target: .epoll),
    ]
  }
}

@Suite(.serialized) struct LiveReplayTests {
  @Test(
    "replaying a sample trace on another backend reproduces its connections and bytes exactly",
    .enabled(if: Backend.uring.isAvailable && Backend.uringCompletion.isAvailable),
    // Known issue: inside the full parallel suite the first case (echo-epoll replayed on uring,
    // one server worker) stalls after each connection's first request, while alone — and from
    // the CLI, 8 runs of 8 — it is exact. Until that uring liveness problem is found, this runs
    // in tools/test's step of its own, with the load suites.
    .enabled(if: loadTestsEnabled, "set NETPOLL_LOAD_TESTS=1 (tools/test does, in a step of its own)"),
    arguments: SampleReplay.all)
  func reproducesSampleTrace(_ sample: SampleReplay) async throws {
    let out = FileManager.default.temporaryDirectory
      .appendingPathComponent("live-replay-\(sample.name)-\(getpid()).jsonl").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let report = try await LiveReplay.run(
      path: sample.path,
      options: LiveReplayOptions(backend: sample.target, speed: nil, tracePath: out, overwrite: true))
    #expect(report.clientErrors == [])
    #expect(report.replayed.connections.count == report.original.connections.count)
    #expect(report.mismatchedConnections == [])
    #expect(report.replayed.bytesIn == report.original.bytesIn)
    #expect(report.replayed.bytesOut == report.original.bytesOut)
    #expect(report.isExact, "\(report.text(file: sample.name))")
    #expect(report.replayed.backend == sample.target.rawValue)
    #expect(report.replayed.settings.proto == report.original.settings.proto)
    #expect(report.original.connections.count > 0)
  }

  @Test("the workload folds EAGAIN and split reads into requests and keeps how connections ended")
  func reconstructsDeadlineWorkload() throws {
    let workload = try RecordedWorkload.read(
      path: SampleReplay.traces.appendingPathComponent("deadline-epoll.jsonl").path)
    #expect(workload.settings.proto == .echo)
    #expect(workload.settings.idleTimeoutMs == 200)
    #expect(workload.connections.count == 4)
    #expect(workload.connections.map(\.bytesIn).reduce(0, +) == 64)
    #expect(workload.connections.allSatisfy { $0.end == .serverClose })
  }

  @Test("the protocol and server options come from trace_start.command")
  func parsesServeCommand() {
    let settings = ServerSettings(
      command:
        "netpoll serve --backend epoll --protocol=http --workers 1 --write-timeout-ms 50 --listen 127.0.0.1:0"
    )
    #expect(settings.proto == .http)
    #expect(settings.workers == 1)
    #expect(settings.writeTimeoutMs == 50)
    #expect(settings.idleTimeoutMs == nil)
  }
}
