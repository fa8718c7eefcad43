import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Keeps the most recent events of a ``TraceRecorder`` in memory and writes them as a trace only
/// when asked (after Go 1.25's `runtime/trace.FlightRecorder`).
///
/// A background thread takes events out of the recorder's rings as a ``TraceWriter`` would, but
/// instead of encoding them it copies the binary records into a block of `bytes` bytes, keeping
/// the runtime's state (``WindowState``) at the start of each eighth of it, so the state at the
/// window's start is always known. The window is the newest 7/8 to 8/8 of the block.
///
/// A dump (``requestDump(trigger:)``, `SIGUSR1` through ``installDumpSignal()``, or a park→wake
/// slower than `wakeLatencyTrigger`) writes a complete trace to a new file: `trace_start` with
/// the window's fields, one snapshot line per registered fd, parked task and operation in
/// flight, the window's events, `trace_end` (docs/trace-format.md, "Flight-recorder windows and
/// snapshots"). Memory is the block plus the live state once per eighth of the block (at most
/// ten copies).
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
  private let recordCount = Atomic<Int>(0)

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

  /// Records (events and ready items) taken into memory so far.
  public var recordsTaken: Int { recordCount.load(ordering: .relaxed) }

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
    var ring = EventRing(capacity: capacity)
    var lastLatencyDump: UInt64 = 0
    while !stopping.load(ordering: .acquiring) {
      var trigger: String? = nil
      let taken = recorder.merger.withLock { m -> Int in
        m.drain(from: recorder, final: false) { batch in
          recordCount.add(batch.count, ordering: .relaxed)
          ring.append(batch) { r, state in
            guard let limit = wakeLatencyTrigger, trigger == nil, r.kind == .wake,
              let latency = state.wakeLatency(r), latency > limit,
              r.ts &- lastLatencyDump > 1_000_000_000 || lastLatencyDump == 0
            else { return }
            trigger = "wake_latency task \(r.a) fd \(r.b) \(r.c == 2 ? "w" : "r") \(latency) ns"
            lastLatencyDump = r.ts
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
  private func dump(_ ring: borrowing EventRing, trigger: String) {
    guard written.withLock({ $0.count }) < maxDumps else { return }
    let (path, fd) = openDumpFile()
    guard fd >= 0 else {
      say(
        "netpoll: flight recorder: cannot create a dump beside \(basePath): \(ErrnoNames.name(Glibc.errno))")
      return
    }
    defer { Glibc.close(fd) }
    let window = ring.window
    let first = window.map { ring.record(at: $0.first) }
    let windowSeq = first?.seq ?? recorder.merger.withLock { $0.nextSeq }
    let windowTS = first?.ts ?? 0
    var enc = JSONLineEncoder()
    TraceWriter.encodeStart(
      &enc, backend: header.backend, command: header.command, backendNote: header.backendNote,
      window: TraceWindow(seq: windowSeq, ts: windowTS, trigger: trigger))
    var lines: UInt64 = 1
    for s in (window?.state ?? WindowState()).snapshot(ts: windowTS, tid: netpoll_cached_tid()) {
      enc.encode(s, ready: EmptyCollection())
      lines += 1
    }
    var lastSeq = windowSeq &- 1
    var lastTS = windowTS
    var ok = true
    if let start = window?.first {
      ring.forEachEvent(from: start) { r, items in
        enc.encode(r, ready: items)
        lines += 1
        lastSeq = r.seq
        lastTS = r.ts
        if enc.out.count >= 1 << 20 {
          ok = ok && enc.out.withUnsafeBytes { writeAll(fd, $0) }
          enc.out.removeAll(keepingCapacity: true)
        }
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

/// The flight recorder's memory: the newest events as binary records in one fixed block, and
/// the runtime's state at the start of each of its segments.
///
/// The block is split into `segments` equal parts. Before the first event that starts in a part,
/// the state all earlier events led to is kept as that part's checkpoint. Records are copied in
/// with non-temporal stores and never read again until a dump, which starts at the oldest part
/// still whole and writes that part's checkpoint as the snapshot. So the window holds between
/// (segments - 1)/segments of the block and all of it, and no evicted event is ever read back
/// (reading each one cold to fold it into the window's start state cost the server's cache).
private struct EventRing: ~Copyable {
  private let slots: UnsafeMutablePointer<TraceRecord>
  private let capacity: Int
  private let segmentSize: Int
  /// Records appended so far (absolute positions; the slot is `position % capacity`).
  private var written = 0
  /// The state after every event appended (also what the latency trigger reads).
  private(set) var current = WindowState()
  /// Per segment (by segment number modulo the array's size): where its first event starts, and
  /// the state before it.
  private var checkpoints: [(first: Int, state: WindowState)?]
  private var lastSegment = -1

  static let segments = 8

  /// Room for `capacity` records, rounded so the segments are equal and each holds at least 256
  /// records (more than the largest event, an `epoll_wait` with 128 ready items).
  init(capacity requested: Int) {
    segmentSize = max(256, requested / Self.segments)
    capacity = segmentSize * Self.segments
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: capacity * MemoryLayout<TraceRecord>.stride, alignment: 64)
    slots = raw.bindMemory(to: TraceRecord.self, capacity: capacity)
    slots.initialize(repeating: TraceRecord(.read), count: capacity)
    // One more than the segments the block spans, so the oldest whole segment's checkpoint is
    // never the one being replaced.
    checkpoints = Array(repeating: nil, count: Self.segments + 2)
  }

  deinit {
    slots.deinitialize(count: capacity)
    slots.deallocate()
  }

  /// Appends a batch of whole events (each header followed by its ready items). `willApply` sees
  /// each event's header with the state before it (for the latency trigger).
  mutating func append(
    _ batch: UnsafeBufferPointer<TraceRecord>, willApply: (TraceRecord, borrowing WindowState) -> Void
  ) {
    guard let base = batch.baseAddress, !batch.isEmpty else { return }
    var i = 0
    while i < batch.count {
      let r = batch[i]
      let segment = (written + i) / segmentSize
      if segment != lastSegment {
        checkpoints[segment % checkpoints.count] = (written + i, current)
        lastSegment = segment
      }
      willApply(r, current)
      current.apply(r)
      i += 1 + r.readyItemCount
    }
    // Only the newest `capacity` records can stay: copy those, in at most two blocks.
    let skip = max(0, batch.count - capacity)
    var position = written + skip
    var from = skip
    while from < batch.count {
      let slot = position % capacity
      let n = min(batch.count - from, capacity - slot)
      netpoll_copy_streaming(slots + slot, base + from, n * MemoryLayout<TraceRecord>.stride)
      from += n
      position += n
    }
    written += batch.count
  }

  /// Where a dump's window starts: the first event of the oldest segment still whole, and the
  /// state before it (the snapshot). Nil before the first event.
  var window: (first: Int, state: WindowState)? {
    let oldest = max(0, written - capacity)
    var segment = (oldest + segmentSize - 1) / segmentSize
    while segment <= lastSegment {
      if let c = checkpoints[segment % checkpoints.count], c.first >= oldest, c.first / segmentSize == segment
      {
        return c
      }
      segment += 1
    }
    return nil
  }

  /// The record at absolute position `position` (one still in the block).
  func record(at position: Int) -> TraceRecord { slots[position % capacity] }

  /// Calls `body` with each event from absolute position `start` (a window's first event) to
  /// the newest, with its ready items.
  func forEachEvent(from start: Int, _ body: (TraceRecord, ArraySlice<TraceRecord>) -> Void) {
    var k = start
    var items = ArraySlice<TraceRecord>()
    while k < written {
      let r = slots[k % capacity]
      let n = r.readyItemCount
      items.removeAll(keepingCapacity: true)
      for j in 0..<n { items.append(slots[(k + 1 + j) % capacity]) }
      body(r, items)
      k += 1 + n
    }
  }
}
