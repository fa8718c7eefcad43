import Foundation
import NetPollAnalysis
import Testing

/// The `traceEvents` of `input` exported to a fresh file.
private func exported(_ input: String, window: ExportWindow = ExportWindow()) throws -> [[String: Any]] {
  let out = try temporaryPath(name: "out.json")
  try PerfettoExport.run(input: input, output: out, window: window)
  let data = try Data(contentsOf: URL(fileURLWithPath: out))
  let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  return try #require(object["traceEvents"] as? [[String: Any]])
}

private func args(_ event: [String: Any]) -> [String: Any] { event["args"] as? [String: Any] ?? [:] }

@Suite("Perfetto export: what each event carries, flows, time windows")
struct PerfettoContentTests {
  @Test("epoll_ctl, stale and deadline carry their op, fd, result and errno, not only the line")
  func epollArgs() throws {
    let events = try exported(fixture("echo-epoll.jsonl"))
    let ctl = try #require(events.first { $0["name"] as? String == "epoll_ctl" })
    #expect(args(ctl)["op"] as? String == "ADD")
    #expect(args(ctl)["fd"] is Int && args(ctl)["epfd"] is Int && args(ctl)["tag"] is Int)
    #expect(args(ctl)["ret"] as? Int == 0)
    #expect(args(ctl)["events"] as? String != nil)
    let stale = try #require(events.first { $0["name"] as? String == "stale" })
    #expect(args(stale)["fd"] is Int && args(stale)["tag"] is Int && args(stale)["current_tag"] is Int)
    #expect(args(stale)["mode"] is String)
    let deadline = try #require(events.first { $0["name"] as? String == "deadline" })
    #expect(
      args(deadline)["fd"] is Int && args(deadline)["timeout_ns"] is Int && args(deadline)["mode"] is String)
  }

  @Test("uring_sqe and uring_cqe carry op, fd, user_data, res and errno")
  func uringArgs() throws {
    let events = try exported(sampleTrace("deadline-uring-completion"))
    let sqe = try #require(
      events.first { $0["name"] as? String == "uring_sqe" && args($0)["op"] as? String == "RECV" })
    #expect(args(sqe)["fd"] is Int && args(sqe)["user_data"] is Int)
    let cqes = events.filter { $0["name"] as? String == "uring_cqe" }
    #expect(
      cqes.allSatisfy { args($0)["res"] is Int && args($0)["fd"] is Int && args($0)["user_data"] is Int })
    #expect(cqes.contains { args($0)["op"] as? String == "RECV" })
    #expect(cqes.contains { args($0)["errno"] as? String == "ECANCELED" && args($0)["res"] as? Int == -125 })
  }

  @Test(
    "in completion mode every wake's flow ends at the task's next operation",
    arguments: ["echo", "http", "deadline"])
  func completionFlowsClosed(name: String) throws {
    let events = try exported(sampleTrace("\(name)-uring-completion"))
    let flowOut = Set(events.filter { $0["flow_out"] as? Bool == true }.compactMap { $0["bind_id"] as? Int })
    let flowIn = Set(events.filter { $0["flow_in"] as? Bool == true }.compactMap { $0["bind_id"] as? Int })
    #expect(!flowOut.isEmpty)
    #expect(flowIn.isSubset(of: flowOut))
    // A wake whose task did nothing more before the trace ended has no target.
    #expect(
      flowOut.subtracting(flowIn).count <= 2,
      "\(flowOut.subtracting(flowIn).count) of \(flowOut.count) flows open")
  }

  @Test("times parse as ns or with a unit")
  func parsesTimes() {
    #expect(parseTraceTime("1500") == 1500)
    #expect(parseTraceTime("1.5s") == 1_500_000_000)
    #expect(parseTraceTime("200ms") == 200_000_000)
    #expect(parseTraceTime("250us") == 250_000)
    #expect(parseTraceTime("250µs") == 250_000)
    #expect(parseTraceTime("7ns") == 7)
    #expect(parseTraceTime("0.25ms") == 250_000)
    for bad in ["", "s", "-1", "1.5x", "ms200", "1e3", "1.2.3s", "99999999999999999999s", "nan"] {
      #expect(parseTraceTime(bad) == nil, "\(bad)")
    }
  }

  @Test("--from/--to export only the window; parks cut by its end are closed at it")
  func window() throws {
    let path = sampleTrace("echo-epoll")
    let all = try exported(path)
    let times = all.compactMap { $0["ts"] as? Double }.sorted()
    let from = Int(times[times.count / 3] * 1000)
    let to = Int(times[times.count / 2] * 1000)
    let part = try exported(path, window: ExportWindow(from: from, to: to))
    #expect(part.count < all.count / 2)
    for event in part where event["ph"] as? String != "M" {
      let ts = try #require(event["ts"] as? Double)
      let end = ts + (event["dur"] as? Double ?? 0)
      #expect(end * 1000 >= Double(from) - 1 && ts * 1000 <= Double(to) + 1)
    }
    let begins = part.filter { $0["ph"] as? String == "b" }.count
    let ends = part.filter { $0["ph"] as? String == "e" }.count
    #expect(begins == ends)
    #expect(part.contains { $0["name"] as? String == "process_name" })
    #expect(throws: TraceError.self) {
      try PerfettoExport.run(input: path, output: "/dev/null", window: ExportWindow(from: 10, to: 5))
    }
  }
}
