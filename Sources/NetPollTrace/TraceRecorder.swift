import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Records trace events from any thread and hands them to a background ``TraceWriter``.
///
/// Each thread records into a ring of its own (``ThreadBuffer``): a fixed-size ``TraceRecord``
/// is copied into it, with no lock, no allocation and no system call. The only shared write is
/// one atomic increment that takes the event's `seq`, which totally orders the file; the clock
/// is the CPU's timestamp counter (``TraceClock``). The writer merges the rings by `seq`.
/// `tools/bench` (netpoll-bench recorder) measures the cost with one and two recording threads.
///
/// Causal order (docs/trace-format.md, "Order"): an event that observes the kernel is recorded
/// when its call returns (``record(_:)``); one that registers, deregisters or retires an fd
/// takes its `seq` before the call with ``stamp()`` and is recorded after it with
/// ``record(_:at:)``, so a readiness report can never come before the registration it reports.
///
/// When a thread's ring is full the thread waits for the writer (backpressure; see
/// ``ThreadBuffer``). Events are dropped only once recording has stopped (``TraceWriter/finish()``,
/// or a write failure); each such event is counted in `trace_end.dropped`.
public final class TraceRecorder: @unchecked Sendable {  // every stored property is a let of a Sendable or synchronised type; see each comment
  private static let ids = Atomic<UInt64>(0)

  /// Distinguishes recorders in each thread's one-slot buffer cache.
  let id: UInt64
  /// Records per thread ring (a power of two).
  public let capacity: Int
  let clock: TraceClock
  // The one shared counter, alone on its cache line.
  private let counter = SequenceCounter()
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
  public init(capacity: Int = 1 << 13) {
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

  /// Records one event, stamping it with `seq`, `ts` and `tid` now.
  public func record(_ event: TraceRecord) {
    guard !closed.load(ordering: .relaxed) else { return dropAfterClose() }
    // The ring is reached through the thread's cache without retaining it (the registry keeps it
    // alive as long as the recorder; a retain/release pair cost two atomic operations per
    // event), and the event is copied once, straight into its slot.
    let wake = threadBuffer()._withUnsafeGuaranteedRef { b in
      b.reserve(1, recorder: self)
      let slot = b.slot(0)
      slot.initialize(to: event)
      slot.pointee.seq = counter.next()
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
      let seq = counter.next()
      let header = b.slot(0)
      header.initialize(to: event)
      header.pointee.seq = seq
      header.pointee.ts = clock.ticks()
      header.pointee.e = Int64(items.count)
      for (i, item) in items.enumerated() {
        let s = b.slot(1 + i)
        s.initialize(to: item)
        s.pointee.seq = seq
        s.pointee.kind = .readyItem
      }
      return b.publish(1 + items.count)
    }
    if wake { wakeWriter() }
  }

  /// A `seq` and time taken before a system call whose event is recorded after it (see the
  /// type's comment). Record it with ``record(_:at:)`` before recording anything else on this
  /// thread: each thread's ring must stay in `seq` order.
  public func stamp() -> TraceStamp {
    guard !closed.load(ordering: .relaxed) else { return TraceStamp(seq: 0, ticks: 0) }
    let seq = counter.next()
    return TraceStamp(seq: seq, ticks: clock.ticks())
  }

  /// Records `event` with the `seq` and time of `stamp`.
  public func record(_ event: TraceRecord, at stamp: TraceStamp) {
    guard stamp.seq != 0 else { return dropAfterClose() }
    let wake = threadBuffer()._withUnsafeGuaranteedRef { b in
      b.reserve(1, recorder: self)
      let slot = b.slot(0)
      slot.initialize(to: event)
      slot.pointee.seq = stamp.seq
      slot.pointee.ts = stamp.ticks
      return b.publish(1)
    }
    if wake { wakeWriter() }
  }

  // A dropped event still takes a seq, so the loss shows as a gap before `trace_end`.
  private func dropAfterClose() {
    _ = counter.next()
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

  /// Takes every record waiting in the rings, in `seq` order (for tests and in-process consumers
  /// that do not use a ``TraceWriter``). Records whose `seq` is not yet complete stay behind.
  package func drainAll() -> [TraceRecord] {
    merger.withLock { m in
      var out: [TraceRecord] = []
      _ = m.collect(from: self)
      m.emit(final: false) { out.append(contentsOf: $0) }
      return out
    }
  }

  /// Nanoseconds since the recorder started, on the trace's clock.
  public func now() -> UInt64 { netpoll_monotonic_ns() &- clock.ns0 }

  /// Stops accepting events: every later one is counted as dropped.
  func close() { closed.store(true, ordering: .sequentiallyConsistent) }

  /// Events dropped because they were recorded after recording stopped.
  var droppedAfterStop: UInt64 { droppedAfterClose.load(ordering: .relaxed) }

  /// The next `seq` the counter would hand out.
  var nextSeq: UInt64 { counter.peek() }

  /// Events dropped so far (after recording stopped, or lost to a failed write: see
  /// ``TraceWriter``).
  public var dropped: UInt64 { droppedAfterStop &+ lostToFailure.load(ordering: .relaxed) }

  /// Events the writer discarded after a write failed.
  let lostToFailure = Atomic<UInt64>(0)
}

/// A `seq` and clock reading taken before a system call (``TraceRecorder/stamp()``).
public struct TraceStamp: Sendable {
  let seq: UInt64
  let ticks: UInt64
}

/// The recorder's `seq` counter, padded so that no other field shares its cache line: it is
/// the one line every recording thread writes.
private final class SequenceCounter: Sendable {
  private let padBefore: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
  private let value = Atomic<UInt64>(1)  // seq 0 is trace_start, written by the writer
  private let padAfter: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (
    0, 0, 0, 0, 0, 0, 0
  )

  @inline(__always)
  func next() -> UInt64 { value.add(1, ordering: .relaxed).oldValue }
  func peek() -> UInt64 { value.load(ordering: .relaxed) }
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
