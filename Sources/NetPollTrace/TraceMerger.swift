import CNetPollShims

/// The consumer side of the per-thread rings: takes every record out of every thread's ring and
/// hands them on in time order, numbered (`seq`), with `ts` in nanoseconds and `tid` filled in.
///
/// Each ring holds its thread's records in time order, so merging is a k-way merge over a
/// handful of queues. What may still arrive is bounded by the rings' `pending` stamps (a
/// registering call in flight, see ``TraceRecorder/stamp()``): a drain reads the rings, then
/// the stamps, then the rings again, and emits only what is older than the oldest stamp. The
/// second read catches a record published between the first read and the stamps' read (its
/// stamp already withdrawn), so a stamped record is either collected or holds the horizon.
///
/// A record stamped on return that arrives after later ones were emitted (its thread was
/// preempted between the clock read and the publication) is emitted with its predecessor's
/// `ts`: nothing another thread did can depend on it before it was published, so the order
/// stays causal. The records held back wait in the merger's own queues, up to two rings' worth
/// per thread; past that they stay in the ring, and its owner waits for space until the stamped
/// call returns. A stamped call is one system call (`epoll_ctl`, `close`) with no lock of ours
/// held across it, so that wait always ends, and the merger's memory is fixed however long the
/// call takes (a preempted thread holds the horizon for a whole time slice).
struct TraceMerger: ~Copyable {
  // A class, so that taking records from one neither copies nor re-checks the uniqueness of its
  // array (the merger owns every queue; nothing else holds one).
  private final class Queue: @unchecked Sendable {  // reached only through the merger, under its lock
    let buffer: ThreadBuffer
    var records: ContiguousArray<TraceRecord> = []
    var start = 0
    /// The most records the queue ever holds: two passes of a full ring, what one drain can
    /// take from it. Reserved once and never exceeded, so the queue never reallocates: malloc
    /// maps a block this large lazily, pages a quiet thread never needs are never resident, and
    /// a stamp that holds the horizon back for long stops the ring's owner (backpressure), not
    /// the process's memory.
    let limit: Int
    init(buffer: ThreadBuffer) {
      self.buffer = buffer
      limit = 2 * buffer.capacity
      records.reserveCapacity(limit)
    }
    var isEmpty: Bool { start == records.count }
    var frontTicks: UInt64 { records[start].ts }
  }

  private var queues: [Queue] = []
  private var registered = 0
  /// The next `seq` to hand on.
  private(set) var nextSeq: UInt64 = 1
  private var lastTS: UInt64 = 0
  var clock: TraceClock
  private var batch = ContiguousArray<TraceRecord>()

  init(clock: TraceClock) {
    self.clock = clock
    batch.reserveCapacity(Self.batchSize)
  }

  static let batchSize = 8192

  /// One drain cycle: collects, reads the stamps in flight, collects again, and hands on every
  /// record older than both the oldest stamp and the oldest record the second collection found
  /// (with `final`, every record). Returns the records taken.
  ///
  /// Why the second bound: a record collected now may have a cause (a `park` before its `wake`)
  /// that was published before it but whose ring this pass read earlier, so it shows up only in
  /// the next pass. Everything the second pass found waits for the next cycle, whose first pass
  /// has by then read every ring after it was published.
  @discardableResult
  mutating func drain(
    from recorder: TraceRecorder, final: Bool, _ sink: (UnsafeBufferPointer<TraceRecord>) -> Void
  ) -> Int {
    if final {
      // Nothing is held back, but a queue takes at most its limit per pass: repeat until the
      // rings are empty (recording has stopped, so they stay empty).
      var taken = 0
      while true {
        let n = collect(from: recorder).count
        emit(before: .max, sink)
        if n == 0 { return taken }
        taken += n
      }
    }
    var taken = collect(from: recorder).count
    var horizon = UInt64.max
    for q in queues {
      let p = q.buffer.pending.load(ordering: .acquiring)
      if p != 0 && p < horizon { horizon = p }
    }
    let second = collect(from: recorder)
    taken += second.count
    horizon = min(horizon, second.oldest)
    emit(before: horizon, sink)
    return taken
  }

  /// True when some ring announces a stamped call in flight.
  func hasPending() -> Bool {
    queues.contains { $0.buffer.pending.load(ordering: .acquiring) != 0 }
  }

  /// Copies published records out of the rings (waking owners that wait for space), as many
  /// whole events as each queue has room for. Returns the number of records taken and the
  /// oldest stamp among the rings' new records, taken or not: a record left in its ring bounds
  /// the horizon just as one taken in the second pass does.
  private mutating func collect(from recorder: TraceRecorder) -> (count: Int, oldest: UInt64) {
    let buffers = recorder.buffers(after: registered)
    for b in buffers { queues.append(Queue(buffer: b)) }
    registered += buffers.count
    var taken = 0
    var oldest = UInt64.max
    for q in queues {
      let b = q.buffer
      let t = b.tail.load(ordering: .acquiring)
      let h = b.head.load(ordering: .relaxed)
      guard t != h else { continue }
      // A ring holds its thread's records in stamp order: its first new one is its oldest.
      oldest = min(oldest, b.slots[h & b.mask].ts)
      if q.isEmpty {
        // Everything taken was handed on: start again at the front.
        q.records.removeAll(keepingCapacity: true)
        q.start = 0
      } else if q.start > 0 && q.records.count + (t - h) > q.limit {
        // In place: the array is the queue's alone, so its buffer stays.
        q.records.removeFirst(q.start)
        q.start = 0
      }
      let end = b.wholeEvents(from: h, to: t, atMost: q.limit - q.records.count)
      var k = h
      while k < end {
        // Copy the contiguous run up to the ring's end, then the wrapped part.
        let from = k & b.mask
        let n = min(end - k, b.capacity - from)
        q.records.append(contentsOf: UnsafeBufferPointer(start: b.slots + from, count: n))
        k += n
      }
      guard end != h else { continue }
      taken += end - h
      b.head.store(end, ordering: .releasing)
      if b.ownerWaiting.load(ordering: .sequentiallyConsistent) {
        _ = netpoll_word_add(b.space, 1)
        netpoll_futex_wake(b.space)
      }
    }
    return (taken, oldest)
  }

  /// Hands on, in time order and in batches, every collected record older than `horizon`.
  private mutating func emit(before horizon: UInt64, _ sink: (UnsafeBufferPointer<TraceRecord>) -> Void) {
    clock.calibrate()
    while true {
      // The queue with the oldest front, and the next oldest front among the others: the
      // first queue's run goes out up to that time (runs are long: a thread records bursts).
      var best = -1
      var bestTicks = UInt64.max
      var second = UInt64.max
      for (i, q) in queues.enumerated() where !q.isEmpty {
        let t = q.frontTicks
        if t < bestTicks {
          second = bestTicks
          bestTicks = t
          best = i
        } else if t < second {
          second = t
        }
      }
      guard best >= 0, bestTicks < horizon else { break }
      takeRun(from: queues[best], until: min(second, horizon), sink)
    }
    flush(sink)
  }

  /// Hands on the records at the front of `q` older than `limit` (at least the first one).
  private mutating func takeRun(
    from q: Queue, until limit: UInt64, _ sink: (UnsafeBufferPointer<TraceRecord>) -> Void
  ) {
    let tid = q.buffer.tid
    var k = q.start
    q.records.withUnsafeBufferPointer { recs in
      repeat {
        let items = recs[k].readyItemCount
        if batch.count + 1 + items > Self.batchSize { flush(sink) }
        var r = recs[k]
        var ts = clock.nanoseconds(r.ts)
        if ts < lastTS { ts = lastTS }  // see the type's comment and docs/trace-format.md "Order"
        lastTS = ts
        r.ts = ts
        r.tid = tid
        r.seq = nextSeq
        batch.append(r)
        for j in 0..<items {
          var item = recs[k + 1 + j]
          item.ts = ts
          item.tid = tid
          item.seq = nextSeq
          batch.append(item)
        }
        k += 1 + items
        nextSeq += 1
      } while k < recs.count && recs[k].ts < limit
    }
    q.start = k
  }

  private mutating func flush(_ sink: (UnsafeBufferPointer<TraceRecord>) -> Void) {
    guard !batch.isEmpty else { return }
    batch.withUnsafeBufferPointer { sink($0) }
    batch.removeAll(keepingCapacity: true)
  }

  /// Records the queues have room for (their reservations): what the merger holds, however long
  /// a stamp holds the horizon back.
  package var reservedRecords: Int { queues.reduce(0) { $0 + $1.records.capacity } }

  /// The `ts` of the last event handed on.
  var lastTimestamp: UInt64 { lastTS }
}
