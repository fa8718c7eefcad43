#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The JSON type of a scanned value, as far as the trace contract cares.
enum JSONKind: UInt8, Sendable {
  case string, integer, fraction, bool, null, array, object

  /// The word used in error messages ("must be an integer, found a string").
  var phrase: String {
    switch self {
    case .string: "a string"
    case .integer: "an integer"
    case .fraction: "a non-integer number"
    case .bool: "a boolean"
    case .null: "null"
    case .array: "an array"
    case .object: "an object"
    }
  }
}

/// One member of a scanned object: byte offsets into the scanned line.
struct JSONMember {
  var kind: JSONKind
  /// True when a string value contains a backslash escape.
  var escaped: Bool
  /// For integers, whether the value is negative.
  var negative = false
  /// For integers, whether the absolute value does not fit in 64 bits.
  var overflow = false
  /// The scan this member belongs to (see `JSONObjectScanner.member`).
  var generation: UInt32 = 0
  /// For strings, the bytes between the quotes; for other kinds, the whole value.
  var valueStart: Int
  var valueEnd: Int
  /// For integers, the absolute value (valid unless `overflow`), computed while scanning.
  var magnitude: UInt64 = 0
}

/// A syntax error, at a byte offset of the line.
struct JSONSyntaxError: Error {
  var offset: Int
  var message: String
}

/// A byte-level scanner for one JSON object, written for trace lines.
///
/// It makes one pass over the line: each top-level member whose key is a contract field
/// (`FieldKey`) is recorded in a table indexed by that key, and every other value is checked for
/// well-formedness without being built, so a line costs no allocation. Table entries carry the
/// number of the scan that wrote them, so nothing is cleared between lines. A key with escapes is
/// unescaped first (`"t\u0061sk"` is `task`), in a small fixed buffer. Nesting deeper than
/// `maxDepth` is an error.
///
/// Copies share the table: a copy is only for reading the members of the last scan.
struct JSONObjectScanner {
  /// The scanned bytes; valid only while the caller's buffer is.
  private(set) var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
  static let maxDepth = 16

  private let table = MemberTable()
  private var generation: UInt32 = 0

  init() {}

  /// Scans `bytes[range]`, which must hold exactly one object (surrounding blanks allowed).
  mutating func scan(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) throws(JSONSyntaxError) {
    self.bytes = bytes
    generation &+= 1
    if generation == 0 {
      table.clear()
      generation = 1
    }
    let slots = table.slots
    var cursor = Cursor(bytes: bytes, position: range.lowerBound, end: range.upperBound)
    cursor.skipBlanks()
    guard cursor.peek() == UInt8(ascii: "{") else {
      throw cursor.error(cursor.atEnd ? "empty line, expected a JSON object" : "expected a JSON object")
    }
    cursor.position += 1
    cursor.skipBlanks()
    if cursor.peek() == UInt8(ascii: "}") {
      cursor.position += 1
    } else {
      while true {
        cursor.skipBlanks()
        guard cursor.peek() == UInt8(ascii: "\"") else { throw cursor.error("expected a key string") }
        let (keyStart, keyEnd, keyEscaped) = try cursor.string()
        cursor.skipBlanks()
        guard cursor.peek() == UInt8(ascii: ":") else { throw cursor.error("expected ':' after a key") }
        cursor.position += 1
        cursor.skipBlanks()
        let key =
          keyEscaped
          ? unescapedFieldKey(cursor.base + keyStart, count: keyEnd - keyStart)
          : FieldKey.match(cursor.base + keyStart, count: keyEnd - keyStart)
        if let key, slots[Int(key.rawValue)].generation != generation {
          var member = try cursor.value(depth: 1)
          member.generation = generation
          slots[Int(key.rawValue)] = member
        } else {
          _ = try cursor.value(depth: 1)
        }
        cursor.skipBlanks()
        let c = cursor.peek()
        cursor.position += 1
        if c == UInt8(ascii: ",") { continue }
        if c == UInt8(ascii: "}") { break }
        cursor.position -= 1
        throw cursor.error("expected ',' or '}'")
      }
    }
    cursor.skipBlanks()
    guard cursor.atEnd else { throw cursor.error("unexpected bytes after the object") }
  }

  /// The member whose key is `key`, or `nil` (the first one if the key repeats).
  func member(_ key: FieldKey) -> JSONMember? {
    let m = table.slots[Int(key.rawValue)]
    return m.generation == generation ? m : nil
  }

  /// Calls `body` with each element of the array `member` (kind, start, end, escaped).
  func forEachElement(
    of member: JSONMember, _ body: (JSONMember) throws(JSONSyntaxError) -> Void
  ) throws(JSONSyntaxError) {
    var elements = self.elements(of: member)
    while let element = try elements.next() { try body(element) }
  }

  /// The elements of the array `member`, one at a time (no closure, so no capture in hot loops).
  func elements(of member: JSONMember) -> ArrayElements {
    ArrayElements(cursor: Cursor(bytes: bytes, position: member.valueStart + 1, end: member.valueEnd))
  }
}

/// Walks the elements of an array the scanner has already checked.
struct ArrayElements {
  fileprivate var cursor: Cursor
  private var done = false

  fileprivate init(cursor: Cursor) {
    self.cursor = cursor
    self.cursor.skipBlanks()
    done = self.cursor.peek() == UInt8(ascii: "]")
  }

  /// The next element, or `nil` after the last.
  mutating func next() throws(JSONSyntaxError) -> JSONMember? {
    guard !done else { return nil }
    cursor.skipBlanks()
    let element = try cursor.value(depth: 2)
    cursor.skipBlanks()
    if cursor.peek() == UInt8(ascii: ",") {
      cursor.position += 1
    } else {
      done = true
    }
    return element
  }
}

/// The scanner's table: one member per `FieldKey`, allocated once.
private final class MemberTable {
  let slots: UnsafeMutablePointer<JSONMember>
  private static let count = FieldKey.allCases.count

  init() {
    slots = .allocate(capacity: Self.count)
    slots.initialize(
      repeating: JSONMember(kind: .null, escaped: false, valueStart: 0, valueEnd: 0), count: Self.count)
  }

  /// Marks every entry unused (when the scan counter wraps).
  func clear() {
    for i in 0..<Self.count { slots[i].generation = 0 }
  }

  deinit { slots.deallocate() }
}

/// Reads a value's bytes; shared by the scanner and by field decoding.
struct Cursor {
  /// The first byte of the buffer (positions are offsets from it).
  let base: UnsafePointer<UInt8>
  var position: Int
  let end: Int

  init(bytes: UnsafeRawBufferPointer, position: Int, end: Int) {
    // An empty buffer may have no address; nothing is read from it (`end` is 0).
    base = bytes.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(bitPattern: 1)!
    self.position = position
    self.end = end
  }

  var atEnd: Bool { position >= end }

  func peek() -> UInt8 { position < end ? base[position] : 0 }

  func error(_ message: String) -> JSONSyntaxError {
    JSONSyntaxError(offset: position, message: message)
  }

  mutating func skipBlanks() {
    while position < end {
      let c = base[position]
      guard c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A else { return }
      position += 1
    }
  }

  /// Scans a string starting at the opening quote; returns the bytes between the quotes.
  mutating func string() throws(JSONSyntaxError) -> (Int, Int, Bool) {
    position += 1
    let start = position
    var escaped = false
    while position < end {
      let c = base[position]
      if c == UInt8(ascii: "\"") {
        position += 1
        return (start, position - 1, escaped)
      }
      if c == UInt8(ascii: "\\") {
        escaped = true
        position += 1
        guard position < end else { break }
        switch base[position] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
          UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
          position += 1
        case UInt8(ascii: "u"):
          guard position + 4 < end else { throw error("truncated \\u escape") }
          for i in 1...4 where !isHexDigit(base[position + i]) {
            throw error("bad \\u escape")
          }
          position += 5
        default:
          throw error("bad escape in a string")
        }
        continue
      }
      if c < 0x20 { throw error("control byte 0x\(String(c, radix: 16)) in a string") }
      position += 1
    }
    throw JSONSyntaxError(offset: start - 1, message: "unterminated string")
  }

  /// Scans any value at `position`, checking nested arrays/objects for well-formedness; an
  /// integer's magnitude is computed in the same pass.
  mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONMember {
    let start = position
    switch peek() {
    case UInt8(ascii: "\""):
      let (s, e, escaped) = try string()
      return JSONMember(kind: .string, escaped: escaped, valueStart: s, valueEnd: e)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return try number()
    case UInt8(ascii: "t"):
      try literal("true")
      return JSONMember(kind: .bool, escaped: false, valueStart: start, valueEnd: position)
    case UInt8(ascii: "f"):
      try literal("false")
      return JSONMember(kind: .bool, escaped: false, valueStart: start, valueEnd: position)
    case UInt8(ascii: "n"):
      try literal("null")
      return JSONMember(kind: .null, escaped: false, valueStart: start, valueEnd: position)
    case UInt8(ascii: "["):
      try container(close: UInt8(ascii: "]"), depth: depth, keyed: false)
      return JSONMember(kind: .array, escaped: false, valueStart: start, valueEnd: position)
    case UInt8(ascii: "{"):
      try container(close: UInt8(ascii: "}"), depth: depth, keyed: true)
      return JSONMember(kind: .object, escaped: false, valueStart: start, valueEnd: position)
    default:
      throw error(atEnd ? "line ends where a value should be" : "expected a JSON value")
    }
  }

  private mutating func container(close: UInt8, depth: Int, keyed: Bool) throws(JSONSyntaxError) {
    guard depth < JSONObjectScanner.maxDepth else { throw error("nested too deeply") }
    position += 1
    skipBlanks()
    if peek() == close {
      position += 1
      return
    }
    while true {
      skipBlanks()
      if keyed {
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a key string") }
        _ = try string()
        skipBlanks()
        guard peek() == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
        position += 1
        skipBlanks()
      }
      _ = try value(depth: depth + 1)
      skipBlanks()
      let c = peek()
      if c == UInt8(ascii: ",") {
        position += 1
        continue
      }
      if c == close {
        position += 1
        return
      }
      throw error(keyed ? "expected ',' or '}'" : "expected ',' or ']'")
    }
  }

  private mutating func number() throws(JSONSyntaxError) -> JSONMember {
    let start = position
    var m = JSONMember(kind: .integer, escaped: false, valueStart: start, valueEnd: start)
    if peek() == UInt8(ascii: "-") {
      m.negative = true
      position += 1
    }
    guard isDigit(peek()) else { throw error("bad number") }
    if peek() == UInt8(ascii: "0") {
      position += 1
    } else {
      let digitsStart = position
      var magnitude: UInt64 = 0
      while position < end {
        let digit = base[position] &- UInt8(ascii: "0")
        guard digit < 10 else { break }
        if position - digitsStart < 19 {
          // 19 decimal digits always fit in 64 bits; only longer numbers need the checks.
          magnitude = magnitude &* 10 &+ UInt64(digit)
        } else {
          let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
          let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
          if o1 || o2 { m.overflow = true }
          magnitude = sum
        }
        position += 1
      }
      m.magnitude = magnitude
    }
    if peek() == UInt8(ascii: ".") {
      m.kind = .fraction
      position += 1
      guard isDigit(peek()) else { throw error("bad number") }
      while isDigit(peek()) { position += 1 }
    }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      m.kind = .fraction
      position += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
      guard isDigit(peek()) else { throw error("bad number") }
      while isDigit(peek()) { position += 1 }
    }
    m.valueEnd = position
    return m
  }

  private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
    let count = word.utf8CodeUnitCount
    guard position + count <= end,
      memcmp(base + position, word.utf8Start, count) == 0
    else { throw error("expected a JSON value") }
    position += count
  }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool {
  c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
}

@inline(__always) private func isHexDigit(_ c: UInt8) -> Bool {
  isDigit(c) || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "f"))
}

/// The contract field named by an escaped key (the bytes between its quotes, already checked), or
/// `nil`. Field names are short ASCII, so a key that unescapes to more than 32 bytes or to a
/// non-ASCII character is no field.
func unescapedFieldKey(_ p: UnsafePointer<UInt8>, count: Int) -> FieldKey? {
  withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer -> FieldKey? in
    var length = 0
    var i = 0
    while i < count {
      guard length < 32 else { return nil }
      var c = p[i]
      i += 1
      if c == UInt8(ascii: "\\") {
        let e = p[i]
        i += 1
        switch e {
        case UInt8(ascii: "u"):
          var code: UInt32 = 0
          for k in 0..<4 {
            let h = p[i + k]
            code =
              code << 4
              | UInt32(
                h <= UInt8(ascii: "9") ? h &- UInt8(ascii: "0") : (h | 0x20) &- UInt8(ascii: "a") &+ 10)
          }
          i += 4
          guard code < 0x80 else { return nil }
          c = UInt8(code)
        case UInt8(ascii: "n"): c = 0x0A
        case UInt8(ascii: "t"): c = 0x09
        case UInt8(ascii: "r"): c = 0x0D
        case UInt8(ascii: "b"): c = 0x08
        case UInt8(ascii: "f"): c = 0x0C
        default: c = e
        }
      }
      buffer[length] = c
      length += 1
    }
    return FieldKey.match(UnsafePointer(buffer.baseAddress!), count: length)
  }
}
