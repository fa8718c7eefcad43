#if canImport(Glibc)
  import Glibc
#endif

/// The value forms of the trace: names, masks, addresses, errnos.
extension ByteCursor {
  /// `"NAME"`.
  @inline(__always)
  mutating func quoted(_ name: StaticString) {
    byte(UInt8(ascii: "\""))
    put(name)
    byte(UInt8(ascii: "\""))
  }

  /// A ``TraceMode`` by name, `"?"` for a value that is none.
  @inline(__always)
  mutating func mode(_ value: Int64) {
    quoted(TraceMode(rawValue: value)?.name ?? "?")
  }

  /// A code's name, or the code itself as a string (`"99"`) when it has none.
  @inline(__always)
  mutating func code(_ value: Int64, _ name: StaticString?) {
    if let name {
      quoted(name)
    } else {
      byte(UInt8(ascii: "\""))
      int(value)
      byte(UInt8(ascii: "\""))
    }
  }

  /// `,"errno":"EAGAIN"`, or `"E<number>"` for a value Linux has no name for.
  mutating func errno(_ value: Int32) {
    put(",\"errno\":\"")
    if let name = ErrnoNames.staticName(value) {
      put(name)
    } else {
      byte(UInt8(ascii: "E"))
      int(value)
    }
    byte(UInt8(ascii: "\""))
  }

  /// A mask as an array of names in bit order, then the bits without a name as one hex string.
  mutating func names(_ mask: Int64, _ table: FlagTable) {
    let bits = UInt64(bitPattern: mask)
    var named = bits & table.namedBits
    let rest = bits & ~table.namedBits
    if named == 0 && rest == 0 {
      put("[]")
      return
    }
    // Every element is written with a leading comma; the first one's comma becomes the `[`.
    let open = p
    while named != 0 {
      put(",\"")
      put(table.name(bit: named.trailingZeroBitCount))
      byte(UInt8(ascii: "\""))
      named &= named &- 1
    }
    if rest != 0 {
      put(",\"0x")
      hex(rest)
      byte(UInt8(ascii: "\""))
    }
    open.pointee = UInt8(ascii: "[")
    byte(UInt8(ascii: "]"))
  }

  /// A ``TraceAddress`` as `"a.b.c.d:port"` or `"[v6]:port"` (`inet_ntop`'s form), `"?"` for
  /// another family.
  mutating func address(_ familyPort: Int64, _ hi: Int64, _ lo: Int64) {
    let family = familyPort >> 16
    let port = familyPort & 0xffff
    byte(UInt8(ascii: "\""))
    if family == 2 {
      let v = UInt64(bitPattern: hi)
      uint(v >> 24 & 0xff)
      byte(UInt8(ascii: "."))
      uint(v >> 16 & 0xff)
      byte(UInt8(ascii: "."))
      uint(v >> 8 & 0xff)
      byte(UInt8(ascii: "."))
      uint(v & 0xff)
      byte(UInt8(ascii: ":"))
      int(port)
    } else if family == 10 {
      var bytes = (UInt64(bitPattern: hi).bigEndian, UInt64(bitPattern: lo).bigEndian)
      byte(UInt8(ascii: "["))
      // inet_ntop writes at most INET6_ADDRSTRLEN (46) bytes, inside the line's reservation.
      let text = UnsafeMutableRawPointer(p).assumingMemoryBound(to: CChar.self)
      if inet_ntop(10, &bytes, text, 64) != nil { p += strlen(text) }
      put("]:")
      int(port)
    } else {
      byte(UInt8(ascii: "?"))
    }
    byte(UInt8(ascii: "\""))
  }
}
