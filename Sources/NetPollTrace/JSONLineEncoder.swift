#if canImport(Glibc)
  import Glibc
#endif

/// Turns ``TraceRecord``s into JSON lines. Runs on the writer thread only; the recording threads
/// never see it. It still matters: on a one-core server the writer competes with the runtime.
package struct JSONLineEncoder {
  package let out = OutputBytes()

  package init() {}

  package mutating func raw(_ s: StaticString) {
    s.withUTF8Buffer { out.append(contentsOf: $0) }
  }

  package mutating func int<I: BinaryInteger>(_ v: I) {
    if v == 0 {
      out.append(UInt8(ascii: "0"))
      return
    }
    var m = v.magnitude
    if v < 0 { out.append(UInt8(ascii: "-")) }
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 20 digits
    var n = 0
    withUnsafeMutableBytes(of: &digits) { buf in
      while m > 0 {
        buf[n] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: m % 10)
        m /= 10
        n += 1
      }
      while n > 0 {
        n -= 1
        out.append(buf[n])
      }
    }
  }

  /// A JSON string; escapes quotes, backslashes and control characters.
  package mutating func string(_ s: String) {
    out.append(UInt8(ascii: "\""))
    for byte in s.utf8 {
      switch byte {
      case UInt8(ascii: "\""): raw("\\\"")
      case UInt8(ascii: "\\"): raw("\\\\")
      case 0..<0x20:
        raw("\\u00")
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xf)])
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }

  mutating func names(_ mask: Int64, _ table: [(Int64, String)]) {
    out.append(UInt8(ascii: "["))
    var first = true
    var rest = mask
    for (bit, name) in table where mask & bit != 0 {
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      plain(name)
      rest &= ~bit
    }
    if rest != 0 {  // bits we have no name for stay visible, as hex
      if !first { out.append(UInt8(ascii: ",")) }
      string("0x" + String(UInt64(bitPattern: rest), radix: 16))
    }
    out.append(UInt8(ascii: "]"))
  }

  mutating func name(_ code: Int64, _ table: [Int64: String]) {
    if let name = table[code] { plain(name) } else { string("\(code)") }
  }

  /// A string known to need no escaping (names from our own tables).
  package mutating func plain(_ s: String) {
    out.append(UInt8(ascii: "\""))
    var s = s
    s.withUTF8 { out.append(contentsOf: $0) }
    out.append(UInt8(ascii: "\""))
  }

  /// `{"seq":…,"ts":…,"tid":…,"ev":"name"` — the caller adds fields and calls ``end()``.
  package mutating func begin(seq: UInt64, ts: UInt64, tid: Int32, ev: String) {
    raw("{\"seq\":")
    int(seq)
    raw(",\"ts\":")
    int(ts)
    raw(",\"tid\":")
    int(tid)
    raw(",\"ev\":")
    plain(ev)
  }

  package mutating func field(_ key: StaticString, _ v: Int64) {
    raw(",\"")
    raw(key)
    raw("\":")
    int(v)
  }

  package mutating func key(_ key: StaticString) {
    raw(",\"")
    raw(key)
    raw("\":")
  }

  package mutating func end() { raw("}\n") }

  /// Encodes a batch as the writer drains it from the ring: one line per record, each
  /// `epoll_wait` taking the ``TraceEventKind/readyItem`` records that follow it. Returns the
  /// number of lines. An item count running past the batch is cut at its end.
  package mutating func encode(batch: UnsafeBufferPointer<TraceRecord>) -> Int {
    var i = 0
    var lines = 0
    while i < batch.count {
      let r = batch[i]
      let items = r.kind == .epollWait ? Int(clamping: max(0, min(r.e, Int64(batch.count - i - 1)))) : 0
      encode(r, ready: UnsafeBufferPointer(rebasing: batch[(i + 1)..<(i + 1 + items)]))
      i += 1 + items
      lines += 1
    }
    return lines
  }

  /// Encodes one record; `ready` holds the ready items that followed an `epoll_wait`.
  package mutating func encode<Items: Collection<TraceRecord>>(_ r: TraceRecord, ready: Items) {
    begin(seq: r.seq, ts: r.ts, tid: r.tid, ev: r.kind.name)
    switch r.kind {
    case .epollCreate:
      field("epfd", r.ret)
      key("flags")
      names(r.b, FlagNames.epollCreateFlags)
    case .epollCtl:
      field("epfd", r.a)
      key("op")
      name(r.b, FlagNames.epollOps)
      field("fd", r.c)
      key("events")
      names(r.d, FlagNames.epollEvents)
      field("tag", r.e)
    case .epollWait:
      field("epfd", r.a)
      field("maxevents", r.b)
      field("timeout_ms", r.c)
    case .readyItem:
      field("fd", r.a)
    case .park:
      field("task", r.a)
      field("fd", r.b)
      key("mode")
      string(TraceMode(rawValue: r.c)?.name ?? "?")
    case .wake:
      field("task", r.a)
      field("fd", r.b)
      key("mode")
      string(TraceMode(rawValue: r.c)?.name ?? "?")
      key("reason")
      string(TraceWakeReason(rawValue: r.d)?.name ?? "?")
    case .stale:
      field("fd", r.a)
      field("tag", r.b)
      field("current_tag", r.c)
      key("mode")
      string(TraceMode(rawValue: r.d)?.name ?? "?")
    case .deadline:
      field("fd", r.a)
      key("mode")
      string(TraceMode(rawValue: r.b)?.name ?? "?")
      field("timeout_ns", r.c)
    case .socket:
      field("fd", r.ret)
      key("domain")
      name(r.b, FlagNames.domains)
    case .setsockopt:
      field("fd", r.a)
      key("opt")
      string(TraceSocketOption(rawValue: r.b)?.name ?? "\(r.b)")
    case .bind, .connect, .getsockname:
      field("fd", r.a)
      key("addr")
      string(Self.address(r.b, r.c, r.d))
    case .listen:
      field("fd", r.a)
      field("backlog", r.b)
    case .accept, .close:
      field("fd", r.a)
    case .getsockopt:
      field("fd", r.a)
      key("opt")
      string(TraceSocketOption(rawValue: r.b)?.name ?? "\(r.b)")
      field("value", r.c)
    case .read, .write:
      field("fd", r.a)
      field("len", r.b)
    case .poll:
      field("fd", r.a)
      key("events")
      names(r.b, FlagNames.pollEvents)
      key("revents")
      names(r.c, FlagNames.pollEvents)
    case .shutdown:
      field("fd", r.a)
      key("how")
      name(r.b, FlagNames.shutdownHow)
    case .eventfd:
      field("fd", r.ret)
    case .uringSetup:
      field("ring_fd", r.a)
      field("entries", r.b)
      field("cq_entries", r.c)
      key("flags")
      names(r.d, FlagNames.uringSetupFlags)
      key("features")
      names(r.e, FlagNames.uringFeatures)
    case .uringSQE:
      key("op")
      name(r.a, FlagNames.uringOps)
      field("fd", r.b)
      field("user_data", r.c)
      key("flags")
      names(r.d, FlagNames.uringSQEFlags)
    case .uringEnter:
      field("ring_fd", r.a)
      field("to_submit", r.b)
      field("min_complete", r.c)
      key("flags")
      names(r.d, FlagNames.uringEnterFlags)
    case .uringCQE:
      field("user_data", r.a)
      field("res", r.ret)
      key("flags")
      names(r.c, FlagNames.uringCQEFlags)
      field("fd", r.b)
    case .uringOverflow:
      field("count", r.a)
      key("held_back")
      raw(r.b != 0 ? "true" : "false")
    }
    // `ret` and `dur_ns` come last where the contract has them, then errno on failure.
    switch r.kind {
    case .park, .wake, .stale, .deadline, .readyItem, .uringSQE, .uringSetup, .uringOverflow,
      .uringCQE:
      break
    default:
      field("ret", r.ret)
    }
    if r.kind == .epollWait {
      field("dur_ns", r.d)
      key("ready")
      out.append(UInt8(ascii: "["))
      for (i, item) in ready.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        raw("{\"fd\":")
        int(item.a)
        raw(",\"tag\":")
        int(item.b)
        raw(",\"events\":")
        names(item.c, FlagNames.epollEvents)
        out.append(UInt8(ascii: "}"))
      }
      out.append(UInt8(ascii: "]"))
    }
    if r.kind == .uringEnter { field("dur_ns", r.e) }
    if r.errno != 0 {
      key("errno")
      string(ErrnoNames.name(r.errno))
    } else if r.kind == .uringCQE && r.ret < 0 {
      key("errno")
      string(ErrnoNames.name(Int32(truncatingIfNeeded: -r.ret)))
    }
    end()
  }

  static func address(_ familyPort: Int64, _ hi: Int64, _ lo: Int64) -> String {
    let family = familyPort >> 16
    let port = familyPort & 0xffff
    if family == 2 {
      let v = UInt64(bitPattern: hi)
      return "\(v >> 24 & 0xff).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff):\(port)"
    }
    if family == 10 {
      var bytes = (UInt64(bitPattern: hi).bigEndian, UInt64(bitPattern: lo).bigEndian)
      var text = [CChar](repeating: 0, count: 64)
      _ = inet_ntop(10, &bytes, &text, socklen_t(text.count))
      return "[\(text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })]:\(port)"
    }
    return "?"
  }
}
