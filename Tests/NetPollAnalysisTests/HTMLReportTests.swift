import Foundation
import NetPollAnalysis
import Testing

/// Pairs of sample traces (A, B) the report is checked on.
private let samplePairs: [(String, String)] = [
  ("echo-epoll", "echo-uring-completion"),
  ("echo-epoll", "echo-uring"),
  ("http-epoll", "http-uring-completion"),
  ("deadline-epoll", "deadline-uring"),
]

/// The text of the `<script type="application/json" id="ID">` block, with `<\/` read back as `</`.
private func jsonBlock(_ html: String, id: String) throws -> String {
  let opening = "<script type=\"application/json\" id=\"\(id)\">"
  let start = try #require(html.range(of: opening))
  let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
  return String(html[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "<\\/", with: "</")
}

/// Every table cell's `(key, side) → data-value`.
private func cellValues(_ html: String) throws -> [String: String] {
  let pattern = try NSRegularExpression(
    pattern: #"data-key="([^"]+)" data-side="(a|b|ratio)" data-value="([^"]*)""#)
  var out: [String: String] = [:]
  for match in pattern.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
    func group(_ i: Int) -> String { String(html[Range(match.range(at: i), in: html)!]) }
    out[group(1) + "/" + group(2)] = group(3)
  }
  return out
}

@Suite("HTML diff report")
struct HTMLReportTests {
  @Test(
    "the page embeds byte for byte the JSON that diff --json prints for the same traces",
    arguments: samplePairs.map { "\($0.0) \($0.1)" })
  func embedsDiffJSON(pair: String) throws {
    let names = pair.split(separator: " ").map(String.init)
    let (a, b) = (sampleTrace(names[0]), sampleTrace(names[1]))
    let html = try HTMLReport.run(pathA: a, pathB: b).html
    let printed = try TraceDiff.run(pathA: a, pathB: b).json.text()
    #expect(try jsonBlock(html, id: "netpoll-diff") == printed)
  }

  @Test(
    "every figure in the page's table is the figure in diff --json",
    arguments: samplePairs.map { "\($0.0) \($0.1)" })
  func tableMatchesJSON(pair: String) throws {
    let names = pair.split(separator: " ").map(String.init)
    let (a, b) = (sampleTrace(names[0]), sampleTrace(names[1]))
    let html = try HTMLReport.run(pathA: a, pathB: b).html
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(TraceDiff.run(pathA: a, pathB: b).json.text().utf8))
        as? [String: Any])
    let figures = try #require(json["figures"] as? [[String: Any]])
    let cells = try cellValues(html)
    #expect(cells.count == figures.count * 3)
    for figure in figures {
      let key = try #require(figure["key"] as? String)
      for side in ["a", "b", "ratio"] {
        let cell = try #require(cells[key + "/" + side], "no cell for \(key) \(side)")
        if let expected = figure[side] as? Double {
          #expect(Double(cell) == expected, "\(key) \(side): page \(cell), JSON \(expected)")
        } else {
          #expect(cell == "null", "\(key) \(side): page \(cell), JSON null")
        }
      }
    }
  }

  @Test(
    "the charts count the same wakes, waits and completions as the figures",
    arguments: samplePairs.map { "\($0.0) \($0.1)" })
  func chartsAgreeWithStats(pair: String) throws {
    let names = pair.split(separator: " ").map(String.init)
    let report = try HTMLReport.run(pathA: sampleTrace(names[0]), pathB: sampleTrace(names[1]))
    for (stats, series) in [(report.diff.a, report.seriesA), (report.diff.b, report.seriesB)] {
      #expect(series.wakeCount == stats.wakeLatency.count)
      for mode in PollMode.allCases {
        #expect(series.wakeLatency(mode).reduce(0) { $0 + $1.count } == stats.wakeLatency(mode).count)
      }
      if stats.epollWaits > 0 {
        #expect(series.batchingKey == "events_per_epoll_wait")
        #expect(series.batchCount == stats.epollWaits)
        #expect(series.batchedItems == stats.readyEvents)
      } else {
        #expect(series.batchingKey == "completions_per_uring_enter")
        #expect(series.batchCount == stats.uringEnters)
        #expect(series.batchedItems + series.unattributedCompletions == stats.uringCompletions)
      }
      #expect(series.timelineIsTypical)
      #expect(series.timeline.first.map { $0.offsetNs == 0 } == true)
      #expect(series.timeline.map(\.offsetNs) == series.timeline.map(\.offsetNs).sorted())
    }
    let charts = try jsonBlock(report.html, id: "netpoll-charts")
    #expect(charts == report.chartsJSON.text())
    #expect(try JSONSerialization.jsonObject(with: Data(charts.utf8)) is [String: Any])
  }

  @Test("the page is self-contained: no external script, style, font or image")
  func selfContained() throws {
    let html = try HTMLReport.run(
      pathA: sampleTrace("echo-epoll"), pathB: sampleTrace("echo-uring-completion")
    ).html
    for needle in ["<script src", "<link", "@import", "url(", "http://", "https://", "<img"] {
      #expect(!html.contains(needle), "found \(needle)")
    }
    #expect(html.contains("prefers-color-scheme: dark"))
    #expect(html.components(separatedBy: "<svg").count - 1 >= 7)
  }

  @Test("text from the traces cannot end a script block or inject markup")
  func escapesTraceText() throws {
    let line =
      #"{"seq":0,"ts":0,"tid":1,"ev":"trace_start","format":"netpoll-trace","version":1,"backend":"</script><b>x","pid":1,"wall":"2026-11-26T22:50:01Z","command":"test","backend_note":""}"#
    let path = try temporaryTrace(line + "\n", name: "a<b>.jsonl")
    let report = try HTMLReport.run(pathA: path, pathB: path)
    let html = report.html
    #expect(!html.contains("</script><b>"))
    #expect(!html.contains("a<b>.jsonl"))
    #expect(try jsonBlock(html, id: "netpoll-diff") == report.diff.json.text())
  }

  @Test("write(to:) puts the page in a file")
  func writesFile() throws {
    let report = try HTMLReport.run(pathA: sampleTrace("echo-epoll"), pathB: sampleTrace("echo-uring"))
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("netpoll-html-\(UUID().uuidString).html").path
    try report.write(to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == report.html)
  }
}
