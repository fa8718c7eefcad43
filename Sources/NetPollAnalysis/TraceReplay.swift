/// What to replay and what to keep.
public struct ReplayOptions: Sendable {
  /// Print the timeline of this fd.
  public var fd: Int?
  /// Print the timeline of this task.
  public var task: Int?
  /// Keep at most this many violations (and notes) in the report; all are counted.
  public var maxKeptViolations: Int

  /// Creates options.
  public init(fd: Int? = nil, task: Int? = nil, maxKeptViolations: Int = 1000) {
    self.fd = fd
    self.task = task
    self.maxKeptViolations = maxKeptViolations
  }
}

/// Re-drives a trace's events through a model of the runtime and checks its invariants.
///
/// The model holds, per fd: whether it is open (created by `socket`, `accept`, `eventfd`,
/// `epoll_create` or an ACCEPT completion, until its `close`), the registration (ADD/DEL and the
/// sequence tag) and which directions have a parked task; per thread, an EAGAIN waiting for the
/// task's park or retry; per task, its park. On io_uring, a `POLL_ADD` submission is the fd's
/// registration (its `user_data` plays the tag's part); each positive completion of it is readiness,
/// and it stays armed while its completions carry `MORE` (multishot). A poll completion for an fd
/// closed since, or whose poll was replaced, is bad readiness that the runtime must drop with a
/// `stale` event before it waits again. In completion mode an ACCEPT, RECV or SEND completion is
/// the call's result, not readiness: it needs no registration and no `stale`; an ACCEPT's `res`
/// opens its fd as `accept` does. Every completion must belong to a submission in flight.
///
/// A flight-recorder window starts from its snapshot lines instead of from nothing.
///
/// Memory follows live state (open fds, parks, requests in flight), never the size of a number
/// from the trace: numbers from the file are hostile (saturating arithmetic, sparse tables).
public struct TraceReplay {
  private let options: ReplayOptions
  private var summary = ReplaySummary()
  private var violations: [ReplayViolation] = []
  private var notes: [ReplayNote] = []
  private var fds = FDTable(empty: FDState())
  /// Closed fds still remembered (to name the close in a later use), oldest first; bounded.
  private var closedOrder = BoundedQueue(capacity: 1 << 16)
  /// fd numbers used without being opened in the trace (inherited, or created later); bounded.
  private var unopenedUses: [Int: Int] = [:]
  private var parked: [Int: Park] = [:]
  private var taskNumbers: Set<Int> = []
  private var badReadiness: [BadReadiness] = []
  /// The newest `epoll_ctl` DELs, by fd: when each returned and the tag it removed. A wait that
  /// was in the kernel when a DEL returned may hand out a readiness it collected before the DEL
  /// took effect (both are stamped on return). Bounded: the oldest go first.
  private var recentDeletes = RecentDeletes()
  /// Live io_uring poll requests: `user_data` → fd (removed by their last completion).
  private var uringPolls: [UInt64: Int] = [:]
  /// Every request in flight, to tell call results from poll completions and to find a completion
  /// without a submission.
  private var ring = RingRequests()
  /// Completions whose `user_data` had no submission in flight, reported at the next wait.
  private var orphanCompletions: [OrphanCompletion] = []
  /// The ring's fd, from `uring_setup` or the first `uring_enter` (a window may lack the setup).
  private var ringFd: Int?
  /// Per thread: the EAGAIN its task got, waiting for the park or the retry.
  private var eagainByThread: [Int: PendingEAGAIN] = [:]
  /// Per fd: an EAGAIN left without a park or retry that a `close` of the fd (by another task,
  /// which makes the park fail) may still explain.
  private var unexplainedEAGAIN: [Int: BrokenEAGAIN] = [:]
  /// Per fd direction: when its deadline expires (`ts`), while one is set.
  private var deadlines: [FDDirection: Int] = [:]
  private var header: TraceHeader?
  private var sequence = SequenceCheck()
  private var previousTs = 0
  private var cleanEnd = false
  private var endLine = 0
  private var endDropped: Int?
  private var timeline = TimelineRecorder()

  /// Creates a replay.
  public init(options: ReplayOptions = ReplayOptions()) {
    self.options = options
    timeline.fd = options.fd
    timeline.task = options.task
  }

  /// Replays the trace at `path` (`-` for standard input).
  public static func run(path: String, options: ReplayOptions = ReplayOptions()) throws(TraceError)
    -> ReplayReport
  {
    let reader = try TraceReader(path: path)
    var replay = TraceReplay(options: options)
    while let event = try reader.next() { replay.consume(event) }
    var report = replay.finish(header: reader.header, truncated: reader.isTruncated)
    report.warnings = reader.warnings
    return report
  }

  /// Feeds one event, in trace order.
  public mutating func consume(_ e: TraceEvent) {
    summary.events += 1
    checkOrder(e)
    timeline.record(e)
    followUpEAGAIN(e)
    switch e.body {
    case .traceStart(let h):
      header = h
      sequence.start(firstSeq: h.window?.firstSeq ?? 1)
    case .socketCall(let call): socketCall(call, e)
    case .epollWait(let wait): epollWait(wait, e)
    case .epollCtl(let ctl): epollCtl(ctl, e)
    case .park(let task, let fd, let mode): park(task: task, fd: fd, mode: mode, e)
    case .wake(let task, let fd, let mode, let reason):
      wake(task: task, fd: fd, mode: mode, reason: reason, e)
    case .stale(let fd, let tag, _, _): stale(fd: fd, tag: tag, e)
    case .epollCreate(let epfd, _): opened(epfd, e)
    case .deadline(let fd, let mode, let timeoutNs):
      let key = FDDirection(fd: fd, mode: mode)
      deadlines[key] = timeoutNs < 0 ? nil : saturatingAdd(e.ts, timeoutNs)
    case .uringSetup(let ring, _): if ring >= 0 { ringFd = ring }
    case .uringSubmission(let op, let fd, let userData):
      uringSubmission(op: op, fd: fd, userData: userData, e)
    case .uringCompletion(let userData, let res, let fd, let more):
      uringCompletion(userData: userData, res: res, fd: fd, more: more, e)
    case .uringEnter(let ring, _, let minComplete, _, _):
      if ringFd == nil { ringFd = ring }
      // Waiting again: completions reaped before this must have been dispatched or dropped.
      if minComplete > 0 {
        settleBadReadiness(epfd: ring)
        settleOrphans()
      }
    case .uringOverflow:
      // Completions were lost: requests whose final completion may be among them stay in flight.
      break
    case .snapshotFD(let fd, let tag): snapshotFD(fd: fd, tag: tag, e)
    case .snapshotPark(let task, let fd, let mode): snapshotPark(task: task, fd: fd, mode: mode, e)
    case .snapshotOperation(let userData, let op, let fd):
      ring.submitted(op: UringOperation(op: op), userData: userData, fd: fd, line: e.line)
      markOpen(fd, e)
    case .traceEnd(let lines, let dropped):
      summary.dropped = max(0, dropped)
      endDropped = dropped
      cleanEnd = true
      endLine = e.line
      if let lines, lines != e.line {
        violation(
          e.line, .traceEndMismatch,
          "trace_end says the file has \(lines) lines, but trace_end is line \(e.line)")
      }
    case .unknown: break
    }
  }

  /// Whether the trace has the runtime's own events (park, wake, stale): not for source "ebpf".
  private var hasRuntimeEvents: Bool { header?.source.hasRuntimeEvents ?? true }

  /// How many fds the model holds state for (for tests of its memory bound).
  var trackedFDCount: Int { fds.count }

  /// Ends the replay: settles pending checks and returns the report.
  public mutating func finish(header: TraceHeader, truncated: Bool) -> ReplayReport {
    summary.truncated = truncated || !cleanEnd
    // A trace cut short, or a flight-recorder window (which ends while the run goes on), may end
    // with parks and EAGAINs whose follow-up comes after it: notes, not violations.
    let openEndReason: String? =
      summary.truncated
      ? " (truncated trace)" : header.window != nil ? " (the window ends before it)" : nil
    // The stale drop that answers a report may be recorded just after the trace's last line: a
    // window ends wherever its dump was taken. Causal order broken is a violation wherever it ends.
    settleBadReadiness(epfd: nil, openEnd: openEndReason)
    settleOrphans()
    var check = sequence
    check.finish { line, kind, message in violation(line, kind, message) }
    sequence = check
    if let dropped = endDropped, dropped != sequence.lost {
      violation(
        endLine, .traceEndMismatch,
        "trace_end says \(dropped) events were dropped, but the seq gaps add up to \(sequence.lost)")
    }
    for (_, pending) in eagainByThread.sorted(by: { $0.value.line < $1.value.line }) {
      let text =
        "\(pending.call.rawValue) on fd \(pending.fd) returned EAGAIN and no park or retry followed before the trace ended"
      if let why = openEndReason {
        note(pending.line, text + why)
      } else {
        violation(pending.line, .eagainNotFollowed, text)
      }
    }
    for (_, broken) in unexplainedEAGAIN.sorted(by: { $0.value.line < $1.value.line }) {
      if let why = openEndReason {
        note(broken.line, broken.message + why)
      } else {
        violation(broken.line, .eagainNotFollowed, broken.message)
      }
    }
    for (task, park) in parked.sorted(by: { $0.value.line < $1.value.line }) {
      let text = "task \(task) parked on fd \(park.fd) \(park.mode.rawValue) and was never woken"
      if let why = openEndReason {
        note(park.line, text + why)
      } else {
        violation(park.line, .parkWithoutWake, text)
      }
    }
    violations.sort { $0.line < $1.line }
    if taskNumbers.count > summary.tasks { summary.tasks = taskNumbers.count }
    return ReplayReport(
      header: header, violations: violations, notes: notes, summary: summary, fdTimeline: timeline.fdSteps,
      taskTimeline: timeline.taskSteps,
      warnings: [])
  }

  // MARK: Order

  private mutating func checkOrder(_ e: TraceEvent) {
    switch e.body {
    case .traceStart, .snapshotFD, .snapshotPark, .snapshotOperation:
      // seq 0; the window's events start at window_seq.
      break
    default:
      var check = sequence  // a small value: the copy keeps the closure's access to self legal
      check.check(line: e.line, seq: e.seq) { line, kind, message in violation(line, kind, message) }
      sequence = check
    }
    if e.ts < previousTs {
      violation(e.line, .timeBackwards, "ts \(e.ts) is earlier than the previous event's \(previousTs)")
    }
    previousTs = max(previousTs, e.ts)
  }

  // MARK: fds

  private mutating func socketCall(_ call: SocketCall, _ e: TraceEvent) {
    switch call.syscall {
    case .socket, .eventfd:
      opened(call.ret, e)
      if call.syscall == .eventfd, call.ret >= 0 { fds[call.ret].flags.insert(.eventfd) }
    case .accept:
      use(call.fd, e)
      readOrWrite(fd: call.fd, mode: .read, call: call, e)
      opened(call.ret, e)
    case .read:
      use(call.fd, e)
      readOrWrite(fd: call.fd, mode: .read, call: call, e)
    case .write:
      use(call.fd, e)
      readOrWrite(fd: call.fd, mode: .write, call: call, e)
    case .close:
      use(call.fd, e)
      guard call.fd >= 0, call.ret == 0 else { break }
      closed(call.fd, e)
    default:
      use(call.fd, e)
    }
  }

  /// An event that needs `fd` open: a closed fd (not handed out again since) is a violation, and
  /// an fd never opened is remembered, in case the trace creates it later.
  private mutating func use(_ fd: Int, _ e: TraceEvent) {
    // An ebpf trace does not see every call that creates an fd (openat, pipe2, dup...), so a
    // number it saw closed may have been handed out again unseen: its fd lifetimes are not checked.
    guard fd >= 0, e.errno != "EBADF", hasRuntimeEvents else { return }
    let state = fds[fd]
    if state.flags.contains(.closed) {
      violation(
        e.line, .fdNotOpen,
        "\(e.name) on fd \(fd), which was closed at line \(state.closedLine) and not opened again since")
      return
    }
    if !state.flags.contains(.open), unopenedUses[fd] == nil, unopenedUses.count < 4096 {
      unopenedUses[fd] = e.line
      summary.fds += 1
    }
  }

  private mutating func readOrWrite(fd: Int, mode: PollMode, call: SocketCall, _ e: TraceEvent) {
    guard fd >= 0 else { return }
    if !unexplainedEAGAIN.isEmpty, let broken = unexplainedEAGAIN.removeValue(forKey: fd) {
      // The fd is still in use, so no close explains the missing park.
      violation(broken.line, .eagainNotFollowed, broken.message)
    }
    guard call.ret < 0, e.errno == "EAGAIN" || e.errno == "EWOULDBLOCK" else { return }
    // The poller's wake-up eventfd is drained until EAGAIN; nobody parks on it.
    guard !fds[fd].flags.contains(.eventfd) else { return }
    // An "ebpf" trace has no park events: nothing can follow an EAGAIN there.
    guard hasRuntimeEvents else { return }
    eagainByThread[e.tid] = PendingEAGAIN(line: e.line, call: call.syscall, fd: fd, mode: mode)
    timeline.pendingEAGAIN(fd: fd, mode: mode, e)
  }

  /// Checks the next event of a thread whose task got EAGAIN: the task must park on that fd and
  /// direction, or retry the call (`PollFD.perform`: a `poll` level check, or setting a deadline on
  /// the fd, may come in between). A deadline that has expired, or a close of the fd by another task,
  /// lets the task give up without parking.
  private mutating func followUpEAGAIN(_ e: TraceEvent) {
    guard !eagainByThread.isEmpty, let pending = eagainByThread[e.tid] else { return }
    let why: String
    switch e.body {
    case .park(let task, let fd, let mode):
      if fd == pending.fd && mode == pending.mode {
        eagainByThread[e.tid] = nil
        return
      }
      why = "task \(task) parks on fd \(fd) \(mode.rawValue) instead"
    case .socketCall(let call) where call.fd == pending.fd && call.syscall == pending.call:
      eagainByThread[e.tid] = nil  // the retry
      return
    case .socketCall(let call) where call.fd == pending.fd && call.syscall == .poll:
      return  // the level check before the park
    case .deadline(let fd, _, _) where fd == pending.fd:
      return
    case .socketCall(let call) where call.syscall == .close && call.fd == pending.fd:
      why = "its thread closes the fd"
    default:
      why = "its thread's next event is \(e.name)"
    }
    eagainByThread[e.tid] = nil
    if let expiry = deadlines[FDDirection(fd: pending.fd, mode: pending.mode)], expiry <= e.ts {
      return  // the deadline had passed: the task gives up without parking
    }
    let message =
      "\(pending.call.rawValue) on fd \(pending.fd) returned EAGAIN at line \(pending.line), then neither a park on fd \(pending.fd) \(pending.mode.rawValue) nor a retry: \(why)"
    if case .socketCall(let call) = e.body, call.syscall == .close {
      violation(e.line, .eagainNotFollowed, message)
    } else {
      // A close by another task makes the park fail without a park event; wait for it.
      unexplainedEAGAIN[pending.fd] = BrokenEAGAIN(line: e.line, message: message)
    }
  }

  /// A snapshot says `fd` is open at the window's start.
  private mutating func markOpen(_ fd: Int, _ e: TraceEvent) {
    guard fd >= 0, !fds[fd].flags.contains(.open) else { return }
    fds[fd].flags.insert(.open)
    fds[fd].openedLine = e.line
    summary.fds += 1
  }

  private mutating func opened(_ fd: Int, _ e: TraceEvent) {
    guard fd >= 0 else { return }
    let previous = fds[fd]
    if !hasRuntimeEvents {
      // See use(_:_:): an unseen close may come between two creations of the same number.
    } else if previous.flags.contains(.open) {
      violation(
        e.line, .fdNotOpen,
        "\(e.name) hands out fd \(fd), which is still open since line \(previous.openedLine): its close is missing or comes later"
      )
    } else if !unopenedUses.isEmpty, let usedLine = unopenedUses.removeValue(forKey: fd) {
      violation(
        usedLine, .fdNotOpen,
        "fd \(fd) is used here but created later, by \(e.name) at line \(e.line)")
    }
    var state = FDState()
    state.flags = [.open]
    state.openedLine = e.line
    // Parks outlive the number: a task parked on the old fd is still parked.
    state.flags.formUnion(previous.flags.intersection([.parkedRead, .parkedWrite]))
    fds[fd] = state
    summary.fds += 1
    if !deadlines.isEmpty {
      for mode in PollMode.allCases { deadlines[FDDirection(fd: fd, mode: mode)] = nil }
    }
  }

  private mutating func closed(_ fd: Int, _ e: TraceEvent) {
    if !unexplainedEAGAIN.isEmpty { unexplainedEAGAIN[fd] = nil }  // closing explains a missing park
    if !unopenedUses.isEmpty { unopenedUses[fd] = nil }
    if !deadlines.isEmpty {
      for mode in PollMode.allCases { deadlines[FDDirection(fd: fd, mode: mode)] = nil }
    }
    var state = fds[fd]
    if state.flags.contains(.registered) {
      // close(2) removes the registration itself, so this is worth a note, not a violation.
      note(e.line, "fd \(fd) closed while still registered (no epoll_ctl DEL)")
      state.flags.remove(.registered)
      state.deletedLine = e.line
    }
    state.flags.remove([.open, .pollArmed, .eventfd, .anyTag])
    state.flags.insert(.closed)
    state.closedLine = e.line
    fds[fd] = state
    if let oldest = closedOrder.push(fd),
      fds[oldest].flags.subtracting([.deregistered, .anyTag]) == [.closed]
    {
      fds.remove(oldest)
    }
  }

  // MARK: epoll

  private mutating func epollCtl(_ ctl: EpollControl, _ e: TraceEvent) {
    let fd = ctl.fd
    guard fd >= 0 else { return }
    use(fd, e)
    switch ctl.op {
    case .add:
      let state = fds[fd]
      if state.flags.contains(.registered) {
        violation(
          e.line, .addWhileRegistered,
          "epoll_ctl ADD of fd \(fd), already registered at line \(state.registeredLine) with tag \(state.tagText)"
        )
      }
      guard ctl.ret == 0 else { break }
      registered(fd: fd, tag: ctl.tag, line: e.line)
      // A readiness reported before this registration broke the causal order.
      for i in badReadiness.indices
      where badReadiness[i].fd == fd && badReadiness[i].kind == .readinessUnregistered
        && (ctl.tag == nil || badReadiness[i].tag == ctl.tag)
      {
        badReadiness[i].registeredLater = e.line
      }
    case .modify:
      if ctl.ret == 0 { fds[fd].tag = ctl.tag }
    case .delete:
      if ctl.ret == 0 {
        recentDeletes.add(fd: fd, tag: fds[fd].tag, ts: e.ts, line: e.line)
        fds[fd].flags.remove(.registered)
        fds[fd].deletedLine = e.line
      }
    }
  }

  private mutating func registered(fd: Int, tag: Int?, line: Int) {
    fds[fd].flags.insert(.registered)
    fds[fd].tag = tag
    fds[fd].registeredLine = line
    fds[fd].deletedLine = 0
  }

  private mutating func epollWait(_ wait: EpollWait, _ e: TraceEvent) {
    // The runtime drops bad readiness before its next wait on the same instance.
    settleBadReadiness(epfd: wait.epfd)
    for entry in wait.ready {
      summary.readiness += 1
      let fd = entry.fd
      guard fd >= 0 else { continue }
      let state = fds[fd]
      if state.flags.contains(.registered) && (state.tag == nil || state.tag == entry.tag) {
        noteLatching(state, reader: entry.events.wakesReader, writer: entry.events.wakesWriter)
        continue
      }
      let kind: ReplayViolation.Kind
      let why: String
      if state.flags.contains(.registered) {
        kind = .readinessStaleTag
        why = "whose registration (line \(state.registeredLine)) has tag \(state.tagText)"
      } else if state.deletedLine > 0 {
        if let del = recentDeletes.overlapping(
          fd: fd, tag: entry.tag, waitStart: e.ts - min(e.ts, max(0, wait.durationNs)))
        {
          // Collected before the DEL took effect, returned after it: the kernel's order, not a
          // stale event (the runtime may still find the descriptor and dispatch it).
          note(
            e.line,
            "readiness for fd \(fd) with tag \(entry.tag) from a wait that was in the kernel when its DEL (line \(del)) returned: collected before the DEL took effect"
          )
          continue
        }
        kind = .readinessDeleted
        why = "whose registration was removed at line \(state.deletedLine)"
      } else {
        kind = .readinessUnregistered
        why = "which is not registered"
      }
      addBadReadiness(
        BadReadiness(
          line: e.line, epfd: wait.epfd, fd: fd, tag: entry.tag, kind: kind,
          message:
            "readiness \(entry.events.shortDescription) for fd \(fd) with tag \(entry.tag), \(why)"
        ))
    }
  }

  /// Counts a valid readiness report as latched when it finds no task parked in a direction
  /// it reports (the runtime stores it for the next park).
  private mutating func noteLatching(_ state: FDState, reader: Bool, writer: Bool) {
    // Without park events nothing shows whether a task was waiting: nothing is counted as latched.
    guard hasRuntimeEvents else { return }
    let wakes =
      (reader && state.flags.contains(.parkedRead)) || (writer && state.flags.contains(.parkedWrite))
    if !wakes { summary.latchedReadiness += 1 }
  }

  private mutating func stale(fd: Int, tag: Int, _ e: TraceEvent) {
    if let i = badReadiness.firstIndex(where: { $0.fd == fd && ($0.tag == nil || $0.tag == tag) }) {
      badReadiness.remove(at: i)
      summary.staleDrops += 1
    } else {
      summary.staleDrops += 1
      note(e.line, "stale drop for fd \(fd) tag \(tag) without a matching readiness")
    }
  }

  /// Holds a bad readiness until the next wait; a hostile trace that never waits again gets its
  /// reports now rather than an unbounded list.
  private mutating func addBadReadiness(_ bad: BadReadiness) {
    if badReadiness.count >= 4096 { settleBadReadiness(epfd: nil) }
    badReadiness.append(bad)
  }

  private mutating func settleBadReadiness(epfd: Int?, openEnd: String? = nil) {
    guard !badReadiness.isEmpty else { return }
    var kept: [BadReadiness] = []
    for bad in badReadiness {
      if epfd == nil || bad.epfd == epfd {
        var message = bad.message
        if let later = bad.registeredLater {
          message += "; its registration comes later, at line \(later) (causal order broken)"
        }
        if let why = openEnd, bad.registeredLater == nil {
          note(bad.line, message + ", and the trace ends before a stale drop could follow" + why)
        } else if hasRuntimeEvents || bad.registeredLater != nil {
          violation(bad.line, bad.kind, message + ", and no stale drop followed")
        } else {
          // An "ebpf" trace has no stale events to show the runtime dropped it.
          note(bad.line, message)
        }
      } else {
        kept.append(bad)
      }
    }
    badReadiness = kept
  }

  // MARK: io_uring

  private mutating func uringSubmission(op: String, fd: Int, userData: UInt64, _ e: TraceEvent) {
    let operation = UringOperation(op: op)
    if operation != .pollAdd, let pollFd = uringPolls.removeValue(forKey: userData) {
      // The latest submission with a user_data owns its completions.
      if fds[pollFd].uringPoll == userData { fds[pollFd].flags.remove(.pollArmed) }
    }
    ring.submitted(op: operation, userData: userData, fd: fd, line: e.line)
    // A completion logged before this submission broke the causal order.
    if let i = orphanCompletions.firstIndex(where: { $0.userData == userData }) {
      let orphan = orphanCompletions.remove(at: i)
      violation(
        orphan.line, orphan.isPoll ? .readinessUnregistered : .completionWithoutSubmission,
        "\(orphan.description); its submission comes later, at line \(e.line) (causal order broken)")
      _ = ring.completed(userData: userData, more: orphan.more, line: orphan.line)
    }
    guard fd >= 0 else { return }
    use(fd, e)
    switch operation {
    case .pollAdd:
      let state = fds[fd]
      if state.flags.contains(.pollArmed), uringPolls[state.uringPoll] == fd {
        violation(
          e.line, .addWhileRegistered,
          "POLL_ADD for fd \(fd) (user_data \(userData)) while its poll user_data \(state.uringPoll) from line \(state.registeredLine) is still armed"
        )
      }
      uringPolls[userData] = fd
      fds[fd].uringPoll = userData
      fds[fd].flags.insert(.pollArmed)
      fds[fd].registeredLine = e.line
    case .cancel:
      // The fd's poll is on its way out: its final completion may still come.
      fds[fd].flags.remove(.pollArmed)
    default: break
    }
  }

  private mutating func uringCompletion(userData: UInt64, res: Int, fd: Int, more: Bool, _ e: TraceEvent) {
    guard let operation = ring.completed(userData: userData, more: more, line: e.line) else {
      orphanCompletion(userData: userData, res: res, fd: fd, more: more, e)
      return
    }
    if operation.isCallResult {
      summary.operationResults += 1
      if operation == .accept, res >= 0 { opened(res, e) }
      return
    }
    guard let fd = uringPolls[userData] else { return }  // not a poll request
    var state = fds[fd]
    let wasArmed = state.flags.contains(.pollArmed) && state.uringPoll == userData
    if !more {
      uringPolls[userData] = nil
      if wasArmed {
        state.flags.remove(.pollArmed)
        fds[fd] = state
      }
    }
    guard res > 0, e.errno == nil else { return }  // cancelled or failed: no readiness
    summary.readiness += 1
    if !state.flags.contains(.closed) && state.uringPoll == userData {
      noteLatching(
        state, reader: res & (0x1 | 0x2 | 0x8 | 0x10 | 0x2000) != 0,  // POLLIN|PRI|ERR|HUP|RDHUP
        writer: res & (0x4 | 0x8 | 0x10) != 0)  // POLLOUT|ERR|HUP
      return
    }
    let kind: ReplayViolation.Kind
    let why: String
    if state.flags.contains(.closed) {
      kind = .readinessDeleted
      why = "closed at line \(state.closedLine)"
    } else {
      kind = .readinessStaleTag
      why =
        "whose poll is now user_data \(state.flags.contains(.pollArmed) ? String(state.uringPoll) : "none")"
    }
    addBadReadiness(
      BadReadiness(
        line: e.line, epfd: ringFd ?? -1, fd: fd, tag: nil, kind: kind,
        message:
          "poll completion res \(res) (user_data \(userData)) for fd \(fd), \(why)"
      ))
  }

  /// A completion whose `user_data` has no submission in flight: never submitted, submitted later
  /// (causal order), or completed already. Held until the next wait, in case its submission follows.
  private mutating func orphanCompletion(userData: UInt64, res: Int, fd: Int, more: Bool, _ e: TraceEvent) {
    // A window's snapshot lists fds and operations, not the poller's own requests (tag 0: the
    // wake-up NOP, cancels) nor polls already cancelled: their completions may end in the window.
    if header?.window != nil, userData >> 32 == 0 || res < 0 { return }
    let isPoll = header?.backend == "uring" && userData >> 62 == 0 && userData >> 32 != 0
    let before: String
    if let finished = ring.finishedLine(userData) {
      before = "its request already completed at line \(finished) (a final completion has no MORE)"
    } else {
      before = "no submission with this user_data is in flight"
    }
    let what = isPoll ? "poll completion" : "completion"
    if orphanCompletions.count >= 4096 { settleOrphans() }
    orphanCompletions.append(
      OrphanCompletion(
        line: e.line, userData: userData, more: more, isPoll: isPoll,
        description: "\(what) res \(res) (user_data \(userData)) for fd \(fd): \(before)"))
  }

  private mutating func settleOrphans() {
    for orphan in orphanCompletions {
      violation(orphan.line, .completionWithoutSubmission, orphan.description)
    }
    orphanCompletions.removeAll()
  }

  // MARK: Windows

  private mutating func snapshotFD(fd: Int, tag: Int, _ e: TraceEvent) {
    guard fd >= 0 else { return }
    markOpen(fd, e)
    if header?.backend == "uring" {
      // The fd's multishot POLL_ADD is armed with user_data fd + (tag << 32).
      let userData = UInt64(truncatingIfNeeded: fd) & 0xFFFF_FFFF | UInt64(truncatingIfNeeded: tag) << 32
      ring.submitted(op: .pollAdd, userData: userData, fd: fd, line: e.line)
      uringPolls[userData] = fd
      fds[fd].uringPoll = userData
      fds[fd].flags.insert(.pollArmed)
      fds[fd].registeredLine = e.line
    } else {
      registered(fd: fd, tag: tag, line: e.line)
    }
  }

  private mutating func snapshotPark(task: Int, fd: Int, mode: PollMode, _ e: TraceEvent) {
    noteTask(task)
    parked[task] = Park(fd: fd, mode: mode, line: e.line)
    markOpen(fd, e)
    if fd >= 0 { fds[fd].flags.insert(mode == .read ? .parkedRead : .parkedWrite) }
  }

  // MARK: Tasks

  private mutating func park(task: Int, fd: Int, mode: PollMode, _ e: TraceEvent) {
    summary.parks += 1
    noteTask(task)
    if let previous = parked[task] {
      violation(
        e.line, .parkWhileParked,
        "task \(task) parks on fd \(fd) \(mode.rawValue) but is already parked on fd \(previous.fd) \(previous.mode.rawValue) since line \(previous.line)"
      )
    }
    parked[task] = Park(fd: fd, mode: mode, line: e.line)
    guard fd >= 0 else { return }
    fds[fd].flags.insert(mode == .read ? .parkedRead : .parkedWrite)
  }

  private mutating func wake(task: Int, fd: Int, mode: PollMode, reason: WakeReason, _ e: TraceEvent) {
    summary.wakesByReason[reason, default: 0] += 1
    guard let park = parked.removeValue(forKey: task) else {
      violation(
        e.line, .wakeNotParked,
        "wake (\(reason.rawValue)) of task \(task) on fd \(fd) \(mode.rawValue), which is not parked")
      return
    }
    if park.fd != fd || park.mode != mode {
      violation(
        e.line, .wakeMismatch,
        "wake of task \(task) on fd \(fd) \(mode.rawValue), but it parked on fd \(park.fd) \(park.mode.rawValue) at line \(park.line)"
      )
    }
    guard park.fd >= 0, fds.contains(park.fd) else { return }
    // One waiter per fd and direction (a second one is the runtime's concurrentWait error).
    var state = fds[park.fd]
    state.flags.remove(park.mode == .read ? .parkedRead : .parkedWrite)
    if !state.flags.holdsState { fds.remove(park.fd) } else { fds[park.fd] = state }
  }

  /// Counts a task number, exactly up to 65,536 distinct tasks; past that, each park of a task not
  /// yet counted adds one (an upper bound), so memory stays bounded however many tasks there are.
  private mutating func noteTask(_ task: Int) {
    if taskNumbers.contains(task) { return }
    if taskNumbers.count < 1 << 16 {
      taskNumbers.insert(task)
    } else {
      summary.tasks = max(summary.tasks, taskNumbers.count) + 1
    }
  }

  // MARK: Reporting

  private mutating func violation(_ line: Int, _ kind: ReplayViolation.Kind, _ message: String) {
    summary.violationsByKind[kind, default: 0] += 1
    if violations.count < options.maxKeptViolations {
      violations.append(ReplayViolation(line: line, kind: kind, message: message))
    }
  }

  private mutating func note(_ line: Int?, _ message: String) {
    if notes.count < options.maxKeptViolations { notes.append(ReplayNote(line: line, message: message)) }
  }
}

/// An EAGAIN its task left without a park or retry, reported at `line` unless the fd's close
/// explains it.
private struct BrokenEAGAIN {
  var line: Int
  var message: String
}

private struct Park {
  var fd: Int
  var mode: PollMode
  var line: Int
}

private struct BadReadiness {
  var line: Int
  var epfd: Int
  var fd: Int
  /// The tag a `stale` event must name; `nil` matches any (io_uring has no tag).
  var tag: Int?
  var kind: ReplayViolation.Kind
  /// What was reported, without the missing `stale` drop.
  var message: String
  /// The line of a registration of the fd that came after the report.
  var registeredLater: Int?
}

private struct OrphanCompletion {
  var line: Int
  var userData: UInt64
  var more: Bool
  var isPoll: Bool
  var description: String
}

/// The newest `epoll_ctl` DELs (at most 1,024), for ``TraceReplay``'s rule on a wait that
/// overlapped one.
private struct RecentDeletes {
  private var byFD: [Int: (tag: Int?, ts: Int, line: Int)] = [:]
  /// The fds in `byFD`, oldest first: the one a full queue pushes out leaves `byFD` too.
  private var order = BoundedQueue(capacity: 1024)

  mutating func add(fd: Int, tag: Int?, ts: Int, line: Int) {
    if byFD.updateValue((tag, ts, line), forKey: fd) == nil, let oldest = order.push(fd) {
      byFD[oldest] = nil
    }
  }

  /// The line of the DEL of `fd` with `tag` that returned at or after `waitStart`, if any.
  func overlapping(fd: Int, tag: Int, waitStart: Int) -> Int? {
    guard let d = byFD[fd], d.tag == nil || d.tag == tag, d.ts >= waitStart else { return nil }
    return d.line
  }
}
