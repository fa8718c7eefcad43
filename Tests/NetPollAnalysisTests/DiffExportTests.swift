import Foundation
import NetPollAnalysis
import Testing

@Suite("Diff and export")
struct DiffExportTests {
  private func syntheticPaths() throws -> (String, String) {
    let a = try temporaryTrace(
      SyntheticTrace(backend: .epoll, connections: 4, requestsPerConnection: 6).text())
    let b = try temporaryTrace(
      SyntheticTrace(backend: .uring, connections: 4, requestsPerConnection: 6).text())
    return (a, b)
  }

  @Test("diff --json is stable and carries every figure with ratio and direction")
  func diffJSONStable() throws {
    let (a, b) = try syntheticPaths()
    let first = try TraceDiff.run(pathA: a, pathB: b).json.text()
    let second = try TraceDiff.run(pathA: a, pathB: b).json.text()
    #expect(first == second)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
    let figures = try #require(object["figures"] as? [[String: Any]])
    #expect(figures.map { $0["key"] as? String } == StatsReport().figures.map(\.key))
    let perRequest = try #require(figures.first { $0["key"] as? String == "kernel_entries_per_request" })
    #expect(perRequest["direction"] as? String != nil)
    #expect(first.hasPrefix(#"{"a":{"backend":"epoll","#))
  }

  @Test("diff of epoll and io_uring states findings and where connections diverge")
  func diffFindings() throws {
    let (a, b) = try syntheticPaths()
    let diff = try TraceDiff.run(pathA: a, pathB: b)
    #expect(diff.findings.contains { $0.hasPrefix("A (epoll) gets ") && $0.contains("B (uring)") })
    let perRequest = try #require(diff.rows.first { $0.key == "kernel_entries_per_request" })
    #expect((perRequest.a ?? 0) > 0 && (perRequest.b ?? 0) > 0)
    if perRequest.direction != "same" {
      #expect(
        diff.findings.contains {
          $0.hasPrefix("B needs ") && $0.contains("kernel entries per request where A needs")
        })
    }
    #expect(diff.connections.connectionsA == 4)
    #expect(diff.connections.connectionsB == 4)
    let first = try #require(diff.connections.firstDifference)
    #expect(diff.connections.alignment[0].0 == "accept")
    #expect(first > 0)
    #expect(diff.findings.contains { $0.hasPrefix("The typical connection first diverges at step") })
  }

  @Test("a trace diffed with itself has no difference")
  func diffSame() throws {
    let diff = try TraceDiff.run(pathA: fixture("echo-epoll.jsonl"), pathB: fixture("echo-epoll.jsonl"))
    // Figures of the other backend apply to neither side: those rows are n/a, the rest the same.
    #expect(
      diff.rows.allSatisfy { $0.direction == "same" || ($0.a == nil && $0.b == nil && $0.direction == "n/a") }
    )
    #expect(diff.connections.firstDifference == nil)
  }

  @Test("the Perfetto export is valid JSON with slices, async parks, flows and names")
  func perfettoExport() throws {
    let out = try temporaryPath(name: "out.json")
    let written = try PerfettoExport.run(input: fixture("echo-epoll.jsonl"), output: out)
    let data = try Data(contentsOf: URL(fileURLWithPath: out))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let events = try #require(object["traceEvents"] as? [[String: Any]])
    #expect(events.count == written)
    for event in events {
      #expect(event["ph"] is String && event["name"] is String && event["pid"] is Int && event["tid"] is Int)
      if event["ph"] as? String != "M" { #expect(event["ts"] is Double || event["ts"] is Int) }
    }
    let waits = events.filter { $0["name"] as? String == "epoll_wait" }
    #expect(waits.count == 6)
    #expect(waits.allSatisfy { $0["ph"] as? String == "X" && $0["dur"] != nil })
    #expect(events.filter { $0["ph"] as? String == "b" }.count == 4)
    #expect(events.filter { $0["ph"] as? String == "e" }.count == 4)
    #expect(events.contains { $0["ph"] as? String == "M" && $0["name"] as? String == "process_name" })
    #expect(events.contains { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" })
    let flowOut = events.filter { $0["flow_out"] as? Bool == true }.compactMap { $0["bind_id"] as? Int }
    let flowIn = events.filter { $0["flow_in"] as? Bool == true }.compactMap { $0["bind_id"] as? Int }
    #expect(!flowIn.isEmpty)
    #expect(Set(flowIn).isSubset(of: Set(flowOut)))
    let first = try #require(events.first { $0["name"] as? String == "trace_start" })
    #expect((first["ts"] as? Double ?? -1) == 0)
  }

  @Test("the export escapes strings from the trace")
  func perfettoEscapes() throws {
    let start = startLine.replacingOccurrences(
      of: #""command":"test""#, with: #""command":"a \"q\" \\ \u0001""#)
    let input = try temporaryTrace(
      start + "\n" + #"{"seq":1,"ts":6,"tid":1,"ev":"trace_end","events":2,"dropped":0}"# + "\n")
    let out = try temporaryPath(name: "out.json")
    try PerfettoExport.run(input: input, output: out)
    let data = try Data(contentsOf: URL(fileURLWithPath: out))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let events = try #require(object["traceEvents"] as? [[String: Any]])
    let args = try #require(
      events.first { $0["name"] as? String == "trace_start" }?["args"] as? [String: Any])
    #expect(args["command"] as? String == "a \"q\" \\ \u{01}")
  }
}
