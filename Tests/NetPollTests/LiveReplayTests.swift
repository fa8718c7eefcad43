import Foundation
import NetPoll
import NetPollLiveReplay
import NetPollTestSupport
import Synchronization
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
    "--trace onto the trace being replayed, by any name, is refused before anything runs, even with overwrite"
  )
  func newTraceOntoInputIsRefused() async throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("live-replay-onto-input-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let input = dir + "/input.jsonl"
    try FileManager.default.copyItem(
      atPath: SampleReplay(name: "echo-epoll", target: .epoll).path, toPath: input)
    let hardLink = dir + "/hard.jsonl"
    try FileManager.default.linkItem(atPath: input, toPath: hardLink)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
    for output in [input, hardLink, dir + "/./input.jsonl"] {
      let error = await #expect(throws: LiveReplayError.self) {
        try await LiveReplay.run(
          path: input,
          options: LiveReplayOptions(backend: .epoll, speed: nil, tracePath: output, overwrite: true))
      }
      #expect(
        error?.description.hasPrefix("\(output): is the input \(input);") == true,
        "\(String(describing: error))")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == bytes, "the replayed trace is untouched")
  }

  @Test(
    "replaying a sample trace on another backend reproduces its connections and bytes exactly",
    .enabled(if: Backend.uring.isAvailable && Backend.uringCompletion.isAvailable),
    // Runs in tools/test's step of its own, with the load suites. Inside the full parallel suite
    // its first case used to fail (every client timed out after its first request): the replay
    // started its server through Swift's global pool, which the other tests kept busy for 15-24
    // s. The server now starts on its own workers (serverStartsWithGlobalPoolBusy), so this
    // could run in the main step again.
    .enabled(if: loadTestsEnabled, "set NETPOLL_LOAD_TESTS=1 (tools/test does, in a step of its own)"),
    arguments: SampleReplay.all)
  func reproducesSampleTrace(_ sample: SampleReplay) async throws {
    let out = FileManager.default.temporaryDirectory
      .appendingPathComponent("live-replay-\(sample.name)-\(getpid()).jsonl").path
    defer {
      keepTrace(out, as: "live-replay")
      try? FileManager.default.removeItem(atPath: out)
    }
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

  @Test(
    "the replayed server runs on its own workers: with Swift's global pool busy, a replay is still exact",
    .enabled(if: Backend.uring.isAvailable),
    .enabled(if: loadTestsEnabled, "set NETPOLL_LOAD_TESTS=1 (it keeps every core busy while it runs)"))
  func serverStartsWithGlobalPoolBusy() async throws {
    let sample = SampleReplay(name: "echo-epoll", target: .uring)
    let out = FileManager.default.temporaryDirectory
      .appendingPathComponent("live-replay-busy-pool-\(getpid()).jsonl").path
    defer {
      keepTrace(out, as: "live-replay")
      try? FileManager.default.removeItem(atPath: out)
    }
    // The test itself runs on a runtime of its own: the global pool is about to be full.
    let host = try NetPollRuntime(backend: .epoll, workers: 1)
    defer { host.shutdown() }
    let report = try await host.run {
      // Longer than a client waits for a response, so a server that waits for the pool fails
      // the replay instead of only slowing it down.
      let busy = GlobalPoolSaturation(for: 15_000)
      defer { busy.end() }
      busy.begin()
      return try await LiveReplay.run(
        path: sample.path,
        options: LiveReplayOptions(backend: sample.target, speed: nil, tracePath: out, overwrite: true))
    }
    #expect(report.clientErrors == [])
    #expect(report.isExact, "\(report.text(file: sample.name))")
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

/// Keeps every thread of Swift's global concurrent pool busy: twice as many spinning tasks as
/// cores, so the pool (one thread per core, plus one for each that blocks in the kernel) has
/// none left and work queued on it waits until ``end()`` or the time limit.
final class GlobalPoolSaturation: Sendable {
  private let stop = Atomic<Bool>(false)
  private let running = Atomic<Int>(0)
  /// When the spinners give up (ms, ``nowMs()``): set once they run.
  private let untilMs = Atomic<Int>(.max)
  private let limitMs: Int
  private let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

  /// Spinners that give up `ms` after ``begin()`` returns.
  init(for ms: Int) { limitMs = ms }

  /// Starts the spinners; returns once one per core is running, or after 10 s: other tests are
  /// keeping the pool busy then, which serves as well.
  func begin() {
    for _ in 0..<2 * cores {
      Task.detached { [self] in
        running.add(1, ordering: .relaxed)
        while !stop.load(ordering: .relaxed) && Int(nowMs()) < untilMs.load(ordering: .relaxed) {}
      }
    }
    let start = nowMs()
    while running.load(ordering: .relaxed) < cores && nowMs() - start < 10_000 { usleep(1000) }
    untilMs.store(Int(nowMs()) + limitMs, ordering: .relaxed)
  }

  /// Lets the spinners return.
  func end() { stop.store(true, ordering: .relaxed) }
}
