import NetPollTrace

/// Appends JSON-lines text to a byte buffer: the few shapes a trace line needs, no allocation per
/// field. (NetPollTrace's encoder is internal to the runtime's writer; this one serves records.)
struct TraceLineEncoder {
  var bytes: [UInt8] = []

  init() { bytes.reserveCapacity(1 << 20) }

  /// An encoder without a buffer of its own, to swap with one that has one.
  init(empty: Void) {}

  mutating func raw(_ s: StaticString) {
    s.withUTF8Buffer { bytes.append(contentsOf: $0) }
  }

  mutating func int(_ v: Int64) {
    if v < 0 { bytes.append(UInt8(ascii: "-")) }
    var m = v.magnitude
    var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &scratch) { buf in
      var n = 0
      repeat {
        buf[n] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: m % 10)
        m /= 10
        n += 1
      } while m > 0
      while n > 0 {
        n -= 1
        bytes.append(buf[n])
      }
    }
  }

  /// A JSON string, escaped.
  mutating func string(_ s: String) {
    bytes.append(UInt8(ascii: "\""))
    for b in s.utf8 {
      switch b {
      case UInt8(ascii: "\""): raw("\\\"")
      case UInt8(ascii: "\\"): raw("\\\\")
      case 0..<0x20:
        raw("\\u00")
        let hex: StaticString = "0123456789abcdef"
        bytes.append(hex.utf8Start[Int(b >> 4)])
        bytes.append(hex.utf8Start[Int(b & 0xf)])
      default: bytes.append(b)
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }

  mutating func key(_ k: StaticString) {
    raw(",\"")
    raw(k)
    raw("\":")
  }

  mutating func field(_ k: StaticString, _ v: Int64) {
    key(k)
    int(v)
  }

  mutating func field(_ k: StaticString, _ v: String) {
    key(k)
    string(v)
  }

  /// An array of names for the bits of `mask`; bits without a name stay visible as hex.
  mutating func names(_ k: StaticString, _ mask: Int64, _ table: [(Int64, String)]) {
    key(k)
    bytes.append(UInt8(ascii: "["))
    var first = true
    var rest = mask
    for (bit, name) in table where mask & bit != 0 {
      if !first { bytes.append(UInt8(ascii: ",")) }
      first = false
      string(name)
      rest &= ~bit
    }
    if rest != 0 {
      if !first { bytes.append(UInt8(ascii: ",")) }
      string("0x" + String(UInt64(bitPattern: rest), radix: 16))
    }
    bytes.append(UInt8(ascii: "]"))
  }

  /// `{"seq":…,"ts":…,"tid":…,"ev":"…"`; the caller adds fields and calls ``end()``.
  mutating func begin(seq: Int64, ts: Int64, tid: Int64, ev: StaticString) {
    raw("{\"seq\":")
    int(seq)
    raw(",\"ts\":")
    int(ts)
    raw(",\"tid\":")
    int(tid)
    raw(",\"ev\":\"")
    raw(ev)
    bytes.append(UInt8(ascii: "\""))
  }

  /// `ret` as a system call returns it: -1 and `errno` by name when the kernel returned -errno.
  mutating func result(_ kernelRet: Int64) {
    if kernelRet < 0 && kernelRet >= -4095 {
      field("ret", -1)
      field("errno", ErrnoNames.name(Int32(-kernelRet)))
    } else {
      field("ret", kernelRet)
    }
  }

  mutating func end() { raw("}\n") }
}
