/// Collects the `--fd`/`--task` timeline during a replay.
///
/// An fd's timeline is every event that names the fd. A task's timeline is its parks and wakes,
/// plus the EAGAIN call that led to each park, the readiness that arrived while it was parked, and
/// the first call it made on the fd after its wake (the resume).
struct TimelineRecorder {
  var fd: Int?
  var task: Int?
  private(set) var fdSteps: [TimelineStep] = []
  private(set) var taskSteps: [TimelineStep] = []
  private var lastEAGAIN: [FDDirection: TimelineStep] = [:]
  private var parkedOn: (fd: Int, mode: PollMode)?
  private var resumeOn: (fd: Int, mode: PollMode)?

  mutating func record(_ e: TraceEvent) {
    if let fd { recordForFD(fd, e) }
    if let task { recordForTask(task, e) }
  }

  /// Remembers an EAGAIN so a task's timeline can show it before the park it causes.
  mutating func pendingEAGAIN(fd: Int, mode: PollMode, _ e: TraceEvent) {
    guard task != nil, case .socketCall(let call) = e.body else { return }
    lastEAGAIN[FDDirection(fd: fd, mode: mode)] = step(e, describe(call, e))
  }

  private mutating func recordForFD(_ fd: Int, _ e: TraceEvent) {
    switch e.body {
    case .socketCall(let call):
      if call.syscall == .accept && call.ret == fd && call.fd != fd {
        fdSteps.append(step(e, "accepted on listener fd \(call.fd)"))
      } else if call.fd == fd {
        fdSteps.append(step(e, describe(call, e)))
      }
    case .epollCtl(let ctl) where ctl.fd == fd:
      fdSteps.append(
        step(
          e,
          "epoll_ctl \(ctl.op.rawValue) tag \(ctl.tag.map(String.init) ?? "?") \(ctl.events.shortDescription) → \(result(ctl.ret, e))"
        ))
    case .epollWait(let wait):
      for entry in wait.ready where entry.fd == fd {
        fdSteps.append(
          step(e, "ready \(entry.events.shortDescription) tag \(entry.tag) (epoll_wait returned \(wait.ret))")
        )
      }
    case .epollCreate(let epfd, _) where epfd == fd:
      fdSteps.append(step(e, "epoll_create → fd \(epfd)"))
    case .park(let task, let pfd, let mode) where pfd == fd:
      fdSteps.append(step(e, "task \(task) parks (\(mode.rawValue))"))
    case .wake(let task, let wfd, let mode, let reason) where wfd == fd:
      fdSteps.append(step(e, "task \(task) woken (\(mode.rawValue), \(reason.rawValue))"))
    case .stale(let sfd, let tag, let current, let mode) where sfd == fd:
      fdSteps.append(step(e, "stale readiness dropped: tag \(tag), current tag \(current), \(mode.rawValue)"))
    case .deadline(let dfd, let mode, let timeout) where dfd == fd:
      let what = timeout < 0 ? "cleared" : "in \(formatNanoseconds(timeout))"
      fdSteps.append(step(e, "\(mode.rawValue) deadline \(what)"))
    case .uringSubmission(let op, let sfd, let userData) where sfd == fd:
      fdSteps.append(step(e, "sqe \(op) user_data \(userData)"))
    case .uringCompletion(let userData, let res, let cfd, _) where cfd == fd:
      fdSteps.append(step(e, "cqe res \(res)\(e.errno.map { " (\($0))" } ?? "") user_data \(userData)"))
    default: break
    }
  }

  private mutating func recordForTask(_ task: Int, _ e: TraceEvent) {
    switch e.body {
    case .park(let t, let fd, let mode) where t == task:
      if let eagain = lastEAGAIN.removeValue(forKey: FDDirection(fd: fd, mode: mode)) {
        taskSteps.append(eagain)
      }
      taskSteps.append(step(e, "parks on fd \(fd) (\(mode.rawValue))"))
      parkedOn = (fd, mode)
      resumeOn = nil
    case .wake(let t, let fd, let mode, let reason) where t == task:
      taskSteps.append(step(e, "woken on fd \(fd) (\(mode.rawValue), \(reason.rawValue))"))
      parkedOn = nil
      resumeOn = (fd, mode)
    case .epollWait(let wait):
      guard let parkedOn else { return }
      for entry in wait.ready where entry.fd == parkedOn.fd {
        taskSteps.append(step(e, "fd \(entry.fd) ready \(entry.events.shortDescription) tag \(entry.tag)"))
      }
    case .socketCall(let call):
      guard let resume = resumeOn, call.fd == resume.fd else { return }
      let mode: PollMode = call.syscall == .write ? .write : .read
      guard mode == resume.mode, [.read, .write, .accept, .connect].contains(call.syscall) else { return }
      taskSteps.append(step(e, "resumes: \(describe(call, e))"))
      resumeOn = nil
    default: break
    }
  }

  private func step(_ e: TraceEvent, _ text: String) -> TimelineStep {
    TimelineStep(line: e.line, ts: e.ts, text: text)
  }
}

/// `read(len 4096) → 512`, `accept → fd 9`, `write(len 10) → EAGAIN`.
func describe(_ call: SocketCall, _ e: TraceEvent) -> String {
  let name = call.syscall.rawValue
  switch call.syscall {
  case .read, .write: return "\(name)(len \(call.length)) → \(result(call.ret, e))"
  case .accept where call.ret >= 0: return "accept → fd \(call.ret)"
  case .socket where call.ret >= 0, .eventfd where call.ret >= 0: return "\(name) → fd \(call.ret)"
  default: return "\(name) → \(result(call.ret, e))"
  }
}

private func result(_ ret: Int, _ e: TraceEvent) -> String {
  if let errno = e.errno { return errno }
  return String(ret)
}

/// `812ns`, `14.6µs`, `3.21ms`, `1.204s`.
public func formatNanoseconds(_ ns: Int) -> String {
  let magnitude = ns.magnitude  // not abs(): Int.min has no positive counterpart
  let sign = ns < 0 ? "-" : ""
  func fixed(_ value: Double, _ unit: String) -> String {
    let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
    return sign + formatDecimal(value, digits: digits) + unit
  }
  if magnitude < 1_000 { return "\(ns)ns" }
  if magnitude < 1_000_000 { return fixed(Double(magnitude) / 1e3, "µs") }
  if magnitude < 1_000_000_000 { return fixed(Double(magnitude) / 1e6, "ms") }
  return fixed(Double(magnitude) / 1e9, "s")
}

/// `value` with exactly `digits` decimals, without Foundation.
public func formatDecimal(_ value: Double, digits: Int) -> String {
  guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
  var scale = 1.0
  for _ in 0..<min(max(digits, 0), 15) { scale *= 10 }
  // Past 2^53 a Double has no fraction to show, and Int(_:) would trap past Int.max.
  guard abs(value) * scale < 0x1p62 else { return "\(value)" }
  let scaled = (abs(value) * scale).rounded()
  let whole = Int(scaled / scale)
  let fraction = Int(scaled - Double(whole) * scale)
  let sign = value < 0 && scaled != 0 ? "-" : ""
  guard digits > 0 else { return "\(sign)\(whole)" }
  var fractionText = String(fraction)
  while fractionText.count < digits { fractionText = "0" + fractionText }
  return "\(sign)\(whole).\(fractionText)"
}
