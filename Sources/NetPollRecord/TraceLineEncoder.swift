import NetPollTrace

/// Appends JSON-lines text to a byte buffer: the few shapes a trace line needs, no allocation per
/// field. (NetPollTrace's encoder serves the runtime's own records; this one serves kernel
/// records, on the same ``OutputBytes`` and ``ByteCursor``.)
///
/// Bytes go through a cursor into room reserved in ``out``: each piece checks the room left with
/// one compare, and a line is counted into ``out`` at ``end()``. `Array.append` per piece (its
/// uniqueness and capacity checks), with the integer and string writers on it, was 20% of the
/// recorder's CPU (perf under tools/bench-record's load).
struct TraceLineEncoder {
  let out: OutputBytes
  private var cursor: ByteCursor
  /// Where the bytes not yet committed to ``out`` start, and where the reserved room ends.
  private var start: UnsafeMutablePointer<UInt8>
  private var limit: UnsafeMutablePointer<UInt8>

  init() {
    out = OutputBytes()
    start = out.reserve(0)
    limit = start
    cursor = ByteCursor(start)
  }

  /// The lines written so far (a copy).
  var bytes: [UInt8] { out.withUnsafeBytes { Array($0) } }

  /// Forgets the lines written, keeping the memory. Between lines only.
  mutating func removeAll() {
    out.removeAll()
    start = out.reserve(0)
    limit = start
    cursor = ByteCursor(start)
  }

  /// Counts what the cursor wrote into ``out``.
  private mutating func commit() {
    out.commit(cursor.p - start)
    start = cursor.p
  }

  /// Makes room for `n` more bytes at the cursor.
  @inline(__always)
  private mutating func room(_ n: Int) {
    if limit - cursor.p < n { grow(n) }
  }

  @inline(never)
  private mutating func grow(_ n: Int) {
    commit()
    let size = max(n, 4096)
    start = out.reserve(size)
    limit = start + size
    cursor = ByteCursor(start)
  }

  /// Writes a byte in room already made. (ByteCursor's own writers are not inlined across the
  /// module boundary: as calls they were about 9% of the recorder's CPU under perf.)
  @inline(__always)
  private mutating func put(_ b: UInt8) {
    cursor.p.pointee = b
    cursor.p += 1
  }

  /// Writes a literal in room already made.
  @inline(__always)
  private mutating func put(_ s: StaticString) {
    if s.hasPointerRepresentation {
      cursor.p.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
      cursor.p += s.utf8CodeUnitCount
    } else {
      s.withUTF8Buffer { for b in $0 { put(b) } }
    }
  }

  mutating func byte(_ b: UInt8) {
    room(1)
    put(b)
  }

  mutating func raw(_ s: StaticString) {
    room(s.utf8CodeUnitCount)
    put(s)
  }

  mutating func int(_ v: Int64) {
    room(20)
    cursor.int(v)
  }

  /// A JSON string, escaped.
  mutating func string(_ s: String) {
    var s = s
    s.withUTF8 { utf8 in
      room(utf8.count * 6 + 2)
      cursor.string(utf8)
    }
  }

  mutating func key(_ k: StaticString) {
    room(k.utf8CodeUnitCount + 4)
    put(",\"")
    put(k)
    put("\":")
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
    byte(UInt8(ascii: "["))
    var first = true
    var rest = mask
    for (bit, name) in table where mask & bit != 0 {
      if !first { byte(UInt8(ascii: ",")) }
      first = false
      string(name)
      rest &= ~bit
    }
    if rest != 0 {
      if !first { byte(UInt8(ascii: ",")) }
      room(21)
      put("\"0x")
      cursor.hex(UInt64(bitPattern: rest))
      put(UInt8(ascii: "\""))
    }
    byte(UInt8(ascii: "]"))
  }

  /// `{"seq":…,"ts":…,"tid":…,"ev":"…"`; the caller adds fields and calls ``end()``.
  mutating func begin(seq: Int64, ts: Int64, tid: Int64, ev: StaticString) {
    room(100 + ev.utf8CodeUnitCount)
    put("{\"seq\":")
    cursor.int(seq)
    put(",\"ts\":")
    cursor.int(ts)
    put(",\"tid\":")
    cursor.int(tid)
    put(",\"ev\":\"")
    put(ev)
    put(UInt8(ascii: "\""))
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

  /// Closes the line and counts it into ``out``.
  mutating func end() {
    raw("}\n")
    commit()
  }
}
