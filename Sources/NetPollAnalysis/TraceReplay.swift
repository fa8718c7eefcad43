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
/// The model holds, per fd, the registration (ADD/DEL and the sequence tag) and the read and write
/// poll descriptors (parked task, latched readiness, an EAGAIN waiting for its park or retry); per
/// task, its park. On io_uring, a `POLL_ADD` submission is the fd's registration (its `user_data`
/// plays the tag's part); each positive completion of it is readiness, and it stays armed while its
/// completions carry `MORE` (multishot). A poll completion for an fd closed since, or whose poll was
/// replaced, is bad readiness that the runtime must drop with a `stale` event before it waits again.
/// In completion mode an ACCEPT, RECV or SEND completion is the call's result, not readiness: it
/// needs no registration and no `stale`; an ACCEPT's `res` opens its fd as `accept` does.
public struct TraceReplay {
  private let options: ReplayOptions
  private var summary = ReplaySummary()
  private var violations: [ReplayViolation] = []
  private var notes: [ReplayNote] = []
  private var fds = FDTable(empty: FDState())
  private var parked: [Int: Park] = [:]
  private var taskNumbers: Set<Int> = []
  private var badReadiness: [BadReadiness] = []
  /// Live io_uring poll requests: `user_data` → fd (removed by their last completion).
  private var uringPolls: [UInt64: Int] = [:]
  /// Every operation in flight, to tell call results (ACCEPT/RECV/SEND) from poll completions.
  private var uringOperations = UringOperations()
  /// The ring's fd, from `uring_setup` (bad readiness is keyed by the instance that reported it).
  private var ringFd = -1
  private var previousSeq = -1
  private var previousTs = 0
  private var cleanEnd = false
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
    switch e.body {
    case .socketCall(let call): socketCall(call, e)
    case .epollWait(let wait): epollWait(wait, e)
    case .epollCtl(let ctl): epollCtl(ctl, e)
    case .park(let task, let fd, let mode): park(task: task, fd: fd, mode: mode, e)
    case .wake(let task, let fd, let mode, let reason):
      wake(task: task, fd: fd, mode: mode, reason: reason, e)
    case .stale(let fd, let tag, _, _): stale(fd: fd, tag: tag, e)
    case .epollCreate(let epfd, _): opened(epfd)
    case .deadline(let fd, _, _): touch(fd)
    case .uringSetup(let ring, _): ringFd = ring
    case .uringSubmission(let op, let fd, let userData):
      uringOperations.submitted(op: op, userData: userData)
      if op != "POLL_ADD", let pollFd = uringPolls.removeValue(forKey: userData) {
        // The latest submission with a user_data owns its completions.
        if fds[pollFd].uringPoll == userData { fds[pollFd].uringPoll = nil }
      }
      guard fd >= 0 else { break }
      touch(fd)
      if op == "POLL_ADD" {
        uringPolls[userData] = fd
        fds[fd].uringPoll = userData
      }
    case .uringCompletion(let userData, let res, _, let more):
      uringCompletion(userData: userData, res: res, more: more, e)
    case .uringEnter(let ring, _, let minComplete, _, _):
      // Waiting again: completions reaped before this must have been dispatched or dropped.
      if minComplete > 0 { settleBadReadiness(epfd: ring) }
    case .traceEnd(_, let dropped):
      summary.dropped = dropped
      cleanEnd = true
    default: break
    }
  }

  /// Ends the replay: settles pending checks and returns the report.
  public mutating func finish(header: TraceHeader, truncated: Bool) -> ReplayReport {
    summary.truncated = truncated || !cleanEnd
    settleBadReadiness(epfd: nil)
    for (fd, state) in fds.entries {
      for mode in PollMode.allCases {
        guard let pending = state.eagain[mode] else { continue }
        let text =
          "\(pending.call.rawValue) on fd \(fd) returned EAGAIN and no park or retry followed before the trace ended"
        if summary.truncated {
          note(pending.line, text + " (truncated trace)")
        } else {
          violation(pending.line, .eagainNotFollowed, text)
        }
      }
    }
    for (task, park) in parked.sorted(by: { $0.value.line < $1.value.line }) {
      let text = "task \(task) parked on fd \(park.fd) \(park.mode.rawValue) and was never woken"
      if summary.truncated {
        note(park.line, text + " (truncated trace)")
      } else {
        violation(park.line, .parkWithoutWake, text)
      }
    }
    violations.sort { $0.line < $1.line }
    summary.fds = fds.entries.reduce(0) { $0 + ($1.value.seen ? 1 : 0) }
    summary.tasks = taskNumbers.count
    return ReplayReport(
      header: header, violations: violations, notes: notes, summary: summary, fdTimeline: timeline.fdSteps,
      taskTimeline: timeline.taskSteps,
      warnings: [])
  }

  // MARK: Checks

  private mutating func checkOrder(_ e: TraceEvent) {
    if previousSeq >= 0 {
      if e.seq > previousSeq + 1 {
        violation(
          e.line, .seqGap, "seq jumps from \(previousSeq) to \(e.seq): \(e.seq - previousSeq - 1) events lost"
        )
      } else if e.seq <= previousSeq {
        violation(e.line, .seqBackwards, "seq \(e.seq) follows seq \(previousSeq)")
      }
      if e.ts < previousTs {
        violation(e.line, .timeBackwards, "ts \(e.ts) is earlier than the previous event's \(previousTs)")
      }
    }
    previousSeq = e.seq
    previousTs = max(previousTs, e.ts)
  }

  private mutating func socketCall(_ call: SocketCall, _ e: TraceEvent) {
    switch call.syscall {
    case .socket, .eventfd:
      opened(call.ret)
    case .accept:
      touch(call.fd)
      readOrWrite(fd: call.fd, mode: .read, call: call, e)
      opened(call.ret)
    case .read:
      readOrWrite(fd: call.fd, mode: .read, call: call, e)
    case .write:
      readOrWrite(fd: call.fd, mode: .write, call: call, e)
    case .close:
      guard call.fd >= 0, call.ret == 0 else { break }
      touch(call.fd)
      closed(call.fd, e)
    default:
      touch(call.fd)
    }
  }

  private mutating func readOrWrite(fd: Int, mode: PollMode, call: SocketCall, _ e: TraceEvent) {
    guard fd >= 0 else { return }
    touch(fd)
    // Any call in the same direction is the retry of an earlier EAGAIN.
    fds[fd].eagain[mode] = nil
    if call.ret < 0, e.errno == "EAGAIN" || e.errno == "EWOULDBLOCK" {
      fds[fd].eagain[mode] = PendingEAGAIN(line: e.line, ts: e.ts, call: call.syscall)
      timeline.pendingEAGAIN(fd: fd, mode: mode, e)
    }
  }

  private mutating func epollCtl(_ ctl: EpollControl, _ e: TraceEvent) {
    let fd = ctl.fd
    guard fd >= 0 else { return }
    touch(fd)
    switch ctl.op {
    case .add:
      if fds[fd].registered {
        violation(
          e.line, .addWhileRegistered,
          "epoll_ctl ADD of fd \(fd), already registered at line \(fds[fd].registeredLine) with tag \(fds[fd].tag)"
        )
      }
      if ctl.ret == 0 {
        fds[fd].registered = true
        fds[fd].tag = ctl.tag
        fds[fd].registeredLine = e.line
        fds[fd].deletedLine = 0
      }
    case .modify:
      if ctl.ret == 0 { fds[fd].tag = ctl.tag }
    case .delete:
      if ctl.ret == 0 {
        fds[fd].registered = false
        fds[fd].deletedLine = e.line
      }
    }
  }

  private mutating func epollWait(_ wait: EpollWait, _ e: TraceEvent) {
    // The runtime drops bad readiness before its next wait on the same instance.
    settleBadReadiness(epfd: wait.epfd)
    for entry in wait.ready {
      summary.readiness += 1
      let fd = entry.fd
      guard fd >= 0 else { continue }
      touch(fd)
      let state = fds[fd]
      if state.registered && state.tag == entry.tag {
        noteLatching(state, reader: entry.events.wakesReader, writer: entry.events.wakesWriter)
        continue
      }
      let kind: ReplayViolation.Kind
      let why: String
      if state.registered {
        kind = .readinessStaleTag
        why = "whose registration (line \(state.registeredLine)) has tag \(state.tag)"
      } else if state.deletedLine > 0 {
        kind = .readinessDeleted
        why = "whose registration was removed at line \(state.deletedLine)"
      } else {
        kind = .readinessUnregistered
        why = "which is not registered"
      }
      badReadiness.append(
        BadReadiness(
          line: e.line, epfd: wait.epfd, fd: fd, tag: entry.tag, kind: kind,
          message:
            "readiness \(entry.events.shortDescription) for fd \(fd) with tag \(entry.tag), \(why), and no stale drop followed"
        ))
    }
  }

  private mutating func uringCompletion(userData: UInt64, res: Int, more: Bool, _ e: TraceEvent) {
    let operation = uringOperations.completed(userData: userData, more: more)
    if let operation, operation.isCallResult {
      summary.operationResults += 1
      if operation == .accept, res >= 0 { opened(res) }
      return
    }
    guard let fd = uringPolls[userData] else { return }  // not a poll request
    if !more {
      uringPolls[userData] = nil
    }
    defer { if !more && fds[fd].uringPoll == userData { fds[fd].uringPoll = nil } }
    guard res > 0, e.errno == nil else { return }  // cancelled or failed: no readiness
    summary.readiness += 1
    let state = fds[fd]
    if state.closedLine == 0 && state.uringPoll == userData {
      noteLatching(
        state, reader: res & (0x1 | 0x2 | 0x8 | 0x10 | 0x2000) != 0,  // POLLIN|PRI|ERR|HUP|RDHUP
        writer: res & (0x4 | 0x8 | 0x10) != 0)  // POLLOUT|ERR|HUP
      return
    }
    let kind: ReplayViolation.Kind
    let why: String
    if state.closedLine > 0 {
      kind = .readinessDeleted
      why = "closed at line \(state.closedLine)"
    } else {
      kind = .readinessStaleTag
      why = "whose poll is now user_data \(state.uringPoll.map(String.init) ?? "none")"
    }
    badReadiness.append(
      BadReadiness(
        line: e.line, epfd: ringFd, fd: fd, tag: nil, kind: kind,
        message:
          "poll completion res \(res) (user_data \(userData)) for fd \(fd), \(why), and no stale drop followed"
      ))
  }

  /// Counts a valid readiness report as latched when it finds no task parked in a direction
  /// it reports (the runtime stores it for the next park).
  private mutating func noteLatching(_ state: FDState, reader: Bool, writer: Bool) {
    let wakes = (reader && state.parkedTask.read != nil) || (writer && state.parkedTask.write != nil)
    if !wakes { summary.latchedReadiness += 1 }
  }

  private mutating func stale(fd: Int, tag: Int, _ e: TraceEvent) {
    touch(fd)
    if let i = badReadiness.firstIndex(where: { $0.fd == fd && ($0.tag == nil || $0.tag == tag) }) {
      badReadiness.remove(at: i)
      summary.staleDrops += 1
    } else {
      summary.staleDrops += 1
      note(e.line, "stale drop for fd \(fd) tag \(tag) without a matching readiness")
    }
  }

  private mutating func settleBadReadiness(epfd: Int?) {
    guard !badReadiness.isEmpty else { return }
    var kept: [BadReadiness] = []
    for bad in badReadiness {
      if epfd == nil || bad.epfd == epfd {
        violation(bad.line, bad.kind, bad.message)
      } else {
        kept.append(bad)
      }
    }
    badReadiness = kept
  }

  private mutating func park(task: Int, fd: Int, mode: PollMode, _ e: TraceEvent) {
    summary.parks += 1
    taskNumbers.insert(task)
    if let previous = parked[task] {
      violation(
        e.line, .parkWhileParked,
        "task \(task) parks on fd \(fd) \(mode.rawValue) but is already parked on fd \(previous.fd) \(previous.mode.rawValue) since line \(previous.line)"
      )
    }
    parked[task] = Park(fd: fd, mode: mode, line: e.line)
    guard fd >= 0 else { return }
    touch(fd)
    fds[fd].eagain[mode] = nil
    fds[fd].parkedTask[mode] = task
  }

  private mutating func wake(task: Int, fd: Int, mode: PollMode, reason: WakeReason, _ e: TraceEvent) {
    summary.wakesByReason[reason, default: 0] += 1
    if fd >= 0 {
      touch(fd)
      if fds[fd].parkedTask[mode] == task { fds[fd].parkedTask[mode] = nil }
    }
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
      if park.fd >= 0, fds[park.fd].parkedTask[park.mode] == task {
        fds[park.fd].parkedTask[park.mode] = nil
      }
    }
  }

  private mutating func opened(_ fd: Int) {
    guard fd >= 0 else { return }
    touch(fd)
    fds[fd] = FDState()
    fds[fd].seen = true
  }

  private mutating func closed(_ fd: Int, _ e: TraceEvent) {
    fds[fd].closedLine = e.line
    for mode in PollMode.allCases {
      if let pending = fds[fd].eagain[mode] {
        note(pending.line, "EAGAIN on fd \(fd) \(mode.rawValue) was followed by close at line \(e.line)")
        fds[fd].eagain[mode] = nil
      }
    }
    if fds[fd].registered {
      // close(2) removes the registration itself, so this is worth a note, not a violation.
      note(e.line, "fd \(fd) closed while still registered (no epoll_ctl DEL)")
      fds[fd].registered = false
      fds[fd].deletedLine = e.line
    }
  }

  private mutating func touch(_ fd: Int) {
    guard fd >= 0 else { return }
    fds[fd].seen = true
  }

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

/// The model's view of one fd number.
struct FDState {
  var seen = false
  var registered = false
  var tag = 0
  var registeredLine = 0
  /// The line of the DEL (or close) that removed the registration; 0 if none.
  var deletedLine = 0
  /// The line of the `close` that ended the fd; 0 while open (or never seen closed).
  var closedLine = 0
  /// The `user_data` of the fd's live io_uring poll request.
  var uringPoll: UInt64?
  var parkedTask = PerMode<Int?>(nil)
  var eagain = PerMode<PendingEAGAIN?>(nil)
}

/// One value per poll descriptor direction, stored inline (no array, no allocation).
struct PerMode<Value> {
  var read: Value
  var write: Value

  init(_ value: Value) {
    read = value
    write = value
  }

  subscript(mode: PollMode) -> Value {
    get { mode == .read ? read : write }
    set {
      if mode == .read { read = newValue } else { write = newValue }
    }
  }
}

struct PendingEAGAIN {
  var line: Int
  var ts: Int
  var call: Syscall
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
  var message: String
}
