import Foundation
import NetPollAnalysis
import Testing

@Suite("Stats")
struct StatsTests {
  @Test("the echo fixture's counts, errno share, requests and wakes")
  func echoFigures() throws {
    let r = try TraceStats.run(path: fixture("echo-epoll.jsonl"))
    #expect(r.events == 45)
    #expect(r.kernelEntries == 32)
    #expect(r.syscallCounts[.epollWait] == 6)
    #expect(r.errnoCounts == ["EAGAIN": 4])
    #expect(r.eagainShare == 4.0 / 32.0)
    #expect(r.requests == 2)
    #expect(r.bytesRead == 612)
    #expect(r.bytesWritten == 612)
    #expect(r.kernelEntriesPerRequest == 16)
    #expect(r.eventsPerEpollWait == 1)
    #expect(r.wakesByReason == [.ready: 2, .deadline: 1, .close: 1])
    #expect(r.staleDrops == 2)
    #expect(r.spuriousWakes == 0)
    #expect(r.topFDsByEvents.first == FDFigure(fd: 7, count: 22))
    #expect(r.wakeLatency.count == 4)
    #expect(r.epollWaitDuration.count == 6)
    #expect(r.epollWaitDuration.max >= 40_000 && r.epollWaitDuration.max < 40_100)
  }

  @Test("a ready wake followed by EAGAIN on the same fd and mode is spurious")
  func spuriousWake() throws {
    let lines = [
      startLine,
      #"{"seq":1,"ts":10,"tid":1,"ev":"accept","fd":5,"ret":7}"#,
      #"{"seq":2,"ts":20,"tid":1,"ev":"read","fd":7,"len":9,"ret":-1,"errno":"EAGAIN"}"#,
      #"{"seq":3,"ts":30,"tid":1,"ev":"park","task":2,"fd":7,"mode":"r"}"#,
      #"{"seq":4,"ts":1030,"tid":1,"ev":"wake","task":2,"fd":7,"mode":"r","reason":"ready"}"#,
      #"{"seq":5,"ts":1040,"tid":1,"ev":"write","fd":7,"len":9,"ret":9}"#,
      #"{"seq":6,"ts":1050,"tid":1,"ev":"read","fd":7,"len":9,"ret":-1,"errno":"EAGAIN"}"#,
      #"{"seq":7,"ts":1060,"tid":1,"ev":"trace_end","events":8,"dropped":0}"#,
    ]
    let r = try TraceStats.run(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(r.spuriousWakes == 1)
    #expect(r.spuriousWakeShare == 1)
    #expect(r.wakeLatency.p50 == 1000)
  }

  @Test("--json is one object with a stable key order")
  func jsonStable() throws {
    let a = try TraceStats.run(path: fixture("echo-epoll.jsonl")).json.text()
    let b = try TraceStats.run(path: fixture("echo-epoll.jsonl")).json.text()
    #expect(a == b)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(a.utf8)) as? [String: Any])
    #expect(object["kernel_entries"] as? Int == 32)
    #expect(a.hasPrefix(#"{"backend":"epoll","events":45,"#))
    let latency = try #require(object["wake_latency"] as? [String: Any])
    #expect(Set(latency.keys) == ["count", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p99.9_ns", "max_ns"])
  }

  @Test("completion mode: accepts, requests and bytes come from ACCEPT/RECV/SEND completions")
  func completionModeCounting() throws {
    let r = try TraceStats.run(path: fixture("uring-completion-ok.jsonl"))
    #expect(r.backend == "uring-completion")
    #expect(r.isCompletionMode)
    #expect(r.requests == 1)  // the cancelled RECV moved nothing
    #expect(r.bytesRead == 100)
    #expect(r.bytesWritten == 100)  // a short SEND and the rest
    #expect(r.operationCompletions == 6)
    #expect(r.readinessReports == 0)
    #expect(r.uringEnters == 7 && r.uringCompletions == 8)
    #expect(r.kernelEntries == 13)
    #expect(r.kernelEntriesPerRequest == 13)
    #expect(r.completionsPerUringEnter == 8.0 / 7.0)
    #expect(r.figures.first { $0.key == "readiness_per_wait" }?.value == nil)
    #expect(r.spuriousWakes == 0)
  }

  @Test("uring batching: completions per io_uring_enter")
  func uringBatching() throws {
    let path = try temporaryTrace(
      SyntheticTrace(backend: .uring, connections: 2, requestsPerConnection: 3).text())
    let r = try TraceStats.run(path: path)
    #expect(r.uringEnters > 0)
    #expect(r.completionsPerUringEnter == 1)
    #expect(r.requests == 6)
  }
}
