import CURing
import NetPollTrace
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The ``Poller`` on io_uring in readiness mode: one multishot `IORING_OP_POLL_ADD` per fd, SQEs
/// batched and submitted by the next `io_uring_enter`, and a `NOP` to break a blocking wait.
///
/// - **Registration.** ``open(fd:token:)`` queues a multishot POLL_ADD (`POLLIN|POLLOUT|POLLRDHUP|
///   POLLPRI`, edge-triggered, as io_uring polls are unless `IORING_POLL_LEVEL` is asked for) whose
///   `user_data` is the ``PollToken``. A CQE with `IORING_CQE_F_MORE` is a readiness edge. A CQE
///   without it means the kernel ended the poll (no room in the CQ, or the thread that submitted
///   it exited): the poller re-arms it and reports both directions ready, since edges may have been
///   lost while it was down; a spurious readiness costs the runtime one EAGAIN.
/// - **Submission.** SQEs are prepared under ``submission`` from any thread and go to the kernel
///   with the next poll's enter. When a poll is blocked in the kernel, the thread that queued the
///   SQE submits it itself (one enter), so an `open` takes effect at once. A full SQ is made room
///   in by submitting what is queued; what still does not fit (the SQ holds SQEs another enter has
///   claimed, or the kernel refused with EBUSY/EAGAIN) waits in a FIFO backlog that the next enter
///   prepares first. Nobody waits for the SQ while holding ``submission``, since the poll that
///   drains it needs the lock; a poll with a backlog does not block.
/// - **Break.** ``wakeup()`` queues a `NOP`; its completion ends a blocking wait, and a poll that
///   reaps it before waiting does not wait. Wake-ups fold until the NOP's CQE is reaped, and cost
///   a system call only when a poll is blocked right now.
///   One that arrives while a poll is running but not yet blocked costs nothing: that poll simply
///   does not block (in completion mode the poll itself resumes tasks, whose enqueueing would
///   otherwise break the very poll that is returning).
/// - **Close.** ``close(fd:token:)`` submits an `ASYNC_CANCEL` keyed by the registration's
///   `user_data` before it returns: the kernel marks the poll cancelled while handling the enter, so
///   no new edge is produced afterwards (the io_uring equivalent of `EPOLL_CTL_DEL` returning) and
///   `close(2)` really releases the socket. The poll's final CQE (`-ECANCELED`, no `MORE`) is reaped
///   later and dropped without a re-arm because the registration is gone from ``Submission/armed``;
///   the fd number may be reused at once, since every CQE carries its registration's tag.
///   (`POLL_REMOVE` was the first choice, but it fails with `EALREADY` while the poll is posting a
///   completion and then leaves it armed; `ASYNC_CANCEL` sets a flag the poll always honours.)
/// - **Timeouts** go in the enter's extended argument (`IORING_ENTER_EXT_ARG`), so a timed poll
///   is still one system call and no timeout SQE is consumed.
/// - **Setup flags.** `CQSIZE` (CQ = 4 x SQ, so a burst of edges between polls does not overflow),
///   `SUBMIT_ALL` (one bad SQE does not stop the batch behind it) and `COOP_TASKRUN` (a completion's
///   task work waits for the submitting thread's next kernel entry instead of an IPI; our workers
///   enter the kernel constantly and a sleeping one is woken, so nothing is lost), each dropped if
///   the kernel refuses it. `SINGLE_ISSUER` and `DEFER_TASKRUN` are not used: the poll role moves
///   between workers and `open`/`close`/`wakeup` submit from any thread, while those flags make
///   every submission (and, with `DEFER_TASKRUN`, every wait) from a second thread fail with EEXIST.
///   The chosen flags are in the trace's `uring_setup`.
/// - **Completion mode** (``Mode/completion``, `--backend uring-completion`): no fd is registered
///   for readiness; sockets submit their accept/recv/send to this ring as operations
///   (``URingCompletion``) and their CQEs resume the parked tasks during ``poll(delay:into:)``,
///   which then reports no readiness at all.
public final class URingPoller: Poller, @unchecked Sendable {  // SQ locked; CQ: poll thread only
  public let name: String
  public let registrationCall = "io_uring_enter"
  /// Readiness (multishot POLL_ADD per fd) or completion (operations on the ring).
  public let mode: Mode
  /// CQEs reaped per poll, as epoll's `maxevents`.
  static let maxEvents = 128
  /// SQ entries; the CQ gets four times as many.
  public static let defaultEntries: UInt32 = 256
  private static let pollMask: UInt32 = pollIn | pollOut | pollRDHUP | pollPRI
  static let pollIn: UInt32 = 0x001
  static let pollPRI: UInt32 = 0x002
  static let pollOut: UInt32 = 0x004
  static let pollErr: UInt32 = 0x008
  static let pollHup: UInt32 = 0x010
  static let pollRDHUP: UInt32 = 0x2000
  /// The poller's own operations carry tag 0 (poll descriptors' tags start at 1): the wake-up NOP
  /// has fd -1, a registration's cancel has the registration's fd.
  static let wakeupUserData = PollToken(fd: -1, tag: 0).userData

  let sys: Syscalls
  /// The ring's fd, as `io_uring_setup` returned it.
  public let ringFD: Int32
  /// The setup flags the kernel accepted (`IORING_SETUP_*`).
  public let setupFlags: UInt32
  /// The kernel's `IORING_FEAT_*` bits for this ring.
  public let features: UInt32
  let ring: UnsafeMutablePointer<io_uring>
  private let cqes: UnsafeMutablePointer<io_uring_cqe>
  private var droppedSeen: UInt32 = 0

  /// What the ring is used for.
  public enum Mode: Sendable {
    /// One multishot POLL_ADD per fd; the runtime makes the socket calls (`--backend uring`).
    case readiness
    /// accept/recv/send are ring operations (`--backend uring-completion`).
    case completion
  }

  struct Submission {
    /// fd → tag of every registration that should stay armed: a poll that ends without being
    /// closed is re-armed; one that is absent here is finished.
    var armed: [Int32: UInt32] = [:]
    /// A poll is (about to be) blocked in `io_uring_enter`: queued SQEs must be submitted by
    /// whoever queues them.
    var pollerInKernel = false
    /// A wake-up NOP is queued or in flight; later wake-ups fold into it.
    var wakeupQueued = false
    /// A ``poll(delay:into:)`` is running; until it blocks (``pollerInKernel``) a wake-up needs no
    /// NOP: it is noted in ``wakeRequested`` and the poll does not block.
    var inPoll = false
    /// The running poll must not block: a wake-up came while it ran, or it reaped the NOP.
    var wakeRequested = false
    /// SQEs prepared that no enter has claimed yet (``claim(_:)``).
    var unclaimed: UInt32 = 0
    /// Operations decided while the SQ had no free entry, oldest first: prepared (and recorded)
    /// by the next ``claim(_:)`` that finds room, so nobody waits for the SQ under this lock.
    var backlog: [Operation] = []
    /// Completion mode: the operations in flight.
    var ops = OpTable()
    /// ``shutdown()`` has run (or is running): nothing more is prepared, since no enter would
    /// ever submit it and the ring's memory is about to be released.
    var closed = false
  }

  let submission = Mutex(Submission())
  /// Tests only: this many of the next enters that submit SQEs fail with EBUSY without reaching
  /// the kernel (as `strace -e inject=io_uring_enter:error=EBUSY` makes them; not recorded, since
  /// the kernel never saw them). The kernels this runs on rarely refuse a submission, so the
  /// refused-submission paths are forced this way.
  let injectedBusyEnters = Atomic<Int>(0)

  /// io_uring_enter through ``Syscalls``, or an injected EBUSY (``injectedBusyEnters``).
  private func enter(toSubmit: UInt32, minComplete: UInt32, flags: UInt32, timeoutNs: Int64) -> Int32 {
    if toSubmit > 0, injectedBusyEnters.load(ordering: .relaxed) > 0,
      injectedBusyEnters.subtract(1, ordering: .relaxed).oldValue > 0
    {
      return -EBUSY
    }
    return sys.uringEnter(
      ringFD: ringFD, toSubmit: toSubmit, minComplete: minComplete, flags: flags, timeoutNs: timeoutNs)
  }

  /// Sets up a ring of `entries` SQEs (and 4x CQEs) for `mode`, probing the setup flags (Go's
  /// `netpollinit`). `name` (the `trace_start.backend`) defaults to "uring" or "uring-completion".
  public init(
    sys: Syscalls, entries: UInt32 = URingPoller.defaultEntries, mode: Mode = .readiness, name: String? = nil
  ) throws(Errno) {
    self.sys = sys
    self.mode = mode
    self.name = name ?? (mode == .readiness ? "uring" : "uring-completion")
    var params = io_uring_params()
    var fd: Int32 = -1
    let base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL
    for flags in [base | IORING_SETUP_COOP_TASKRUN, base, IORING_SETUP_CQSIZE] {
      params = io_uring_params()
      params.flags = flags
      params.cq_entries = entries * 4
      do {
        fd = try sys.uringSetup(entries: entries, params: &params)
        break
      } catch .invalidArgument {
        continue  // an older kernel that does not know a flag: try without it
      }
    }
    guard fd >= 0 else { throw .invalidArgument }
    // Timed waits need the extended enter argument (Linux 5.11); multishot poll needs 5.13, and
    // CQE_SKIP (5.17) is the first feature bit that proves it.
    guard params.features & IORING_FEAT_EXT_ARG != 0, params.features & IORING_FEAT_CQE_SKIP != 0 else {
      try? sys.close(fd: fd)
      throw .noSystemCall
    }
    ring = .allocate(capacity: 1)
    ring.initialize(to: io_uring())
    let r = io_uring_queue_mmap(fd, &params, ring)
    guard r == 0 else {
      ring.deallocate()
      try? sys.close(fd: fd)
      throw Errno(-r)
    }
    ringFD = fd
    setupFlags = params.flags
    features = params.features
    cqes = .allocate(capacity: Self.maxEvents)
  }

  /// Readiness mode only: in completion mode sockets register nothing (``URingCompletion`` is
  /// their ``SocketIO`` and never calls this), so a call is a bug.
  public func open(fd: Int32, token: PollToken) throws(Errno) {
    precondition(mode == .readiness, "URingPoller: open(fd: \(fd)) on ring \(ringFD) in completion mode")
    try enqueue { s in
      s.armed[fd] = token.tag
      return .pollAdd(fd: fd, userData: token.userData)
    }
  }

  /// Readiness mode only, as ``open(fd:token:)``.
  public func close(fd: Int32, token: PollToken) throws(Errno) {
    precondition(mode == .readiness, "URingPoller: close(fd: \(fd)) on ring \(ringFD) in completion mode")
    try enqueue(submitNow: true) { s in
      if s.armed[fd] == token.tag { s.armed[fd] = nil }
      return .cancel(fd: fd, target: token.userData)
    }
  }

  public func wakeup() {
    do {
      // A wake-up for a runtime that is shutting down has nobody to wake.
      try enqueue { s in
        if s.wakeupQueued { return nil }
        if s.inPoll && !s.pollerInKernel {
          s.wakeRequested = true  // the running poll returns without blocking
          return nil
        }
        s.wakeupQueued = true
        return .nop(userData: Self.wakeupUserData)
      }
    } catch .badFileDescriptor {
      return  // shut down: nobody polls any more
    } catch {
      preconditionFailure("URingPoller: wake-up NOP on ring \(ringFD) failed: \(error)")
    }
  }

  public func poll(delay: PollDelay, into out: inout [PollEvent]) throws(Errno) {
    submission.withLock { s in
      s.inPoll = true
      s.wakeRequested = false
    }
    defer { submission.withLock { s in s.inPoll = false } }
    let resumed = reap(into: &out)
    var wait = delay != .nonBlocking && out.isEmpty && resumed == 0
    let toSubmit = submission.withLock { s -> UInt32 in
      let claimed = claim(&s)
      // Work the SQ could not take yet must not wait behind a blocked poll: submit what fits and
      // return; the next poll claims the rest.
      if s.wakeRequested || !s.backlog.isEmpty { wait = false }
      if wait { s.pollerInKernel = true }
      return claimed
    }
    let backlog = netpoll_uring_sq_flags(ring) & IORING_SQ_CQ_OVERFLOW != 0
    if backlog { sys.recordOverflow(dropped: 0, backlog: true) }
    guard wait || toSubmit > 0 || backlog else { return }

    var flags: UInt32 = wait || backlog ? IORING_ENTER_GETEVENTS : 0
    var timeoutNs: Int64 = -1
    if wait, case .nanoseconds(let ns) = delay {
      flags |= IORING_ENTER_EXT_ARG
      timeoutNs = max(ns, 0)
    }
    let r = enter(toSubmit: toSubmit, minComplete: wait ? 1 : 0, flags: flags, timeoutNs: timeoutNs)
    submission.withLock { s in
      if wait { s.pollerInKernel = false }
      unclaim(&s, claimed: toSubmit, result: r)
    }
    switch -r {
    case _ where r >= 0: break
    case ETIME, EINTR: break  // timed out / a signal: the caller recomputes its delay
    // The kernel could not take SQEs now (out of memory, a full overflow backlog): they stay in
    // the SQ and go with the next enter, after this poll has made room by reaping.
    case EAGAIN, EBUSY: break
    case EBADR: break  // completions were dropped; reap() counts them from the CQ's overflow field
    default: throw Errno(-r)
    }
    reap(into: &out)
  }

  /// Reaps CQEs (at most ``maxEvents``): readiness events into `out`, re-arming every poll the
  /// kernel ended while its registration is still open; in completion mode, resumes the tasks
  /// whose operations completed. Returns how many tasks it resumed.
  @discardableResult
  private func reap(into out: inout [PollEvent]) -> Int {
    let room = Self.maxEvents - out.count
    guard room > 0 else { return 0 }
    let n = Int(netpoll_uring_reap(ring, cqes, UInt32(room)))
    if mode == .completion { return complete(cqes, count: n) }
    for i in 0..<n {
      let cqe = cqes[i]
      let token = PollToken(userData: cqe.user_data)
      sys.recordCQE(cqe, fd: token.fd)
      if token.tag == 0 {
        if cqe.user_data == Self.wakeupUserData { submission.withLock { wakeupCompleted(&$0) } }
        continue
      }
      var readable = false
      var writable = false
      var hangup = false
      if cqe.res >= 0 {
        let mask = UInt32(cqe.res)
        let errOrHup = mask & (Self.pollErr | Self.pollHup) != 0
        readable = errOrHup || mask & (Self.pollIn | Self.pollRDHUP | Self.pollPRI) != 0
        writable = errOrHup || mask & Self.pollOut != 0
        hangup = errOrHup || mask & Self.pollRDHUP != 0
      }
      if cqe.flags & IORING_CQE_F_MORE == 0 {
        guard rearm(token) else { continue }  // the final CQE of a closed registration
        readable = true
        writable = true
        hangup = true  // a lost edge may have been the peer's FIN
      }
      if readable || writable {
        out.append(PollEvent(token: token, readable: readable, writable: writable, hangup: hangup))
      }
    }
    countOverflow()
    return 0
  }

  /// Completion mode's reaping: records each CQE and resumes the tasks whose operations ended,
  /// after the lock is released. Returns how many it resumed.
  private func complete(_ cqes: UnsafeMutablePointer<io_uring_cqe>, count n: Int) -> Int {
    guard n > 0 else {
      countOverflow()
      return 0
    }
    // Sized once for the batch: grown by appends, it was reallocated two or three times per
    // poll (heaptrack: about one reallocation per three requests).
    var ready: [(CompletionOp, TraceWakeReason)] = []
    ready.reserveCapacity(n)
    submission.withLock { s in
      for i in 0..<n {
        let cqe = cqes[i]
        let token = PollToken(userData: cqe.user_data)
        if token.tag == 0 {
          sys.recordCQE(cqe, fd: token.fd)
          if cqe.user_data == Self.wakeupUserData { wakeupCompleted(&s) }
          continue  // a wake-up NOP, or a cancel's own completion
        }
        let op = s.ops.lookup(cqe.user_data)
        sys.recordCQE(cqe, fd: op?.fd ?? -1)
        if let done = deliver(cqe, in: &s) { ready.append(done) }
      }
    }
    for (op, reason) in ready { op.resume(reason, sys: sys) }
    countOverflow()
    return ready.count
  }

  /// The wake-up NOP's CQE was reaped: the next wake-up needs a new NOP, and the running poll must
  /// not block. The CQE can outlive the poll it was queued for (a poll that reaped a full batch
  /// leaves it in the CQ; another thread's enter can submit it before the next poll starts), and a
  /// wake-up folded into it meanwhile relies on it, so, as epoll's level-triggered eventfd does,
  /// it ends the wait of whichever poll reaps it. At worst one poll returns empty.
  private func wakeupCompleted(_ s: inout Submission) {
    s.wakeupQueued = false
    s.wakeRequested = true
  }

  /// Records completions the kernel dropped for a full CQ since the last look.
  private func countOverflow() {
    let dropped = netpoll_uring_cq_overflow(ring)
    if dropped != droppedSeen {
      sys.recordOverflow(dropped: dropped &- droppedSeen, backlog: false)
      droppedSeen = dropped
    }
  }

  /// Queues a new multishot poll for a registration whose poll the kernel ended, if it is still
  /// open. Returns whether it was.
  private func rearm(_ token: PollToken) -> Bool {
    do {
      var live = false
      try enqueue { s in
        guard s.armed[token.fd] == token.tag else { return nil }
        live = true
        return .pollAdd(fd: token.fd, userData: token.userData)
      }
      return live
    } catch {
      preconditionFailure("URingPoller: re-arming fd \(token.fd) on ring \(ringFD) failed: \(error)")
    }
  }

  public func isPollerDescriptor(_ fd: Int32) -> Bool { fd == ringFD }

  public func shutdown() {
    submission.withLock { s in
      // Submit what was prepared and never entered (a wake-up queued while no poll ran, such as
      // the scheduler's own at shutdown; a cancel queued by a close from outside the runtime):
      // nothing will enter this ring again, and every recorded SQE must reach the kernel. From
      // here on ``enqueue(submitNow:_:)`` prepares nothing, so a wake-up racing this is a no-op
      // rather than a write into released memory. No thread polls any more, so a kernel that
      // refuses (EBUSY until completions are reaped) gets a bounded number of tries.
      for _ in 0..<1000 {
        if (try? submitPending(&s)) != false { break }
        sched_yield()
      }
      s.closed = true
    }
    netpoll_uring_unmap(ring)
    ring.deallocate()
    cqes.deallocate()
    try? sys.close(fd: ringFD)
  }

  // MARK: Submission queue

  /// One SQE to prepare.
  enum Operation {
    case pollAdd(fd: Int32, userData: UInt64)
    case cancel(fd: Int32, target: UInt64)
    case nop(userData: UInt64)
    /// Completion mode: a socket operation.
    case operation(CompletionOp)

    /// The fd the SQE is about, for the trace (-1: none).
    var fd: Int32 {
      switch self {
      case .pollAdd(let fd, _), .cancel(let fd, _): fd
      case .nop: -1
      case .operation(let op): op.fd
      }
    }
  }

  /// Decides (under the lock) what to queue, prepares its SQE and records it, and submits at once
  /// when `submitNow` or a poll is blocked in the kernel. `decide` returning nil queues nothing.
  /// Throws EBADF, without calling `decide`, once the ring is shut down.
  ///
  /// Never waits for the SQ while holding ``submission``: the poll that would drain it (or unclaim
  /// what a refused enter left) needs that lock. When the SQ is full the operation joins
  /// ``Submission/backlog`` and is prepared by the next ``claim(_:)`` with room, in order. Only a
  /// caller whose work must reach the kernel now (`submitNow`, or a poll blocked in the kernel that
  /// will not claim again until something completes) waits for that, with the lock released
  /// between attempts; the poll thread itself never does (a poll blocks only with no backlog).
  func enqueue(submitNow: Bool = false, _ decide: (inout Submission) -> Operation?) throws(Errno) {
    var mustReachKernel = try submission.withLock { s throws(Errno) -> Bool in
      guard !s.closed else { throw .badFileDescriptor }
      guard let op = decide(&s) else { return false }
      s.backlog.append(op)
      fill(&s)
      // A full SQ is made room in by submitting what is queued (one enter, no wait), as is work
      // that must reach the kernel now.
      guard submitNow || s.pollerInKernel || !s.backlog.isEmpty else { return false }
      return try !submitPending(&s) && (submitNow || s.pollerInKernel)
    }
    while mustReachKernel {
      // The SQ is full of SQEs another enter has claimed (it is on its way into the kernel), or
      // the kernel refused the submission (EBUSY: completions must be reaped first): let that
      // enter, or the poll that reaps, run, then try again.
      sched_yield()
      mustReachKernel = try submission.withLock { s throws(Errno) -> Bool in
        guard !s.closed, submitNow || s.pollerInKernel else { return false }
        return try !submitPending(&s)
      }
    }
  }

  /// Prepares `op` in `sqe` and records it. Called under the lock.
  private func write(_ op: Operation, into sqe: UnsafeMutablePointer<io_uring_sqe>) {
    switch op {
    case .pollAdd(let fd, let userData):
      io_uring_prep_poll_multishot(sqe, fd, Self.pollMask)
      io_uring_sqe_set_data64(sqe, userData)
    case .cancel(let fd, let target):
      io_uring_prep_cancel64(sqe, target, 0)
      io_uring_sqe_set_data64(sqe, PollToken(fd: fd, tag: 0).userData)
    case .nop(let userData):
      io_uring_prep_nop(sqe)
      io_uring_sqe_set_data64(sqe, userData)
    case .operation(let op):
      prepare(sqe, op)
    }
    sys.recordSQE(
      op: sqe.pointee.opcode, fd: op.fd, userData: sqe.pointee.user_data, flags: sqe.pointee.flags)
  }

  /// Fills `sqe` for a completion operation.
  private func prepare(_ sqe: UnsafeMutablePointer<io_uring_sqe>, _ op: CompletionOp) {
    switch op.kind {
    case .accept:
      io_uring_prep_accept(sqe, op.fd, nil, nil, NETPOLL_ACCEPT_FLAGS)
    case .recv(let buffer):
      io_uring_prep_recv(sqe, op.fd, buffer.baseAddress, buffer.count, 0)
    case .send(let buffer):
      io_uring_prep_send(sqe, op.fd, buffer.baseAddress, buffer.count, NETPOLL_SEND_FLAGS)
    case .pollOut:
      io_uring_prep_poll_add(sqe, op.fd, Self.pollOut)
    }
    io_uring_sqe_set_data64(sqe, op.userData)
  }

  /// Moves the backlog into the SQ as far as it has room, publishes the prepared SQEs and claims
  /// the ones no enter has claimed yet: the `to_submit` of the caller's enter. Called under the
  /// lock. Counting claims rather than the SQ's backlog keeps two concurrent enters (a blocked
  /// poll's and a submitter's) from both counting the same SQEs: the kernel consumes from the SQ's
  /// head whoever asks, so the claims always cover what is there, and the trace's `to_submit` add
  /// up to the SQEs prepared.
  func claim(_ s: inout Submission) -> UInt32 {
    fill(&s)
    _ = netpoll_uring_flush_sq(ring)
    defer { s.unclaimed = 0 }
    return s.unclaimed
  }

  /// Prepares the backlog's operations, oldest first, in the SQ's free entries. Called under the
  /// lock.
  private func fill(_ s: inout Submission) {
    var moved = 0
    while moved < s.backlog.count, let sqe = io_uring_get_sqe(ring) {
      write(s.backlog[moved], into: sqe)
      s.unclaimed += 1
      moved += 1
    }
    if moved == s.backlog.count {
      s.backlog.removeAll(keepingCapacity: true)
    } else if moved > 0 {
      s.backlog.removeFirst(moved)
    }
  }

  /// Returns the part of a claim that an enter did not consume (it returned `r`).
  func unclaim(_ s: inout Submission, claimed: UInt32, result r: Int32) {
    let consumed = r > 0 ? min(UInt32(r), claimed) : 0
    s.unclaimed += claimed - consumed
  }

  /// Submits the queued SQEs and the backlog, one enter per SQ-full (no wait). Called under the
  /// lock. Returns true when nothing is left to submit; false when the kernel refused (EAGAIN,
  /// EBUSY, EINTR) or the SQ is full of SQEs another enter has claimed: what is left stays queued
  /// for the next enter. Never retries here, since whatever would let it succeed (a reap, the other
  /// enter's unclaim) needs the lock this holds.
  @discardableResult
  func submitPending(_ s: inout Submission) throws(Errno) -> Bool {
    while true {
      let toSubmit = claim(&s)
      if toSubmit == 0 { return s.backlog.isEmpty }
      let r = enter(toSubmit: toSubmit, minComplete: 0, flags: 0, timeoutNs: -1)
      unclaim(&s, claimed: toSubmit, result: r)
      if r < 0 {
        guard r == -EAGAIN || r == -EBUSY || r == -EINTR else { throw Errno(-r) }
        return false
      }
      // A partial submit (the kernel took fewer) leaves the rest for the next enter.
      if r == 0 || s.unclaimed > 0 { return false }
      if s.backlog.isEmpty { return true }
    }
  }
}

extension Errno {
  /// EINVAL.
  static let invalidArgument = Errno(EINVAL)
}
