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
    if let reason = pd.blockingReason(mode) { throw reason.error! }
    // Consume a latched readiness, or commit to waiting.
    while true {
      let old = pd.load(mode)
      if old == PollDescriptor.Semaphore.ready {
        if pd.compareExchange(mode, expected: old, desired: PollDescriptor.Semaphore.empty) { return }
      } else if old == PollDescriptor.Semaphore.empty {
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

    let waiter = Waiter(task: currentTaskID())
    let fd = Int64(pd.fd.load(ordering: .relaxed))
    sys.recorder?.record(TraceRecord(.park, a: waiter.task, b: fd, c: mode.trace.rawValue))
    let reason: TraceWakeReason = await withTaskCancellationHandler {
      await withUnsafeContinuation { continuation in
        waiter.continuation = continuation
        let bits = waiter.retainedBits()
        if pd.compareExchange(mode, expected: PollDescriptor.Semaphore.waiting, desired: bits) {
          // Cancelled before the handler could see the waiter: take it back ourselves.
          if Task.isCancelled,
            pd.compareExchange(mode, expected: bits, desired: PollDescriptor.Semaphore.empty)
          {
            wake(Waiter.take(bits), pd, mode, .cancel)
          }
          return
        }
        // Readiness, a close or a deadline arrived between the commit and now: no real sleep.
        _ = Waiter.take(bits)
        let now = pd.load(mode)
        let reason =
          now == PollDescriptor.Semaphore.ready ? TraceWakeReason.ready : (pd.blockingReason(mode) ?? .ready)
        wake(waiter, pd, mode, reason)
      }
    } onCancel: {
      let bits = UInt(bitPattern: Unmanaged.passUnretained(waiter).toOpaque())
      if pd.compareExchange(mode, expected: bits, desired: PollDescriptor.Semaphore.empty) {
        wake(Waiter.take(bits), pd, mode, .cancel)
      }
    }
    // As Go does on return from gopark, the readiness that woke us is consumed — but only a
    // `ready` latch: Go's fdMutex guarantees no other reader exists by now, ours does not (a
    // cancelled reader's successor may already be parked here), so a waiter is left alone.
    if reason == .ready {
      _ = pd.compareExchange(mode, expected: PollDescriptor.Semaphore.ready, desired: PollDescriptor.Semaphore.empty)
    }
    if let error = reason.error { throw error }
  }

  /// Sets or clears (`nil`) the deadline for `mode`, as a duration from now. A deadline that has
  /// passed wakes a parked task with reason "deadline" and fails later calls until it is reset.
  func setDeadline(_ pd: PollDescriptor, _ mode: IOMode, after duration: Duration?) {
    let now = netpoll_monotonic_ns()
    let ns: Int64? = duration.map { d in
      let (s, atto) = d.components
      return max(0, s.multipliedReportingOverflow(by: 1_000_000_000).partialValue + atto / 1_000_000_000)
    }
    let seq = pd.deadlines.withLock { d -> UInt64 in
      if mode == .read {
        d.readSeq &+= 1
        return d.readSeq
      }
      d.writeSeq &+= 1
      return d.writeSeq
    }
    sys.recorder?.record(
      TraceRecord(.deadline, a: Int64(pd.fd.load(ordering: .relaxed)), b: mode.trace.rawValue, c: ns ?? -1))
    guard let ns else {
      pd.setExpired(mode, false)
      return
    }
    if ns == 0 {
      pd.setExpired(mode, true)
      if let w = pd.unblock(mode, ioReady: false) { wake(w, pd, mode, .deadline) }
      return
    }
    pd.setExpired(mode, false)
    let entry = DeadlineTimers.Entry(when: now &+ UInt64(ns), pd: pd, mode: mode, seq: seq)
    if timers.add(entry) { scheduler.deadlineChanged() }
  }

  /// A deadline came due: if it is still the descriptor's current one, expire it and wake the
  /// waiter (Go's `netpolldeadlineimpl`).
  func fireDeadline(_ e: DeadlineTimers.Entry) {
    let current = e.pd.deadlines.withLock { d in e.mode == .read ? d.readSeq : d.writeSeq }
    guard current == e.seq else { return }
    e.pd.setExpired(e.mode, true)
    if let w = e.pd.unblock(e.mode, ioReady: false) { wake(w, e.pd, e.mode, .deadline) }
  }

  /// Marks the descriptor closing and wakes both its waiters with reason "close" (Go's `pollEvict`).
  func evict(_ pd: PollDescriptor) {
    pd.closing.store(true, ordering: .sequentiallyConsistent)
    if let w = pd.unblock(.read, ioReady: false) { wake(w, pd, .read, .close) }
    if let w = pd.unblock(.write, ioReady: false) { wake(w, pd, .write, .close) }
  }
}
