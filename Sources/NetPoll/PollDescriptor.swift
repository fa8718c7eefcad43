import NetPollTrace
import Synchronization

/// Per-fd wait state, after Go's `pollDesc`: one semaphore per direction and the flags that say
/// why a waiter must not (or no longer) wait.
///
/// Each semaphore (`rg`, `wg`) holds one of:
/// - ``Semaphore/empty`` (Go's nil): nobody waits, no readiness pending;
/// - ``Semaphore/ready`` (pdReady): readiness arrived with nobody waiting: *latched*; the next task
///   that would park consumes it and retries its call instead;
/// - ``Semaphore/waiting`` (pdWait): a task has committed to park and is installing its waiter;
/// - any other value: a retained ``Waiter`` (the parked task's continuation).
///
/// Transitions are compare-and-swap only; whoever swaps a waiter out of the semaphore owns its
/// continuation and resumes it exactly once.
final class PollDescriptor: Sendable {
  enum Semaphore {
    static let empty: UInt = 0
    static let ready: UInt = 1
    static let waiting: UInt = 2
  }

  /// The fd, set when the descriptor is taken from the cache. Read by any thread afterwards.
  let fd: Atomic<Int32>
  /// The registration's sequence tag, fresh on every reuse (see ``PollToken``).
  let tag: Atomic<UInt32>
  /// Set once by close; a waiter never parks on a closing descriptor (Go's `pd.closing`).
  let closing = Atomic<Bool>(false)
  /// Set (sticky until reuse) by the first readiness that reports a hang-up or error: from then
  /// on a short read no longer proves that nothing is left to report (``PollFD``).
  let hangup = Atomic<Bool>(false)
  let rg = Atomic<UInt>(Semaphore.empty)
  let wg = Atomic<UInt>(Semaphore.empty)
  /// Deadline state, written by `setDeadline` and the timer, under this lock.
  let deadlines = Mutex(Deadlines())
  /// True while the read/write deadline has passed (Go's `rd < 0`); cleared by a new deadline.
  let readExpired = Atomic<Bool>(false)
  let writeExpired = Atomic<Bool>(false)

  /// One direction's deadline (Go's `rd`/`wd` with their timer).
  struct Deadline {
    /// CLOCK_MONOTONIC ns it falls due, 0 for none.
    var when: UInt64 = 0
    /// Bumped when the descriptor is reused, so a timer armed for the previous fd does nothing
    /// (Go's `rseq`/`wseq`).
    var generation: UInt64 = 0
    /// The `when` of the timer entry armed for this generation, 0 when none is: a later deadline
    /// reuses that entry (re-armed lazily when it fires), so pending entries stay at about one per
    /// descriptor and direction however often the deadline moves.
    var armed: UInt64 = 0
  }

  struct Deadlines {
    var read = Deadline()
    var write = Deadline()

    subscript(mode: IOMode) -> Deadline {
      get { mode == .read ? read : write }
      set {
        if mode == .read { read = newValue } else { write = newValue }
      }
    }
  }

  init(fd: Int32, tag: UInt32) {
    self.fd = Atomic(fd)
    self.tag = Atomic(tag)
  }

  var token: PollToken {
    PollToken(fd: fd.load(ordering: .relaxed), tag: tag.load(ordering: .acquiring))
  }

  // Atomics cannot be passed around, so the per-mode accessors switch on the mode.
  func load(_ mode: IOMode) -> UInt {
    mode == .read ? rg.load(ordering: .sequentiallyConsistent) : wg.load(ordering: .sequentiallyConsistent)
  }

  func compareExchange(_ mode: IOMode, expected: UInt, desired: UInt) -> Bool {
    mode == .read
      ? rg.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent).exchanged
      : wg.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent).exchanged
  }

  @discardableResult
  func exchange(_ mode: IOMode, _ value: UInt) -> UInt {
    mode == .read
      ? rg.exchange(value, ordering: .sequentiallyConsistent)
      : wg.exchange(value, ordering: .sequentiallyConsistent)
  }

  func expired(_ mode: IOMode) -> Bool {
    mode == .read
      ? readExpired.load(ordering: .sequentiallyConsistent)
      : writeExpired.load(ordering: .sequentiallyConsistent)
  }

  func setExpired(_ mode: IOMode, _ value: Bool) {
    if mode == .read {
      readExpired.store(value, ordering: .sequentiallyConsistent)
    } else {
      writeExpired.store(value, ordering: .sequentiallyConsistent)
    }
  }

  /// Why a task may not wait in `mode`, if it may not (Go's `netpollcheckerr`).
  func blockingReason(_ mode: IOMode) -> TraceWakeReason? {
    if closing.load(ordering: .acquiring) { return .close }
    if expired(mode) { return .deadline }
    return nil
  }

  /// Marks `mode` ready or interrupts its waiter (Go's `netpollunblock`).
  ///
  /// With `ioReady`, the semaphore becomes ``Semaphore/ready`` (latched when nobody waits); without
  /// it (deadline, close), a waiter is taken but nothing is latched. Returns the waiter to resume.
  func unblock(_ mode: IOMode, ioReady: Bool) -> Waiter? {
    while true {
      let old = load(mode)
      if old == Semaphore.ready { return nil }
      if old == Semaphore.empty && !ioReady { return nil }
      let new = ioReady ? Semaphore.ready : Semaphore.empty
      if compareExchange(mode, expected: old, desired: new) {
        if old == Semaphore.empty || old == Semaphore.waiting { return nil }
        return Waiter.take(old)
      }
    }
  }

  /// Resets the descriptor for a new fd taken from the cache.
  func reset(fd newFD: Int32, tag newTag: UInt32) {
    precondition(
      rg.load(ordering: .acquiring) <= Semaphore.ready && wg.load(ordering: .acquiring) <= Semaphore.ready,
      "NetPollRuntime: poll descriptor for fd \(newFD) reused while a task waits on it")
    fd.store(newFD, ordering: .relaxed)
    rg.store(Semaphore.empty, ordering: .relaxed)
    wg.store(Semaphore.empty, ordering: .relaxed)
    closing.store(false, ordering: .relaxed)
    hangup.store(false, ordering: .relaxed)
    readExpired.store(false, ordering: .relaxed)
    writeExpired.store(false, ordering: .relaxed)
    deadlines.withLock { d in
      d.read = Deadline(generation: d.read.generation &+ 1)
      d.write = Deadline(generation: d.write.generation &+ 1)
    }
    tag.store(newTag, ordering: .releasing)
  }
}

/// Which direction a task waits for.
public enum IOMode: Sendable {
  case read
  case write

  var trace: TraceMode { self == .read ? .read : .write }
}

/// A parked task: its continuation and what the trace says about it.
///
/// A waiter is published into a semaphore as a retained pointer; ``take(_:)`` turns the pointer
/// back into the owning reference. Only one party can swap it out, so it is resumed once.
// @unchecked Sendable: `continuation` is written before publication, read by its one owner after.
final class Waiter: @unchecked Sendable {
  var continuation: UnsafeContinuation<TraceWakeReason, Never>?
  let task: Int64

  init(task: Int64) { self.task = task }

  /// Publishes the waiter: a bit pattern for the semaphore, holding one retain.
  func retainedBits() -> UInt {
    UInt(bitPattern: Unmanaged.passRetained(self).toOpaque())
  }

  static func take(_ bits: UInt) -> Waiter {
    Unmanaged<Waiter>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeRetainedValue()
  }
}
