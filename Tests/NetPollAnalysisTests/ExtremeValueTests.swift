import Foundation
import NetPollAnalysis
import Testing

private let max64 = "9223372036854775807"
private let min64 = "-9223372036854775808"

/// Well-formed lines whose integers are at the ends of the signed 64-bit range: byte counts that
/// add past Int64, a park at `ts` 0 and its wake at the highest, durations of both signs,
/// `ts` going backwards, a deadline of Int64.min.
private let extremeLines = [
  startLine.replacingOccurrences(of: #""ts":0"#, with: #""ts":5"#),
  #"{"seq":1,"ts":10,"tid":1,"ev":"accept","fd":5,"ret":7}"#,
  #"{"seq":2,"ts":20,"tid":1,"ev":"read","fd":7,"len":\#(max64),"ret":\#(max64)}"#,
  #"{"seq":3,"ts":30,"tid":1,"ev":"read","fd":7,"len":\#(max64),"ret":\#(max64)}"#,
  #"{"seq":4,"ts":40,"tid":1,"ev":"write","fd":7,"len":\#(max64),"ret":\#(max64)}"#,
  #"{"seq":5,"ts":50,"tid":1,"ev":"write","fd":7,"len":\#(max64),"ret":\#(max64)}"#,
  #"{"seq":6,"ts":0,"tid":1,"ev":"park","task":2,"fd":7,"mode":"r"}"#,
  #"{"seq":7,"ts":\#(max64),"tid":2,"ev":"epoll_wait","epfd":3,"maxevents":128,"timeout_ms":-1,"ret":0,"dur_ns":\#(min64),"ready":[]}"#,
  #"{"seq":8,"ts":0,"tid":2,"ev":"epoll_wait","epfd":3,"maxevents":128,"timeout_ms":-1,"ret":0,"dur_ns":\#(max64),"ready":[]}"#,
  #"{"seq":9,"ts":\#(max64),"tid":1,"ev":"wake","task":2,"fd":7,"mode":"r","reason":"ready"}"#,
  #"{"seq":10,"ts":0,"tid":1,"ev":"uring_enter","ring_fd":4,"to_submit":\#(max64),"min_complete":1,"flags":[],"ret":0,"dur_ns":\#(max64)}"#,
  #"{"seq":11,"ts":\#(max64),"tid":1,"ev":"deadline","fd":7,"mode":"r","timeout_ns":\#(min64)}"#,
  #"{"seq":12,"ts":0,"tid":1,"ev":"read","fd":7,"len":1,"ret":\#(min64)}"#,
  #"{"seq":13,"ts":\#(max64),"tid":1,"ev":"trace_end","events":14,"dropped":0}"#,
]

private func extremeTrace() throws -> String {
  try temporaryTrace(extremeLines.joined(separator: "\n") + "\n")
}

@Suite("Extreme integers: no subcommand traps")
struct ExtremeValueTests {
  @Test("stats saturates byte counts, durations and latencies at Int64's ends")
  func statsSaturates() throws {
    let r = try TraceStats.run(path: try extremeTrace())
    #expect(r.bytesRead == Int.max)
    #expect(r.bytesWritten == Int.max)
    #expect(r.requests == 2)
    #expect(r.wakeLatency.count == 1)
    #expect(r.durationNs >= 0)
    #expect(r.kernelEntriesPerKiB.isFinite)
    _ = r.text(file: "t")
    _ = r.json.text()
  }

  @Test("diff and the HTML report of extreme traces do not trap")
  func diffSaturates() throws {
    let path = try extremeTrace()
    let diff = try TraceDiff.run(pathA: path, pathB: sampleTrace("echo-epoll"))
    _ = diff.text(fileA: "a", fileB: "b")
    _ = diff.json.text()
    _ = try HTMLReport.run(pathA: path, pathB: path).html
  }

  @Test("export of negative dur_ns and ts going backwards writes valid JSON")
  func exportSaturates() throws {
    let out = try temporaryPath(name: "out.json")
    try PerfettoExport.run(input: try extremeTrace(), output: out)
    let data = try Data(contentsOf: URL(fileURLWithPath: out))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let events = try #require(object["traceEvents"] as? [[String: Any]])
    for slice in events where slice["ph"] as? String == "X" {
      #expect((slice["dur"] as? Double ?? 0) >= 0)
    }
  }

  @Test("number formatting takes any Int and any Double")
  func formatting() {
    #expect(formatNanoseconds(Int.min).hasPrefix("-922337203"))
    #expect(formatNanoseconds(Int.max).hasPrefix("922337203"))
    #expect(formatDecimal(1e300, digits: 2) == "1e+300")
    #expect(formatDecimal(-9.3e18, digits: 1) == "-9.3e+18")
    #expect(formatDecimal(12.345, digits: 2) == "12.35")
  }
}
