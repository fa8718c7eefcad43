/// Computes `StatsReport` figures from a stream of events, in memory bounded by the number of
/// distinct fd numbers and of simultaneously parked tasks (not by the trace's length, nor by how
/// large a number it names: fd 1048575 costs one entry).
///
/// A *request* is a `read` with `ret > 0` on a connection fd (one returned by `accept`, or given to
/// `connect`): one per request for a request/response protocol such as echo or HTTP/1.1 without
/// pipelining. A *spurious wake-up* is a `ready` wake whose task's next call on that fd and
/// direction returns EAGAIN. Bytes moved are counted on connection fds only (not the eventfd).
///
/// In io_uring completion mode the calls are ring operations, counted from their completions (each
/// paired with its `uring_sqe` by `user_data`): an ACCEPT's `res` is a connection fd, a RECV with
/// `res > 0` on a connection fd is a request, RECV and SEND results are bytes moved; none of them is
/// a readiness report.
public struct TraceStats {
  private var report = StatsReport()
  private var perFD = FDCounterTable()
  /// Parked tasks: when and in which direction.
  private var parkedAt: [Int: (ts: Int, mode: PollMode)] = [:]
  private var wakeLatency = LatencyRecorder()
  /// By the park's mode: a read park and a write park wait for different things.
  private var wakeLatencyByMode = PerMode(LatencyRecorder())
  private var epollWaitDuration = LatencyRecorder()
  private var uringEnterDuration = LatencyRecorder()
  private var firstTs: Int?
  // Counted in arrays, not dictionaries: hashing a name per event cost ~15% of `stats`' time.
  private var countsByKind = [Int](repeating: 0, count: TraceEvent.kindCount)
  private var countsBySyscall = [Int](repeating: 0, count: Syscall.allCases.count)
  /// Unknown names as the reader keeps them: the first `TraceReader.maxUnknownEventNames` by name
  /// (in the order first seen), every other unknown event only counted in `otherUnknownEvents`.
  private var unknownByName: [String: Int] = [:]
  private var unknownNamesInOrder: [String] = []
  private var otherUnknownEvents = 0
  private var unknownEvents = 0
  private var uringOperations = UringOperations()

  /// Creates an empty collector.
  public init() {}

  /// Reads the trace at `path` (`-` for standard input) and returns its figures.
  public static func run(path: String) throws(TraceError) -> StatsReport {
    let reader = try TraceReader(path: path)
    var stats = TraceStats()
    while let event = try reader.next() { stats.consume(event) }
    return stats.finish(header: reader.header, truncated: reader.isTruncated)
  }

  /// Feeds one event, in trace order.
  public mutating func consume(_ e: TraceEvent) {
    switch e.body {
    // A window's snapshot lines are the runtime's state at its start, not events.
    case .snapshotFD, .snapshotPark, .snapshotOperation: return
    default: break
    }
    report.events += 1
    if firstTs == nil { firstTs = e.ts }
    report.durationNs = e.ts.saturatingSubtracting(firstTs ?? 0)
    let kind = e.kindIndex
    if kind < 0 {
      unknownEvent(e.name)
    } else {
      countsByKind[kind] += 1
    }
    if let syscall = e.syscall {
      countsBySyscall[syscall.index] += 1
      if let errno = e.errno { report.errnoCounts[errno, default: 0] += 1 }
    }
    switch e.body {
    case .socketCall(let call): socketCall(call, e)
    case .epollWait(let wait):
      report.epollWaits += 1
      report.kernelWaits += 1
      report.readyEvents += wait.ready.count
      report.readinessReports += wait.ready.count
      if wait.ready.isEmpty { report.emptyEpollWaits += 1 }
      epollWaitDuration.record(wait.durationNs)
    case .uringEnter(_, _, let minComplete, _, let duration):
      report.uringEnters += 1
      if minComplete > 0 { report.kernelWaits += 1 }
      uringEnterDuration.record(duration)
    case .uringSubmission(let op, _, let userData):
      uringOperations.submitted(op: op, userData: userData)
    case .uringCompletion(let userData, let res, let fd, let more):
      report.uringCompletions += 1
      let operation = uringOperations.completed(userData: userData, more: more)
      if let operation, operation.isCallResult {
        operationCompleted(operation, res: res, fd: fd)
      } else {
        if res > 0 && fd >= 0 { report.readinessReports += 1 }
      }
    case .park(let task, let fd, let mode):
      parkedAt[task] = (e.ts, mode)
      if let i = slot(fd) {
        perFD[i].parks += 1
        perFD[i].wokenReady[mode] = false
      }
    case .wake(let task, let fd, let mode, let reason):
      report.wakesByReason[reason, default: 0] += 1
      if let parked = parkedAt.removeValue(forKey: task) {
        let latency = e.ts.saturatingSubtracting(parked.ts)
        wakeLatency.record(latency)
        wakeLatencyByMode[parked.mode].record(latency)
      }
      if reason == .ready, let i = slot(fd) { perFD[i].wokenReady[mode] = true }
    case .stale: report.staleDrops += 1
    default: break
    }
    if let fd = e.fd, let i = slot(fd) { perFD[i].events += 1 }
  }

  private mutating func unknownEvent(_ name: String) {
    unknownEvents += 1
    if let seen = unknownByName[name] {
      unknownByName[name] = seen + 1
    } else if unknownByName.count < TraceReader.maxUnknownEventNames {
      unknownByName[name] = 1
      unknownNamesInOrder.append(name)
    } else {
      otherUnknownEvents += 1
    }
  }

  private mutating func socketCall(_ call: SocketCall, _ e: TraceEvent) {
    guard let c = slot(call.fd) else { return }
    let eagain = e.errno == "EAGAIN" || e.errno == "EWOULDBLOCK"
    if eagain { perFD[c].eagain += 1 }
    let mode: PollMode
    switch call.syscall {
    case .read, .accept: mode = .read
    case .write: mode = .write
    case .connect:
      perFD[c].isConnection = true
      return
    case .close:
      perFD[c].isConnection = false
      return
    default: return
    }
    if perFD[c].wokenReady[mode] {
      perFD[c].wokenReady[mode] = false
      if eagain { report.spuriousWakes += 1 }
    }
    guard call.ret > 0 else { return }
    switch call.syscall {
    case .accept:
      if let i = slot(call.ret) { perFD[i].isConnection = true }
    case .read where perFD[c].isConnection:
      report.bytesRead = report.bytesRead.saturatingAdding(call.ret)
      report.requests += 1
    case .write where perFD[c].isConnection:
      report.bytesWritten = report.bytesWritten.saturatingAdding(call.ret)
    default: break
    }
  }

  /// A completion-mode ACCEPT, RECV or SEND completion: the result of the call it stands for.
  private mutating func operationCompleted(_ operation: UringOperation, res: Int, fd: Int) {
    report.operationCompletions += 1
    guard res >= 0 else { return }
    switch operation {
    case .accept:
      if let i = slot(res) { perFD[i].isConnection = true }
    case .receive where res > 0 && slot(fd).map({ perFD[$0].isConnection }) == true:
      report.bytesRead = report.bytesRead.saturatingAdding(res)
      report.requests += 1
    case .send where res > 0 && slot(fd).map({ perFD[$0].isConnection }) == true:
      report.bytesWritten = report.bytesWritten.saturatingAdding(res)
    default: break
    }
  }

  /// Per-fd entries held (for tests: memory bounded by the fds seen, not by their numbers).
  var perFDFootprint: Int { perFD.count }

  /// Ends the stream and returns the figures.
  public mutating func finish(header: TraceHeader, truncated: Bool) -> StatsReport {
    report.backend = header.backend
    report.source = header.source
    report.window = header.window
    // The first `unknownNamesShown` names seen are listed; the others are counted.
    let shown = unknownNamesInOrder.prefix(StatsReport.unknownNamesShown)
    report.eventCounts = Dictionary(uniqueKeysWithValues: shown.map { ($0, unknownByName[$0] ?? 0) })
    report.unknownEvents = unknownEvents
    let hidden = unknownNamesInOrder.dropFirst(StatsReport.unknownNamesShown)
    report.unknownNamesNotShown = hidden.count
    report.unknownNamesUncounted = otherUnknownEvents > 0
    report.unknownEventsNotShown = hidden.reduce(otherUnknownEvents) { $0 + (unknownByName[$1] ?? 0) }
    for (kind, count) in countsByKind.enumerated() where count > 0 {
      report.eventCounts[TraceEvent.kindNames[kind]] = count
    }
    for (index, syscall) in Syscall.allCases.enumerated() where countsBySyscall[index] > 0 {
      report.syscallCounts[syscall] = countsBySyscall[index]
    }
    report.truncated = truncated
    report.wakeLatency = wakeLatency.summary
    report.wakeLatencyRead = wakeLatencyByMode.read.summary
    report.wakeLatencyWrite = wakeLatencyByMode.write.summary
    report.epollWaitDuration = epollWaitDuration.summary
    report.uringEnterDuration = uringEnterDuration.summary
    // One pass, no copy of the table: it may hold an entry for each of 500k fd numbers.
    var byEvents = TopFDs()
    var byEAGAIN = TopFDs()
    var byParks = TopFDs()
    perFD.visit { fd, counters in
      byEvents.offer(fd: fd, count: counters.events)
      byEAGAIN.offer(fd: fd, count: counters.eagain)
      byParks.offer(fd: fd, count: counters.parks)
    }
    report.topFDsByEvents = byEvents.figures
    report.topFDsByEAGAIN = byEAGAIN.figures
    report.topFDsByParks = byParks.figures
    return report
  }

  /// The key of `fd`'s counters (the fd itself), or `nil` for a negative fd.
  private func slot(_ fd: Int) -> Int? {
    fd >= 0 ? fd : nil
  }
}

/// `FDCounters` by fd number: an array for the numbers a process uses first (below
/// `denseLimit`, a few tens of KiB), a dictionary for the rest, so memory grows with the fd
/// numbers a trace names, never with how large they are.
struct FDCounterTable {
  static let denseLimit = 1024
  private var dense: [FDCounters] = []
  private var sparse: [Int: FDCounters] = [:]

  /// The counters of `fd` (not negative).
  subscript(fd: Int) -> FDCounters {
    get { fd < Self.denseLimit ? (fd < dense.count ? dense[fd] : FDCounters()) : sparse[fd] ?? FDCounters() }
    _modify {
      if fd < Self.denseLimit {
        if fd >= dense.count {
          dense.append(contentsOf: repeatElement(FDCounters(), count: fd + 1 - dense.count))
        }
        yield &dense[fd]
      } else {
        yield &sparse[fd, default: FDCounters()]
      }
    }
  }

  /// Entries held.
  var count: Int { dense.count + sparse.count }

  /// Calls `body` with every fd that has counters (in no particular order).
  func visit(_ body: (Int, FDCounters) -> Void) {
    for (fd, counters) in dense.enumerated() { body(fd, counters) }
    for (fd, counters) in sparse { body(fd, counters) }
  }
}

/// Per-fd-number counters: only what the report shows and the state it needs (32 bytes).
struct FDCounters {
  var events = 0
  var eagain = 0
  var parks = 0
  var isConnection = false
  var wokenReady = PerMode<Bool>(false)
}

/// The `StatsReport.topCount` fds with the highest positive counts, ties to the lower fd.
struct TopFDs {
  private var kept: [FDFigure] = []

  mutating func offer(fd: Int, count: Int) {
    guard count > 0 else { return }
    func before(_ a: FDFigure, _ b: FDFigure) -> Bool { (a.count, -a.fd) > (b.count, -b.fd) }
    let candidate = FDFigure(fd: fd, count: count)
    if kept.count == StatsReport.topCount, let last = kept.last, !before(candidate, last) { return }
    kept.insert(candidate, at: kept.firstIndex { before(candidate, $0) } ?? kept.count)
    if kept.count > StatsReport.topCount { kept.removeLast() }
  }

  var figures: [FDFigure] { kept }
}

extension TraceEvent {
  /// The fd the event is about (`accept`: the listener), or `nil`.
  var fd: Int? {
    switch body {
    case .socketCall(let call): call.fd
    case .epollCtl(let ctl): ctl.fd
    case .park(_, let fd, _), .wake(_, let fd, _, _), .stale(let fd, _, _, _), .deadline(let fd, _, _): fd
    case .uringSubmission(_, let fd, _): fd
    default: nil
    }
  }
}

extension Syscall {
  /// The position in `allCases`.
  var index: Int {
    switch self {
    case .socket: 0
    case .setsockopt: 1
    case .bind: 2
    case .listen: 3
    case .accept: 4
    case .connect: 5
    case .getsockopt: 6
    case .getsockname: 7
    case .read: 8
    case .write: 9
    case .poll: 10
    case .shutdown: 11
    case .close: 12
    case .eventfd: 13
    case .epollCreate: 14
    case .epollCtl: 15
    case .epollWait: 16
    case .ioUringSetup: 17
    case .ioUringEnter: 18
    }
  }
}

extension TraceEvent {
  /// Known event kinds, in `kindIndex` order (socket calls by `Syscall.index`).
  static let kindNames: [String] =
    Syscall.allCases.map {
      $0 == .ioUringSetup ? "uring_setup" : $0 == .ioUringEnter ? "uring_enter" : $0.rawValue
    } + [
      "trace_start", "trace_end", "park", "wake", "stale", "deadline", "uring_sqe", "uring_cqe",
      "uring_overflow",
    ]
  static var kindCount: Int { kindNames.count }
  /// The index of `trace_start`, the first kind that is not a system call.
  private static let firstRuntimeKind = Syscall.allCases.count

  /// The index of the event's kind in `kindNames`, -1 for an unknown event.
  var kindIndex: Int {
    switch body {
    case .socketCall(let call): call.syscall.index
    case .epollCreate: Syscall.epollCreate.index
    case .epollCtl: Syscall.epollCtl.index
    case .epollWait: Syscall.epollWait.index
    case .uringSetup: Syscall.ioUringSetup.index
    case .uringEnter: Syscall.ioUringEnter.index
    case .traceStart: Self.firstRuntimeKind
    case .traceEnd: Self.firstRuntimeKind + 1
    case .park: Self.firstRuntimeKind + 2
    case .wake: Self.firstRuntimeKind + 3
    case .stale: Self.firstRuntimeKind + 4
    case .deadline: Self.firstRuntimeKind + 5
    case .uringSubmission: Self.firstRuntimeKind + 6
    case .uringCompletion: Self.firstRuntimeKind + 7
    case .uringOverflow: Self.firstRuntimeKind + 8
    // Snapshot lines are state, not events (docs/trace-format.md, flight-recorder windows).
    case .unknown, .snapshotFD, .snapshotPark, .snapshotOperation: -1
    }
  }
}
