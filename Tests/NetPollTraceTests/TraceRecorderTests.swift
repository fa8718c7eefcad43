import Foundation
import Glibc
import NetPollTestSupport
import NetPollTrace
import Synchronization
import Testing

/// The recorder and writer against real files.
@Suite struct TraceRecorderTests {
  static func tempPath(_ name: String) -> String {
    "\(NSTemporaryDirectory())netpoll-trace-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).jsonl"
  }

  static func lines(_ path: String) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.hasSuffix("\n"), "every line ends in a newline")
    return try text.split(separator: "\n").map {
      try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  @Test("events from several threads get contiguous seq numbers and non-decreasing timestamps")
  func seqAndTsAreOrdered() throws {
    let path = Self.tempPath("order")
    defer {
      keepTrace(path, as: "recorder-order")
      unlink(path)
    }
    // A small ring forces the recorder to apply backpressure many times over.
    let recorder = TraceRecorder(capacity: 1024)
    let writer = try TraceWriter(path: path, recorder: recorder, backend: "epoll", command: "test")
    DispatchQueue.concurrentPerform(iterations: 4) { worker in
      for i in 0..<20_000 {
        recorder.record(TraceRecord(.read, ret: Int64(i), a: Int64(worker), b: 4096))
      }
    }
    #expect(writer.finish() == 0, "backpressure, not drops")
    let lines = try Self.lines(path)
    #expect(lines.count == 1 + 80_000 + 1)
    for (i, line) in lines.enumerated() {
      #expect(line["seq"] as? Int == i)
    }
    let ts = lines.compactMap { $0["ts"] as? Int }
    #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 <= $1 })
    #expect(lines.first?["ev"] as? String == "trace_start")
    #expect(lines.last?["ev"] as? String == "trace_end")
    #expect(lines.last?["lines"] as? Int == lines.count)
    #expect(lines.last?["dropped"] as? Int == 0)
  }

  @Test(
    "a stamp held while another thread records many rings' worth holds that thread back, not the merger's memory"
  )
  func heldStampKeepsMemoryBounded() throws {
    let path = Self.tempPath("held-stamp")
    defer {
      keepTrace(path, as: "recorder-held-stamp")
      unlink(path)
    }
    let recorder = TraceRecorder(capacity: 1024)
    let writer = try TraceWriter(path: path, recorder: recorder, backend: "epoll", command: "test")
    recorder.record(TraceRecord(.read, a: 1))  // registers this thread's ring first
    // A thread stamps a call (as `close` does) and is slow to record it: every later event must
    // wait behind it in the merger.
    let stamped = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    let stamper = Thread {
      let stamp = recorder.stamp()
      stamped.signal()
      release.wait()
      recorder.record(TraceRecord(.close, a: 7), at: stamp)
    }
    stamper.start()
    stamped.wait()
    let recorded = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)
    let worker = Thread {
      for i in 0..<20_000 {
        recorder.record(TraceRecord(.read, ret: Int64(i), a: 2))
        recorded.add(1, ordering: .relaxed)
      }
      done.signal()
    }
    worker.start()
    // The worker fills its ring and the merger's queue, then waits for space.
    var before = -1
    while recorded.load(ordering: .relaxed) != before {
      before = recorded.load(ordering: .relaxed)
      usleep(100_000)
    }
    let held = recorder.mergerReservedRecords
    #expect(recorded.load(ordering: .relaxed) < 20_000, "the worker waits while the stamp is held")
    // Three rings (this thread's, the stamper's, the worker's), two rings' worth each; malloc
    // may round a reservation up a little.
    let bound = 3 * 2 * 1024 + 64
    #expect(held <= bound, "the merger holds \(held) records' room")
    release.signal()
    done.wait()
    #expect(writer.finish() == 0)
    let lines = try Self.lines(path)
    #expect(lines.count == 20_004, "trace_start, two events, the worker's 20,000, trace_end")
    for (i, line) in lines.enumerated() {
      #expect(line["seq"] as? Int == i)
    }
    #expect(lines[2]["ev"] as? String == "close", "the stamped call comes before every later event")
  }

  @Test("every event kind encodes to valid JSON with the contract's names and types")
  func encodesEveryKind() throws {
    let path = Self.tempPath("kinds")
    defer {
      keepTrace(path, as: "recorder-every-kind")
      unlink(path)
    }
    let recorder = TraceRecorder()
    let writer = try TraceWriter(
      path: path, recorder: recorder, backend: "epoll", command: "a \"quoted\"\tcmd")
    recorder.record(TraceRecord(.epollCreate, ret: 5, a: -1, b: 0o2_000_000))
    recorder.record(TraceRecord(.epollCtl, ret: 0, a: 5, b: 1, c: 9, d: 0x8000_2005, e: 3))
    let items = [TraceRecord(.readyItem, a: 9, b: 3, c: 0x5), TraceRecord(.readyItem, a: 10, b: 4, c: 0x18)]
    items.withUnsafeBufferPointer {
      recorder.record(TraceRecord(.epollWait, ret: 2, a: 5, b: 128, c: -1, d: 1234), items: $0)
    }
    recorder.record(TraceRecord(.read, ret: -1, errno: EAGAIN, a: 9, b: 4096))
    recorder.record(TraceRecord(.park, a: 1, b: 9, c: TraceMode.read.rawValue))
    recorder.record(
      TraceRecord(.wake, a: 1, b: 9, c: TraceMode.read.rawValue, d: TraceWakeReason.deadline.rawValue))
    let v4 = TraceAddress.pack(family: AF_INET, port: 8080, bytes: (0x7f00_0001, 0))
    recorder.record(TraceRecord(.bind, ret: 0, a: 9, b: v4.0, c: v4.1, d: v4.2))
    let v6 = TraceAddress.pack(family: AF_INET6, port: 443, bytes: (0, 1))
    recorder.record(TraceRecord(.connect, ret: -1, errno: EINPROGRESS, a: 9, b: v6.0, c: v6.1, d: v6.2))
    recorder.record(TraceRecord(.read, ret: -1, errno: 4242, a: 9, b: 1))
    writer.finish()
    let lines = try Self.lines(path)
    #expect(lines[0]["command"] as? String == "a \"quoted\"\tcmd")
    #expect(lines[1]["epfd"] as? Int == 5)
    #expect(lines[1]["flags"] as? [String] == ["EPOLL_CLOEXEC"])
    #expect(lines[2]["op"] as? String == "ADD")
    #expect(lines[2]["events"] as? [String] == ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLET"])
    #expect(lines[2]["tag"] as? Int == 3)
    let ready = try #require(lines[3]["ready"] as? [[String: Any]])
    #expect(ready.count == 2)
    #expect(ready[1]["fd"] as? Int == 10)
    #expect(ready[1]["events"] as? [String] == ["EPOLLERR", "EPOLLHUP"])
    #expect(lines[3]["dur_ns"] as? Int == 1234)
    #expect(lines[4]["errno"] as? String == "EAGAIN")
    #expect(lines[4]["ret"] as? Int == -1)
    #expect(lines[5]["mode"] as? String == "r")
    #expect(lines[6]["reason"] as? String == "deadline")
    #expect(lines[7]["addr"] as? String == "127.0.0.1:8080")
    #expect(lines[8]["addr"] as? String == "[::1]:443")
    #expect(lines[8]["errno"] as? String == "EINPROGRESS")
    #expect(lines[9]["errno"] as? String == "E4242", "an unknown errno is still a name, never a number")
    #expect(
      lines.allSatisfy { $0["seq"] is Int && $0["ts"] is Int && $0["tid"] is Int && $0["ev"] is String })
  }

  @Test("the trace file is created 0600, never over an existing file, never through a symlink")
  func fileSafety() throws {
    let path = Self.tempPath("mode")
    defer {
      keepTrace(path, as: "recorder-file-safety")
      unlink(path)
    }
    let recorder = TraceRecorder()
    try TraceWriter(path: path, recorder: recorder, backend: "epoll", command: "").finish()
    var st = stat()
    #expect(stat(path, &st) == 0)
    #expect(st.st_mode & 0o777 == 0o600)
    #expect(throws: TraceFileError.self) {
      try TraceWriter(path: path, recorder: TraceRecorder(), backend: "epoll", command: "")
    }
    try TraceWriter(path: path, recorder: TraceRecorder(), backend: "epoll", command: "", overwrite: true)
      .finish()

    let link = Self.tempPath("link")
    defer { unlink(link) }
    #expect(symlink(path, link) == 0)
    let error = #expect(throws: TraceFileError.self) {
      try TraceWriter(path: link, recorder: TraceRecorder(), backend: "epoll", command: "", overwrite: true)
    }
    #expect(error?.description.contains("symbolic link") == true)
  }

  @Test("when the file cannot be written, recording stops, drops are counted and the caller keeps going")
  func unwritableFileCountsDrops() throws {
    // A file that accepts trace_start and then fails: a FIFO whose only reader reads trace_start
    // and goes away, so every later write fails (EPIPE), as a disk that fills up after the start.
    let path = Self.tempPath("fifo")
    try #require(mkfifo(path, 0o600) == 0)
    defer { unlink(path) }
    let reader = open(path, O_RDONLY | O_NONBLOCK)
    try #require(reader >= 0)
    signal(SIGPIPE, SIG_IGN)  // the failed write must come back as EPIPE, not kill the process
    let stderrLines = try Self.capturingStderr { () throws -> UInt64 in
      let recorder = TraceRecorder(capacity: 1024)
      let writer = try TraceWriter(
        path: path, recorder: recorder, backend: "epoll", command: "", overwrite: true)
      var start = [UInt8](repeating: 0, count: 4096)
      let n = read(reader, &start, start.count)
      #expect(n > 0 && String(decoding: start[0..<max(n, 0)], as: UTF8.self).contains("\"trace_start\""))
      close(reader)
      // Far more events than the ring holds: were the writer to stop emptying it after the
      // failure, record() would wait for room forever. Done on a thread, so that shows as a
      // failed expectation, not a hung test.
      let events = 100_000
      let recorded = DispatchSemaphore(value: 0)
      Thread.detachNewThread {
        for i in 0..<events { recorder.record(TraceRecord(.read, ret: Int64(i), a: 9, b: 64)) }
        recorded.signal()
      }
      #expect(recorded.wait(timeout: .now() + 30) == .success, "record() blocked after the write failed")
      let dropped = writer.finish()
      #expect(dropped == UInt64(events), "every event after trace_start is counted as dropped")
      return dropped
    }
    let mine = stderrLines.filter { $0.contains(path) }
    #expect(mine.count == 1, "one stderr line says recording stopped: \(mine)")
    #expect(mine.first?.contains("recording stopped") == true)
  }

  @Test("a trace file that cannot take even trace_start fails the open with one clear error")
  func devFullFailsAtStart() throws {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let error = #expect(throws: TraceFileError.self) {
      try TraceWriter(
        path: "/dev/full", recorder: TraceRecorder(), backend: "epoll", command: "", overwrite: true)
    }
    #expect(error?.errno == ENOSPC)
    #expect(error?.description == "/dev/full: write: ENOSPC (No space left on device)")
  }

  /// Runs `body` with file descriptor 2 redirected to a file; returns the lines written to it,
  /// after copying them to the real stderr (other tests' output included: nothing is lost).
  static func capturingStderr(_ body: () throws -> UInt64) throws -> [String] {
    let path = tempPath("stderr")
    defer { unlink(path) }
    let file = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
    try #require(file >= 0)
    let saved = dup(2)
    dup2(file, 2)
    let result = Result { try body() }
    dup2(saved, 2)
    close(saved)
    close(file)
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    FileHandle.standardError.write(Data(text.utf8))
    _ = try result.get()
    return text.split(separator: "\n").map(String.init)
  }
}

@Suite struct TraceFieldTypes {
  @Test(
    "a field name has one JSON type across every event kind, trace_start and trace_end included (version 2)")
  func oneTypePerField() throws {
    let path = TraceRecorderTests.tempPath("types")
    defer {
      keepTrace(
        path, as: "recorder-field-types",
        invalid: "every event kind, snapshot_* included, outside a flight-recorder window: a field-type check"
      )
      unlink(path)
    }
    let recorder = TraceRecorder()
    let writer = try TraceWriter(path: path, recorder: recorder, backend: "epoll", command: "")
    for kind in TraceEventKind.allCases where kind != .readyItem {
      let items = [TraceRecord(.readyItem, a: 9, b: 3, c: 0x5)]
      if kind == .epollWait {
        items.withUnsafeBufferPointer { recorder.record(TraceRecord(kind, ret: 1), items: $0) }
      } else {
        recorder.record(TraceRecord(kind, ret: -1, errno: EAGAIN, a: 1, b: 1, c: 1, d: 1, e: 1))
      }
    }
    writer.finish()
    var types: [String: Set<String>] = [:]
    let text = try String(contentsOfFile: path, encoding: .utf8)
    for raw in text.split(separator: "\n") {
      let line = try #require(JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any])
      for (key, value) in line {
        // Foundation on Linux reads booleans as NSNumber: tell them apart by the text.
        let isBool = raw.contains("\"\(key)\":true") || raw.contains("\"\(key)\":false")
        let type = value is String ? "string" : value is [Any] ? "array" : isBool ? "boolean" : "number"
        types[key, default: []].insert(type)
      }
    }
    let mixed = types.filter { $0.value.count > 1 }
    #expect(mixed.isEmpty, "fields with several types: \(mixed)")
  }
}
