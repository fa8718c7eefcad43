import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Records trace events from any thread and hands them to a background ``TraceWriter``.
///
/// Each thread records into a ring of its own (``ThreadBuffer``): a fixed-size ``TraceRecord`` is
/// copied into it with its time, read from the CPU's timestamp counter (``TraceClock``). There is
/// no lock, no allocation, no system call and no cache line that another recording thread
/// writes. The consumer (``TraceMerger``) merges the rings by time and numbers the events: that
/// is `seq`. `tools/bench` (`netpoll-bench recorder`) measures the cost with one and with two
/// threads recording at once.
///
/// Causal order (docs/trace-format.md, "Order"): an event that observes the kernel is stamped
/// when its call returns (``record(_:)``); one that registers, deregisters or retires an fd is
/// stamped before the call (``stamp()``), recorded after it (``record(_:at:)``), and announces
/// its stamp to the merger while the call runs, so the merger holds back every later event until
/// it arrives. A readiness report therefore never comes before the registration it reports.
///
/// When a thread's ring is full the thread waits for the writer (backpressure; see
/// ``ThreadBuffer``). Events are dropped only once recording has stopped (``TraceWriter/finish()``,
/// or a write failure); each is counted in `trace_end.dropped`.
// @unchecked: every stored property is a let of a Sendable or synchronised type.
public final class TraceRecorder: @unchecked Sendable {
  private static let ids = Atomic<UInt64>(0)

  /// Distinguishes recorders in each thread's one-slot buffer cache.
  let id: UInt64
  /// Records per thread ring (a power of two).
  public let capacity: Int
  let clock: TraceClock
  private let closed = Atomic<Bool>(false)
  private let droppedAfterClose = Atomic<UInt64>(0)
  // Registration of thread buffers: taken once per thread, never on the per-event path.
  private let registry = Mutex<[ThreadBuffer]>([])
  private let registeredCount = Atomic<Int>(0)
  // The consumer state: the writer thread holds it for a drain cycle, tests for `drainAll`.
  let merger: Mutex<TraceMerger>
  // The writer's futex word and whether it sleeps on it.
  let writerWord: UnsafeMutablePointer<UInt32>
  let writerSleeping = Atomic<Bool>(false)

  /// Creates a recorder whose per-thread rings hold `capacity` events each (rounded up to a
  /// power of two, at least 1,024). Nothing is written until a ``TraceWriter`` drains it.
  public init(capacity: Int = 1 << 12) {
    var cap = 1024
    while cap < capacity { cap <<= 1 }
    self.capacity = cap
    id = Self.ids.add(1, ordering: .relaxed).newValue
    clock = TraceClock()
    merger = Mutex(TraceMerger(clock: clock))
    writerWord = .allocate(capacity: 1)
    writerWord.initialize(to: 0)
  }

  deinit { writerWord.deallocate() }

  /// Records one event, stamped now.
  public func record(_ event: TraceRecord) {
    guard !closed.load(ordering: .relaxed) else { return dropAfterClose() }
    // The ring is reached through the thread's cache without retaining it (the registry keeps it
    // alive as long as the recorder; a retain/release pair cost two atomic operations per
    // event), and the event is copied once, straight into its slot.
    let wake = threadBuffer()._withUnsafeGuaranteedRef { b in
      b.reserve(1, recorder: self)
      let slot = b.slot(0)
      slot.initialize(to: event)
      slot.pointee.ts = clock.ticks()
      return b.publish(1)
    }
    if wake { wakeWriter() }
  }

  /// Records an event followed by `items` in one step (an `epoll_wait` and its ready list), so no
  /// other event lands between them. `event.e` is set to the number of items.
  public func record(_ event: TraceRecord, items: UnsafeBufferPointer<TraceRecord>) {
    precondition(items.count < capacity, "TraceRecorder: \(items.count) items exceed a ring")
    guard !closed.load(ordering: .relaxed) else { return dropAfterClose() }
    let wake = threadBuffer()._withUnsafeGuaranteedRef { b in
      b.reserve(1 + items.count, recorder: self)
      let ts = clock.ticks()
      let header = b.slot(0)
      header.initialize(to: event)
      header.pointee.ts = ts
      header.pointee.e = Int64(items.count)
      for (i, item) in items.enumerated() {
        let s = b.slot(1 + i)
        s.initialize(to: item)
        s.pointee.ts = ts
        s.pointee.kind = .readyItem
      }
      return b.publish(1 + items.count)
    }
    if wake { wakeWriter() }
  }

  /// Stamps an event before the system call it records (see the type's comment) and announces
  /// the stamp to the merger until ``record(_:at:)`` records it. Call nothing else that records
  /// on this thread in between.
  public func stamp() -> TraceStamp {
    guard !closed.load(ordering: .relaxed) else { return TraceStamp(ticks: 0) }
    let ticks = clock.ticks()
    // Published before the call enters the kernel: the kernel takes a lock (a full barrier)
    // before the call has any effect another thread could observe, so the merger sees this stamp
    // before it can see any event caused by the call.
    threadBuffer()._withUnsafeGuaranteedRef { $0.pending.store(ticks, ordering: .releasing) }
    return TraceStamp(ticks: ticks)
  }

  /// Records `event` with the time of `stamp`, and withdraws the stamp's announcement.
  public func record(_ event: TraceRecord, at stamp: TraceStamp) {
    guard stamp.ticks != 0 else { return dropAfterClose() }
    let wake = threadBuffer()._withUnsafeGuaranteedRef { b in
      b.reserve(1, recorder: self)
      let slot = b.slot(0)
      slot.initialize(to: event)
      slot.pointee.ts = stamp.ticks
      let wake = b.publish(1)
      // After the record is published: the merger must never see neither.
      b.pending.store(0, ordering: .releasing)
      return wake
    }
    if wake { wakeWriter() }
  }

  private func dropAfterClose() {
    droppedAfterClose.add(1, ordering: .relaxed)
  }

  /// The calling thread's ring, created and registered on its first event.
  @inline(__always)
  private func threadBuffer() -> Unmanaged<ThreadBuffer> {
    if let p = netpoll_trace_thread_buffer(id) { return Unmanaged.fromOpaque(p) }
    return Unmanaged.passUnretained(registerThread())
  }

  private func registerThread() -> ThreadBuffer {
    let tid = netpoll_cached_tid()
    let buffer = registry.withLock { list -> ThreadBuffer in
      // A thread that went back and forth between recorders finds its own ring again.
      if let mine = list.first(where: { $0.tid == tid }) { return mine }
      let b = ThreadBuffer(capacity: capacity, tid: tid)
      list.append(b)
      registeredCount.store(list.count, ordering: .releasing)
      return b
    }
    // The registry keeps the buffer alive as long as the recorder, so the cache holds it
    // unretained; the cache is keyed by the recorder's id, never reused.
    netpoll_trace_set_thread_buffer(id, Unmanaged.passUnretained(buffer).toOpaque())
    return buffer
  }

  /// Buffers registered after the first `known` ones (consumer side).
  func buffers(after known: Int) -> [ThreadBuffer] {
    guard registeredCount.load(ordering: .acquiring) > known else { return [] }
    return registry.withLock { Array($0[known...]) }
  }

  /// Wakes the writer if it sleeps between drains.
  func wakeWriter() {
    guard writerSleeping.load(ordering: .relaxed) else { return }
    _ = netpoll_word_add(writerWord, 1)
    netpoll_futex_wake(writerWord)
  }

  /// Takes every record waiting in the rings, in order (for tests and in-process consumers that
  /// do not use a ``TraceWriter``). Records a stamped call in flight holds back stay behind.
  package func drainAll() -> [TraceRecord] {
    merger.withLock { m in
      var out: [TraceRecord] = []
      m.drain(from: self, final: false) { out.append(contentsOf: $0) }
      return out
    }
  }

  /// Records the merger's queues have room for: its memory besides the rings (for tests).
  package var mergerReservedRecords: Int { merger.withLock { $0.reservedRecords } }

  /// Nanoseconds since the recorder started, on the trace's clock.
  public func now() -> UInt64 { netpoll_monotonic_ns() &- clock.ns0 }

  /// Stops accepting events: every later one is counted as dropped.
  func close() { closed.store(true, ordering: .sequentiallyConsistent) }

  /// Events dropped because they were recorded after recording stopped.
  var droppedAfterStop: UInt64 { droppedAfterClose.load(ordering: .relaxed) }

  /// Events dropped so far (after recording stopped, or lost to a failed write: see
  /// ``TraceWriter``).
  public var dropped: UInt64 { droppedAfterStop &+ lostToFailure.load(ordering: .relaxed) }

  /// Events the writer discarded after a write failed.
  let lostToFailure = Atomic<UInt64>(0)
}

/// The time taken before a system call whose event is recorded after it
/// (``TraceRecorder/stamp()``).
public struct TraceStamp: Sendable {
  let ticks: UInt64
}

extension TraceRecorder {
  /// The writer's sleep between drains: up to 2 ms, or until a recording thread passes its
  /// ring's fill mark (``wakeWriter()``).
  func writerSleep() {
    let seen = netpoll_word_load(writerWord)
    writerSleeping.store(true, ordering: .sequentiallyConsistent)
    netpoll_futex_wait(writerWord, seen, 2_000_000)
    writerSleeping.store(false, ordering: .relaxed)
  }
}
