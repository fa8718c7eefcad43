import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Records trace events from any thread and hands them to a background ``TraceWriter``.
///
/// Recording takes one uncontended `Mutex` and copies a fixed-size ``TraceRecord`` into a
/// preallocated ring: no allocation and no system call (the thread id is cached per thread and the
/// clock is read through the vDSO). `seq` and `ts` are assigned under the same lock, so both are
/// in file order. `tools/bench` measures the cost.
///
/// When the ring is full the recorder applies backpressure (the recording thread yields until the
/// writer makes room). Events are dropped only when the writer has stopped (the file became
/// unwritable); each drop still consumes a `seq`, so the loss shows as a gap, and the total is
/// written in `trace_end.dropped`.
public final class TraceRecorder: Sendable {
  struct Ring: ~Copyable {
    // Written by recording threads under the lock, read by the writer thread under the lock.
    let slots: UnsafeMutableBufferPointer<TraceRecord>
    var head = 0  // next slot the writer reads
    var count = 0  // records waiting for the writer
    var nextSeq: UInt64 = 1  // seq 0 is trace_start, written by the writer
    var dropped: UInt64 = 0
    var writerStopped = false

    init(capacity: Int) {
      slots = .allocate(capacity: capacity)
    }
    deinit { slots.deallocate() }

    var free: Int { slots.count - count }

    mutating func append(_ r: TraceRecord) {
      slots[(head + count) & (slots.count - 1)] = r
      count += 1
    }
  }

  let ring: Mutex<Ring>
  let startNs: UInt64
  let capacity: Int

  /// Creates a recorder whose ring holds `capacity` events (rounded up to a power of two).
  /// Nothing is written until a ``TraceWriter`` drains it.
  public init(capacity: Int = 1 << 16) {
    var cap = 1024
    while cap < capacity { cap <<= 1 }
    self.capacity = cap
    ring = Mutex(Ring(capacity: cap))
    startNs = netpoll_monotonic_ns()
  }

  /// Records one event, stamping it with `seq`, `ts` and `tid`.
  @inlinable
  public func record(_ event: TraceRecord) {
    var r = event
    r.tid = netpoll_cached_tid()
    commit(&r, items: UnsafeBufferPointer(start: nil, count: 0))
  }

  /// Records an event followed by `items` in one step (an `epoll_wait` and its ready list), so no
  /// other event lands between them.
  public func record(_ event: TraceRecord, items: UnsafeBufferPointer<TraceRecord>) {
    var r = event
    r.tid = netpoll_cached_tid()
    r.e = Int64(items.count)
    commit(&r, items: items)
  }

  @usableFromInline
  func commit(_ r: inout TraceRecord, items: UnsafeBufferPointer<TraceRecord>) {
    let needed = 1 + items.count
    precondition(needed <= capacity, "TraceRecorder: a batch of \(needed) events exceeds the ring")
    while true {
      let done = ring.withLock { ring -> Bool in
        if ring.writerStopped {
          ring.nextSeq += 1
          ring.dropped += 1
          return true
        }
        guard ring.free >= needed else { return false }
        r.seq = ring.nextSeq
        r.ts = netpoll_monotonic_ns() &- startNs
        ring.nextSeq += 1
        ring.append(r)
        for var item in items {
          item.seq = r.seq
          item.kind = .readyItem
          ring.append(item)
        }
        return true
      }
      if done { return }
      sched_yield()  // backpressure: the writer is behind
    }
  }

  /// Moves up to `into.count` records out of the ring, never splitting a header from its items.
  func drain(into: UnsafeMutableBufferPointer<TraceRecord>) -> Int {
    ring.withLock { ring in
      var n = 0
      while n < ring.count && n < into.count {
        let r = ring.slots[(ring.head + n) & (ring.slots.count - 1)]
        let span = r.kind == .epollWait ? 1 + Int(r.e) : 1
        if n + span > into.count { break }
        for i in 0..<span {
          into[n + i] = ring.slots[(ring.head + n + i) & (ring.slots.count - 1)]
        }
        n += span
      }
      ring.head = (ring.head + n) & (ring.slots.count - 1)
      ring.count -= n
      return n
    }
  }

  /// Takes every record waiting in the ring (for tests and in-process consumers that do not use
  /// a ``TraceWriter``).
  package func drainAll() -> [TraceRecord] {
    var out: [TraceRecord] = []
    let batch = UnsafeMutableBufferPointer<TraceRecord>.allocate(capacity: 4096)
    defer { batch.deallocate() }
    while true {
      let n = drain(into: batch)
      if n == 0 { return out }
      out.append(contentsOf: batch[0..<n])
    }
  }

  /// Nanoseconds since the recorder started, on the trace's clock.
  public func now() -> UInt64 { netpoll_monotonic_ns() &- startNs }

  /// Stops accepting events (each later one is counted as dropped); returns the final seq and drops.
  func close(writerFailed: Bool) -> (nextSeq: UInt64, dropped: UInt64) {
    ring.withLock { ring in
      ring.writerStopped = true
      if writerFailed {
        ring.dropped += UInt64(ring.count)
        ring.count = 0
      }
      return (ring.nextSeq, ring.dropped)
    }
  }

  /// Events dropped so far.
  public var dropped: UInt64 { ring.withLock { $0.dropped } }
}
