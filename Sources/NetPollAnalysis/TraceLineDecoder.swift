#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// What is wrong with one line, without its location.
struct LineProblem: Error {
  var message: String
}

/// Decodes one trace line into a `TraceEvent`, checking the fields the analyses need for its `ev`
/// (presence and JSON type) and the enumerated values (`op`, `mode`, `reason`).
///
/// A field the analyses can do without (`trace_start.command`, `epoll_ctl.tag`, `read.len`, the
/// arrays of flag names, ...) may be missing: it takes a neutral value and is listed in
/// `missingOptional` for the reader to warn about; when present it must have its type. Extra fields
/// are allowed (the contract may add fields); an unknown `ev` decodes to `.unknown`.
struct TraceLineDecoder {
  private var scanner = JSONObjectScanner()
  private var entryScanner = JSONObjectScanner()
  /// The event being decoded, for messages (`nil` while reading the common fields).
  private(set) var ev: EventName?
  /// The trace's format version, from its `trace_start` (1 until one is decoded).
  private(set) var version = 1
  /// Optional fields the last decoded line lacked.
  private(set) var missingOptional: [FieldKey] = []

  mutating func decode(_ line: UnsafeRawBufferPointer, lineNumber: Int) throws(LineProblem)
    -> TraceEvent
  {
    do {
      try scanner.scan(line, range: 0..<line.count)
    } catch {
      throw LineProblem(message: "invalid JSON at column \(error.offset + 1): \(error.message)")
    }
    ev = nil
    missingOptional.removeAll(keepingCapacity: true)
    let seq = try int(.seq, in: scanner)
    let ts = try int(.ts, in: scanner)
    let tid = try int(.tid, in: scanner)
    guard seq >= 0 else { throw LineProblem(message: "'seq' is negative (\(seq))") }
    guard ts >= 0 else { throw LineProblem(message: "'ts' is negative (\(ts))") }
    guard let evMember = scanner.member(.ev) else { throw missing(.ev) }
    guard evMember.kind == .string else { throw wrongType(.ev, evMember, expected: "a string") }
    var errnoName: String?
    if let m = scanner.member(.errno) {
      guard m.kind == .string else {
        throw LineProblem(message: "'errno' must be a name string such as \"EAGAIN\", found \(m.kind.phrase)")
      }
      let text = internedErrnoName(m, in: scanner) ?? decodeString(m, in: scanner)
      guard text.utf8.first == UInt8(ascii: "E") else {
        throw LineProblem(message: "'errno' must be an errno name such as \"EAGAIN\", found \"\(text)\"")
      }
      errnoName = text
    }
    let body: TraceEvent.Body
    if let known = eventName(evMember) {
      ev = known
      body = try decodeBody(known)
    } else {
      body = .unknown(name: decodeString(evMember, in: scanner))
    }
    return TraceEvent(line: lineNumber, seq: seq, ts: ts, tid: tid, errno: errnoName, body: body)
  }

  /// The known event `ev` names, its escapes resolved (`"p\u0061rk"` is `park`).
  private func eventName(_ m: JSONMember) -> EventName? {
    if !m.escaped {
      return EventName.match(
        scanner.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + m.valueStart,
        count: m.valueEnd - m.valueStart)
    }
    var text = decodeString(m, in: scanner)
    return text.withUTF8 { $0.isEmpty ? nil : EventName.match($0.baseAddress!, count: $0.count) }
  }

  private mutating func decodeBody(_ name: EventName) throws(LineProblem) -> TraceEvent.Body {
    let s = scanner
    switch name {
    case .read, .write:
      let call = Syscall(name)
      return .socketCall(
        SocketCall(
          syscall: call, fd: try int(.fd, in: s), ret: try int(.ret, in: s), length: try optionalInt(.len)))
    case .epollWait:
      _ = try optionalInt(.maxevents)
      let wait = EpollWait(
        epfd: try int(.epfd, in: s), timeoutMs: try int(.timeoutMs, in: s), ret: try int(.ret, in: s),
        durationNs: try int(.durNs, in: s), ready: try readyEntries())
      return .epollWait(wait)
    case .park:
      return .park(task: try int(.task, in: s), fd: try int(.fd, in: s), mode: try mode())
    case .wake:
      let reasonText = try string(.reason, in: s)
      guard let reason = WakeReason(rawValue: reasonText) else {
        throw LineProblem(
          message: "wake: 'reason' must be ready, deadline, close or cancel, found \"\(reasonText)\"")
      }
      return .wake(task: try int(.task, in: s), fd: try int(.fd, in: s), mode: try mode(), reason: reason)
    case .poll:
      try stringArray(.events)
      try stringArray(.revents)
      return .socketCall(
        SocketCall(syscall: .poll, fd: try int(.fd, in: s), ret: try int(.ret, in: s), length: 0))
    case .accept, .close, .eventfd:
      return .socketCall(
        SocketCall(syscall: Syscall(name), fd: try int(.fd, in: s), ret: try int(.ret, in: s), length: 0))
    case .socket, .setsockopt, .bind, .connect, .shutdown, .getsockname:
      let extra: FieldKey =
        switch name {
        case .socket: .domain
        case .setsockopt: .opt
        case .shutdown: .how
        default: .addr
        }
      _ = try optionalString(extra)
      return .socketCall(
        SocketCall(syscall: Syscall(name), fd: try int(.fd, in: s), ret: try int(.ret, in: s), length: 0))
    case .listen, .getsockopt:
      if name == .listen {
        _ = try optionalInt(.backlog)
      } else {
        _ = try optionalString(.opt)
        _ = try optionalInt(.value)
      }
      return .socketCall(
        SocketCall(syscall: Syscall(name), fd: try int(.fd, in: s), ret: try int(.ret, in: s), length: 0))
    case .epollCtl:
      let opText = try string(.op, in: s)
      guard let op = ControlOperation(rawValue: opText) else {
        throw LineProblem(message: "epoll_ctl: 'op' must be ADD, MOD or DEL, found \"\(opText)\"")
      }
      return .epollCtl(
        EpollControl(
          epfd: try int(.epfd, in: s), op: op, fd: try int(.fd, in: s),
          events: try epollEvents(.events, in: s, optional: true),
          tag: try optionalInt(.tag, absent: nil), ret: try int(.ret, in: s)))
    case .stale:
      let modeText = try string(.mode, in: s)
      guard let mode = StaleMode(rawValue: modeText) else {
        throw LineProblem(message: "stale: 'mode' must be \"r\", \"w\" or \"rw\", found \"\(modeText)\"")
      }
      return .stale(
        fd: try int(.fd, in: s), tag: try int(.tag, in: s), currentTag: try int(.currentTag, in: s),
        mode: mode)
    case .deadline:
      return .deadline(fd: try int(.fd, in: s), mode: try mode(), timeoutNs: try int(.timeoutNs, in: s))
    case .epollCreate:
      try stringArray(.flags)
      return .epollCreate(epfd: try int(.epfd, in: s), ret: try int(.ret, in: s))
    case .traceStart:
      return .traceStart(try header())
    case .traceEnd:
      let lines = try optionalInt(version >= 2 ? .lines : .events, absent: nil)
      return .traceEnd(lines: lines, dropped: try int(.dropped, in: s))
    case .snapshotFd:
      return .snapshotFD(fd: try int(.fd, in: s), tag: try int(.tag, in: s))
    case .snapshotPark:
      return .snapshotPark(task: try int(.task, in: s), fd: try int(.fd, in: s), mode: try mode())
    case .snapshotOp:
      return .snapshotOperation(
        userData: try uint64(.userData, in: s), op: try string(.op, in: s), fd: try int(.fd, in: s))
    case .uringSetup:
      _ = try optionalInt(.cqEntries)
      try stringArray(.flags)
      try stringArray(.features)
      return .uringSetup(ringFd: try int(.ringFd, in: s), entries: try int(.entries, in: s))
    case .uringSqe:
      try stringArray(.flags)
      return .uringSubmission(
        op: try string(.op, in: s), fd: try int(.fd, in: s), userData: try uint64(.userData, in: s))
    case .uringEnter:
      try stringArray(.flags)
      return .uringEnter(
        ringFd: try int(.ringFd, in: s), toSubmit: try int(.toSubmit, in: s),
        minComplete: try int(.minComplete, in: s), ret: try int(.ret, in: s),
        durationNs: try int(.durNs, in: s))
    case .uringCqe:
      try stringArray(.flags)
      return .uringCompletion(
        userData: try uint64(.userData, in: s), res: try int(.res, in: s), fd: try int(.fd, in: s),
        more: hasName(.flags, in: s, "MORE") || hasName(.flags, in: s, "IORING_CQE_F_MORE"))
    case .uringOverflow:
      return .uringOverflow(count: try int(.count, in: s))
    }
  }

  /// `trace_start`: versions 1 and 2, a window's fields, the optional descriptive fields.
  private mutating func header() throws(LineProblem) -> TraceHeader {
    let s = scanner
    let format = try string(.format, in: s)
    guard format == "netpoll-trace" else {
      throw LineProblem(
        message: "not a netpoll trace: 'format' is \"\(format)\", expected \"netpoll-trace\"")
    }
    let version = try int(.version, in: s)
    guard version == 1 || version == 2 else {
      throw LineProblem(
        message:
          "trace format version \(version) is not supported (this netpoll reads versions 1 and 2; upgrade netpoll)"
      )
    }
    self.version = version
    var source = TraceSource.runtime
    if version >= 2 {
      let text = try optionalString(.source, absent: "runtime")
      guard let known = TraceSource(rawValue: text) else {
        throw LineProblem(message: "trace_start: 'source' must be \"runtime\" or \"ebpf\", found \"\(text)\"")
      }
      source = known
    }
    var window: TraceWindow?
    if let m = s.member(.window) {
      guard m.kind == .bool else { throw wrongType(.window, m, expected: "a boolean") }
      if s.bytes[m.valueStart] == UInt8(ascii: "t") {
        let firstSeq = try int(.windowSeq, in: s)
        guard firstSeq >= 1 else {
          throw LineProblem(message: "trace_start: 'window_seq' must be at least 1, found \(firstSeq)")
        }
        window = TraceWindow(
          firstSeq: firstSeq, firstTs: try int(.windowTs, in: s), trigger: try optionalString(.trigger))
      }
    }
    return TraceHeader(
      backend: try optionalString(.backend, absent: "unknown"), pid: try optionalInt(.pid),
      wall: try optionalString(.wall), command: try optionalString(.command),
      backendNote: try optionalString(.backendNote), version: version, source: source, window: window)
  }

  // MARK: Fields

  private func mode() throws(LineProblem) -> PollMode {
    guard let m = scanner.member(.mode) else { throw missing(.mode) }
    guard m.kind == .string else { throw wrongType(.mode, m, expected: "a string (\"r\" or \"w\")") }
    if m.valueEnd - m.valueStart == 1 {
      switch scanner.bytes[m.valueStart] {
      case UInt8(ascii: "r"): return .read
      case UInt8(ascii: "w"): return .write
      default: break
      }
    } else if m.escaped {
      switch decodeString(m, in: scanner) {
      case "r": return .read
      case "w": return .write
      default: break
      }
    }
    throw LineProblem(
      message: "\(prefix)'mode' must be \"r\" or \"w\", found \"\(decodeString(m, in: scanner))\"")
  }

  private mutating func readyEntries() throws(LineProblem) -> [Readiness] {
    guard let m = scanner.member(.ready) else { throw missing(.ready) }
    guard m.kind == .array else { throw wrongType(.ready, m, expected: "an array") }
    var entries: [Readiness] = []
    var elements = scanner.elements(of: m)
    while true {
      let element: JSONMember
      do {
        guard let next = try elements.next() else { break }
        element = next
      } catch {
        throw LineProblem(message: "'ready' is malformed: \(error.message)")
      }
      guard element.kind == .object else {
        throw LineProblem(
          message: "epoll_wait: 'ready' entries must be objects, found \(element.kind.phrase)")
      }
      do {
        try entryScanner.scan(scanner.bytes, range: element.valueStart..<element.valueEnd)
      } catch {
        throw LineProblem(message: "'ready' entry \(entries.count) is malformed")
      }
      do throws(LineProblem) {
        entries.append(
          Readiness(
            fd: try int(.fd, in: entryScanner), tag: try int(.tag, in: entryScanner),
            events: try epollEvents(.events, in: entryScanner)))
      } catch {
        throw LineProblem(message: "'ready' entry \(entries.count): \(error.message)")
      }
    }
    return entries
  }

  private mutating func epollEvents(_ key: FieldKey, in s: JSONObjectScanner, optional: Bool = false)
    throws(LineProblem) -> EpollEvents
  {
    guard let m = s.member(key) else {
      guard optional else { throw missing(key) }
      missingOptional.append(key)
      return []
    }
    guard m.kind == .array else { throw wrongType(key, m, expected: "an array of names") }
    var set: EpollEvents = []
    var elements = s.elements(of: m)
    while let element = try? elements.next() {
      guard element.kind == .string else {
        throw LineProblem(
          message: "\(prefix)'\(key.name)' must hold names (strings), found \(element.kind.phrase)")
      }
      if element.escaped {
        var text = decodeString(element, in: s)
        set.insert(text.withUTF8 { EpollEvents.named(UnsafeRawBufferPointer($0)) })
      } else {
        set.insert(
          EpollEvents.named(UnsafeRawBufferPointer(rebasing: s.bytes[element.valueStart..<element.valueEnd])))
      }
    }
    return set
  }

  /// Checks the optional array of names `key`.
  private mutating func stringArray(_ key: FieldKey) throws(LineProblem) {
    let s = scanner
    guard let m = s.member(key) else {
      missingOptional.append(key)
      return
    }
    guard m.kind == .array else { throw wrongType(key, m, expected: "an array of names") }
    var problem: LineProblem?
    try? s.forEachElement(of: m) { element in
      if element.kind != .string, problem == nil {
        problem = LineProblem(
          message: "\(prefix)'\(key.name)' must hold names (strings), found \(element.kind.phrase)")
      }
    }
    if let problem { throw problem }
  }

  /// Whether the (already checked) array of names `key` holds `name`.
  private func hasName(_ key: FieldKey, in s: JSONObjectScanner, _ name: StaticString) -> Bool {
    guard let m = s.member(key), m.kind == .array else { return false }
    var elements = s.elements(of: m)
    while let element = try? elements.next() {
      guard element.kind == .string else { continue }
      if element.escaped {
        if decodeString(element, in: s) == name.description { return true }
        continue
      }
      guard element.valueEnd - element.valueStart == name.utf8CodeUnitCount else { continue }
      if memcmp(s.bytes.baseAddress! + element.valueStart, name.utf8Start, name.utf8CodeUnitCount) == 0 {
        return true
      }
    }
    return false
  }

  private func string(_ key: FieldKey, in s: JSONObjectScanner) throws(LineProblem) -> String {
    guard let m = s.member(key) else { throw missing(key) }
    guard m.kind == .string else { throw wrongType(key, m, expected: "a string") }
    return decodeString(m, in: s)
  }

  /// The optional string `key`, `absent` (and noted in `missingOptional`) when missing.
  private mutating func optionalString(_ key: FieldKey, absent: String = "") throws(LineProblem) -> String {
    guard scanner.member(key) != nil else {
      missingOptional.append(key)
      return absent
    }
    return try string(key, in: scanner)
  }

  /// The optional integer `key`, `absent` (and noted in `missingOptional`) when missing.
  private mutating func optionalInt(_ key: FieldKey, absent: Int = 0) throws(LineProblem) -> Int {
    guard scanner.member(key) != nil else {
      missingOptional.append(key)
      return absent
    }
    return try int(key, in: scanner)
  }

  /// The optional integer `key`, `nil` (and noted in `missingOptional`) when missing.
  private mutating func optionalInt(_ key: FieldKey, absent: Int?) throws(LineProblem) -> Int? {
    guard scanner.member(key) != nil else {
      missingOptional.append(key)
      return absent
    }
    return try int(key, in: scanner)
  }

  private func int(_ key: FieldKey, in s: JSONObjectScanner) throws(LineProblem) -> Int {
    guard let m = s.member(key) else { throw missing(key) }
    guard m.kind == .integer else { throw wrongType(key, m, expected: "an integer") }
    guard let value = parseInteger(m, in: s, allowUnsigned64: false) else {
      throw LineProblem(message: "\(prefix)'\(key.name)' is out of range")
    }
    return Int(truncatingIfNeeded: value)
  }

  private func uint64(_ key: FieldKey, in s: JSONObjectScanner) throws(LineProblem) -> UInt64 {
    guard let m = s.member(key) else { throw missing(key) }
    guard m.kind == .integer else { throw wrongType(key, m, expected: "an integer") }
    guard let value = parseInteger(m, in: s, allowUnsigned64: true) else {
      throw LineProblem(message: "\(prefix)'\(key.name)' is out of range")
    }
    return value
  }

  private var prefix: String { ev.map { "\($0.name): " } ?? "" }

  private func missing(_ key: FieldKey) -> LineProblem {
    LineProblem(message: "\(prefix)missing required field '\(key.name)'")
  }

  private func wrongType(_ key: FieldKey, _ m: JSONMember, expected: String) -> LineProblem {
    LineProblem(message: "\(prefix)'\(key.name)' must be \(expected), found \(m.kind.phrase)")
  }
}

/// The common errno names, as static strings: a trace line naming one costs no String decoding.
private let commonErrnoNames: [([UInt8], String)] = [
  "EAGAIN", "EINTR", "EINPROGRESS", "ECONNRESET", "EPIPE", "ECANCELED", "ETIMEDOUT", "ECONNREFUSED",
  "EBADF", "ENOTCONN", "EWOULDBLOCK",
].map { (Array($0.utf8), $0) }

private func internedErrnoName(_ m: JSONMember, in s: JSONObjectScanner) -> String? {
  guard !m.escaped else { return nil }
  let raw = UnsafeRawBufferPointer(rebasing: s.bytes[m.valueStart..<m.valueEnd])
  for (bytes, name) in commonErrnoNames where raw.elementsEqual(bytes) { return name }
  return nil
}

/// An integer member's value; a negative value comes back as its two's-complement bit pattern.
private func parseInteger(_ m: JSONMember, in s: JSONObjectScanner, allowUnsigned64: Bool) -> UInt64? {
  if m.overflow { return nil }
  if m.negative {
    guard m.magnitude <= UInt64(Int64.max) + 1 else { return nil }
    return UInt64(bitPattern: 0 &- Int64(truncatingIfNeeded: m.magnitude))
  }
  if !allowUnsigned64 && m.magnitude > UInt64(Int64.max) { return nil }
  return m.magnitude
}

/// The text of a string member, with JSON escapes resolved.
func decodeString(_ m: JSONMember, in s: JSONObjectScanner) -> String {
  let raw = UnsafeRawBufferPointer(rebasing: s.bytes[m.valueStart..<m.valueEnd])
  if !m.escaped { return String(decoding: raw, as: UTF8.self) }
  var out = String.UnicodeScalarView()
  var utf8: [UInt8] = []
  var i = 0
  func flush() {
    if !utf8.isEmpty {
      out.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
      utf8.removeAll()
    }
  }
  func hex4(_ at: Int) -> UInt32 {
    var v: UInt32 = 0
    for k in 0..<4 {
      let c = raw[at + k]
      let d: UInt8 = c <= UInt8(ascii: "9") ? c &- UInt8(ascii: "0") : (c | 0x20) &- UInt8(ascii: "a") &+ 10
      v = v << 4 | UInt32(d)
    }
    return v
  }
  while i < raw.count {
    let c = raw[i]
    guard c == UInt8(ascii: "\\") else {
      utf8.append(c)
      i += 1
      continue
    }
    flush()
    let e = raw[i + 1]
    i += 2
    switch e {
    case UInt8(ascii: "n"): out.append("\n")
    case UInt8(ascii: "t"): out.append("\t")
    case UInt8(ascii: "r"): out.append("\r")
    case UInt8(ascii: "b"): out.append("\u{08}")
    case UInt8(ascii: "f"): out.append("\u{0C}")
    case UInt8(ascii: "u"):
      var code = hex4(i)
      i += 4
      if (0xD800..<0xDC00).contains(code), i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"),
        raw[i + 1] == UInt8(ascii: "u")
      {
        let low = hex4(i + 2)
        if (0xDC00..<0xE000).contains(low) {
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          i += 6
        }
      }
      out.append(Unicode.Scalar(code) ?? "\u{FFFD}")
    default: out.append(Unicode.Scalar(e))
    }
  }
  flush()
  return String(out)
}

extension Syscall {
  /// The socket call an event records (only for events that are socket calls).
  init(_ event: EventName) {
    switch event {
    case .socket: self = .socket
    case .setsockopt: self = .setsockopt
    case .bind: self = .bind
    case .listen: self = .listen
    case .accept: self = .accept
    case .connect: self = .connect
    case .getsockopt: self = .getsockopt
    case .getsockname: self = .getsockname
    case .read: self = .read
    case .write: self = .write
    case .poll: self = .poll
    case .shutdown: self = .shutdown
    case .close: self = .close
    case .eventfd: self = .eventfd
    default: preconditionFailure("netpoll analysis: \(event.name) is not a socket call")
    }
  }
}
