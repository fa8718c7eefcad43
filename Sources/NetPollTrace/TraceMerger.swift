import CNetPollShims

/// The consumer side of the per-thread buffers: takes every record out of every thread's ring
/// and hands them on in `seq` order, with `ts` in nanoseconds and `tid` filled in.
///
/// Each ring holds its thread's records in increasing `seq`, so merging is a k-way merge over a
/// handful of queues. A `seq` that is taken but not yet in any ring (its thread is inside the
/// system call it stamped before making it, see ``TraceRecorder/stamp()``) holds back everything
/// after it until it arrives; the records behind it wait in the merger's own queues, not in the
/// rings, so no recording thread ever waits for another one.
struct TraceMerger: ~Copyable {
  // A class, so that taking records from one neither copies nor re-checks the uniqueness of
  // its array (the merger owns every queue; nothing else holds one).
  private final class Queue: @unchecked Sendable {  // reached only through the merger, under its lock
    let buffer: ThreadBuffer
    var records: ContiguousArray<TraceRecord> = []
    var start = 0
    init(buffer: ThreadBuffer) { self.buffer = buffer }
    var isEmpty: Bool { start == records.count }
    var front: TraceRecord { records[start] }
  }

  private var queues: [Queue] = []
  private var registered = 0
  /// The next `seq` to hand on.
  private(set) var nextSeq: UInt64 = 1
  /// `seq`s skipped by a final merge because their event never arrived.
  private(set) var gaps: UInt64 = 0
  private var lastTS: UInt64 = 0
  var clock: TraceClock
  private var batch = ContiguousArray<TraceRecord>()

  init(clock: TraceClock) {
    self.clock = clock
    batch.reserveCapacity(Self.batchSize)
  }

  static let batchSize = 8192

  /// Copies every published record out of the rings (waking owners that wait for space).
  /// Returns the number of records taken.
  mutating func collect(from recorder: TraceRecorder) -> Int {
    let buffers = recorder.buffers(after: registered)
    for b in buffers { queues.append(Queue(buffer: b)) }
    registered += buffers.count
    var taken = 0
    for i in queues.indices {
      let b = queues[i].buffer
      let t = b.tail.load(ordering: .acquiring)
      let h = b.head.load(ordering: .relaxed)
      guard t != h else { continue }
      let q = queues[i]
      if q.start > 4096 && q.start * 2 > q.records.count {
        q.records.removeFirst(q.start)
        q.start = 0
      }
      var k = h
      while k < t {
        // Copy the contiguous run up to the ring's end, then the wrapped part.
        let from = k & b.mask
        let n = min(t - k, b.capacity - from)
        q.records.append(contentsOf: UnsafeBufferPointer(start: b.slots + from, count: n))
        k += n
      }
      taken += t - h
      b.head.store(t, ordering: .releasing)
      if b.ownerWaiting.load(ordering: .sequentiallyConsistent) {
        _ = netpoll_word_add(b.space, 1)
        netpoll_futex_wake(b.space)
      }
    }
    return taken
  }

  /// Hands on records in `seq` order, in batches, until the next `seq` is missing. With
  /// `final`, a missing `seq` is counted as a gap and skipped (its thread never recorded it).
  mutating func emit(
    final: Bool, _ sink: (UnsafeBufferPointer<TraceRecord>) -> Void
  ) {
    clock.calibrate()
    var hint = 0
    while true {
      var found = -1
      if hint < queues.count, !queues[hint].isEmpty, queues[hint].front.seq == nextSeq {
        found = hint
      } else {
        for i in queues.indices where !queues[i].isEmpty && queues[i].front.seq == nextSeq {
          found = i
          break
        }
      }
      if found < 0 {
        guard final, let lowest = lowestWaitingSeq() else { break }
        if lowest > nextSeq {
          gaps &+= lowest - nextSeq
          nextSeq = lowest
        } else {
          // A seq below nextSeq: recorded twice or out of order on its thread; cannot happen
          // with one counter, so it is a broken invariant, not input to tolerate.
          preconditionFailure("TraceMerger: seq \(lowest) arrived after \(nextSeq - 1) was written")
        }
        continue
      }
      hint = found
      takeEvent(from: found, sink)
    }
    flush(sink)
  }

  private func lowestWaitingSeq() -> UInt64? {
    var lowest: UInt64? = nil
    for q in queues where !q.isEmpty {
      if lowest == nil || q.front.seq < lowest! { lowest = q.front.seq }
    }
    return lowest
  }

  /// Hands on the run of consecutive `seq`s at the front of queue `i`.
  private mutating func takeEvent(
    from i: Int, _ sink: (UnsafeBufferPointer<TraceRecord>) -> Void
  ) {
    let q = queues[i]
    let tid = q.buffer.tid
    var k = q.start
    q.records.withUnsafeBufferPointer { recs in
      while k < recs.count && recs[k].seq == nextSeq {
        let items = recs[k].kind == .epollWait ? Int(recs[k].e) : 0
        if batch.count + 1 + items > Self.batchSize { flush(sink) }
        var r = recs[k]
        var ts = clock.nanoseconds(r.ts)
        if ts < lastTS { ts = lastTS }  // see docs/trace-format.md "Order"
        lastTS = ts
        r.ts = ts
        r.tid = tid
        batch.append(r)
        for j in 0..<items {
          var item = recs[k + 1 + j]
          item.ts = ts
          item.tid = tid
          batch.append(item)
        }
        k += 1 + items
        nextSeq += 1
      }
    }
    q.start = k
  }

  private mutating func flush(_ sink: (UnsafeBufferPointer<TraceRecord>) -> Void) {
    guard !batch.isEmpty else { return }
    batch.withUnsafeBufferPointer { sink($0) }
    batch.removeAll(keepingCapacity: true)
  }

  /// The `ts` of the last event handed on.
  var lastTimestamp: UInt64 { lastTS }
}
