/// A write position in memory already reserved in ``OutputBytes``: the encoder's only way of
/// writing a byte. It checks no bounds; whoever makes one reserves enough for everything it writes
/// (``JSONLineEncoder`` reserves a proven maximum per line).
///
/// Integers are written two digits at a time from a 200-byte table of "00" … "99", after counting
/// their digits, so each digit pair is stored once, in place.
package struct ByteCursor {
  package var p: UnsafeMutablePointer<UInt8>

  package init(_ p: UnsafeMutablePointer<UInt8>) { self.p = p }

  @inline(__always)
  mutating func byte(_ b: UInt8) {
    p.pointee = b
    p += 1
  }

  /// Copies a literal; every call site passes a literal, so the length is a constant after inlining.
  @inline(__always)
  mutating func put(_ s: StaticString) {
    s.withUTF8Buffer { bytes in
      p.update(from: bytes.baseAddress!, count: bytes.count)
      p += bytes.count
    }
  }

  /// Copies `count` bytes from `source`.
  @inline(__always)
  mutating func put(_ source: UnsafePointer<UInt8>, count: Int) {
    p.update(from: source, count: count)
    p += count
  }

  @inline(__always)
  package mutating func int(_ v: Int64) {
    if v < 0 { byte(UInt8(ascii: "-")) }
    uint(v.magnitude)
  }

  @inline(__always)
  package mutating func int(_ v: Int32) { int(Int64(v)) }

  package mutating func uint(_ v: UInt64) {
    let n = Self.decimalDigits(v)
    var q = v
    var at = p + n
    p = at
    let pairs = Self.digitPairs
    while q >= 100 {
      let (rest, two) = q.quotientAndRemainder(dividingBy: 100)
      at -= 2
      UnsafeMutableRawPointer(at).storeBytes(
        of: UnsafeRawPointer(pairs + Int(two) * 2).loadUnaligned(as: UInt16.self), as: UInt16.self)
      q = rest
    }
    if q >= 10 {
      UnsafeMutableRawPointer(at - 2).storeBytes(
        of: UnsafeRawPointer(pairs + Int(q) * 2).loadUnaligned(as: UInt16.self), as: UInt16.self)
    } else {
      (at - 1).pointee = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: q)
    }
  }

  /// Lowercase hex without leading zeros ("0" for 0), as `String(v, radix: 16)` writes it.
  package mutating func hex(_ v: UInt64) {
    let n = max(1, (64 - v.leadingZeroBitCount + 3) / 4)
    let digits = Self.hexDigits
    var q = v
    var at = p + n
    p = at
    for _ in 0..<n {
      at -= 1
      at.pointee = digits[Int(q & 0xf)]
      q >>= 4
    }
  }

  /// Decimal digits in `v` (1 for 0): log10 estimated from the bit length, corrected by one compare.
  @inline(__always)
  static func decimalDigits(_ v: UInt64) -> Int {
    let x = v | 1  // same digit count; 0 counts as one digit
    let bits = 64 - x.leadingZeroBitCount
    let guess = (bits &* 1233) >> 12  // 1233 / 4096 ≈ log10(2)
    return guess + (x >= powersOfTen[guess] ? 1 : 0)
  }

  /// 10^n for n in 0...19. A global array of literals is laid out at compile time (no lazy
  /// initialisation); a `switch` here compiled to an indirect jump that mispredicted on every
  /// integer of a different length (14% of the encoder's time under `perf`).
  static let powersOfTen: [UInt64] = [
    1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
    10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000,
    1_000_000_000_000_000, 10_000_000_000_000_000, 100_000_000_000_000_000,
    1_000_000_000_000_000_000, 10_000_000_000_000_000_000,
  ]

  static var digitPairs: UnsafePointer<UInt8> {
    let table: StaticString = """
      00010203040506070809101112131415161718192021222324252627282930313233343536373839\
      40414243444546474849505152535455565758596061626364656667686970717273747576777879\
      8081828384858687888990919293949596979899
      """
    return table.utf8Start
  }

  static var hexDigits: UnsafePointer<UInt8> { ("0123456789abcdef" as StaticString).utf8Start }
}
