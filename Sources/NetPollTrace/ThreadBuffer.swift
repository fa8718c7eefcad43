import CNetPollShims
import Synchronization

/// One thread's trace buffer: a single-producer, single-consumer ring of fixed-size records.
///
/// The owning thread is the only producer; whoever holds the recorder's merger (the writer
/// thread, or a test calling `drainAll`) is the only consumer. The producer touches no line the
/// consumer writes on the way in, except to reload `head` when its cached copy says the ring is
/// full, so recording costs no contended cache line. The padding keeps the producer's fields,
/// the consumer's fields and neighbouring heap objects (another thread's ring) on separate
/// cache lines.
final class ThreadBuffer: @unchecked Sendable {
  // `slots` is written by the owner before it publishes `tail` (release) and read by the
  // consumer after it loads `tail` (acquire); the consumer returns slots by publishing `head`.
  let slots: UnsafeMutablePointer<TraceRecord>
  let capacity: Int
  let mask: Int
  /// OS thread id of the owner, written into each record by the consumer.
  let tid: Int32
  /// Every `fillMark` records the owner checks whether the consumer is far behind and, if so,
  /// wakes it (at most a quarter of the ring is ever waiting for the writer's 2 ms timer).
  let fillMark: Int
  private let fillShift: Int
  /// The owner waits on this futex word while the ring is full; the consumer bumps it after
  /// taking records when `ownerWaiting` is set.
  let space: UnsafeMutablePointer<UInt32>

  private let pad0: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
  // Owner thread only.
  private var producerTail = 0
  private var cachedHead = 0
  /// Records published by the owner (monotonic count, not an index).
  let tail = Atomic<Int>(0)
  private let pad1: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
  /// Records taken by the consumer.
  let head = Atomic<Int>(0)
  let ownerWaiting = Atomic<Bool>(false)
  /// The time of a stamped system call in flight on the owner (0: none): the merger emits
  /// nothing later than it until the call's record arrives (``TraceRecorder/stamp()``). On the
  /// consumer's line: the owner writes it twice per stamped call, the consumer reads it once per
  /// drain.
  let pending = Atomic<UInt64>(0)
  private let pad2: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

  init(capacity: Int, tid: Int32) {
    self.capacity = capacity
    mask = capacity - 1
    fillMark = max(capacity / 4, 1)
    fillShift = fillMark.trailingZeroBitCount
    self.tid = tid
    slots = .allocate(capacity: capacity)
    // Not touched here: a thread that records once (a close from a deinit on a pool thread)
    // then costs a page, not the whole ring (touching every ring up front cost a fresh-clone CI run
    // 1.3 MB of RSS at once in the flight-recorder soak).
    space = .allocate(capacity: 1)
    space.initialize(to: 0)
  }

  deinit {
    slots.deallocate()
    space.deallocate()
  }

  /// The next `count` free slots (owner thread only), waiting for the consumer if the ring is
  /// full. They may wrap: slot `i` is `slot(i)`. Fill them, then ``publish(_:recorder:)``.
  @inline(__always)
  func reserve(_ count: Int, recorder: TraceRecorder) {
    if capacity - (producerTail - cachedHead) < count {
      waitForSpace(count, recorder: recorder)
    }
  }

  /// The `i`th reserved slot.
  @inline(__always)
  func slot(_ i: Int) -> UnsafeMutablePointer<TraceRecord> { slots + ((producerTail + i) & mask) }

  /// Publishes `count` filled slots to the consumer. Returns true when the owner should wake
  /// the writer (the ring passed a fill mark and the writer is that far behind).
  @inline(__always)
  func publish(_ count: Int) -> Bool {
    let t = producerTail + count
    let crossed = (producerTail >> fillShift) != (t >> fillShift)
    producerTail = t
    tail.store(t, ordering: .releasing)
    guard crossed else { return false }
    return t - head.load(ordering: .relaxed) >= fillMark
  }

  /// The end of the longest run of whole events from `head` to `tail` that is at most `limit`
  /// records long (an `epoll_wait` header and its ready items are published, and must be taken,
  /// together). Consumer side.
  func wholeEvents(from head: Int, to tail: Int, atMost limit: Int) -> Int {
    guard tail - head > limit else { return tail }
    var k = head
    while k < tail {
      let r = slots[k & mask]
      let n = 1 + r.readyItemCount
      if k + n - head > limit { break }
      k += n
    }
    return k
  }

  /// The slow path of a full ring: wake the writer and sleep on `space` until it has taken
  /// records. No spinning: the wait is a futex sleep, and the writer never needs a lock the
  /// owner might hold. It takes records as soon as its queue for this ring has room, which at
  /// worst waits for an older stamped system call on another thread to return (see
  /// ``TraceMerger``), never for a runtime lock, so the wait ends even if the owner holds one.
  private func waitForSpace(_ needed: Int, recorder: TraceRecorder) {
    cachedHead = head.load(ordering: .acquiring)
    while capacity - (producerTail - cachedHead) < needed {
      let seen = netpoll_word_load(space)
      ownerWaiting.store(true, ordering: .sequentiallyConsistent)
      cachedHead = head.load(ordering: .acquiring)
      if capacity - (producerTail - cachedHead) >= needed { break }
      recorder.wakeWriter()
      netpoll_futex_wait(space, seen, 1_000_000)
      cachedHead = head.load(ordering: .acquiring)
    }
    ownerWaiting.store(false, ordering: .relaxed)
  }
}
