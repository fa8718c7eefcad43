import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// Turns ``KernelRecord``s, as bpftrace delivers them, into trace lines in causal order.
///
/// bpftrace reads one buffer per CPU, so records reach us out of order by up to a poll interval.
/// Each record is held in a ``ReorderQueue`` keyed by its ordering time (the entry time of
/// `epoll_ctl` and `close`, the exit time of everything else) and written once the newest time seen is
/// ``reorderWindowNanos`` past it. A record that still arrives later than one already written is
/// written with its predecessor's `ts` (so `ts` never decreases) and counted in ``lateRecords``.
///
/// Numbering (`seq`) and the per-fd state the output needs (which fd an epoll `data` value was
/// registered for, which fd an SQE's `user_data` names) are applied in output order, after sorting.
public final class KernelTraceConverter {
  /// How long a record waits for earlier ones from other CPUs.
  public let reorderWindowNanos: UInt64
  /// CLOCK_MONOTONIC nanoseconds at `ts` 0.
  public let startNanos: UInt64

  // Unchecked: the converter is not Sendable, so one thread uses it (the recorder's loop); the
  // dynamic exclusivity checks on these (swift_beginAccess, a thread-local access set) were 4% of
  // the recorder's CPU under perf (tools/bench-record's load, libbpf loader).
  /// Lines written so far (trace_start included by the caller's count: this is events only).
  @exclusivity(unchecked) public private(set) var eventsWritten: Int64 = 0
  /// Records that arrived after a later record had been written (their `ts` was raised).
  @exclusivity(unchecked) public private(set) var lateRecords: Int64 = 0
  /// `epoll_wait` calls whose ready list was cut at ``BPFTraceProgram/maxReadyItems`` or lost.
  @exclusivity(unchecked) public private(set) var incompleteReadyLists: Int64 = 0
  /// Calls seen per interface, for `trace_start.backend`.
  @exclusivity(unchecked) public private(set) var epollCalls: Int64 = 0
  @exclusivity(unchecked) public private(set) var uringCalls: Int64 = 0
  /// The `ts` of the last line written.
  @exclusivity(unchecked) public private(set) var lastTS: Int64 = 0

  /// The records held until the window passes them.
  @exclusivity(unchecked) private var queue = ReorderQueue<Pending>()
  @exclusivity(unchecked) private var newestSeen: UInt64 = 0
  @exclusivity(unchecked) private var pendingReady: [Int64: [ReadyItem]] = [:]
  /// The ready lists of held `W` records, by ``Pending/readyList``.
  @exclusivity(unchecked) private var readyLists: [Int: [ReadyItem]] = [:]
  @exclusivity(unchecked) private var lastReadyList = 0
  /// Per epoll fd: registered `data` → fd, and fd → `data`.
  @exclusivity(unchecked) private var fdByData: [Int64: [Int64: Int64]] = [:]
  @exclusivity(unchecked) private var dataByFD: [Int64: [Int64: Int64]] = [:]
  /// SQE `user_data` → its fd, until the final CQE.
  @exclusivity(unchecked) private var fdByUserData: [Int64: Int64] = [:]
  @exclusivity(unchecked) var encoder = TraceLineEncoder()

  struct ReadyItem {
    var events: Int64
    var data: Int64
  }

  struct Pending {
    var key: UInt64
    var record: KernelRecord
    /// The key of this `W` record's ready list in ``readyLists``; 0: none. (An array here made
    /// every copy of a held record a retain and a release.)
    var readyList: Int
  }

  public init(startNanos: UInt64, reorderWindowNanos: UInt64 = 250_000_000) {
    self.startNanos = startNanos
    self.reorderWindowNanos = reorderWindowNanos
  }

  /// Epoll registrations that existed before recording started (from `/proc/PID/fdinfo`).
  public func seedRegistration(epfd: Int32, fd: Int32, data: UInt64) {
    let d = Int64(bitPattern: data)
    fdByData[Int64(epfd), default: [:]][d] = Int64(fd)
    dataByFD[Int64(epfd), default: [:]][Int64(fd)] = d
  }

  /// Takes one record; writes whatever the reorder window releases into ``encoder``.
  public func consume(_ r: KernelRecord) {
    let tid = r[0]
    switch r.code {
    case UInt8(ascii: "R"):
      var items = pendingReady[tid] ?? []
      var k = 1
      while k + 1 < r.count {
        if items.count < BPFTraceProgram.maxReadyItems {
          items.append(ReadyItem(events: r[k], data: r[k + 1]))
        }
        k += 2
      }
      pendingReady[tid] = items
      return
    case UInt8(ascii: "M"):
      return
    default:
      break
    }
    guard r.count >= 2 else { return }
    let raw = UInt64(bitPattern: r[1])
    var ready: [ReadyItem] = []
    if r.code == UInt8(ascii: "W") {
      ready = pendingReady.removeValue(forKey: tid) ?? []
      let returned = max(0, Int(clamping: r[5]))
      if ready.count > returned { ready.removeLast(ready.count - returned) }
      if ready.count < returned { incompleteReadyLists += 1 }
    }
    newestSeen = max(newestSeen, raw)
    var readyList = 0
    if !ready.isEmpty {
      lastReadyList += 1
      readyList = lastReadyList
      readyLists[readyList] = ready
    }
    queue.insert(key: raw, Pending(key: raw, record: r, readyList: readyList))
    while let top = queue.earliestKey, top &+ reorderWindowNanos < newestSeen {
      write(queue.removeEarliest())
    }
  }

  /// Writes every record still held (at the end of recording).
  public func drain() {
    while !queue.isEmpty { write(queue.removeEarliest()) }
  }

  /// Takes the encoded bytes so far (a copy).
  func takeBytes() -> [UInt8] {
    defer { encoder.removeAll() }
    return encoder.bytes
  }

  /// Hands the encoded lines so far to `body`, then forgets them (no copy).
  func takeBytes(_ body: (UnsafeRawBufferPointer) -> Void) {
    encoder.out.withUnsafeBytes { body($0) }
    encoder.removeAll()
  }

  // MARK: Output

  private func write(_ p: Pending) {
    let r = p.record
    var ts = p.key >= startNanos ? Int64(clamping: p.key - startNanos) : 0
    if ts < lastTS {
      ts = lastTS
      lateRecords += 1
    }
    lastTS = ts
    eventsWritten += 1
    let seq = eventsWritten  // trace_start is seq 0
    let tid = r[0]
    var e = encoder  // a local copy: the class's stored property would be checked per access
    defer { encoder = e }
    switch r.code {
    case UInt8(ascii: "C"):  // tid ts ret flags
      epollCalls += 1
      e.begin(seq: seq, ts: ts, tid: tid, ev: "epoll_create")
      e.field("epfd", r[2] >= 0 ? r[2] : -1)
      e.names("flags", r[3], KernelNames.epollCreateFlags)
      e.result(r[2])
      if r[2] >= 0 { forgetEpoll(r[2]) }
    case UInt8(ascii: "T"):  // tid ts epfd op fd events data ret
      epollCalls += 1
      let (epfd, op, fd, data) = (r[2], r[3], r[4], r[6])
      e.begin(seq: seq, ts: ts, tid: tid, ev: "epoll_ctl")
      e.field("epfd", epfd)
      e.field("op", KernelNames.epollOps[op] ?? "OP_\(op)")
      e.field("fd", fd)
      e.names("events", op == 2 ? 0 : Int64(UInt32(truncatingIfNeeded: r[5])), KernelNames.epollEvents)
      e.field("tag", op == 2 ? 0 : data)
      e.result(r[7])
      if r[7] == 0 {
        if op == 1 || op == 3 {
          if let old = dataByFD[epfd]?[fd] { fdByData[epfd]?[old] = nil }
          fdByData[epfd, default: [:]][data] = fd
          dataByFD[epfd, default: [:]][fd] = data
        } else if op == 2, let old = dataByFD[epfd]?.removeValue(forKey: fd) {
          fdByData[epfd]?[old] = nil
        }
      }
    case UInt8(ascii: "W"):  // tid ts epfd maxevents timeout ret dur
      epollCalls += 1
      let epfd = r[2]
      e.begin(seq: seq, ts: ts, tid: tid, ev: "epoll_wait")
      e.field("epfd", epfd)
      e.field("maxevents", r[3])
      e.field("timeout_ms", Int64(Int32(truncatingIfNeeded: r[4])))
      e.result(r[5])
      e.field("dur_ns", r[6])
      e.key("ready")
      e.byte(UInt8(ascii: "["))
      let table = fdByData[epfd]
      let ready = p.readyList == 0 ? [] : readyLists.removeValue(forKey: p.readyList) ?? []
      for (i, item) in ready.enumerated() {
        if i > 0 { e.byte(UInt8(ascii: ",")) }
        e.raw("{\"fd\":")
        e.int(table?[item.data] ?? Int64(Int32(truncatingIfNeeded: item.data)))
        e.raw(",\"tag\":")
        e.int(item.data)
        e.names("events", Int64(UInt32(truncatingIfNeeded: item.events)), KernelNames.epollEvents)
        e.byte(UInt8(ascii: "}"))
      }
      e.byte(UInt8(ascii: "]"))
    case UInt8(ascii: "A"):  // tid ts fd ret
      e.begin(seq: seq, ts: ts, tid: tid, ev: "accept")
      e.field("fd", r[2])
      e.result(r[3])
    case UInt8(ascii: "I"), UInt8(ascii: "O"):  // tid ts fd len ret call
      let reading = r.code == UInt8(ascii: "I")
      e.begin(seq: seq, ts: ts, tid: tid, ev: reading ? "read" : "write")
      e.field("fd", r[2])
      e.field("len", r[3])
      e.result(r[4])
      switch r[5] {
      case 1: e.field("syscall", reading ? "recvfrom" : "sendto")
      case 2: e.field("syscall", reading ? "readv" : "writev")
      default: break
      }
    case UInt8(ascii: "X"):  // tid ts fd ret
      e.begin(seq: seq, ts: ts, tid: tid, ev: "close")
      e.field("fd", r[2])
      e.result(r[3])
      if r[3] == 0 { forgetFD(r[2]) }
    case UInt8(ascii: "S"):  // tid ts ret domain
      e.begin(seq: seq, ts: ts, tid: tid, ev: "socket")
      e.field("fd", r[2] >= 0 ? r[2] : -1)
      e.field("domain", KernelNames.domains[r[3]] ?? "AF_\(r[3])")
      e.result(r[2])
    case UInt8(ascii: "B"), UInt8(ascii: "N"):  // tid ts fd ret family port a0 a1
      e.begin(seq: seq, ts: ts, tid: tid, ev: r.code == UInt8(ascii: "B") ? "bind" : "connect")
      e.field("fd", r[2])
      e.field("addr", Self.address(family: r[4], port: r[5], a0: r[6], a1: r[7]))
      e.result(r[3])
    case UInt8(ascii: "L"):  // tid ts fd backlog ret
      e.begin(seq: seq, ts: ts, tid: tid, ev: "listen")
      e.field("fd", r[2])
      e.field("backlog", r[3])
      e.result(r[4])
    case UInt8(ascii: "U"):  // tid ts ret sq cq flags features
      uringCalls += 1
      e.begin(seq: seq, ts: ts, tid: tid, ev: "uring_setup")
      e.field("ring_fd", r[2] >= 0 ? r[2] : -1)
      e.field("entries", r[3])
      e.field("cq_entries", r[4])
      e.names("flags", r[5], KernelNames.uringSetupFlags)
      e.names("features", r[6], KernelNames.uringFeatures)
      if r[2] < 0 { e.field("errno", ErrnoNamesBridge.name(-r[2])) }
    case UInt8(ascii: "E"):  // tid ts fd to_submit min flags ret dur
      uringCalls += 1
      e.begin(seq: seq, ts: ts, tid: tid, ev: "uring_enter")
      e.field("ring_fd", r[2])
      e.field("to_submit", r[3])
      e.field("min_complete", r[4])
      e.names("flags", r[5], KernelNames.uringEnterFlags)
      e.result(r[6])
      e.field("dur_ns", r[7])
    case UInt8(ascii: "Q"):  // tid ts op fd user_data flags
      e.begin(seq: seq, ts: ts, tid: tid, ev: "uring_sqe")
      e.field("op", KernelNames.uringOps[r[2]] ?? "OP_\(r[2])")
      e.field("fd", r[3])
      e.field("user_data", r[4])
      e.names("flags", r[5], KernelNames.uringSQEFlags)
      if fdByUserData.count > 1 << 20 { fdByUserData.removeAll() }  // bounded: never grows without end
      fdByUserData[r[4]] = r[3]
    case UInt8(ascii: "K"):  // tid ts user_data res cflags
      let more = r[4] & 2 != 0
      e.begin(seq: seq, ts: ts, tid: tid, ev: "uring_cqe")
      e.field("user_data", r[2])
      e.field("res", r[3])
      e.names("flags", r[4], KernelNames.uringCQEFlags)
      e.field("fd", (more ? fdByUserData[r[2]] : fdByUserData.removeValue(forKey: r[2])) ?? -1)
      if r[3] < 0 { e.field("errno", ErrnoNamesBridge.name(-r[3])) }
    case UInt8(ascii: "V"):  // tid ts user_data res cflags held_back
      e.begin(seq: seq, ts: ts, tid: tid, ev: "uring_overflow")
      e.field("count", 1)
      e.key("held_back")
      if r[5] != 0 { e.raw("true") } else { e.raw("false") }
    default:
      eventsWritten -= 1
      return
    }
    e.end()
  }

  private func forgetEpoll(_ epfd: Int64) {
    fdByData[epfd] = nil
    dataByFD[epfd] = nil
  }

  /// A closed fd leaves every epoll set it was in (the kernel drops the registration when the last
  /// reference goes; a `dup`ed fd is not tracked) and, if it was an epoll fd, its table goes.
  private func forgetFD(_ fd: Int64) {
    forgetEpoll(fd)
    for epfd in Array(dataByFD.keys) {
      if let old = dataByFD[epfd]?.removeValue(forKey: fd) { fdByData[epfd]?[old] = nil }
    }
  }

  /// "127.0.0.1:8080", "[::1]:8080" from the raw sockaddr words the probe read.
  static func address(family: Int64, port: Int64, a0: Int64, a1: Int64) -> String {
    let p = UInt16(truncatingIfNeeded: port).byteSwapped
    switch family {
    case 2:
      let v = UInt32(truncatingIfNeeded: a0)
      return "\(v & 0xff).\(v >> 8 & 0xff).\(v >> 16 & 0xff).\(v >> 24):\(p)"
    case 10:
      var words = (UInt64(bitPattern: a0), UInt64(bitPattern: a1))
      var text = [CChar](repeating: 0, count: 64)
      _ = withUnsafePointer(to: &words) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
      return "[\(String(cString: text))]:\(p)"
    case 1: return "unix"
    default: return "family \(family)"
    }
  }
}

/// errno names for values that arrive as 64-bit integers.
enum ErrnoNamesBridge {
  static func name(_ v: Int64) -> String { ErrnoNames.name(Int32(truncatingIfNeeded: v)) }
}
