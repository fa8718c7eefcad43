import Testing

@testable import NetPollRecord

/// The loader's bytes for one record: code, n, padding, tid, then n values.
private func loaderBytes(_ code: Character, tid: UInt32, _ values: [Int64]) -> [UInt8] {
  var bytes: [UInt8] = [code.asciiValue!, UInt8(values.count), 0, 0]
  withUnsafeBytes(of: tid.littleEndian) { bytes.append(contentsOf: $0) }
  for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
  return bytes
}

private func describe(_ r: KernelRecord) -> String {
  "\(Character(UnicodeScalar(r.code))) " + (0..<r.count).map { String(r[$0]) }.joined(separator: " ")
}

private let stream =
  loaderBytes("I", tid: 7, [5000, 9, 1024, 1024, 0]) + loaderBytes("M", tid: 3, [])
  + loaderBytes("R", tid: 7, [1, 42, 4, 43, 0, 0, 0, 0])
  + loaderBytes("W", tid: 7, [6000, 5, 128, -1, 2, 90])
private let expected = [
  "I 7 5000 9 1024 1024 0", "M 3", "R 7 1 42 4 43 0 0 0 0", "W 7 6000 5 128 -1 2 90",
]

@Test func `loader records of every size decode with their tid first, whole in one read`() {
  var s = BinaryRecordStream()
  var out: [String] = []
  stream.withUnsafeBytes { s.feed($0) { out.append(describe($0)) } }
  #expect(out == expected)
  #expect(s.pendingBytes == 0)
}

@Test func `a record cut by the end of a read at any byte is completed by the next reads`() {
  for cut in 1..<stream.count {
    for second in cut..<stream.count {
      var s = BinaryRecordStream()
      var out: [String] = []
      for (a, b) in [(0, cut), (cut, second), (second, stream.count)] {
        stream[a..<b].withUnsafeBytes { s.feed($0) { out.append(describe($0)) } }
      }
      #expect(out == expected, "cut at \(cut) and \(second)")
      #expect(s.pendingBytes == 0)
    }
  }
}
