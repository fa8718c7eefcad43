import Foundation
import NetPollTrace
import Testing

/// What the encoder promises beyond the golden bytes: version 2's first and last lines, snapshot
/// lines, room for the longest line, and batches as the writer drains them.
@Suite struct JSONLineEncoderTests {
  static func object(_ line: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
  }

  static func encoded(_ body: (inout JSONLineEncoder) -> Void) -> String {
    JSONLineEncoderGoldenTests.encoded(body)
  }

  @Test("trace_start says version 2 and source runtime, right after version")
  func traceStartIsVersion2() throws {
    let line = Self.encoded {
      $0.encodeTraceStart(
        backend: "uring", command: "netpoll serve \"x\"", backendNote: "auto: fell back", pid: 77,
        wall: "2026-12-03T08:00:00.000001Z", tid: 78)
    }
    #expect(
      line.hasPrefix(
        #"{"seq":0,"ts":0,"tid":78,"ev":"trace_start","format":"netpoll-trace","version":2,"source":"runtime","#
      ))
    #expect(line.hasSuffix("}\n"))
    let start = try Self.object(line)
    #expect(start["backend"] as? String == "uring")
    #expect(start["pid"] as? Int == 77)
    #expect(start["command"] as? String == "netpoll serve \"x\"")
    #expect(start["backend_note"] as? String == "auto: fell back")
    #expect(start["wall"] as? String == "2026-12-03T08:00:00.000001Z")
    #expect(start["window"] == nil && start["window_seq"] == nil && start["trigger"] == nil)
  }

  @Test("a flight-recorder dump's trace_start adds window true, window_seq, window_ts and trigger")
  func traceStartWindow() throws {
    let line = Self.encoded {
      $0.encodeTraceStart(
        backend: "epoll", command: "", backendNote: "", pid: 1, wall: "w", tid: 1,
        window: TraceWindow(
          seq: 9_000_001, ts: 15_023_114, trigger: "wake_latency task 12 fd 9 r 15023114 ns"))
    }
    #expect(
      line.contains(
        #","window":true,"window_seq":9000001,"window_ts":15023114,"trigger":"wake_latency task 12 fd 9 r 15023114 ns"}"#
      ))
    let start = try Self.object(line)
    #expect(start["version"] as? Int == 2)
    #expect(start["window_seq"] as? Int == 9_000_001)
  }

  @Test("trace_end counts lines, not events")
  func traceEndCountsLines() throws {
    let line = Self.encoded { $0.encodeTraceEnd(seq: 41, ts: 99, tid: 5, lines: 42, dropped: 3) }
    #expect(line == #"{"seq":41,"ts":99,"tid":5,"ev":"trace_end","lines":42,"dropped":3}"# + "\n")
  }

  @Test("snapshot lines carry their fields and never an errno or ret")
  func snapshotLines() throws {
    var park = TraceRecord(.snapshotPark, ret: -1, errno: 11, a: 12, b: 9, c: TraceMode.write.rawValue)
    park.ts = 500
    let op = TraceRecord(.snapshotOp, ret: -1, errno: 11, a: 1 << 62 | 3 << 32 | 4, b: 26, c: 9)
    let fd = TraceRecord(.snapshotFD, ret: -1, errno: 11, a: 9, b: 3)
    #expect(
      Self.encoded { $0.encode(park, ready: []) }
        == #"{"seq":0,"ts":500,"tid":0,"ev":"snapshot_park","task":12,"fd":9,"mode":"w"}"# + "\n")
    #expect(
      Self.encoded { $0.encode(op, ready: []) }
        == #"{"seq":0,"ts":0,"tid":0,"ev":"snapshot_op","user_data":4611686031312289796,"op":"SEND","fd":9}"#
        + "\n")
    #expect(
      Self.encoded { $0.encode(fd, ready: []) }
        == #"{"seq":0,"ts":0,"tid":0,"ev":"snapshot_fd","fd":9,"tag":3}"# + "\n")
  }

  @Test("the longest line of every kind fills at most half the room reserved for it")
  func reservationHasMargin() {
    for c in EncoderGoldenCases.all + EncoderGoldenCases.snapshots {
      let line = Self.encoded { $0.encode(c.record, ready: c.ready) }
      let room = JSONLineEncoder.maxLineBytes + c.ready.count * JSONLineEncoder.maxReadyItemBytes
      #expect(line.utf8.count * 2 <= room, "\(line)")
    }
  }

  @Test("a uring_cqe whose res is Int64.min, with no errno, encodes instead of trapping")
  func cqeMinimumRes() throws {
    let line = Self.encoded { $0.encode(TraceRecord(.uringCQE, ret: Int64.min, a: 1, b: 2), ready: []) }
    #expect(try Self.object(line)["errno"] as? String == "E0")
  }

  @Test("a batch encodes one line per record, each epoll_wait with the ready items after it")
  func batchTakesReadyItems() throws {
    let items = [TraceRecord(.readyItem, a: 7, b: 1, c: 1), TraceRecord(.readyItem, a: 8, b: 2, c: 4)]
    let batch = [
      TraceRecord(.epollWait, ret: 2, a: 3, b: 128, c: -1, d: 10, e: 2), items[0], items[1],
      TraceRecord(.read, ret: 5, a: 7, b: 16),
      TraceRecord(.epollWait, ret: 5, a: 3, b: 128, c: -1, d: 10, e: 5), items[0],  // count past the end
    ]
    var enc = JSONLineEncoder()
    let lines = batch.withUnsafeBufferPointer { enc.encode(batch: $0) }
    #expect(lines == 3)
    let text = enc.out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    let objects = try text.split(separator: "\n").map { try Self.object(String($0)) }
    #expect(objects.count == 3)
    #expect((objects[0]["ready"] as? [Any])?.count == 2)
    #expect(objects[1]["ev"] as? String == "read")
    #expect((objects[2]["ready"] as? [Any])?.count == 1)
  }

  @Test("the output buffer grows past its first size and keeps every byte")
  func bufferGrows() {
    var enc = JSONLineEncoder()
    let r = TraceRecord(.uringSetup, a: -1, b: Int64.min, c: Int64.min, d: -1, e: -1)
    var one = 0
    for i in 0..<2000 {
      enc.encode(r, ready: [])
      if i == 0 { one = enc.out.count }
    }
    #expect(enc.out.count == one * 2000)
    #expect(enc.out.count > 1 << 20)
    let text = enc.out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    #expect(Set(text.split(separator: "\n")).count == 1)
  }
}
