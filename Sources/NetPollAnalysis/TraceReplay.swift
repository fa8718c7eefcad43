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
/// task, its park. io_uring events are modelled leniently: a `POLL_ADD` submission arms an fd and its
/// completion is readiness, but nothing about them is a violation yet.
public struct TraceReplay {
  private let options: ReplayOptions
  private var summary = ReplaySummary()
  private var violations: [ReplayViolation] = []
  private var notes: [ReplayNote] = []
  private var fds: [FDState] = []
  private var parked: [Int: Park] = [:]
  private var taskNumbers: Set<Int> = []
  private var badReadiness: [BadReadiness] = []
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
    case .wake(let task, let fd, let mode, let reason): wake(task: task, fd: fd, mode: mode, reason: reason, e)
    case .stale(let fd, let tag, _, _): stale(fd: fd, tag: tag, e)
    case .epollCreate(let epfd, _): opened(epfd)
    case .deadline(let fd, _, _): touch(fd)
    case .uringSubmission(let op, let fd, _):
      guard fd >= 0 else { break }
      touch(fd)
      if op == "POLL_ADD" { fds[fd].uringArmed = true }
      if op == "POLL_REMOVE" { fds[fd].uringArmed = false }
    case .uringCompletion(_, _, let fd):
      guard fd >= 0 else { break }
      touch(fd)
      if fds[fd].uringArmed {
        summary.readiness += 1
        fds[fd].uringArmed = false  // a oneshot poll fires once
      }
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
    for fd in fds.indices {
      for mode in PollMode.allCases {
        guard let pending = fds[fd].eagain[mode] else { continue }
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
    summary.fds = fds.reduce(0) { $0 + ($1.seen ? 1 : 0) }
    summary.tasks = taskNumbers.count
    return ReplayReport(
      header: header, violations: violations, notes: notes, summary: summary, fdTimeline: timeline.fdSteps, taskTimeline: timeline.taskSteps,
      warnings: [])
  }

  // MARK: Checks

  private mutating func checkOrder(_ e: TraceEvent) {
    if previousSeq >= 0 {
      if e.seq > previousSeq + 1 {
        violation(
          e.line, .seqGap, "seq jumps from \(previousSeq) to \(e.seq): \(e.seq - previousSeq - 1) events lost")
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
          "epoll_ctl ADD of fd \(fd), already registered at line \(fds[fd].registeredLine) with tag \(fds[fd].tag)")
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
        for mode in PollMode.allCases
        where (mode == .read ? entry.events.wakesReader : entry.events.wakesWriter) && state.parkedTask[mode] == nil {
          summary.latchedReadiness += 1
        }
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
          message: "readiness \(entry.events.shortDescription) for fd \(fd) with tag \(entry.tag), \(why), and no stale drop followed"))
    }
  }

  private mutating func stale(fd: Int, tag: Int, _ e: TraceEvent) {
    touch(fd)
    if let i = badReadiness.firstIndex(where: { $0.fd == fd && $0.tag == tag }) {
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
        "task \(task) parks on fd \(fd) \(mode.rawValue) but is already parked on fd \(previous.fd) \(previous.mode.rawValue) since line \(previous.line)")
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
      violation(e.line, .wakeNotParked, "wake (\(reason.rawValue)) of task \(task) on fd \(fd) \(mode.rawValue), which is not parked")
      return
    }
    if park.fd != fd || park.mode != mode {
      violation(
        e.line, .wakeMismatch,
        "wake of task \(task) on fd \(fd) \(mode.rawValue), but it parked on fd \(park.fd) \(park.mode.rawValue) at line \(park.line)")
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
    for mode in PollMode.allCases {
      if let pending = fds[fd].eagain[mode] {
        note(pending.line, "EAGAIN on fd \(fd) \(mode.rawValue) was followed by close at line \(e.line)")
        fds[fd].eagain[mode] = nil
      }
    }
    if fds[fd].registered {
      // close(2) removes the registration; the contract says the runtime DELs first.
      note(e.line, "fd \(fd) closed while still registered (no epoll_ctl DEL)")
      fds[fd].registered = false
      fds[fd].deletedLine = e.line
    }
  }

  private mutating func touch(_ fd: Int) {
    guard fd >= 0 else { return }
    if fd >= fds.count {
      fds.append(contentsOf: repeatElement(FDState(), count: max(fd + 1 - fds.count, fds.count)))
    }
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
  var uringArmed = false
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
  var tag: Int
  var kind: ReplayViolation.Kind
  var message: String
}
