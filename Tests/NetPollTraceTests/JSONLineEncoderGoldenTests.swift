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

  /// Each case encoded on its own, one line each (the line keeps its `\n`): the records, the
  /// `trace_start` and `trace_end` lines, then version 2's snapshot lines.
  static func encodedLines() -> [String] {
    var lines: [String] = []
    for c in EncoderGoldenCases.all + EncoderGoldenCases.snapshots {
      lines.append(encoded { $0.encode(c.record, ready: c.ready) })
    }
    lines.insert(contentsOf: headerLines(), at: EncoderGoldenCases.all.count)
    return lines
  }

  static func encoded(_ body: (inout JSONLineEncoder) -> Void) -> String {
    var enc = JSONLineEncoder()
    body(&enc)
    return enc.out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
  }

  static let commands = [
    "netpoll serve --trace t.jsonl", "", "a \"quoted\"\tcmd \\ back\\slash\nnew\rline",
    "ctl \u{1}\u{8}\u{c}\u{1f} del \u{7f} é 日本 🚀 /",
  ]

  /// `trace_start` and `trace_end`, with strings that need escaping; then the window form.
  static func headerLines() -> [String] {
    var lines: [String] = []
    for (i, command) in commands.enumerated() {
      lines.append(
        encoded {
          $0.encodeTraceStart(
            backend: ["epoll", "uring", "uring-completion", "bench \"x\""][i], command: command,
            backendNote: i == 2
              ? "auto: io_uring unavailable (io_uring_setup: EPERM \"x\"); fell back" : command,
            pid: [4711, 1, Int32.max, 0][i], wall: "2026-11-26T22:50:01.123456Z",
            tid: [4711, 0, Int32.max, Int32.min][i])
        })
    }
    for (seq, count, dropped) in [
      (UInt64(100), UInt64(100), UInt64(0)), (0, 1, 0), (UInt64.max, UInt64(Int64.max), UInt64(Int64.max)),
    ] {
      lines.append(
        encoded { $0.encodeTraceEnd(seq: seq, ts: seq &* 3, tid: 4711, lines: count, dropped: dropped) })
    }
    let windows = [
      TraceWindow(seq: 1_234_567, ts: 15_023_114_000, trigger: "SIGUSR1"),
      TraceWindow(seq: 1, ts: 0, trigger: "wake_latency task 12 fd 9 r 15023114 ns"),
      TraceWindow(seq: UInt64.max, ts: UInt64.max, trigger: commands[3]),
    ]
    for window in windows {
      lines.append(
        encoded {
          $0.encodeTraceStart(
            backend: "epoll", command: "netpoll serve --flight-recorder 64MiB", backendNote: "", pid: 4711,
            wall: "2026-11-26T22:50:01.123456Z", tid: 4711, window: window)
        })
    }
    lines.append(
      encoded { $0.encodeTraceEnd(seq: 1_234_999, ts: 15_999_000_000, tid: 4711, lines: 433, dropped: 0) })
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
