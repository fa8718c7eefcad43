import Foundation
import NetPollAnalysis
import Testing

/// Version 2 of the format (docs/trace-format.md, "Changes from version 1"): `source`,
/// `trace_end.lines`, flight-recorder windows that start from snapshot lines.
@Suite("Trace format version 2")
struct TraceVersion2Tests {
  @Test("a window's replay starts from its snapshot: a registered fd with its armed poll and a parked task")
  func uringWindow() throws {
    let report = try TraceReplay.run(path: fixture("v2-window-uring.jsonl"))
    #expect(report.violations == [])
    #expect(report.header.version == 2)
    #expect(report.header.source == .runtime)
    #expect(report.header.window == TraceWindow(firstSeq: 100, firstTs: 1000, trigger: "SIGUSR1"))
    #expect(report.summary.wakesByReason == [.ready: 1])
    #expect(report.summary.readiness == 1 && report.summary.latchedReadiness == 0)
  }

  @Test("a completion-mode window starts with its operations in flight")
  func completionWindow() throws {
    let report = try TraceReplay.run(path: fixture("v2-window-completion.jsonl"))
    #expect(report.violations == [])
    #expect(report.summary.operationResults == 1)
  }

  @Test("source ebpf is exposed so tools can say what they cannot compute")
  func ebpfSource() throws {
    let (reader, _) = try readAll(fixture("v2-ebpf.jsonl"))
    #expect(reader.header.source == .ebpf)
    #expect(!reader.header.source.hasRuntimeEvents)
    #expect(reader.header.window == nil)
    #expect(reader.end?.lines == 5)
  }

  @Test("a version-1 trace is source runtime, and its trace_end 'events' reads as lines")
  func version1() throws {
    let (reader, _) = try readAll(fixture("echo-epoll.jsonl"))
    #expect(reader.header.version == 1)
    #expect(reader.header.source == .runtime)
    #expect(reader.end?.lines == 45)
  }

  @Test(
    "snapshot lines only in a window, before its first event, with seq 0",
    arguments: [
      (
        false, #"{"seq":0,"ts":1000,"tid":1,"ev":"snapshot_fd","fd":7,"tag":3}"#, 2,
        "not a flight-recorder window"
      ),
      (true, #"{"seq":5,"ts":1000,"tid":1,"ev":"snapshot_fd","fd":7,"tag":3}"#, 2, "expected 0"),
      (
        true,
        #"{"seq":100,"ts":1000,"tid":1,"ev":"close","fd":9,"ret":0}"# + "\n"
          + #"{"seq":0,"ts":1000,"tid":1,"ev":"snapshot_park","task":2,"fd":7,"mode":"r"}"#, 3,
        "after the window's first event (line 2)"
      ),
    ])
  func snapshotPlacement(window: Bool, lines: String, badLine: Int, message: String) throws {
    var start = startLine.replacingOccurrences(of: #""version":1"#, with: #""version":2"#)
    if window {
      start = start.replacingOccurrences(
        of: #""backend_note":"""#, with: #""backend_note":"","window":true,"window_seq":100,"window_ts":1000"#
      )
    }
    let end = #"{"seq":101,"ts":2000,"tid":1,"ev":"trace_end","lines":9,"dropped":0}"#
    let error = try #require(
      readError(try temporaryTrace([start, lines, end].joined(separator: "\n") + "\n")))
    #expect(error.line == badLine)
    #expect(error.message.contains(message))
  }

  @Test("an unknown source is a clear error")
  func unknownSource() throws {
    let start = startLine.replacingOccurrences(of: #""version":1"#, with: #""version":2,"source":"dtrace""#)
    let error = readError(try temporaryTrace(start + "\n"))
    #expect(error?.line == 1)
    #expect(error?.message.contains("'source' must be \"runtime\" or \"ebpf\"") == true)
  }

  @Test("synthetic traces are version 2")
  func syntheticIsVersion2() throws {
    let path = try temporaryTrace(
      SyntheticTrace(backend: .epoll, connections: 2, requestsPerConnection: 2).text())
    let (reader, events) = try readAll(path)
    #expect(reader.header.version == 2)
    #expect(reader.end?.lines == events.count)
  }

  @Test("an ebpf trace is not held to the runtime's own events: no park after EAGAIN, no stale drop")
  func ebpfHasNoRuntimeEvents() throws {
    let start = startLine.replacingOccurrences(
      of: #""version":1,"backend":"epoll""#, with: #""version":2,"source":"ebpf","backend":"epoll""#)
    let lines = [
      start,
      #"{"seq":1,"ts":1,"tid":7,"ev":"epoll_create","epfd":3,"flags":[],"ret":3}"#,
      #"{"seq":2,"ts":2,"tid":7,"ev":"socket","fd":8,"domain":"AF_INET","ret":8}"#,
      #"{"seq":3,"ts":3,"tid":7,"ev":"read","fd":8,"len":9,"ret":-1,"errno":"EAGAIN"}"#,
      #"{"seq":4,"ts":4,"tid":7,"ev":"epoll_wait","epfd":3,"maxevents":8,"timeout_ms":-1,"ret":1,"dur_ns":1,"ready":[{"fd":8,"tag":0,"events":["EPOLLIN"]}]}"#,
      #"{"seq":5,"ts":5,"tid":7,"ev":"epoll_wait","epfd":3,"maxevents":8,"timeout_ms":-1,"ret":0,"dur_ns":1,"ready":[]}"#,
      #"{"seq":6,"ts":6,"tid":7,"ev":"trace_end","lines":7,"dropped":0}"#,
    ]
    let report = try TraceReplay.run(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(report.violations == [])
    #expect(report.notes.count == 1)
  }

  @Test(
    "a window that ends between a poll completion for a closed fd and its stale drop: a note, not a violation"
  )
  func windowEndsBeforeStaleDrop() throws {
    // A flight dump is cut wherever the dump was taken: the poller reaped the completion, and the
    // `stale` record it writes next falls after the window (seen under ThreadSanitizer).
    var lines = try String(contentsOfFile: fixture("v2-window-uring.jsonl"), encoding: .utf8)
      .split(separator: "\n").map(String.init)
    lines.removeLast(4)  // keep trace_start, the snapshot and the first uring_enter
    lines += [
      #"{"seq":101,"ts":2000,"tid":3,"ev":"close","fd":7,"ret":0}"#,
      #"{"seq":102,"ts":3000,"tid":1,"ev":"uring_cqe","user_data":12884901895,"res":1,"flags":[],"fd":7}"#,
      #"{"seq":103,"ts":4000,"tid":1,"ev":"trace_end","lines":7,"dropped":0}"#,
    ]
    let report = try TraceReplay.run(path: try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(report.violations.isEmpty, "\(report.violations)")
    #expect(
      report.notes.contains {
        "\($0)".contains("before a stale drop could follow (the window ends before it)")
      })
  }
}
