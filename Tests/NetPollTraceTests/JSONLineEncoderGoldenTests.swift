import Foundation
import NetPollTrace
import Testing

/// The encoder's output, byte for byte, against `Fixtures/encoder-golden.jsonl`: captured from the
/// encoder before it was rewritten for speed, so a faster encoder is a correct one only if every
/// line is still the same. `NETPOLL_UPDATE_GOLDEN=1 swift test --filter JSONLineEncoderGolden`
/// rewrites the file instead (then read its diff).
@Suite struct JSONLineEncoderGoldenTests {
  static let goldenPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/encoder-golden.jsonl").path

  /// Each case encoded on its own, one line each (the line keeps its `\n`).
  static func encodedLines() -> [String] {
    var lines: [String] = []
    for c in EncoderGoldenCases.all {
      var enc = JSONLineEncoder()
      enc.encode(c.record, ready: c.ready)
      lines.append(enc.out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
    }
    for line in headerLines() { lines.append(line) }
    return lines
  }

  /// `trace_start` and `trace_end` as the writer builds them, with strings that need escaping.
  static func headerLines() -> [String] {
    var lines: [String] = []
    let commands = [
      "netpoll serve --trace t.jsonl", "", "a \"quoted\"\tcmd \\ back\\slash\nnew\rline",
      "ctl \u{1}\u{8}\u{c}\u{1f} del \u{7f} é 日本 🚀 /",
    ]
    for (i, command) in commands.enumerated() {
      var enc = JSONLineEncoder()
      enc.begin(seq: 0, ts: 0, tid: [4711, 0, Int32.max, Int32.min][i], ev: "trace_start")
      enc.key("format")
      enc.string("netpoll-trace")
      enc.field("version", 1)
      enc.key("backend")
      enc.string(["epoll", "uring", "uring-completion", "bench \"x\""][i])
      enc.field("pid", Int64([4711, 1, Int64(Int32.max), 0][i]))
      enc.key("wall")
      enc.string("2026-11-26T22:50:01.123456Z")
      enc.key("command")
      enc.string(command)
      enc.key("backend_note")
      enc.string(i == 2 ? "auto: io_uring unavailable (io_uring_setup: EPERM \"x\"); fell back" : command)
      enc.end()
      lines.append(enc.out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
    }
    for (seq, lines_, dropped) in [(UInt64(100), Int64(100), Int64(0)), (0, 1, 0), (UInt64.max, Int64.max, Int64.max)] {
      var enc = JSONLineEncoder()
      enc.begin(seq: seq, ts: seq &* 3, tid: 4711, ev: "trace_end")
      enc.field("events", lines_)
      enc.field("dropped", dropped)
      enc.end()
      lines.append(enc.out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
    }
    return lines
  }

  @Test("every event kind, name table entry and extreme value encodes exactly as the golden file says")
  func matchesGolden() throws {
    let lines = Self.encodedLines()
    #expect(lines.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().firstIndex(of: "\n") == nil })
    let actual = lines.joined()
    if ProcessInfo.processInfo.environment["NETPOLL_UPDATE_GOLDEN"] == "1" {
      try actual.write(toFile: Self.goldenPath, atomically: true, encoding: .utf8)
      return
    }
    let golden = try String(contentsOfFile: Self.goldenPath, encoding: .utf8)
    let want = golden.split(separator: "\n", omittingEmptySubsequences: false)
    let got = actual.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(got.count == want.count, "line count")
    var shown = 0
    for (i, (g, w)) in zip(got, want).enumerated() where g != w && shown < 10 {
      shown += 1
      Issue.record("line \(i + 1) differs:\n got: \(g)\nwant: \(w)")
    }
  }

  @Test("every golden line is one valid JSON object")
  func goldenIsJSON() throws {
    let golden = try String(contentsOfFile: Self.goldenPath, encoding: .utf8)
    for line in golden.split(separator: "\n") {
      #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(line)")
    }
  }
}
