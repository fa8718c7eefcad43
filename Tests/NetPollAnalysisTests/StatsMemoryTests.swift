import Foundation
import Testing

@testable import NetPollAnalysis

@Suite("Stats memory is bounded by live state, not by numbers in the trace")
struct StatsMemoryTests {
  @Test("a trace naming fd 1048575 and fd 2^40 keeps a handful of per-fd entries")
  func hugeFDNumbers() throws {
    let lines = [
      startLine,
      #"{"seq":1,"ts":10,"tid":1,"ev":"accept","fd":3,"ret":1048575}"#,
      #"{"seq":2,"ts":20,"tid":1,"ev":"read","fd":1048575,"len":9,"ret":9}"#,
      #"{"seq":3,"ts":30,"tid":1,"ev":"read","fd":1099511627776,"len":9,"ret":-1,"errno":"EAGAIN"}"#,
      #"{"seq":4,"ts":40,"tid":1,"ev":"trace_end","events":5,"dropped":0}"#,
    ]
    let reader = try TraceReader(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    var stats = TraceStats()
    while let event = try reader.next() { stats.consume(event) }
    #expect(stats.perFDFootprint <= 1024 + 3, "per-fd slots: \(stats.perFDFootprint)")
    let report = stats.finish(header: reader.header, truncated: false)
    #expect(report.requests == 1)
    #expect(report.topFDsByEvents.map(\.fd) == [3, 1_048_575, 1_099_511_627_776])
    #expect(report.topFDsByEAGAIN == [FDFigure(fd: 1_099_511_627_776, count: 1)])
  }

  @Test("unknown event names are kept as the reader keeps them (32), 20 listed, the rest counted")
  func unknownNamesCapped() throws {
    var lines = [startLine]
    for i in 1...100 { lines.append(#"{"seq":\#(i),"ts":\#(i),"tid":1,"ev":"future_\#(i)"}"#) }
    lines.append(#"{"seq":101,"ts":101,"tid":1,"ev":"future_1"}"#)
    lines.append(#"{"seq":102,"ts":102,"tid":1,"ev":"trace_end","events":103,"dropped":0}"#)
    let r = try TraceStats.run(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(r.unknownEvents == 101)
    let listed = r.eventCounts.keys.filter { $0.hasPrefix("future_") }
    #expect(listed.count == StatsReport.unknownNamesShown)
    #expect(r.eventCounts["future_1"] == 2)
    #expect(r.unknownEventsNotShown == 80)
    #expect(r.text(file: "t").contains("and at least 13 more unknown event names (80 events)"))
    #expect(r.text(file: "t").split(separator: "\n").count < 80)
  }
}
