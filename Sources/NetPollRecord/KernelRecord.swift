/// One line of the bpftrace program's output: a letter naming the event, then integers.
///
/// | code | fields after the code | event |
/// |---|---|---|
/// | `C` | tid, ts, ret, flags | `epoll_create1`/`epoll_create` |
/// | `T` | tid, ts (entry), epfd, op, fd, events, data, ret | `epoll_ctl` |
/// | `R` | tid, then four (events, data) pairs (zero pairs past the end) | ready items of the next `W` of that thread |
/// | `W` | tid, ts, epfd, maxevents, timeout_ms, ret, dur_ns | `epoll_wait`/`epoll_pwait`/`epoll_pwait2` |
/// | `A` | tid, ts, fd, ret | `accept4`/`accept` |
/// | `I`, `O` | tid, ts, fd, len, ret, call (0 read/write, 1 recvfrom/sendto, 2 readv/writev) | reads and writes on sockets |
/// | `X` | tid, ts (entry), fd, ret | `close` |
/// | `S` | tid, ts, ret, domain | `socket` |
/// | `B`, `N` | tid, ts, fd, ret, family, port (network order), address words | `bind`, `connect` |
/// | `L` | tid, ts, fd, backlog, ret | `listen` |
/// | `U` | tid, ts, ret, sq_entries, cq_entries, flags, features | `io_uring_setup` |
/// | `E` | tid, ts, ring_fd, to_submit, min_complete, flags, ret, dur_ns | `io_uring_enter` |
/// | `Q` | tid, ts, opcode, fd, user_data, sqe flags | `io_uring_submit_req` |
/// | `K` | tid, ts, user_data, res, cflags | `io_uring_complete` |
/// | `V` | tid, ts, user_data, res, cflags, held_back | `io_uring_cqe_overflow` |
/// | `M` | tid | the recorder's own marker (`getpgid`): every probe before it is attached / drained |
///
/// `ts` is `bpf_ktime_get_ns()` (CLOCK_MONOTONIC). Unsigned values print as unsigned and are kept
/// as their 64-bit pattern.
public struct KernelRecord: Sendable {
  /// The event letter (ASCII).
  public var code: UInt8
  /// How many integers followed the code.
  public var count: Int
  private var values: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) =
    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

  /// The most integers a line carries (`R`: tid and four pairs).
  public static let capacity = 10

  public init(code: UInt8) {
    self.code = code
    self.count = 0
  }

  /// The `i`th integer after the code; 0 past the end.
  public subscript(i: Int) -> Int64 {
    get {
      guard i >= 0 && i < count else { return 0 }
      return withUnsafeBytes(of: values) { $0.load(fromByteOffset: i * 8, as: Int64.self) }
    }
  }

  mutating func append(_ v: Int64) {
    guard count < Self.capacity else { return }
    withUnsafeMutableBytes(of: &values) { $0.storeBytes(of: v, toByteOffset: count * 8, as: Int64.self) }
    count += 1
  }

  /// Parses one line (without its `\n`). Returns nil for a line that is not a record (bpftrace's
  /// own messages, map dumps at exit, blank lines).
  public static func parse(_ line: UnsafeRawBufferPointer) -> KernelRecord? {
    guard line.count >= 1 else { return nil }
    let code = line[0]
    guard code >= UInt8(ascii: "A") && code <= UInt8(ascii: "Z") else { return nil }
    guard line.count == 1 || line[1] == UInt8(ascii: " ") else { return nil }
    var record = KernelRecord(code: code)
    var i = 1
    while i < line.count {
      while i < line.count && line[i] == UInt8(ascii: " ") { i += 1 }
      guard i < line.count else { break }
      var negative = false
      if line[i] == UInt8(ascii: "-") {
        negative = true
        i += 1
      }
      var magnitude: UInt64 = 0
      var digits = 0
      while i < line.count, line[i] >= UInt8(ascii: "0"), line[i] <= UInt8(ascii: "9") {
        magnitude = magnitude &* 10 &+ UInt64(line[i] &- UInt8(ascii: "0"))
        digits += 1
        i += 1
      }
      guard digits > 0, digits <= 20 else { return nil }
      if i < line.count && line[i] != UInt8(ascii: " ") { return nil }
      let bits = Int64(bitPattern: magnitude)
      record.append(negative ? 0 &- bits : bits)
    }
    return record
  }

  /// Size of a binary record's header from the libbpf loader (tools/record-bpf/loader.c,
  /// `struct rec`): code (u8), value count `n` (u8), padding (u16), tid (u32). `n` u64 values
  /// (time first) follow it.
  public static let binaryHeaderSize = 8

  /// The size of a binary record whose header's count byte is `count`: 8 + 8n bytes.
  public static func binarySize(header count: UInt8) -> Int { binaryHeaderSize + 8 * Int(count) }

  /// Decodes one binary record (header and values, ``binarySize(header:)`` bytes): the tid
  /// becomes value 0, as in the text form. Values past ``capacity`` are dropped.
  public static func decode(binary p: UnsafeRawBufferPointer) -> KernelRecord {
    var record = KernelRecord(code: p[0])
    let n = min(Int(p[1]), capacity - 1, (p.count - binaryHeaderSize) / 8)
    record.append(Int64(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
    for i in 0..<n { record.append(p.loadUnaligned(fromByteOffset: 8 + 8 * i, as: Int64.self)) }
    return record
  }

  /// The line bpftrace prints when its perf buffer overflowed: `Lost N events`.
  public static func lostEvents(_ line: UnsafeRawBufferPointer) -> Int64? {
    let prefix: StaticString = "Lost "
    guard line.count > prefix.utf8CodeUnitCount else { return nil }
    for k in 0..<prefix.utf8CodeUnitCount where line[k] != prefix.utf8Start[k] { return nil }
    var n: Int64 = 0
    var i = prefix.utf8CodeUnitCount
    var digits = 0
    while i < line.count, line[i] >= UInt8(ascii: "0"), line[i] <= UInt8(ascii: "9") {
      n = n &* 10 &+ Int64(line[i] - UInt8(ascii: "0"))
      digits += 1
      i += 1
    }
    return digits > 0 ? n : nil
  }
}
