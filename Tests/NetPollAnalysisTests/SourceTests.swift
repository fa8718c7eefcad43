import Foundation
import NetPollAnalysis
import Testing

/// An `"ebpf"` trace (docs/trace-format.md, "Sources") has no park, wake, stale or deadline events:
/// every tool says what it cannot compute for it rather than printing zeros.
@Suite("Tools say what a trace's source cannot give")
struct SourceTests {
  let ebpf = fixture("ebpf-echo.jsonl")
  let runtime = fixture("echo-epoll.jsonl")

  @Test("stats of an ebpf trace marks park/wake/stale figures as not recorded, never 0")
  func statsText() throws {
    let text = try TraceStats.run(path: ebpf).text(file: "t")
    #expect(text.hasPrefix("t: backend epoll, source ebpf, 21 events"))
    #expect(text.contains("park → wake       not recorded by source ebpf"))
    #expect(text.contains("wakes, spurious wakes, stale readiness dropped: not recorded by source ebpf"))
    #expect(text.contains("by parks: not recorded by source ebpf"))
    for zero in [
      "no samples", "wakes: 0", "spurious (woken ready", "stale readiness dropped: 0", "by parks: -",
    ] {
      #expect(!text.contains(zero), "prints '\(zero)'")
    }
    // What the kernel shows is still there.
    #expect(text.contains("requests (reads with data on connection fds): 2"))
    #expect(text.contains("epoll_wait: 4 calls"))
  }

  @Test("stats --json of an ebpf trace: null for what needs park/wake/stale, listed in not_recorded")
  func statsJSON() throws {
    let object = try jsonObject(TraceStats.run(path: ebpf).json.text())
    #expect(object["source"] as? String == "ebpf")
    let notRecorded = try #require(object["not_recorded"] as? [String])
    for key in [
      "wake_latency", "wake_latency_by_mode", "wakes", "spurious_wakes", "spurious_wake_share", "stale_drops",
    ] {
      #expect(object[key] is NSNull, "\(key) is \(String(describing: object[key]))")
      #expect(notRecorded.contains(key))
    }
    #expect(notRecorded.contains("top_fds.by_parks"))
    #expect((object["top_fds"] as? [String: Any])?["by_parks"] is NSNull)
    #expect(object["requests"] as? Int == 2)

    let full = try jsonObject(TraceStats.run(path: runtime).json.text())
    #expect(full["source"] as? String == "runtime")
    #expect(full["not_recorded"] as? [String] == [])
    #expect(full["wakes"] is [String: Any])
  }

  @Test("replay of an ebpf trace says which checks ran and which cannot, and latches nothing")
  func replay() throws {
    let report = try TraceReplay.run(path: ebpf)
    #expect(report.violations == [])
    #expect(report.summary.readiness == 3)
    #expect(report.summary.latchedReadiness == 0)
    let text = report.renderSummary(file: "t")
    #expect(text.contains("source ebpf"))
    #expect(!text.contains("0 tasks") && !text.contains("parks 0") && !text.contains("latched 3"))
    #expect(text.contains("tasks, parks, wakes: not recorded by source ebpf"))
    #expect(text.contains("checked: seq and ts order"))
    #expect(text.contains("registration before readiness") && text.contains("no fd used after close"))
    #expect(text.contains("not checked (source ebpf has no park/wake/stale events): no fd used after close"))
    #expect(text.contains("park/wake pairing"))
    #expect(text.contains("violations: none in the checks above"))
    #expect(!text.contains("the trace is consistent"))
  }

  @Test("replay of a runtime trace keeps its summary")
  func replayRuntime() throws {
    let text = try TraceReplay.run(path: runtime).renderSummary(file: "t")
    #expect(text.contains("violations: none, the trace is consistent"))
    #expect(!text.contains("not checked") && !text.contains("source"))
  }

  @Test("diff against an ebpf trace: park/wake rows are not comparable, never better/same")
  func diffText() throws {
    let diff = try TraceDiff.run(pathA: runtime, pathB: ebpf)
    let text = diff.text(fileA: "A", fileB: "B")
    #expect(text.contains("B: B (epoll, source ebpf, 21 events)"))
    let lines = text.split(separator: "\n").map(String.init)
    for label in [
      "parks", "wakes", "spurious wake share", "stale drops", "wake latency p50, read parks (ns)",
    ] {
      let row = try #require(lines.first { $0.hasPrefix(label + " ") }, "no row \(label)")
      #expect(row.hasSuffix("not comparable (B is an ebpf trace: no park/wake)"), "\(row)")
    }
    for finding in diff.findings {
      #expect(!finding.contains("wakes spuriously") && !finding.contains("wake latency p"), "\(finding)")
    }
    #expect(diff.findings.contains { $0.contains("not comparable (B is an ebpf trace: no park/wake)") })
    // The runtime's park/wake steps are not shown as differences.
    for (x, y) in diff.connections.alignment {
      for step in [x, y].compactMap({ $0 }) {
        #expect(!step.hasPrefix("park") && !step.hasPrefix("wake"), "\(step)")
      }
    }
    let reversed = try TraceDiff.run(pathA: ebpf, pathB: runtime)
    #expect(
      reversed.rows.first { $0.key == "wakes" }?.direction
        == "not comparable (A is an ebpf trace: no park/wake)")
  }

  @Test("diff --json against an ebpf trace: no ratio, the direction says why")
  func diffJSON() throws {
    let object = try jsonObject(TraceDiff.run(pathA: runtime, pathB: ebpf).json.text())
    let figures = try #require(object["figures"] as? [[String: Any]])
    for key in ["parks", "wakes", "spurious_wake_share", "stale_drops", "wake_latency_r_p99_ns"] {
      let figure = try #require(figures.first { $0["key"] as? String == key })
      #expect(figure["b"] is NSNull && figure["ratio"] is NSNull)
      #expect(figure["direction"] as? String == "not comparable (B is an ebpf trace: no park/wake)")
    }
    let requests = try #require(figures.first { $0["key"] as? String == "requests" })
    #expect(requests["b"] as? Double == 2)
  }

  @Test("stats of a flight-recorder window skips snapshot lines and says it is a window")
  func window() throws {
    let report = try TraceStats.run(path: fixture("v2-window-uring.jsonl"))
    #expect(report.unknownEvents == 0)
    #expect(report.eventCounts.keys.allSatisfy { !$0.hasPrefix("snapshot_") })
    let text = report.text(file: "t")
    #expect(text.contains("a flight-recorder window from seq 100 (trigger: SIGUSR1)"))
    #expect(!text.contains("unknown"))
  }

  @Test("export of an ebpf trace names its source where the timeline would show parks")
  func export() throws {
    let out = try temporaryPath(name: "out.json")
    try PerfettoExport.run(input: ebpf, output: out)
    let object = try jsonObject(
      String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self))
    let events = try #require(object["traceEvents"] as? [[String: Any]])
    let process = try #require(events.first { $0["name"] as? String == "process_name" })
    #expect(
      (process["args"] as? [String: Any])?["name"] as? String
        == "netpoll epoll (pid 900, source ebpf: no park/wake recorded)")
    let start = try #require(events.first { $0["name"] as? String == "trace_start" })
    #expect((start["args"] as? [String: Any])?["source"] as? String == "ebpf")
  }

  @Test("diff --html against an ebpf trace says the latency is not comparable")
  func html() throws {
    let html = try HTMLReport.run(pathA: runtime, pathB: ebpf).html
    #expect(html.contains("Park → wake latency is not comparable (B is an ebpf trace: no park/wake)."))
    #expect(!html.contains("class=\"dir not comparable"))
  }

  private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }
}
