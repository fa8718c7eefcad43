import Foundation
import Testing

@testable import NetPollAnalysis

/// Inputs from issue 12's adversarial pass: JSON the reader must decode as JSON does, lines that
/// must not stop it or must stop it at once, and numbers that must not trap or cost memory.
@Suite("Hostile and unusual input")
struct HostileInputTests {
  private func trace(_ lines: [String]) throws -> String {
    try temporaryTrace(([startLine] + lines).joined(separator: "\n") + "\n")
  }

  @Test("JSON escapes in keys and strings are decoded: \"p\\u0061rk\" is a park")
  func escapes() throws {
    let path = try trace([
      #"{"seq":1,"ts":1,"tid":1,"ev":"p\u0061rk","task":2,"fd":7,"mode":"\u0072"}"#,
      #"{"seq":2,"ts":2,"tid":1,"ev":"wake","t\u0061sk":2,"fd":7,"mode":"r","reason":"close"}"#,
      #"{"seq":3,"ts":3,"tid":1,"ev":"trace_end","events":4,"dropped":0}"#,
    ])
    let (reader, events) = try readAll(path)
    #expect(reader.unknownEvents.isEmpty)
    guard case .park(2, 7, .read) = events[1].body else {
      Issue.record("line 2 should be a park, is \(events[1].name)")
      return
    }
    let report = try TraceReplay.run(path: path)
    #expect(report.violations == [])
    #expect(report.summary.parks == 1 && report.summary.wakes == 1)
  }

  @Test("/dev/zero stops at the line limit with one error")
  func endlessFirstLine() throws {
    let error = try #require(readError("/dev/zero"))
    #expect(error.line == 1)
    #expect(error.message.contains("longer than the 1048576-byte limit"))
  }

  @Test("an overlong line stops the reading there: nothing after it is read")
  func overlongStopsReading() throws {
    let path = try temporaryTrace(
      startLine + "\n" + String(repeating: "x", count: 5 << 20) + "\n" + #"{"seq":1}"# + "\n")
    let reader = try TraceReader(path: path)
    _ = try reader.next()
    #expect(throws: TraceError.self) { try reader.next() }
    #expect(reader.bytesRead < 2 << 20)
  }

  @Test("a whitespace-only line is skipped with a warning, like an empty one")
  func blankLine() throws {
    let path = try trace([" \t \r", "", #"{"seq":1,"ts":3,"tid":1,"ev":"trace_end","events":4,"dropped":0}"#])
    let (reader, events) = try readAll(path)
    #expect(events.count == 2)
    #expect(reader.warnings.map(\.line) == [2, 3])
    #expect(reader.warnings.first?.message == "blank line skipped")
  }

  @Test("missing optional fields are warned about once per event and field, not fatal")
  func optionalFields() throws {
    let start = startLine.replacingOccurrences(of: #","command":"test""#, with: "")
    let lines = [
      start,
      #"{"seq":1,"ts":1,"tid":1,"ev":"epoll_ctl","epfd":3,"op":"ADD","fd":7,"events":["EPOLLIN"],"ret":0}"#,
      #"{"seq":2,"ts":2,"tid":1,"ev":"read","fd":7,"ret":5}"#,
      #"{"seq":3,"ts":3,"tid":1,"ev":"read","fd":7,"ret":5}"#,
      #"{"seq":4,"ts":4,"tid":1,"ev":"epoll_wait","epfd":3,"maxevents":8,"timeout_ms":-1,"ret":1,"dur_ns":1,"ready":[{"fd":7,"tag":9,"events":["EPOLLIN"]}]}"#,
      #"{"seq":5,"ts":5,"tid":1,"ev":"trace_end","events":6,"dropped":0}"#,
    ]
    let path = try temporaryTrace(lines.joined(separator: "\n") + "\n")
    let (reader, _) = try readAll(path)
    #expect(reader.header.command == "")
    #expect(
      reader.warnings.map(\.message) == [
        "trace_start has no 'command' (optional; not reported again for trace_start)",
        "epoll_ctl has no 'tag' (optional; not reported again for epoll_ctl)",
        "read has no 'len' (optional; not reported again for read)",
      ])
    // Without a tag, the registration matches the readiness's tag.
    #expect(try TraceReplay.run(path: path).violations == [])
  }

  @Test("unknown event names: at most 32 kept by name, the rest counted together")
  func unknownNamesCapped() throws {
    var lines: [String] = []
    for i in 1...1000 { lines.append(#"{"seq":\#(i),"ts":\#(i),"tid":1,"ev":"x\#(i)"}"#) }
    let (reader, _) = try readAll(try trace(lines))
    #expect(reader.unknownEvents.count == TraceReader.maxUnknownEventNames)
    #expect(reader.otherUnknownEvents == 1000 - TraceReader.maxUnknownEventNames)
    #expect(reader.unknownEventCount == 1000)
    #expect(reader.warningCount == TraceReader.maxUnknownEventNames + 2)  // + "more than 32", + truncated
  }

  @Test("seq 9223372036854775807 and other extreme integers neither trap nor wrap")
  func extremeIntegers() throws {
    let report = try TraceReplay.run(path: fixture("extreme-seq.jsonl"))
    #expect(report.summary.violationsByKind[.seqGap] == 1)
    let path = try trace([
      #"{"seq":1,"ts":9223372036854775807,"tid":-9223372036854775808,"ev":"deadline","fd":9223372036854775807,"mode":"r","timeout_ns":9223372036854775807}"#,
      #"{"seq":2,"ts":9223372036854775807,"tid":1,"ev":"uring_sqe","op":"POLL_ADD","fd":-9223372036854775808,"user_data":18446744073709551615,"flags":[]}"#,
      #"{"seq":3,"ts":9223372036854775807,"tid":1,"ev":"uring_cqe","user_data":18446744073709551615,"res":-9223372036854775808,"flags":[],"fd":9223372036854775807}"#,
      #"{"seq":9223372036854775807,"ts":9223372036854775807,"tid":1,"ev":"trace_end","events":9223372036854775807,"dropped":9223372036854775807}"#,
    ])
    let extreme = try TraceReplay.run(path: path)
    #expect(extreme.summary.violationsByKind[.seqGap] == 1)
    #expect(extreme.summary.violationsByKind[.traceEndMismatch] == 2)
  }

  @Test("a trace naming fd 1048575 holds one fd entry, not a table that size")
  func bigFDNumber() throws {
    let path = try trace([#"{"seq":1,"ts":1,"tid":1,"ev":"read","fd":1048575,"len":1,"ret":1}"#])
    let reader = try TraceReader(path: path)
    var replay = TraceReplay()
    while let e = try reader.next() { replay.consume(e) }
    #expect(replay.trackedFDCount <= 1)
  }

  @Test("closed fds are forgotten past a bound: memory follows open fds, not every number seen")
  func sparseClosedFDs() throws {
    var replay = TraceReplay()
    let reader = try TraceReader(path: fixture("echo-epoll.jsonl"))
    replay.consume(try #require(try reader.next()))
    for i in 0..<100_000 {
      let fd = 1000 + i * 7
      let open = TraceEvent(
        line: 2 + 2 * i, seq: 1 + 2 * i, ts: i, tid: 1, errno: nil,
        body: .socketCall(SocketCall(syscall: .socket, fd: fd, ret: fd, length: 0)))
      let close = TraceEvent(
        line: 3 + 2 * i, seq: 2 + 2 * i, ts: i, tid: 1, errno: nil,
        body: .socketCall(SocketCall(syscall: .close, fd: fd, ret: 0, length: 0)))
      replay.consume(open)
      replay.consume(close)
    }
    #expect(replay.trackedFDCount <= 1 << 16)
  }
}

@Suite("Replay model size")
struct ReplayModelSizeTests {
  @Test("an fd's state is 24 bytes: one per open fd, so 500k open fds stay under 64 MiB")
  func fdStateSize() {
    #expect(MemoryLayout<FDState>.stride == 24)
  }
}

@Suite("Formatting extreme values")
struct FormattingTests {
  @Test("durations and decimals of any size format without trapping")
  func extremes() {
    #expect(formatNanoseconds(Int.min).hasPrefix("-"))
    #expect(formatNanoseconds(Int.max).hasSuffix("s"))
    #expect(formatDecimal(1e300, digits: 2) == "1e+300")
    #expect(formatDecimal(-9.3e18, digits: 0) == "-9.3e+18")
    #expect(formatDecimal(1.5, digits: 2) == "1.50")
  }
}
