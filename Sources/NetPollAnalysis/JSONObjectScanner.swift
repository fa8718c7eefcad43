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
  var keyStart: Int
  var keyEnd: Int
  var kind: JSONKind
  /// For strings, the bytes between the quotes; for other kinds, the whole value.
  var valueStart: Int
  var valueEnd: Int
  /// True when a string value contains a backslash escape.
  var escaped: Bool
  /// For integers, the absolute value (valid unless `overflow`), computed while scanning.
  var magnitude: UInt64 = 0
  /// For integers, whether the value is negative.
  var negative = false
  /// For integers, whether the absolute value does not fit in 64 bits.
  var overflow = false
}

/// A syntax error, at a byte offset of the line.
struct JSONSyntaxError: Error {
  var offset: Int
  var message: String
}

/// A byte-level scanner for one JSON object, written for trace lines.
///
/// It records the object's top-level members (key and value offsets, the value's kind) into a
/// reused table and checks nested values for well-formedness without building them, so a line costs
/// no allocation once the table has grown. Keys are compared as raw bytes: an escaped key never
/// matches a contract field name. Nesting deeper than `maxDepth` is an error.
struct JSONObjectScanner {
  /// The members of the last scanned object, in line order.
  private(set) var members: [JSONMember] = []
  /// The scanned bytes; valid only while the caller's buffer is.
  private(set) var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
  static let maxDepth = 16

  /// For each `FieldKey`, the index of its member in `members`, or -1.
  private var slots = [Int16](repeating: -1, count: FieldKey.allCases.count)

  init() { members.reserveCapacity(32) }

  /// Scans `bytes[range]`, which must hold exactly one object (surrounding blanks allowed).
  mutating func scan(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) throws(JSONSyntaxError) {
    self.bytes = bytes
    members.removeAll(keepingCapacity: true)
    for i in slots.indices { slots[i] = -1 }
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
        let (keyStart, keyEnd, _) = try cursor.string()
        cursor.skipBlanks()
        guard cursor.peek() == UInt8(ascii: ":") else { throw cursor.error("expected ':' after a key") }
        cursor.position += 1
        cursor.skipBlanks()
        let member = try cursor.value(depth: 1, keyStart: keyStart, keyEnd: keyEnd)
        if let key = FieldKey.match(
          bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + keyStart, count: keyEnd - keyStart),
          slots[Int(key.rawValue)] < 0, members.count < Int(Int16.max)
        {
          slots[Int(key.rawValue)] = Int16(members.count)
        }
        members.append(member)
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
    let index = slots[Int(key.rawValue)]
    return index < 0 ? nil : members[Int(index)]
  }

  /// Calls `body` with each element of the array `member` (kind, start, end, escaped).
  func forEachElement(
    of member: JSONMember, _ body: (JSONMember) throws(JSONSyntaxError) -> Void
  ) throws(JSONSyntaxError) {
    var cursor = Cursor(bytes: bytes, position: member.valueStart + 1, end: member.valueEnd)
    cursor.skipBlanks()
    if cursor.peek() == UInt8(ascii: "]") { return }
    while true {
      cursor.skipBlanks()
      let element = try cursor.value(depth: 2, keyStart: 0, keyEnd: 0)
      try body(element)
      cursor.skipBlanks()
      let c = cursor.peek()
      cursor.position += 1
      if c == UInt8(ascii: ",") { continue }
      return
    }
  }
}

/// Reads a value's bytes; shared by the scanner and by field decoding.
struct Cursor {
  let bytes: UnsafeRawBufferPointer
  var position: Int
  let end: Int

  var atEnd: Bool { position >= end }

  func peek() -> UInt8 { position < end ? bytes[position] : 0 }

  func error(_ message: String) -> JSONSyntaxError {
    JSONSyntaxError(offset: position, message: message)
  }

  mutating func skipBlanks() {
    while position < end {
      let c = bytes[position]
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
      let c = bytes[position]
      if c == UInt8(ascii: "\"") {
        position += 1
        return (start, position - 1, escaped)
      }
      if c == UInt8(ascii: "\\") {
        escaped = true
        position += 1
        guard position < end else { break }
        switch bytes[position] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
          UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
          position += 1
        case UInt8(ascii: "u"):
          guard position + 4 < end else { throw error("truncated \\u escape") }
          for i in 1...4 where !isHexDigit(bytes[position + i]) {
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

  /// Scans any value at `position`, checking nested arrays/objects for well-formedness.
  mutating func value(depth: Int, keyStart: Int, keyEnd: Int) throws(JSONSyntaxError) -> JSONMember {
    let start = position
    func member(_ kind: JSONKind, _ s: Int, _ e: Int, escaped: Bool = false) -> JSONMember {
      JSONMember(
        keyStart: keyStart, keyEnd: keyEnd, kind: kind, valueStart: s, valueEnd: e, escaped: escaped)
    }
    switch peek() {
    case UInt8(ascii: "\""):
      let (s, e, escaped) = try string()
      return member(.string, s, e, escaped: escaped)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let negative = peek() == UInt8(ascii: "-")
      let digitsStart = negative ? start + 1 : start
      var m = member(try number(), start, position)
      if m.kind == .integer {
        m.negative = negative
        var magnitude: UInt64 = 0
        for i in digitsStart..<position {
          let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
          let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[i] &- UInt8(ascii: "0")))
          if o1 || o2 {
            m.overflow = true
            break
          }
          magnitude = sum
        }
        m.magnitude = magnitude
      }
      return m
    case UInt8(ascii: "t"):
      try literal("true")
      return member(.bool, start, position)
    case UInt8(ascii: "f"):
      try literal("false")
      return member(.bool, start, position)
    case UInt8(ascii: "n"):
      try literal("null")
      return member(.null, start, position)
    case UInt8(ascii: "["):
      try container(close: UInt8(ascii: "]"), depth: depth, keyed: false)
      return member(.array, start, position)
    case UInt8(ascii: "{"):
      try container(close: UInt8(ascii: "}"), depth: depth, keyed: true)
      return member(.object, start, position)
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
      _ = try value(depth: depth + 1, keyStart: 0, keyEnd: 0)
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

  private mutating func number() throws(JSONSyntaxError) -> JSONKind {
    var kind = JSONKind.integer
    if peek() == UInt8(ascii: "-") { position += 1 }
    guard isDigit(peek()) else { throw error("bad number") }
    if peek() == UInt8(ascii: "0") {
      position += 1
    } else {
      while isDigit(peek()) { position += 1 }
    }
    if peek() == UInt8(ascii: ".") {
      kind = .fraction
      position += 1
      guard isDigit(peek()) else { throw error("bad number") }
      while isDigit(peek()) { position += 1 }
    }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      kind = .fraction
      position += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
      guard isDigit(peek()) else { throw error("bad number") }
      while isDigit(peek()) { position += 1 }
    }
    return kind
  }

  private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
    let count = word.utf8CodeUnitCount
    guard position + count <= end,
      memcmp(bytes.baseAddress! + position, word.utf8Start, count) == 0
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
