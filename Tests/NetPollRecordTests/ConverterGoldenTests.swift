import Foundation
import Testing

@testable import NetPollRecord

/// The converter's output, byte for byte, against `Fixtures/converter-golden.jsonl`: captured
/// before its encoder was moved from `Array.append` onto `OutputBytes`, so the faster encoder is a
/// correct one only if every line is still the same. `NETPOLL_UPDATE_GOLDEN=1 swift test --filter
/// ConverterGolden` rewrites the file instead (then read its diff).
@Suite struct ConverterGoldenTests {
  static let goldenPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/converter-golden.jsonl").path

  /// Every record code, with failures (errno names), bits without names (hex), the extremes of
  /// 64-bit values, and an `epoll_wait` whose 256 ready items make one line of ~20 KB.
  static var records: [String] {
    let big = Int64.max
    let small = Int64.min
    var lines = [
      "C 7 2000 5 524288", "C 7 2001 -24 0",
      "T 7 2002 5 1 9 2147483653 42 0", "T 7 2003 5 3 9 4026531840 43 0", "T 7 2004 5 2 9 0 0 -2",
      "T 7 2005 5 9 9 1 44 -22",
      "R 7 1 42 4 43 8 44 16 45", "W 7 2010 5 128 -1 4 500",
      "W 7 2011 5 128 0 -4 7",
      "A 7 2012 4 10", "A 7 2013 4 -11",
      "I 7 2014 9 1024 1024 0", "O 7 2015 9 1024 -32 1", "I 7 2016 9 \(big) \(small) 2",
      "X 7 2017 9 0", "X 7 2018 99 -9",
      "S 7 2019 3 2", "S 7 2020 -97 77",
      "B 7 2021 3 0 2 36895 16777343 0", "N 7 2022 3 -111 10 36895 0 72057594037927936",
      "N 7 2023 3 0 1 0 0 0", "B 7 2024 3 0 99 0 0 0",
      "L 7 2025 3 128 0",
      "U 7 2026 6 256 512 3 8191", "U 7 2027 -12 8 0 0 0",
      "E 7 2028 6 1 1 1 1 900", "E 7 2029 6 0 0 65535 -4 10",
      "Q 7 2030 22 9 77 1", "Q 7 2031 250 9 78 255",
      "K 7 2032 77 1024 2", "K 7 2033 77 -104 0", "K 7 2034 78 0 4294967295",
      "V 7 2035 79 -11 0 1", "V 7 2036 80 0 0 0",
    ]
    for i in 0..<64 {
      lines.append("R 8 \(4 * i) \(1000 + i) \(1 << 20) \(small) 4294967295 \(big) 24 \(i)")
    }
    lines.append("W 8 3000 6 256 1000 256 123456789")
    return lines
  }

  static func converted() -> [UInt8] {
    let c = KernelTraceConverter(startNanos: 1000, reorderWindowNanos: 10)
    c.seedRegistration(epfd: 6, fd: 12, data: 1001)
    for line in records {
      var bytes = Array(line.utf8)
      let r = bytes.withUnsafeMutableBytes { KernelRecord.parse(UnsafeRawBufferPointer($0)) }
      c.consume(r!)
    }
    c.drain()
    return c.takeBytes()
  }

  @Test func `every record kind converts to the same bytes as before`() throws {
    let out = Self.converted()
    if ProcessInfo.processInfo.environment["NETPOLL_UPDATE_GOLDEN"] == "1" {
      try Data(out).write(to: URL(fileURLWithPath: Self.goldenPath))
      return
    }
    let golden = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.goldenPath)))
    #expect(out.count == golden.count)
    let got = String(decoding: out, as: UTF8.self).split(separator: "\n")
    let want = String(decoding: golden, as: UTF8.self).split(separator: "\n")
    #expect(got.count == want.count)
    for (g, w) in zip(got, want) where g != w { Issue.record("line differs:\n  got  \(g)\n  want \(w)") }
  }
}
