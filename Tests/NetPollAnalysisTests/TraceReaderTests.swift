import Foundation
import NetPollAnalysis
import Testing

@Suite("Trace reader")
struct TraceReaderTests {
  @Test("a clean trace reads every line, with line numbers and trace_end")
  func readsCleanTrace() throws {
    let (reader, events) = try readAll(fixture("echo-epoll.jsonl"))
    #expect(events.count == 45)
    #expect(events.map(\.line) == Array(1...45))
    #expect(reader.header.backend == "epoll")
    #expect(reader.end?.lines == 45)
    #expect(!reader.isTruncated)
    #expect(reader.warnings.isEmpty)
    guard case .epollWait(let wait) = events[17].body else {
      Issue.record("line 18 should be epoll_wait")
      return
    }
    #expect(wait.ready == [Readiness(fd: 7, tag: 2, events: [.input, .output])])
  }

  @Test("a missing file is one error naming the file")
  func missingFile() {
    let error = readError("/nonexistent/trace.jsonl")
    #expect(error?.description.hasPrefix("/nonexistent/trace.jsonl: cannot open") == true)
    #expect(error?.line == nil)
  }

  @Test("a directory is not a trace")
  func directory() {
    #expect(readError(NSTemporaryDirectory())?.message == "is a directory, not a trace file")
  }

  @Test("an empty file is not a trace")
  func emptyFile() throws {
    let path = try temporaryTrace("")
    #expect(readError(path)?.message == "empty file, not a netpoll trace")
  }

  @Test("binary garbage fails on line 1 without crashing")
  func binaryGarbage() throws {
    var bytes = [UInt8](repeating: 0, count: 4096)
    for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
    let error = readError(try temporaryTrace(Data(bytes)))
    #expect(error?.line == 1)
    #expect(error?.message.hasPrefix("not a netpoll trace") == true)
  }

  @Test("a gzip file is recognised and the fix is suggested")
  func gzip() throws {
    let error = readError(try temporaryTrace(Data([0x1F, 0x8B, 0x08, 0x00, 0x0A])))
    #expect(error?.message.hasPrefix("gzip-compressed") == true)
  }

  @Test("a future version is a clear error")
  func futureVersion() throws {
    let path = try temporaryTrace(
      startLine.replacingOccurrences(of: #""version":1"#, with: #""version":3"#) + "\n")
    let error = readError(path)
    #expect(error?.line == 1)
    #expect(error?.message.contains("version 3 is not supported") == true)
    #expect(error?.message.contains("upgrade netpoll") == true)
  }

  @Test("a first line that is not trace_start is rejected")
  func firstLineNotStart() throws {
    let path = try temporaryTrace(#"{"seq":0,"ts":0,"tid":1,"ev":"close","fd":3,"ret":0}"# + "\n")
    #expect(readError(path)?.message == "not a netpoll trace: first event is 'close', expected 'trace_start'")
  }

  @Test(
    "a line of the wrong shape names its line and the field",
    arguments: [
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"park","task":2,"fd":7,"mode":1}"#,
        "park: 'mode' must be a string (\"r\" or \"w\"), found an integer"
      ),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"read","fd":7,"len":10,"ret":-1,"errno":11}"#,
        "'errno' must be a name string such as \"EAGAIN\", found an integer"
      ),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"read","fd":"7","len":10,"ret":3}"#,
        "read: 'fd' must be an integer, found a string"
      ),
      (
        #"{"seq":1,"ts":5.5,"tid":1,"ev":"read","fd":7,"len":10,"ret":3}"#,
        "'ts' must be an integer, found a non-integer number"
      ),
      (#"{"seq":1,"ts":5,"tid":1,"ev":"write","fd":7,"len":3}"#, "write: missing required field 'ret'"),
      (#"{"seq":1,"tid":1,"ev":"write","fd":7,"len":3,"ret":3}"#, "missing required field 'ts'"),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"epoll_ctl","epfd":3,"op":"ADD","fd":7,"events":[1],"tag":1,"ret":0}"#,
        "epoll_ctl: 'events' must hold names (strings), found an integer"
      ),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"epoll_wait","epfd":3,"maxevents":8,"timeout_ms":-1,"ret":1,"dur_ns":9,"ready":[{"fd":7,"events":[]}]}"#,
        "'ready' entry 0: epoll_wait: missing required field 'tag'"
      ),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"wake","task":2,"fd":7,"mode":"r","reason":"sleepy"}"#,
        "wake: 'reason' must be ready, deadline, close or cancel, found \"sleepy\""
      ),
      (#"{"seq":1,"ts":5,"tid":1,"ev":"park","fd":7,"mode":"r"}"#, "park: missing required field 'task'"),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"poll","fd":7,"events":["POLLIN"],"revents":"POLLIN","ret":0}"#,
        "poll: 'revents' must be an array of names, found a string"
      ),
      (#"[1,2,3]"#, "invalid JSON at column 1: expected a JSON object"),
      (
        #"{"seq":1,"ts":5,"tid":1,"ev":"close","fd":7,"ret":0"#,
        "invalid JSON at column 52: expected ',' or '}'"
      ),
      (#"{"seq":99999999999999999999,"ts":5,"tid":1,"ev":"close","fd":7,"ret":0}"#, "'seq' is out of range"),
    ])
  func wrongShape(line: String, message: String) throws {
    let end = #"{"seq":2,"ts":6,"tid":1,"ev":"trace_end","events":3,"dropped":0}"#
    let path = try temporaryTrace([startLine, line, end].joined(separator: "\n") + "\n")
    let error = try #require(readError(path))
    #expect(error.line == 2)
    #expect(error.message == message)
    #expect(error.description == "\(path):2: \(message)")
  }

  @Test("an unknown event is warned about once and counted, not fatal")
  func unknownEvent() throws {
    let lines = [
      startLine,
      #"{"seq":1,"ts":5,"tid":1,"ev":"teleport","fd":7}"#,
      #"{"seq":2,"ts":6,"tid":1,"ev":"teleport","fd":8}"#,
      #"{"seq":3,"ts":7,"tid":1,"ev":"trace_end","events":4,"dropped":0}"#,
    ]
    let (reader, events) = try readAll(try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(events.count == 4)
    #expect(reader.unknownEvents == ["teleport": 2])
    #expect(reader.warnings.map(\.line) == [2])
  }

  @Test("a trace without trace_end is read, its torn last line reported and skipped")
  func tornLastLine() throws {
    let path = fixture("truncated-torn.jsonl")
    let (reader, events) = try readAll(path)
    #expect(events.count == 6)
    #expect(reader.isTruncated)
    #expect(reader.warnings.first?.line == 7)
    #expect(reader.warnings.first?.message.hasPrefix("torn last line skipped") == true)
    #expect(reader.warnings.last?.message.hasPrefix("truncated") == true)
  }

  @Test("a bad line in the middle is an error even if the trace is truncated")
  func badMiddleLine() throws {
    let lines = [startLine, #"{"seq":1,"#, #"{"seq":2,"ts":6,"tid":1,"ev":"close","fd":7,"ret":0}"#]
    let error = readError(try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(error?.line == 2)
  }

  @Test("an overlong line is an error for that line and is not buffered whole")
  func overlongLine() throws {
    let long =
      #"{"seq":1,"ts":5,"tid":1,"ev":"bind","fd":7,"ret":0,"addr":""# + String(repeating: "x", count: 3 << 20)
      + "\"}"
    let end = #"{"seq":2,"ts":6,"tid":1,"ev":"trace_end","events":3,"dropped":0}"#
    let path = try temporaryTrace([startLine, long, end].joined(separator: "\n") + "\n")
    let error = try #require(readError(path))
    #expect(error.line == 2)
    #expect(error.message.contains("longer than the 1048576-byte limit"))
  }

  @Test("escaped strings decode; extra fields are allowed")
  func escapesAndExtraFields() throws {
    let start = startLine.replacingOccurrences(
      of: #""command":"test""#, with: #""command":"a \"b\" \u00e9\n","extra":[{"x":[1,{}]}]"#)
    let path = try temporaryTrace(
      start + "\n" + #"{"seq":1,"ts":6,"tid":1,"ev":"trace_end","events":2,"dropped":0}"# + "\n")
    let (reader, _) = try readAll(path)
    #expect(reader.header.command == "a \"b\" é\n")
  }

  @Test("events after trace_end are an error")
  func dataAfterEnd() throws {
    let lines = [
      startLine, #"{"seq":1,"ts":6,"tid":1,"ev":"trace_end","events":2,"dropped":0}"#,
      #"{"seq":2,"ts":7,"tid":1,"ev":"close","fd":7,"ret":0}"#,
    ]
    let error = readError(try temporaryTrace(lines.joined(separator: "\n") + "\n"))
    #expect(error?.line == 3)
    #expect(error?.message == "data after trace_end")
  }
}
