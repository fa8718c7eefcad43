import CURing
import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// ``SocketIO`` on io_uring in completion mode (`--backend uring-completion`): accept, recv and
/// send are ring operations (`IORING_OP_ACCEPT`, `RECV`, `SEND`); the task parks on the operation
/// and its CQE resumes it with the result, with no EAGAIN round trip and no readiness report.
///
/// - **One operation per parked task.** A task commits to wait on its poll descriptor's semaphore
///   exactly as in readiness mode (so a second waiter in the same direction is refused, and close,
///   deadlines and cancellation find it the same way), then its operation (a ``CompletionOp``) is
///   entered in the poller's ``OpTable`` and its SQE queued; the next `io_uring_enter` submits it.
///   `park` is logged before the SQE is prepared, `wake` when the CQE resumes the task.
/// - **Buffers are the kernel's until the CQE.** The caller's buffer goes into the SQE as is; the
///   call does not return before the operation's final CQE, whatever interrupts it, so the kernel
///   never writes into memory the caller got back.
/// - **Interruption.** Close, a deadline or a task cancel takes the waiter from the semaphore as in
///   readiness mode, then (``URingPoller/interrupt(_:reason:)``) marks the operation interrupted
///   and queues an `ASYNC_CANCEL` for its `user_data`. The task is resumed by the operation's own
///   final CQE: `-ECANCELED` wakes it with the interruption's reason; a result that won the race
///   (bytes received or sent, a connection accepted) is returned and the wake says "ready".
/// - **connect** stays a system call (it rarely waits long and is not on the request path); its
///   completion is a one-shot `POLL_ADD(POLLOUT)` operation followed by `getsockopt(SO_ERROR)`.
struct URingCompletion: SocketIO {
  let poller: URingPoller

  var registrationCall: String { "io_uring_enter" }

  /// Nothing to register: each operation is its own submission, and holds a reference on the fd
  /// until its CQE (close(2) waits for the last), so nothing of the fd is left in the kernel.
  func register(fd: Int32, token: PollToken) throws(Errno) {}

  func deregister(fd: Int32, token: PollToken) throws(Errno) {}

  func interrupt(_ waiter: Waiter, reason: TraceWakeReason) -> Bool {
    poller.interrupt(waiter: waiter, reason: reason)
  }

  func accept(_ handle: PollFD) async throws(NetPollError) -> Int32 {
    try await run(handle, .read, "accept", .accept)
  }

  func read(_ handle: PollFD, into buffer: UnsafeMutableRawBufferPointer) async throws(NetPollError) -> Int {
    // An empty read completes at once in the kernel too; asking the ring for it would only park.
    if buffer.isEmpty { return 0 }
    return Int(try await run(handle, .read, "recv", .recv(buffer)))
  }

  func write(_ handle: PollFD, from buffer: UnsafeRawBufferPointer) async throws(NetPollError) -> Int {
    if buffer.isEmpty { return 0 }
    return Int(try await run(handle, .write, "send", .send(buffer)))
  }

  func finishConnect(_ handle: PollFD) async throws(NetPollError) {
    let sys = handle.runtime.sys
    let fd = handle.fd
    while true {
      _ = try await run(handle, .write, "connect", .pollOut)
      let status = try handle.withReference("getsockopt") { () throws(Errno) in try sys.socketError(fd: fd) }
      if status == 0 { return }
      if status == EINPROGRESS || status == EALREADY { continue }
      throw .system(syscall: "connect", errno: Errno(status))
    }
  }

  /// Runs one operation to its final CQE, holding a reference on the fd throughout; returns its
  /// non-negative result. `name` is the call an error names ("recv: ECONNRESET").
  private func run(_ handle: PollFD, _ mode: IOMode, _ name: String, _ kind: CompletionOp.Kind)
    async throws(NetPollError) -> Int32
  {
    try handle.acquire()
    defer { handle.release() }
    while true {
      let (reason, result) = try await park(handle, mode, kind)
      if let error = reason.error { throw error }
      guard let res = result else { continue }  // woken before anything was submitted
      if res >= 0 { return res }
      switch -res {
      // Sockets never end an operation this way (the kernel polls internally), but if one
      // does, the operation is simply submitted again.
      case EAGAIN, EINTR: continue
      default: throw .system(syscall: name, errno: Errno(-res))
      }
    }
  }

  /// Commits to wait in `mode`, submits the operation and suspends until it is resumed; returns
  /// the wake reason and the operation's result (nil if it never reached the kernel).
  private func park(_ handle: PollFD, _ mode: IOMode, _ kind: CompletionOp.Kind)
    async throws(NetPollError) -> (TraceWakeReason, Int32?)
  {
    let pd = handle.pd
    let runtime = handle.runtime
    // Nothing latches readiness in completion mode; an injected readiness means nothing here.
    _ = try runtime.commitToWait(pd, mode, consumingLatch: false)
    let waiter = runtime.makeWaiter()
    let op = CompletionOp(waiter: waiter, pd: pd, mode: mode, fd: handle.fd, kind: kind)
    // In the table before the waiter is published, so an interrupter that takes the waiter
    // always finds its operation.
    poller.register(op)
    let poller = self.poller
    let reason = await runtime.park(
      pd, mode, waiter,
      published: { poller.start(op) },
      // A close or deadline arrived between the commit and now: nothing was submitted.
      refused: { poller.unregister(op) })
    ThreadSanitizer.happensAfter(op)  // what `op.resume` saw, even if it ran before the await
    // Whoever resumed us left the semaphore empty; it is not touched here, since another task
    // may already be waiting in this direction.
    if op.done { return (reason, op.result) }
    // A readiness report took the waiter (nothing reports readiness in completion mode, but the
    // runtime's dispatch accepts injected events) while the kernel still has the operation and
    // its buffer: take the operation back before anything else touches that buffer.
    await reclaim(op, runtime: runtime)
    if op.reclaimed && op.result == -ECANCELED { return (.ready, nil) }  // submitted again
    return (op.finalReason, op.result)
  }

  /// Cancels an operation whose task was resumed by someone other than its CQE, and waits
  /// (parked, but not on the semaphore: close and deadlines need not find it, the cancel is
  /// already on its way) for its final CQE.
  private func reclaim(_ op: CompletionOp, runtime: NetPollRuntime) async {
    let waiter = Waiter(task: op.waiter.task)
    runtime.sys.record(
      TraceRecord(.park, a: waiter.task, b: Int64(op.fd), c: op.mode.trace.rawValue))
    let poller = self.poller
    _ = await withUnsafeContinuation { continuation in
      waiter.continuation = continuation
      let finished = poller.enqueueOrFail { s -> (URingPoller.Operation?, Bool) in
        s.ops.replaceWaiter(of: op, with: waiter)
        if op.result != nil {
          s.ops.remove(op)
          return (nil, true)
        }
        op.interruption = .ready
        op.reclaimed = true
        return (op.submitted ? .cancel(fd: op.fd, target: op.userData) : nil, false)
      }
      if finished { op.resume(op.finalReason, sys: runtime.sys) }
    }
    ThreadSanitizer.happensAfter(op)
  }
}

/// One operation on the ring in completion mode, from its task's park to its final CQE.
///
/// Created by the parking task, entered in the ``OpTable`` (which gives it its `user_data`) and
/// removed when the task is resumed. `result` and `interruption` are written under the poller's
/// submission lock; the task reads `result` after it is resumed, which orders the accesses.
final class CompletionOp: @unchecked Sendable {  // fields: under the SQ lock, then its resumed task
  /// What the SQE does.
  enum Kind {
    case accept
    case recv(UnsafeMutableRawBufferPointer)
    case send(UnsafeRawBufferPointer)
    /// One-shot `POLL_ADD(POLLOUT)`: a non-blocking connect has finished.
    case pollOut
  }

  /// The parked task (replaced only by ``URingCompletion/reclaim(_:runtime:)``).
  var waiter: Waiter
  let pd: PollDescriptor
  let mode: IOMode
  let fd: Int32
  let kind: Kind
  /// The `user_data` its SQE carries (``OpTable/insert(_:)``).
  var userData: UInt64 = 0
  /// Its SQE was queued: an interruption must cancel it in the kernel.
  var submitted = false
  /// Why a close, deadline or cancel interrupted it, once one did.
  var interruption: TraceWakeReason?
  /// The CQE's `res`, once it arrived.
  var result: Int32?
  /// Set (under the lock) by whoever removes the operation from the table to resume its task;
  /// read by the task after it is resumed. A resumed task that finds it unset was woken by a
  /// readiness report, not by its operation.
  var done = false
  /// The task cancelled it itself (``URingCompletion/reclaim(_:runtime:)``): `-ECANCELED` means
  /// "submit again", not an error.
  var reclaimed = false

  init(waiter: Waiter, pd: PollDescriptor, mode: IOMode, fd: Int32, kind: Kind) {
    self.waiter = waiter
    self.pd = pd
    self.mode = mode
    self.fd = fd
    self.kind = kind
  }

  /// The wake reason once both the result and any interruption are known: a result that moved
  /// bytes (or accepted a connection) is delivered even if an interruption asked for a cancel.
  var finalReason: TraceWakeReason {
    if let result, result >= 0 { return .ready }
    return interruption ?? .ready
  }

  /// Logs the `wake` and resumes the parked task (exactly once, by whoever owns the waiter).
  func resume(_ reason: TraceWakeReason, sys: Syscalls) {
    sys.record(
      TraceRecord(
        .wake, a: waiter.task, b: Int64(pd.fd.load(ordering: .relaxed)), c: mode.trace.rawValue,
        d: reason.rawValue))
    ThreadSanitizer.happensBefore(self)
    waiter.continuation!.resume(returning: reason)
  }
}

/// The operations in flight on a ring in completion mode, each under a `user_data` that names
/// its slot and the slot's generation, so a CQE (or a cancel) never reaches a later operation
/// that reused the slot.
///
/// `user_data` = 2^62 | generation << 32 | slot. Bit 62 tells an operation from the poller's own
/// submissions (tag 0 in the high half: the wake-up NOP and cancels); the generation is 30 bits.
struct OpTable {
  static let marker: UInt64 = 1 << 62
  private var ops: [CompletionOp?] = []
  private var generations: [UInt32] = []
  private var free: [Int] = []
  /// Which slot a waiter's operation is in, for interrupters that hold only the waiter.
  private var byWaiter: [ObjectIdentifier: Int] = [:]

  /// Operations in the table now.
  var count: Int { byWaiter.count }

  /// Enters `op` and sets its `user_data`.
  mutating func insert(_ op: CompletionOp) {
    let slot: Int
    if let reused = free.popLast() {
      slot = reused
      generations[slot] = (generations[slot] &+ 1) & 0x3fff_ffff
      ops[slot] = op
    } else {
      slot = ops.count
      ops.append(op)
      generations.append(0)
    }
    op.userData = Self.marker | UInt64(generations[slot]) << 32 | UInt64(slot)
    byWaiter[ObjectIdentifier(op.waiter)] = slot
  }

  /// The operation a CQE's `user_data` names, if it is still in the table.
  func lookup(_ userData: UInt64) -> CompletionOp? {
    guard userData & Self.marker != 0 else { return nil }
    let slot = Int(userData & 0xffff_ffff)
    let generation = UInt32(truncatingIfNeeded: userData >> 32) & 0x3fff_ffff
    guard slot < ops.count, generations[slot] == generation else { return nil }
    return ops[slot]
  }

  /// The operation `waiter` is parked on.
  func lookup(waiter: Waiter) -> CompletionOp? {
    byWaiter[ObjectIdentifier(waiter)].flatMap { ops[$0] }
  }

  /// Frees `op`'s slot and marks it done; its `user_data` names nothing from now on.
  mutating func remove(_ op: CompletionOp) {
    op.done = true
    guard let slot = byWaiter.removeValue(forKey: ObjectIdentifier(op.waiter)) else { return }
    ops[slot] = nil
    free.append(slot)
  }

  /// Parks `op` under a new waiter (the old one was resumed by someone else).
  mutating func replaceWaiter(of op: CompletionOp, with waiter: Waiter) {
    guard let slot = byWaiter.removeValue(forKey: ObjectIdentifier(op.waiter)) else { return }
    op.waiter = waiter
    byWaiter[ObjectIdentifier(waiter)] = slot
  }
}

extension URingPoller {
  /// Enters `op` in the table (before its waiter is published; nothing is submitted yet).
  func register(_ op: CompletionOp) {
    submission.withLock { s in s.ops.insert(op) }
  }

  /// Takes back an operation that was never started.
  func unregister(_ op: CompletionOp) {
    submission.withLock { s in s.ops.remove(op) }
  }

  /// Queues `op`'s SQE, unless an interruption came first: then the task is resumed now, with
  /// nothing submitted.
  func start(_ op: CompletionOp) {
    let interrupted: TraceWakeReason? = enqueueOrFail { s in
      if let reason = op.interruption {
        s.ops.remove(op)
        return (nil, reason)
      }
      op.submitted = true
      return (.operation(op), nil)
    }
    if let interrupted { op.resume(interrupted, sys: sys) }
  }

  /// A close, deadline or cancel took `op`'s waiter from its semaphore: cancel the operation in the
  /// kernel (its final CQE will resume the task), or resume the task now if the CQE is already in.
  func interrupt(_ op: CompletionOp, reason: TraceWakeReason) {
    let resumeNow = enqueueOrFail { s -> (Operation?, Bool) in
      guard s.ops.lookup(waiter: op.waiter) === op else { return (nil, false) }
      if op.interruption == nil { op.interruption = reason }
      if op.result != nil {
        s.ops.remove(op)
        return (nil, true)
      }
      // Not submitted yet: ``start(_:)`` sees the interruption and resumes the task itself.
      guard op.submitted else { return (nil, false) }
      return (.cancel(fd: op.fd, target: op.userData), false)
    }
    if resumeNow { op.resume(op.finalReason, sys: sys) }
  }

  /// The interrupt entry for waiters taken by ``NetPollRuntime/evict(_:)`` and deadlines: true
  /// when `waiter` is parked on a completion operation (now being cancelled).
  func interrupt(waiter: Waiter, reason: TraceWakeReason) -> Bool {
    guard let op = submission.withLock({ s in s.ops.lookup(waiter: waiter) }) else { return false }
    interrupt(op, reason: reason)
    return true
  }

  /// Handles one CQE of a completion operation (called by the poll thread while reaping). Returns
  /// the operation to resume, with its reason, when this CQE is the one that resumes it.
  func deliver(_ cqe: io_uring_cqe, in s: inout Submission) -> (CompletionOp, TraceWakeReason)? {
    guard let op = s.ops.lookup(cqe.user_data) else { return nil }
    op.result = cqe.res
    if op.interruption != nil {
      // The interrupter owns the waiter and left the resumption to this CQE.
      s.ops.remove(op)
      return (op, op.finalReason)
    }
    let bits = UInt(bitPattern: Unmanaged.passUnretained(op.waiter).toOpaque())
    guard op.pd.compareExchange(op.mode, expected: bits, desired: PollDescriptor.Semaphore.empty) else {
      // An interrupter took the waiter a moment ago and will find the result under the lock.
      return nil
    }
    _ = Waiter.take(bits)
    s.ops.remove(op)
    return (op, .ready)
  }

  /// ``enqueue(submitNow:_:)`` for callers that cannot fail. A full SQ or a refused submission
  /// never fails it (the operation waits in the backlog for the next enter); what is left is an
  /// errno that means a bug of ours (EBADF, EFAULT, EINVAL on our own ring) or a ring used after
  /// ``shutdown()``, both broken invariants.
  func enqueueOrFail<R>(_ decide: (inout Submission) -> (Operation?, R)) -> R {
    var out: R?
    do {
      try enqueue { s in
        let (operation, r) = decide(&s)
        out = r
        return operation
      }
    } catch {
      preconditionFailure("URingPoller: submission on ring \(ringFD) failed: \(error)")
    }
    return out!
  }
}
