/// Lines that are not records, built field by field: `trace_start` and `trace_end` as
/// `TraceWriter` writes them today (``encodeTraceStart(backend:command:backendNote:pid:wall:tid:window:)``
/// and ``encodeTraceEnd(seq:ts:tid:lines:dropped:)`` write the version-2 forms in one call).
extension JSONLineEncoder {
  /// Appends a literal as it is.
  package mutating func raw(_ s: StaticString) {
    let start = out.reserve(s.utf8CodeUnitCount)
    var w = ByteCursor(start)
    w.put(s)
    out.commit(w.p - start)
  }

  /// Appends an integer in decimal.
  package mutating func int<I: BinaryInteger>(_ v: I) {
    let start = out.reserve(24)
    var w = ByteCursor(start)
    if v < 0 { w.int(Int64(v)) } else { w.uint(UInt64(v)) }
    out.commit(w.p - start)
  }

  /// A JSON string; escapes quotes, backslashes and control characters.
  package mutating func string(_ s: String) {
    var s = s
    s.withUTF8 { bytes in
      let start = out.reserve(2 + 6 * bytes.count)
      var w = ByteCursor(start)
      w.string(bytes)
      out.commit(w.p - start)
    }
  }

  /// A string known to need no escaping (names from our own tables).
  package mutating func plain(_ s: String) {
    var s = s
    s.withUTF8 { bytes in
      let start = out.reserve(2 + bytes.count)
      var w = ByteCursor(start)
      w.byte(UInt8(ascii: "\""))
      if let base = bytes.baseAddress { w.put(base, count: bytes.count) }
      w.byte(UInt8(ascii: "\""))
      out.commit(w.p - start)
    }
  }

  /// `{"seq":…,"ts":…,"tid":…,"ev":"name"` — the caller adds fields and calls ``end()``.
  package mutating func begin(seq: UInt64, ts: UInt64, tid: Int32, ev: String) {
    let start = out.reserve(80)
    var w = ByteCursor(start)
    w.header(seq: seq, ts: ts, tid: tid)
    out.commit(w.p - start)
    raw(",\"ev\":")
    plain(ev)
  }

  /// `,"key":` and an integer.
  package mutating func field(_ key: StaticString, _ v: Int64) {
    let start = out.reserve(key.utf8CodeUnitCount + 28)
    var w = ByteCursor(start)
    w.key(key)
    w.int(v)
    out.commit(w.p - start)
  }

  /// `,"key":`, for the value that follows.
  package mutating func key(_ key: StaticString) {
    let start = out.reserve(key.utf8CodeUnitCount + 4)
    var w = ByteCursor(start)
    w.key(key)
    out.commit(w.p - start)
  }

  /// Closes the line: `}` and the newline.
  package mutating func end() { raw("}\n") }
}

extension ByteCursor {
  /// `{"seq":…,"ts":…,"tid":…`, the start of every line.
  @inline(__always)
  mutating func header(seq: UInt64, ts: UInt64, tid: Int32) {
    put("{\"seq\":")
    uint(seq)
    put(",\"ts\":")
    uint(ts)
    put(",\"tid\":")
    int(tid)
  }

  /// `,"key":`.
  @inline(__always)
  mutating func key(_ key: StaticString) {
    put(",\"")
    put(key)
    put("\":")
  }

  /// A JSON string of UTF-8 bytes: `"` and `\` escaped, control characters as `\u00XX`; the
  /// caller reserves 6 bytes per input byte, plus 2.
  package mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) {
    byte(UInt8(ascii: "\""))
    let hexDigits = Self.hexDigits
    for b in bytes {
      switch b {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"):
        byte(UInt8(ascii: "\\"))
        byte(b)
      case 0..<0x20:
        put("\\u00")
        byte(hexDigits[Int(b >> 4)])
        byte(hexDigits[Int(b & 0xf)])
      default:
        byte(b)
      }
    }
    byte(UInt8(ascii: "\""))
  }
}
