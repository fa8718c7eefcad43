import CNetPollShims
import NetPollTrace

extension TraceWakeReason {
  var error: NetPollError? {
    switch self {
    case .ready: nil
    case .close: .closed
    case .deadline: .deadlineExceeded
    case .cancel: .cancelled
    }
  }
}

extension NetPollRuntime {
  /// Waits until `pd` is ready in `mode`, after Go's `poll_runtime_pollWait` and `netpollblock`.
  ///
  /// Returns at once when a readiness was latched (no park is recorded), otherwise parks the task
  /// until the poller, a deadline, a close or a cancellation wakes it. Returns normally only for
  /// readiness: the caller retries its system call.
  func wait(_ pd: PollDescriptor, _ mode: IOMode) async throws(NetPollError) {
    guard try commitToWait(pd, mode, consumingLatch: true) else { return }
    let reason = await park(pd, mode, makeWaiter())
    // As Go does on return from gopark, the readiness that woke us is consumed — but only a
    // `ready` latch: Go's fdMutex guarantees no other reader exists by now, ours does not (a
    // cancelled reader's successor may already be parked here), so a waiter is left alone.
    if reason == .ready {
      _ = pd.compareExchange(
        mode, expected: PollDescriptor.Semaphore.ready, desired: PollDescriptor.Semaphore.empty)
    }
    if let error = reason.error { throw error }
  }

  /// The park protocol, the one copy of it (Go's `gopark` with `netpollblockcommit`): after
  /// ``commitToWait(_:_:consumingLatch:)`` moved the semaphore to `waiting`, records `park`,
  /// publishes `waiter` in the semaphore by CAS and suspends until whoever swaps it out resumes it
  /// with a reason (the poller: ready; ``evict(_:)``: close; a deadline; cancellation).
  ///
  /// - `published` runs once the waiter is in the semaphore, still inside the continuation's
  ///   closure: completion mode submits its operation there, so nothing can complete before a
  ///   waiter exists to resume.
  /// - `refused` runs when the CAS fails (a readiness, close or deadline came between the commit
  ///   and the publication): the waiter is resumed at once, with that reason, after it.
  /// - Cancellation takes the waiter back by CAS (in the handler, or here if the task was
  ///   cancelled before the handler could see it) and ends the wait through ``interrupt(_:_:_:_:)``,
  ///   so a kernel operation is cancelled rather than abandoned.
  func park(
    _ pd: PollDescriptor, _ mode: IOMode, _ waiter: Waiter, published: () -> Void = {},
    refused: () -> Void = {}
  ) async -> TraceWakeReason {
    sys.record(
      TraceRecord(.park, a: waiter.task, b: Int64(pd.fd.load(ordering: .relaxed)), c: mode.trace.rawValue))
    return await withTaskCancellationHandler {
      await withUnsafeContinuation { continuation in
        waiter.continuation = continuation
        let bits = waiter.retainedBits()
        guard pd.compareExchange(mode, expected: PollDescriptor.Semaphore.waiting, desired: bits) else {
          // Readiness, a close or a deadline arrived between the commit and now: no real sleep.
          _ = Waiter.take(bits)
          refused()
          let now = pd.load(mode)
          let reason =
            now == PollDescriptor.Semaphore.ready
            ? TraceWakeReason.ready : (pd.blockingReason(mode) ?? .ready)
          wake(waiter, pd, mode, reason)
          return
        }
        // Cancelled before the handler could see the waiter: take it back ourselves.
        if Task.isCancelled,
          pd.compareExchange(mode, expected: bits, desired: PollDescriptor.Semaphore.empty)
        {
          interrupt(Waiter.take(bits), pd, mode, .cancel)
        }
        published()
      }
    } onCancel: {
      let bits = UInt(bitPattern: Unmanaged.passUnretained(waiter).toOpaque())
      if pd.compareExchange(mode, expected: bits, desired: PollDescriptor.Semaphore.empty) {
        interrupt(Waiter.take(bits), pd, mode, .cancel)
      }
    }
  }

  /// The prologue of every park (Go's `netpollblock` up to `gopark`): refuses to wait on a closing
  /// or expired descriptor or in a cancelled task, refuses a second waiter, and moves the
  /// semaphore to ``PollDescriptor/Semaphore/waiting``. Returns false, without committing, when
  /// `consumingLatch` is set and a latched readiness was consumed instead (the caller retries its
  /// call); completion mode, where nothing latches, overwrites a `ready` state.
  func commitToWait(_ pd: PollDescriptor, _ mode: IOMode, consumingLatch: Bool) throws(NetPollError) -> Bool {
    if let reason = pd.blockingReason(mode) { throw reason.error! }
    while true {
      let old = pd.load(mode)
      if old == PollDescriptor.Semaphore.ready && consumingLatch {
        if pd.compareExchange(mode, expected: old, desired: PollDescriptor.Semaphore.empty) { return false }
      } else if old == PollDescriptor.Semaphore.empty || old == PollDescriptor.Semaphore.ready {
        if pd.compareExchange(mode, expected: old, desired: PollDescriptor.Semaphore.waiting) { break }
      } else {
        throw .concurrentWait
      }
    }
    // A close or deadline that came before the commit found nothing to wake: look again now
    // (these loads are ordered after the commit, so one side always sees the other).
    if let reason = pd.blockingReason(mode) {
      pd.exchange(mode, PollDescriptor.Semaphore.empty)
      throw reason.error!
    }
    if Task.isCancelled {
      pd.exchange(mode, PollDescriptor.Semaphore.empty)
      throw .cancelled
    }
    return true
  }

  /// A waiter for the current task. Task numbers exist for the trace; without a recorder the
  /// task-local lookup is skipped.
  func makeWaiter() -> Waiter {
    Waiter(task: sys.recorder == nil ? 0 : currentTaskID())
  }

  /// Marks the descriptor closing and wakes both its waiters with reason "close" (Go's `pollEvict`).
  func evict(_ pd: PollDescriptor) {
    pd.closing.store(true, ordering: .sequentiallyConsistent)
    if let w = pd.unblock(.read, ioReady: false) { interrupt(w, pd, .read, .close) }
    if let w = pd.unblock(.write, ioReady: false) { interrupt(w, pd, .write, .close) }
  }

  /// Ends a wait for a reason other than readiness; the caller took `w` from its semaphore. A task
  /// parked on a ring operation (completion mode) is resumed by that operation's final CQE once
  /// the cancel this queues has reached it, so its buffer is never the kernel's after it returns;
  /// any other is woken now.
  func interrupt(_ w: Waiter, _ pd: PollDescriptor, _ mode: IOMode, _ reason: TraceWakeReason) {
    if socketIO.interrupt(w, reason: reason) { return }
    wake(w, pd, mode, reason)
  }
}
