import Foundation
import NetPollAnalysis
import Testing

@Suite("Replay")
struct ReplayTests {
  @Test(
    "replay finds each violation at the line that shows it",
    arguments: [
      ("violation-park-while-parked.jsonl", ReplayViolation.Kind.parkWhileParked, 7),
      ("violation-wake-not-parked.jsonl", .wakeNotParked, 5),
      ("violation-wake-mismatch.jsonl", .wakeMismatch, 8),
      ("violation-readiness-unregistered.jsonl", .readinessUnregistered, 5),
      ("violation-readiness-deleted.jsonl", .readinessDeleted, 6),
      ("violation-readiness-stale-tag.jsonl", .readinessStaleTag, 5),
      ("violation-add-while-registered.jsonl", .addWhileRegistered, 5),
      ("violation-seq-gap.jsonl", .seqGap, 5),
      ("violation-seq-backwards.jsonl", .seqBackwards, 6),
      ("violation-eagain-not-followed.jsonl", .eagainNotFollowed, 5),
      ("violation-park-without-wake.jsonl", .parkWithoutWake, 6),
    ])
  func findsViolation(file: String, kind: ReplayViolation.Kind, line: Int) throws {
    let report = try TraceReplay.run(path: fixture(file))
    #expect(report.violations.map(\.kind) == [kind])
    #expect(report.violations.map(\.line) == [line])
    #expect(!report.isConsistent)
  }

  @Test(
    "consistent traces have no violations",
    arguments: ["echo-epoll.jsonl", "stale-drop-ok.jsonl", "eagain-retried-ok.jsonl"])
  func consistent(file: String) throws {
    let report = try TraceReplay.run(path: fixture(file))
    #expect(report.violations.isEmpty)
    #expect(report.isConsistent)
  }

  @Test("completion mode: ACCEPT/RECV/SEND completions are results, not readiness for unregistered fds")
  func completionResultsAreNotReadiness() throws {
    let report = try TraceReplay.run(path: fixture("uring-completion-ok.jsonl"))
    #expect(report.violations.isEmpty)
    #expect(report.isConsistent)
    #expect(report.summary.readiness == 0)
    #expect(report.summary.operationResults == 6)
    #expect(report.summary.parks == 6 && report.summary.wakes == 6)
    #expect(report.summary.wakesByReason == [.ready: 4, .deadline: 1, .close: 1])
  }

  @Test("completion mode: a poll completion for a closed fd still needs a stale drop")
  func completionModePollStillChecked() throws {
    let lines = [
      startLine.replacingOccurrences(of: #""backend":"epoll""#, with: #""backend":"uring-completion""#),
      #"{"seq":1,"ts":10,"tid":1,"ev":"uring_setup","ring_fd":5,"entries":8,"cq_entries":16,"flags":[],"features":[]}"#,
      #"{"seq":2,"ts":20,"tid":1,"ev":"socket","fd":7,"domain":"AF_INET","ret":7}"#,
      #"{"seq":3,"ts":30,"tid":1,"ev":"uring_sqe","op":"POLL_ADD","fd":7,"user_data":4611686018427387904,"flags":[]}"#,
      #"{"seq":4,"ts":40,"tid":1,"ev":"close","fd":7,"ret":0}"#,
      #"{"seq":5,"ts":50,"tid":1,"ev":"uring_enter","ring_fd":5,"to_submit":1,"min_complete":1,"flags":[],"ret":1,"dur_ns":5}"#,
      #"{"seq":6,"ts":60,"tid":1,"ev":"uring_cqe","user_data":4611686018427387904,"res":4,"flags":[],"fd":7}"#,
      #"{"seq":7,"ts":70,"tid":1,"ev":"uring_enter","ring_fd":5,"to_submit":0,"min_complete":1,"flags":[],"ret":0,"dur_ns":5}"#,
      #"{"seq":8,"ts":80,"tid":1,"ev":"trace_end","events":9,"dropped":0}"#,
    ]
    let report = try TraceReplay.run(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(report.violations.map(\.kind) == [.readinessDeleted])
  }

  @Test("a bad readiness followed by a stale event counts as a stale drop")
  func staleDrop() throws {
    #expect(try TraceReplay.run(path: fixture("stale-drop-ok.jsonl")).summary.staleDrops == 1)
    #expect(try TraceReplay.run(path: fixture("echo-epoll.jsonl")).summary.staleDrops == 2)
  }

  @Test("a park left open by a truncated trace is a note, not a violation")
  func truncatedPark() throws {
    let report = try TraceReplay.run(path: fixture("truncated-torn.jsonl"))
    #expect(report.isConsistent)
    #expect(report.summary.truncated)
    #expect(report.notes.map(\.line) == [6])
    #expect(report.warnings.contains { $0.line == 7 })
  }

  @Test("the summary counts parks, wakes by reason, readiness and latching")
  func summary() throws {
    let s = try TraceReplay.run(path: fixture("echo-epoll.jsonl")).summary
    #expect(s.events == 45)
    #expect(s.parks == 4)
    #expect(s.wakesByReason == [.ready: 2, .deadline: 1, .close: 1])
    #expect(s.readiness == 6)
    #expect(s.tasks == 3)
    #expect(!s.truncated)
  }

  @Test("--fd prints the fd's steps in order with their lines")
  func fdTimeline() throws {
    let report = try TraceReplay.run(path: fixture("echo-epoll.jsonl"), options: ReplayOptions(fd: 7))
    let steps = report.fdTimeline
    #expect(steps.first?.text == "accepted on listener fd 5")
    #expect(steps.first?.line == 14)
    #expect(steps.map(\.line) == steps.map(\.line).sorted())
    #expect(steps.contains { $0.text == "stale readiness dropped: tag 2, current tag -1, r" })
    #expect(steps.last?.text == "close → 0")
  }

  @Test("--task shows EAGAIN, park, readiness, wake and the resumed call")
  func taskTimeline() throws {
    let report = try TraceReplay.run(path: fixture("echo-epoll.jsonl"), options: ReplayOptions(task: 2))
    #expect(
      report.taskTimeline.prefix(5).map(\.text) == [
        "read(len 4096) → EAGAIN", "parks on fd 7 (r)", "fd 7 ready IN|OUT tag 2", "woken on fd 7 (r, ready)",
        "resumes: read(len 4096) → 512",
      ])
    #expect(report.taskTimeline.prefix(5).map(\.line) == [16, 17, 18, 19, 20])
  }

  @Test("synthetic traces replay clean on both backends")
  func synthetic() throws {
    for backend in [SyntheticTrace.Backend.epoll, .uring] {
      let trace = SyntheticTrace(backend: backend, connections: 5, requestsPerConnection: 7)
      let path = try temporaryTrace(trace.text())
      let report = try TraceReplay.run(path: path)
      #expect(report.violations == [], "\(backend)")
      #expect(report.summary.events == trace.lineCount)
    }
  }
}
