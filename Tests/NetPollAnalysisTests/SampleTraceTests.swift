import Foundation
import NetPollAnalysis
import Testing

/// The path of a sample trace recorded from a real run (`traces/`, see its README).
func sampleTrace(_ name: String) -> String {
  URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("traces").appendingPathComponent(name + ".jsonl").path
}

/// What a sample trace must yield: the figures that are fixed for the file, not for the run that
/// made it (so re-recording a trace means updating its row here).
struct SampleFigures: Sendable, CustomTestStringConvertible {
  var name: String
  var backend: String
  var events: Int
  var kernelEntries: Int
  var requests: Int
  var bytesRead: Int
  var bytesWritten: Int
  var eagain: Int
  var parks: Int
  var wakes: [WakeReason: Int]
  var staleDrops: Int

  var testDescription: String { name }

  static let all: [SampleFigures] = [
    SampleFigures(
      name: "echo-epoll", backend: "epoll", events: 1742, kernelEntries: 936, requests: 400,
      bytesRead: 204800,
      bytesWritten: 204800, eagain: 2, parks: 402, wakes: [.ready: 401, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "echo-uring", backend: "uring", events: 2124, kernelEntries: 871, requests: 400,
      bytesRead: 204800,
      bytesWritten: 204800, eagain: 3, parks: 403, wakes: [.ready: 402, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "http-epoll", backend: "epoll", events: 496, kernelEntries: 290, requests: 100, bytesRead: 8064,
      bytesWritten: 8400, eagain: 2, parks: 102, wakes: [.ready: 101, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "http-uring", backend: "uring", events: 650, kernelEntries: 300, requests: 100, bytesRead: 8064,
      bytesWritten: 8400, eagain: 7, parks: 107, wakes: [.ready: 106, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "deadline-epoll", backend: "epoll", events: 65, kernelEntries: 46, requests: 1, bytesRead: 64,
      bytesWritten: 64, eagain: 5, parks: 6, wakes: [.ready: 1, .deadline: 4, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "deadline-uring", backend: "uring", events: 87, kernelEntries: 37, requests: 1, bytesRead: 64,
      bytesWritten: 64, eagain: 5, parks: 6, wakes: [.ready: 1, .deadline: 4, .close: 1], staleDrops: 0),
    // Completion mode: no read/write/accept events; the figures come from RECV/SEND/ACCEPT completions.
    SampleFigures(
      name: "echo-uring-completion", backend: "uring-completion", events: 3478, kernelEntries: 203,
      requests: 400, bytesRead: 204800, bytesWritten: 204800, eagain: 0, parks: 817,
      wakes: [.ready: 816, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "http-uring-completion", backend: "uring-completion", events: 1047, kernelEntries: 205,
      requests: 100, bytesRead: 8064, bytesWritten: 8400, eagain: 0, parks: 209,
      wakes: [.ready: 208, .close: 1], staleDrops: 0),
    SampleFigures(
      name: "deadline-uring-completion", backend: "uring-completion", events: 93, kernelEntries: 28,
      requests: 1, bytesRead: 64, bytesWritten: 64, eagain: 0, parks: 11,
      wakes: [.ready: 6, .deadline: 4, .close: 1],
      staleDrops: 0),
  ]
}

@Suite("Sample traces from real runs")
struct SampleTraceTests {
  @Test("each sample trace reads cleanly to its trace_end, every event known", arguments: SampleFigures.all)
  func readsCleanly(sample: SampleFigures) throws {
    let (reader, events) = try readAll(sampleTrace(sample.name))
    #expect(reader.header.backend == sample.backend)
    #expect(!reader.isTruncated)
    #expect(reader.warnings.isEmpty)
    #expect(reader.unknownEvents.isEmpty)
    #expect(reader.end?.lines == events.count)
    #expect(reader.end?.dropped == 0)
    #expect(events.map(\.seq) == Array(0..<events.count))
  }

  @Test(
    "each sample trace replays with no violation, every park matched by a wake", arguments: SampleFigures.all)
  func replaysClean(sample: SampleFigures) throws {
    let report = try TraceReplay.run(path: sampleTrace(sample.name))
    #expect(report.violations.isEmpty)
    #expect(report.isConsistent)  // `netpoll replay` exits 0
    #expect(!report.summary.truncated)
    #expect(report.summary.parks == sample.parks)
    #expect(report.summary.wakes == report.summary.parks)
    #expect(report.summary.wakesByReason == sample.wakes)
    #expect(report.summary.staleDrops == sample.staleDrops)
    if sample.backend == "uring-completion" {
      // Every park is one operation, woken by its own completion: a result, never readiness.
      #expect(report.summary.readiness == 0)
      #expect(report.summary.operationResults == sample.parks)
    } else {
      #expect(report.summary.readiness > 0)
    }
  }

  @Test("each sample trace's figures", arguments: SampleFigures.all)
  func figures(sample: SampleFigures) throws {
    let r = try TraceStats.run(path: sampleTrace(sample.name))
    #expect(r.backend == sample.backend)
    #expect(r.events == sample.events)
    #expect(r.unknownEvents == 0)
    #expect(r.kernelEntries == sample.kernelEntries)
    #expect(r.requests == sample.requests)
    #expect(r.bytesRead == sample.bytesRead)
    #expect(r.bytesWritten == sample.bytesWritten)
    #expect(r.eagainCount == sample.eagain)
    #expect(r.errnoCounts["EAGAIN", default: 0] == sample.eagain)
    #expect(r.eventCounts["park"] == sample.parks)
    #expect(r.wakesByReason == sample.wakes)
    #expect(r.staleDrops == sample.staleDrops)
    #expect(r.syscallCounts[.getsockname] == 1)
    #expect(r.wakeLatency.count == sample.parks)
    if sample.backend == "epoll" {
      #expect(r.epollWaits > 0 && r.uringEnters == 0)
      #expect(r.readinessReports == r.readyEvents)
    } else {
      #expect(r.uringEnters > 0 && r.epollWaits == 0)
      #expect(r.eventCounts["uring_setup"] == 1)
    }
    if sample.backend == "uring-completion" {
      #expect(r.readinessReports == 0)
      #expect(r.operationCompletions == sample.parks)
      #expect(
        r.syscallCounts[.read] == nil && r.syscallCounts[.write] == nil && r.syscallCounts[.accept] == nil)
      #expect(r.figures.first { $0.key == "readiness_per_wait" }?.value == nil)
    }
  }

  @Test("the deadline traces show the idle connections' read deadlines firing")
  func deadlinesFire() throws {
    for name in ["deadline-epoll", "deadline-uring", "deadline-uring-completion"] {
      let r = try TraceStats.run(path: sampleTrace(name))
      #expect(r.wakesByReason[.deadline] == 4, "\(name)")
      #expect(r.eventCounts["deadline", default: 0] >= 4, "\(name)")
    }
  }

  @Test("diff of the epoll and io_uring echo traces: kernel entries per request, batching, divergence")
  func diffEcho() throws {
    let diff = try TraceDiff.run(pathA: sampleTrace("echo-epoll"), pathB: sampleTrace("echo-uring"))
    #expect(diff.findings.contains("B needs 2.18 kernel entries per request where A needs 2.34."))
    #expect(diff.findings.contains("A (epoll) gets 5.48 readiness reports per kernel wait; B (uring) 17.65."))
    #expect(
      diff.findings.contains(
        "The typical connection first diverges at step 2 (before the first request), after 'accept': A does 'epoll_ctl ADD'; B does 'sqe POLL_ADD'."
      ))
    // A figure of one backend only is not compared.
    let epollOnly = try #require(diff.rows.first { $0.key == "events_per_epoll_wait" })
    #expect(epollOnly.b == nil && epollOnly.ratio == nil && epollOnly.direction == "n/a")
    #expect(diff.connections.connectionsA == 8 && diff.connections.connectionsB == 8)
  }

  @Test(
    "diff of the epoll and completion-mode echo traces: kernel entries per request, results not readiness")
  func diffEchoCompletion() throws {
    let diff = try TraceDiff.run(
      pathA: sampleTrace("echo-epoll"), pathB: sampleTrace("echo-uring-completion"))
    #expect(
      diff.findings.contains("B needs 0.51 kernel entries per request where A needs 2.34 (4.6x fewer)."))
    #expect(
      diff.findings.contains(
        "A (epoll) gets 5.48 readiness reports per kernel wait; B (uring-completion) reaps 4.38 completions per io_uring_enter, each a call's result, not a readiness report."
      ))
    let readiness = try #require(diff.rows.first { $0.key == "readiness_per_wait" })
    #expect(readiness.b == nil && readiness.direction == "n/a")
    #expect(diff.connections.connectionsA == 8 && diff.connections.connectionsB == 8)
    #expect(diff.connections.typicalB.prefix(4) == ["accept", "park r", "sqe RECV", "cqe RECV>0"])
  }

  @Test(
    "diff --json of sample traces matches its golden file byte for byte",
    arguments: [
      ("echo-epoll", "echo-uring"), ("http-epoll", "http-uring"), ("echo-epoll", "echo-uring-completion"),
    ])
  func diffJSONGolden(a: String, b: String) throws {
    let json = try TraceDiff.run(pathA: sampleTrace(a), pathB: sampleTrace(b)).json.text(indent: true) + "\n"
    let golden = try String(contentsOfFile: fixture("diff-\(a)-\(b).json"), encoding: .utf8)
    #expect(json == golden)
    #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
  }

  @Test("the Perfetto export of an io_uring sample trace is valid JSON")
  func exportUring() throws {
    let out = try temporaryPath(name: "out.json")
    let written = try PerfettoExport.run(input: sampleTrace("echo-uring"), output: out)
    let data = try Data(contentsOf: URL(fileURLWithPath: out))
    let object = try #require(try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])
    let events = try #require(object["traceEvents"] as? [[String: Any]])
    #expect(events.count == written)
    #expect(events.contains { $0["name"] as? String == "io_uring_enter" && $0["ph"] as? String == "X" })
  }
}
