import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Keeps the most recent events of a ``TraceRecorder`` in memory and writes them as a trace only
/// when asked (after Go 1.25's `runtime/trace.FlightRecorder`).
///
/// A background thread takes events out of the recorder's rings as a ``TraceWriter`` would, but
/// instead of encoding them it copies the binary records into a ring of `bytes` bytes; the
/// oldest events fall out of it into a ``WindowState``, so the state at the window's start is
/// always known. A dump (``requestDump(trigger:)``, `SIGUSR1` through ``installDumpSignal()``,
/// or a park→wake slower than `wakeLatencyTrigger`) writes a complete trace to a new file:
/// `trace_start` with the window's fields, one snapshot line per registered fd, parked task and
/// operation in flight, the window's events, `trace_end` (docs/trace-format.md,
/// "Flight-recorder windows and snapshots"). Memory is the ring plus the live state.
public final class FlightRecorder: Sendable {
  /// What the dumps' `trace_start` says.
  public struct Header: Sendable {
    public var backend: String
    public var command: String
    public var backendNote: String
    public init(backend: String, command: String, backendNote: String = "") {
      self.backend = backend
      self.command = command
      self.backendNote = backendNote
    }
  }

  public let recorder: TraceRecorder
  /// Dumps are written to `<stem>-flight-<n>.jsonl` beside this path (`n` = 1, 2, ...; an
  /// existing file is never overwritten: the next free number is taken).
  public let basePath: String
  let header: Header
  let capacity: Int
  let wakeLatencyTrigger: UInt64?
  let maxDumps: Int
  private let stopping = Atomic<Bool>(false)
  private let pendingTrigger = Mutex<String?>(nil)
  private let thread = Mutex<OSThread?>(nil)
  private let written = Mutex<[String]>([])

  /// Starts keeping the last `bytes` bytes of events (at least 1,024 events' worth).
  ///
  /// - Parameters:
  ///   - wakeLatencyTrigger: dump when a park→wake takes longer than this many nanoseconds (at
  ///     most one such dump per second).
  ///   - maxDumps: stop writing dumps after this many files (a trigger that fires on every
  ///     request must not fill the disk).
  public init(
    recorder: TraceRecorder, bytes: Int, basePath: String, header: Header,
    wakeLatencyTrigger: UInt64? = nil, maxDumps: Int = 16
  ) {
    self.recorder = recorder
    self.basePath = basePath
    self.header = header
    capacity = max(bytes / MemoryLayout<TraceRecord>.stride, 1024)
    self.wakeLatencyTrigger = wakeLatencyTrigger
    self.maxDumps = maxDumps
    thread.withLock { $0 = OSThread(name: "netpoll-flight") { [self] in run() } }
  }

  /// Asks for a dump of the current window; it is written within a few milliseconds.
  public func requestDump(trigger: String) {
    pendingTrigger.withLock { if $0 == nil { $0 = trigger } }
    recorder.wakeWriter()
  }

  /// Makes `SIGUSR1` request a dump (the handler only sets a flag the recorder's thread polls).
  public static func installDumpSignal() { netpoll_install_dump_signal() }

  /// The dumps written so far.
  public var dumps: [String] { written.withLock { $0 } }

  /// Stops keeping events (no final dump) and joins the thread.
  public func finish() {
    let t = thread.withLock { t -> OSThread? in
      defer { t = nil }
      return t
    }
    guard let t else { return }
    recorder.close()
    stopping.store(true, ordering: .releasing)
    recorder.wakeWriter()
    t.join()
  }

  private func run() {
    var ring = EventRing(capacity: capacity, tracksCurrent: wakeLatencyTrigger != nil)
    var lastLatencyDump: UInt64 = 0
    while !stopping.load(ordering: .acquiring) {
      var trigger: String? = nil
      let taken = recorder.merger.withLock { m -> Int in
        m.drain(from: recorder, final: false) { batch in
          var i = 0
          while i < batch.count {
            let r = batch[i]
            let items = r.kind == .epollWait ? Int(r.e) : 0
            if let limit = wakeLatencyTrigger, trigger == nil, r.kind == .wake,
              let latency = ring.current?.wakeLatency(r), latency > limit,
              r.ts &- lastLatencyDump > 1_000_000_000 || lastLatencyDump == 0
            {
              trigger = "wake_latency task \(r.a) fd \(r.b) \(r.c == 2 ? "w" : "r") \(latency) ns"
              lastLatencyDump = r.ts
            }
            ring.append(UnsafeBufferPointer(rebasing: batch[i..<(i + 1 + items)]))
            i += 1 + items
          }
        }
      }
      if netpoll_take_dump_signal() != 0 { trigger = trigger ?? "SIGUSR1" }
      if let requested = pendingTrigger.withLock({ t -> String? in
        defer { t = nil }
        return t
      }) {
        trigger = trigger ?? requested
      }
      if let trigger { dump(ring, trigger: trigger) }
      if taken == 0 && trigger == nil { recorder.writerSleep() }
    }
  }

  /// Writes the window to a new file; failures are said once on stderr and change nothing else.
  private func dump(_ ring: EventRing, trigger: String) {
    guard written.withLock({ $0.count }) < maxDumps else { return }
    let (path, fd) = openDumpFile()
    guard fd >= 0 else {
      say(
        "netpoll: flight recorder: cannot create a dump beside \(basePath): \(ErrnoNames.name(Glibc.errno))")
      return
    }
    defer { Glibc.close(fd) }
    let first = ring.firstEvent
    let windowSeq = first?.seq ?? recorder.merger.withLock { $0.nextSeq }
    let windowTS = first?.ts ?? 0
    var enc = JSONLineEncoder()
    TraceWriter.encodeStart(
      &enc, backend: header.backend, command: header.command, backendNote: header.backendNote,
      window: TraceWindow(seq: windowSeq, ts: windowTS, trigger: trigger))
    var lines: UInt64 = 1
    for s in ring.start.snapshot(ts: windowTS, tid: netpoll_cached_tid()) {
      enc.encode(s, ready: EmptyCollection())
      lines += 1
    }
    var lastSeq = windowSeq &- 1
    var lastTS = windowTS
    var ok = true
    ring.forEachEvent { r, items in
      enc.encode(r, ready: items)
      lines += 1
      lastSeq = r.seq
      lastTS = r.ts
      if enc.out.count >= 1 << 20 {
        ok = ok && enc.out.withUnsafeBytes { writeAll(fd, $0) }
        enc.out.removeAll(keepingCapacity: true)
      }
    }
    enc.encodeTraceEnd(
      seq: lastSeq &+ 1, ts: lastTS, tid: netpoll_cached_tid(), lines: lines + 1, dropped: 0)
    ok = ok && enc.out.withUnsafeBytes { writeAll(fd, $0) }
    if !ok {
      say("netpoll: flight recorder: \(path): write failed: \(ErrnoNames.name(Glibc.errno))")
      return
    }
    written.withLock { $0.append(path) }
    say("netpoll: flight recorder: wrote \(path) (\(lines + 1) lines, trigger: \(trigger))")
  }

  /// `<stem>-flight-<n>.jsonl`, created 0600 with O_EXCL (never over a file, never through a
  /// symlink), trying the next `n` while the name is taken.
  private func openDumpFile() -> (String, Int32) {
    let stem = basePath.hasSuffix(".jsonl") ? String(basePath.dropLast(6)) : basePath
    var n = written.withLock { $0.count } + 1
    while n < 100_000 {
      let path = "\(stem)-flight-\(n).jsonl"
      do {
        return (path, try createTraceFile(path, overwrite: false))
      } catch {
        guard error.errno == EEXIST else { return (path, -1) }
      }
      n += 1
    }
    return (basePath, -1)
  }

  private func say(_ message: String) {
    let line = message + "\n"
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
  }
}

/// The flight recorder's memory: the newest events as binary records, oldest first, with the
/// state the evicted ones left behind (`start`) and, when a latency trigger needs park times,
/// the state all of them lead to (`current`; nil otherwise: its dictionary updates cost about
/// as much as the rest of the flight recorder's work per event).
private struct EventRing {
  private var slots: [TraceRecord]
  private var head = 0
  private var count = 0
  var start = WindowState()
  var current: WindowState?

  init(capacity: Int, tracksCurrent: Bool) {
    current = tracksCurrent ? WindowState() : nil
    slots = Array(repeating: TraceRecord(.read), count: capacity)
  }

  /// Appends one event (header and ready items), evicting the oldest events to make room.
  mutating func append(_ event: UnsafeBufferPointer<TraceRecord>) {
    guard event.count <= slots.count else { return }
    while slots.count - count < event.count { evictOldest() }
    var k = head + count
    if k >= slots.count { k -= slots.count }
    for r in event {
      slots[k] = r
      k += 1
      if k == slots.count { k = 0 }
    }
    count += event.count
    current?.apply(event[0])
  }

  private mutating func evictOldest() {
    let r = slots[head]
    let span = r.kind == .epollWait ? 1 + Int(r.e) : 1
    start.apply(r)
    head += span
    if head >= slots.count { head -= slots.count }
    count -= span
  }

  var firstEvent: TraceRecord? { count > 0 ? slots[head] : nil }

  func forEachEvent(_ body: (TraceRecord, ArraySlice<TraceRecord>) -> Void) {
    var k = 0
    var items = ArraySlice<TraceRecord>()
    while k < count {
      let r = slots[(head + k) % slots.count]
      let n = r.kind == .epollWait ? Int(r.e) : 0
      items.removeAll(keepingCapacity: true)
      for j in 0..<n { items.append(slots[(head + k + 1 + j) % slots.count]) }
      body(r, items)
      k += 1 + n
    }
  }
}
