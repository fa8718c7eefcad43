/// The distributions behind one trace's charts in the HTML report: what `StatsReport` summarises
/// as percentiles and means, kept as histograms, plus the event timeline of one connection of the
/// typical shape.
///
/// Memory is bounded by the histogram buckets, the open connections' events and one timeline per
/// distinct connection shape (each capped at `maxTimelineEvents`), not by the trace's length.
public struct HTMLReportSeries: Sendable {
  /// One bucket of park → wake latencies: `lowerNs ≤ latency < upperNs` (powers of two).
  public struct LatencyBucket: Sendable, Equatable {
    /// Inclusive lower bound, ns.
    public var lowerNs: Int
    /// Exclusive upper bound, ns.
    public var upperNs: Int
    /// Wakes whose latency falls in the bucket.
    public var count: Int
  }

  /// One event of a connection's timeline.
  public struct TimelineEvent: Sendable, Equatable {
    /// Time since the connection's first event (its accept, or the ACCEPT submission), ns.
    public var offsetNs: Int
    /// What happened, e.g. `read 512`, `park r`, `wake r ready`, `cqe RECV 512`.
    public var label: String
    /// `call` (a system call), `task` (park, wake), `kernel` (readiness, ring traffic) or `other`.
    public var category: String
  }

  /// Events kept per connection timeline: a sample echo connection (50 round trips) has ~300.
  public static let maxTimelineEvents = 512

  /// Park → wake latencies by power-of-two bucket, ascending, empty buckets between kept.
  public var wakeLatency: [LatencyBucket] = []
  /// The same for read parks only.
  public var wakeLatencyRead: [LatencyBucket] = []
  /// The same for write parks only.
  public var wakeLatencyWrite: [LatencyBucket] = []

  /// The buckets of the parks in `mode`.
  public func wakeLatency(_ mode: PollMode) -> [LatencyBucket] {
    mode == .read ? wakeLatencyRead : wakeLatencyWrite
  }
  /// `events_per_epoll_wait` for an epoll trace, `completions_per_uring_enter` for an io_uring one,
  /// `""` when the trace has neither.
  public var batchingKey = ""
  /// Batch size → how many waits (or enters) returned that many events (or completions).
  public var batching: [Int: Int] = [:]
  /// Completions seen on a thread before its first `io_uring_enter` (not in `batching`).
  public var unattributedCompletions = 0
  /// The typical connection's events, or empty when no connection closed.
  public var timeline: [TimelineEvent] = []
  /// Whether `timeline` is a connection of the typical shape (false: the first connection seen).
  public var timelineIsTypical = false
  /// Events of the timeline's connection past `maxTimelineEvents`, not in `timeline`.
  public var timelineOmittedEvents = 0

  /// Wakes in `wakeLatency`.
  public var wakeCount: Int { wakeLatency.reduce(0) { $0 + $1.count } }
  /// Waits (or enters) in `batching`.
  public var batchCount: Int { batching.values.reduce(0, +) }
  /// Events (or completions) in `batching`.
  public var batchedItems: Int { batching.reduce(0) { $0 + $1.key * $1.value } }

  /// The series as JSON, embedded in the page for scripts and tests.
  public var json: JSONValue {
    func buckets(_ list: [LatencyBucket]) -> JSONValue {
      .array(
        list.map {
          .object([("lower_ns", .int($0.lowerNs)), ("upper_ns", .int($0.upperNs)), ("count", .int($0.count))])
        })
    }
    return .object([
      ("wake_latency_count", .int(wakeCount)),
      ("wake_latency_buckets", buckets(wakeLatency)),
      (
        "wake_latency_buckets_by_mode",
        .object([("r", buckets(wakeLatencyRead)), ("w", buckets(wakeLatencyWrite))])
      ),
      ("batching_key", .string(batchingKey)),
      ("batching_count", .int(batchCount)),
      ("batching_items", .int(batchedItems)),
      ("unattributed_completions", .int(unattributedCompletions)),
      (
        "batching",
        .array(batching.keys.sorted().map { .object([("size", .int($0)), ("count", .int(batching[$0]!))]) })
      ),
      ("timeline_is_typical", .bool(timelineIsTypical)),
      ("timeline_omitted_events", .int(timelineOmittedEvents)),
      (
        "timeline",
        .array(
          timeline.map {
            .object([
              ("offset_ns", .int($0.offsetNs)), ("label", .string($0.label)),
              ("category", .string($0.category)),
            ])
          })
      ),
    ])
  }
}

/// Collects an `HTMLReportSeries` from a stream of events, with the same park → wake pairing as
/// `TraceStats` and the same connection boundaries as `ConnectionShapes`.
struct HTMLReportCollector {
  private var parkedAt: [Int: (ts: Int, mode: PollMode)] = [:]
  private var latencyByExponent: [Int: Int] = [:]
  private var latencyByExponentByMode = PerMode<[Int: Int]>([:])
  private var readyPerWait: [Int: Int] = [:]
  private var completionsPerEnter: [Int: Int] = [:]
  private var completionsSinceEnter: [Int: Int] = [:]
  private var unattributed = 0
  private var sawEpollWait = false
  private var sawUringEnter = false
  private var uringOperations = UringOperations()
  /// Pending ACCEPT submissions by `user_data`: a connection's timeline starts with the one whose
  /// completion opened it, so replaying the timeline through `ConnectionShapes` opens it too.
  private var acceptSubmissions: [UInt64: TraceEvent] = [:]
  private var open: [Int: OpenConnection] = [:]
  /// The first closed connection of each shape.
  private var timelineByShape: [[String]: Timeline] = [:]
  private var firstTimeline: Timeline?

  private struct OpenConnection {
    var events: [TraceEvent]
    var omitted = 0
  }

  private struct Timeline {
    var events: [HTMLReportSeries.TimelineEvent]
    var omitted: Int
  }

  mutating func consume(_ e: TraceEvent) {
    switch e.body {
    case .park(let task, _, let mode):
      parkedAt[task] = (e.ts, mode)
    case .wake(let task, _, _, _):
      if let parked = parkedAt.removeValue(forKey: task) {
        // Clamped as `LatencyRecorder` clamps, so the buckets count what the percentiles count.
        let latency = Swift.min(Swift.max(1, e.ts.saturatingSubtracting(parked.ts)), 3_600_000_000_000)
        latencyByExponent[exponent(latency), default: 0] += 1
        latencyByExponentByMode[parked.mode][exponent(latency), default: 0] += 1
      }
    case .epollWait(let wait):
      sawEpollWait = true
      readyPerWait[wait.ready.count, default: 0] += 1
    case .uringEnter:
      sawUringEnter = true
      if let pending = completionsSinceEnter[e.tid] { completionsPerEnter[pending, default: 0] += 1 }
      completionsSinceEnter[e.tid] = 0
    case .uringCompletion:
      if completionsSinceEnter[e.tid] != nil {
        completionsSinceEnter[e.tid]! += 1
      } else {
        unattributed += 1
      }
    default: break
    }
    connectionEvent(e)
  }

  /// Follows connections from accept to close, as `ConnectionShapes` does.
  private mutating func connectionEvent(_ e: TraceEvent) {
    switch e.body {
    case .socketCall(let call) where call.syscall == .accept:
      if call.ret >= 0 { open[call.ret] = OpenConnection(events: [e]) }
    case .socketCall(let call) where call.syscall == .connect:
      if open[call.fd] == nil { open[call.fd] = OpenConnection(events: []) }
      record(e, fd: call.fd)
    case .socketCall(let call) where call.syscall == .close:
      if var connection = open.removeValue(forKey: call.fd) {
        connection.events.append(e)
        closed(connection)
      }
    case .epollWait(let wait):
      for entry in wait.ready { record(e, fd: entry.fd) }
    case .uringSubmission(let op, let fd, let userData):
      uringOperations.submitted(op: op, userData: userData)
      if UringOperation(op: op) == .accept { acceptSubmissions[userData] = e }
      record(e, fd: fd)
    case .uringCompletion(let userData, let res, let fd, let more):
      let operation = uringOperations.completed(userData: userData, more: more)
      let submission = more ? acceptSubmissions[userData] : acceptSubmissions.removeValue(forKey: userData)
      if operation == .accept, res >= 0 {
        open[res] = OpenConnection(events: (submission.map { [$0] } ?? []) + [e])
      } else {
        record(e, fd: fd)
      }
    default:
      if let fd = e.fd { record(e, fd: fd) }
    }
  }

  private mutating func record(_ e: TraceEvent, fd: Int) {
    guard let count = open[fd]?.events.count else { return }
    if count < HTMLReportSeries.maxTimelineEvents {
      open[fd]!.events.append(e)
    } else {
      open[fd]!.omitted += 1
    }
  }

  private mutating func closed(_ connection: OpenConnection) {
    // The connection's own events give its shape exactly as the whole trace's `ConnectionShapes` does.
    var shapes = ConnectionShapes()
    for event in connection.events { shapes.consume(event) }
    guard let shape = shapes.typical?.steps else { return }
    if timelineByShape[shape] != nil, firstTimeline != nil { return }
    // Time runs from the connection's first event: its accept, or the ACCEPT submission before it.
    let start = connection.events.first?.ts ?? 0
    let events = connection.events.map { event in
      let (label, category) = Self.describe(event)
      return HTMLReportSeries.TimelineEvent(
        offsetNs: event.ts.saturatingSubtracting(start), label: label, category: category)
    }
    let timeline = Timeline(events: events, omitted: connection.omitted)
    if firstTimeline == nil { firstTimeline = timeline }
    if timelineByShape[shape] == nil, timelineByShape.count < ConnectionShapes.maxShapes {
      timelineByShape[shape] = timeline
    }
  }

  /// The timeline event's label and category.
  private static func describe(_ e: TraceEvent) -> (String, String) {
    let outcome = e.errno ?? ""
    switch e.body {
    case .socketCall(let call):
      return ("\(call.syscall.rawValue) \(e.errno ?? String(call.ret))", "call")
    case .epollCtl(let ctl): return ("epoll_ctl \(ctl.op.rawValue)", "call")
    case .epollWait(let wait): return ("epoll_wait ready (\(wait.ready.count))", "kernel")
    case .park(_, _, let mode): return ("park \(mode.rawValue)", "task")
    case .wake(_, _, let mode, let reason): return ("wake \(mode.rawValue) \(reason.rawValue)", "task")
    case .stale: return ("stale", "other")
    case .deadline(_, let mode, _): return ("deadline \(mode.rawValue)", "other")
    case .uringSubmission(let op, _, _): return ("sqe \(op)", "kernel")
    case .uringCompletion(_, let res, _, _):
      return ("cqe \(outcome.isEmpty ? String(res) : outcome)", "kernel")
    default: return (e.name, "other")
    }
  }

  /// ⌊log2(ns)⌋.
  private func exponent(_ ns: Int) -> Int {
    Int.bitWidth - 1 - ns.leadingZeroBitCount
  }

  /// The series, given the trace's typical connection shape (from the same events' `ConnectionShapes`).
  mutating func finish(typicalShape: [String]) -> HTMLReportSeries {
    var series = HTMLReportSeries()
    func buckets(_ counts: [Int: Int]) -> [HTMLReportSeries.LatencyBucket] {
      guard let low = counts.keys.min(), let high = counts.keys.max() else { return [] }
      return (low...high).map { k in
        .init(lowerNs: 1 << k, upperNs: 1 << (k + 1), count: counts[k, default: 0])
      }
    }
    series.wakeLatency = buckets(latencyByExponent)
    series.wakeLatencyRead = buckets(latencyByExponentByMode.read)
    series.wakeLatencyWrite = buckets(latencyByExponentByMode.write)
    for (_, pending) in completionsSinceEnter { completionsPerEnter[pending, default: 0] += 1 }
    completionsSinceEnter = [:]
    if sawEpollWait {
      series.batchingKey = "events_per_epoll_wait"
      series.batching = readyPerWait
    } else if sawUringEnter {
      series.batchingKey = "completions_per_uring_enter"
      series.batching = completionsPerEnter
      series.unattributedCompletions = unattributed
    }
    let chosen = timelineByShape[typicalShape] ?? firstTimeline
    series.timeline = chosen?.events ?? []
    series.timelineOmittedEvents = chosen?.omitted ?? 0
    series.timelineIsTypical = timelineByShape[typicalShape] != nil
    return series
  }
}
