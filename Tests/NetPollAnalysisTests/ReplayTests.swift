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
      // Reported where the task does something else (its write), not at the EAGAIN.
      ("violation-eagain-not-followed.jsonl", .eagainNotFollowed, 6),
      ("violation-park-without-wake.jsonl", .parkWithoutWake, 6),
      // Causal order (version 2): a report or a use of an fd before it exists.
      ("violation-readiness-before-add.jsonl", .readinessUnregistered, 7),
      ("violation-cqe-before-sqe.jsonl", .readinessUnregistered, 5),
      ("violation-use-after-close.jsonl", .fdNotOpen, 9),
      // io_uring: completions without a submission in flight, a second POLL_ADD while armed.
      ("violation-cqe-never-submitted.jsonl", .completionWithoutSubmission, 6),
      ("violation-cqe-after-final.jsonl", .completionWithoutSubmission, 7),
      ("violation-double-poll-add.jsonl", .addWhileRegistered, 6),
      ("violation-completion-twice.jsonl", .completionWithoutSubmission, 9),
      ("violation-completion-never-submitted.jsonl", .completionWithoutSubmission, 5),
      // EAGAIN: reported where the task does something else.
      ("violation-eagain-then-close.jsonl", .eagainNotFollowed, 9),
      ("violation-eagain-other-call.jsonl", .eagainNotFollowed, 9),
      ("violation-eagain-park-other-fd.jsonl", .eagainNotFollowed, 11),
      // seq: one violation per wrong line.
      ("violation-seq-one-wrong.jsonl", .seqWrong, 5),
      ("violation-seq-swapped.jsonl", .seqBackwards, 5),
    ])
  func findsViolation(file: String, kind: ReplayViolation.Kind, line: Int) throws {
    let report = try TraceReplay.run(path: fixture(file))
    #expect(report.violations.map(\.kind) == [kind])
    #expect(report.violations.map(\.line) == [line])
    #expect(!report.isConsistent)
  }

  @Test(
    "consistent traces have no violations",
    arguments: [
      "echo-epoll.jsonl", "stale-drop-ok.jsonl", "eagain-retried-ok.jsonl", "eagain-level-check-ok.jsonl",
      "uring-completion-ok.jsonl", "v2-window-uring.jsonl", "v2-window-completion.jsonl", "v2-ebpf.jsonl",
    ])
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

  @Test(
    "a readiness from a wait that was in the kernel when its fd's DEL returned is the kernel's order, not a stale event",
    arguments: [(50, true), (5, false)])
  func waitOverlappingDelete(waitNs: Int, overlaps: Bool) throws {
    // Both are stamped on return: a wait can collect the event before the DEL takes the epoll
    // lock and return after the DEL did (a ThreadSanitizer run of CausalOrder, 4 workers). The
    // runtime then still finds the descriptor and dispatches it, with no stale drop.
    let lines = [
      startLine,
      #"{"seq":1,"ts":10,"tid":1,"ev":"epoll_create","epfd":3,"flags":[],"ret":3}"#,
      #"{"seq":2,"ts":20,"tid":1,"ev":"socket","fd":9,"domain":"AF_INET","ret":9}"#,
      #"{"seq":3,"ts":30,"tid":1,"ev":"epoll_ctl","epfd":3,"op":"ADD","fd":9,"events":["EPOLLIN","EPOLLET"],"tag":5,"ret":0}"#,
      #"{"seq":4,"ts":100,"tid":2,"ev":"epoll_ctl","epfd":3,"op":"DEL","fd":9,"events":[],"tag":5,"ret":0}"#,
      #"{"seq":5,"ts":110,"tid":1,"ev":"epoll_wait","epfd":3,"maxevents":8,"timeout_ms":-1,"ret":1,"dur_ns":\#(waitNs),"ready":[{"fd":9,"tag":5,"events":["EPOLLIN"]}]}"#,
      #"{"seq":6,"ts":120,"tid":1,"ev":"epoll_wait","epfd":3,"maxevents":8,"timeout_ms":0,"ret":0,"dur_ns":1,"ready":[]}"#,
      #"{"seq":7,"ts":130,"tid":2,"ev":"close","fd":9,"ret":0}"#,
      #"{"seq":8,"ts":140,"tid":1,"ev":"trace_end","events":9,"dropped":0}"#,
    ]
    let report = try TraceReplay.run(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    if overlaps {
      #expect(report.violations == [], "\(report.violations)")
      #expect(
        report.notes.contains { $0.message.contains("was in the kernel when its DEL (line 5) returned") })
    } else {
      // The wait began after the DEL returned: the kernel could not have reported the old registration.
      #expect(report.violations.map(\.kind) == [.readinessDeleted])
    }
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

  @Test("a readiness before its registration names the registration's line")
  func causalOrderMessage() throws {
    let report = try TraceReplay.run(path: fixture("violation-readiness-before-add.jsonl"))
    #expect(report.violations.first?.message.contains("its registration comes later, at line 8") == true)
    let uring = try TraceReplay.run(path: fixture("violation-cqe-before-sqe.jsonl"))
    #expect(uring.violations.first?.message.contains("its submission comes later, at line 6") == true)
  }

  @Test("a real seq gap is one violation with the events lost, and trace_end.dropped must agree")
  func seqGapAndDropped() throws {
    let lines = (1...6).map {
      #"{"seq":\#($0 < 4 ? $0 : $0 + 3),"ts":\#($0),"tid":1,"ev":"close","fd":9,"ret":-1,"errno":"EBADF"}"#
    }
    let end = #"{"seq":10,"ts":10,"tid":1,"ev":"trace_end","events":8,"dropped":0}"#
    let report = try TraceReplay.run(
      path: try temporaryTrace(([startLine] + lines + [end]).joined(separator: "\n") + "\n"))
    #expect(report.violations.map(\.kind) == [.seqGap, .traceEndMismatch])
    #expect(report.violations.first?.message == "seq jumps from 3 to 7: 3 events lost")
    #expect(
      report.violations.last?.message == "trace_end says 0 events were dropped, but the seq gaps add up to 3")
  }

  @Test("trace_end.lines must count the file's lines")
  func endLines() throws {
    let end = #"{"seq":1,"ts":10,"tid":1,"ev":"trace_end","events":5,"dropped":0}"#
    let report = try TraceReplay.run(
      path: try temporaryTrace([startLine, end].joined(separator: "\n") + "\n"))
    #expect(report.violations.map(\.kind) == [.traceEndMismatch])
    #expect(report.violations.first?.line == 2)
  }
}
