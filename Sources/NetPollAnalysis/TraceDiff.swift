/// Two traces' figures side by side (`netpoll diff A B`).
public struct TraceDiff: Sendable {
  /// One figure of both traces.
  public struct Row: Sendable {
    /// Machine name, e.g. `kernel_entries_per_request`.
    public var key: String
    /// Human label.
    public var label: String
    /// A's value.
    public var a: Double
    /// B's value.
    public var b: Double
    /// B / A, or `nil` when A is 0.
    public var ratio: Double? { a == 0 ? nil : b / a }
    /// `better`, `worse`, `same`, `up`/`down` (for figures with no preferred direction).
    public var direction: String
  }

  /// A's figures.
  public var a: StatsReport
  /// B's figures.
  public var b: StatsReport
  /// Every figure of `StatsReport.figures`, in that order.
  public var rows: [Row]
  /// Notable differences in words.
  public var findings: [String]
  /// Where the typical connections of A and B first differ.
  public var connections: ConnectionComparison

  /// Compares two traces.
  public static func run(pathA: String, pathB: String) throws(TraceError) -> TraceDiff {
    let (statsA, shapesA) = try analyse(pathA)
    let (statsB, shapesB) = try analyse(pathB)
    return TraceDiff(a: statsA, b: statsB, shapesA: shapesA, shapesB: shapesB)
  }

  private static func analyse(_ path: String) throws(TraceError) -> (StatsReport, ConnectionShapes) {
    let reader = try TraceReader(path: path)
    var stats = TraceStats()
    var shapes = ConnectionShapes()
    while let event = try reader.next() {
      stats.consume(event)
      shapes.consume(event)
    }
    var report = stats.finish(header: reader.header, truncated: reader.isTruncated)
    report.unknownEvents = reader.unknownEvents.values.reduce(0, +)
    return (report, shapes)
  }

  /// Compares two reports (and their connection shapes).
  public init(a: StatsReport, b: StatsReport, shapesA: ConnectionShapes, shapesB: ConnectionShapes) {
    self.a = a
    self.b = b
    let figuresB = b.figures
    rows = zip(a.figures, figuresB).map { fa, fb in
      let direction: String
      let tolerance = Swift.max(abs(fa.value), abs(fb.value)) * 0.02
      if abs(fb.value - fa.value) <= tolerance {
        direction = "same"
      } else {
        switch fa.preference {
        case .neutral: direction = fb.value > fa.value ? "up" : "down"
        case .lowerIsBetter: direction = fb.value < fa.value ? "better" : "worse"
        case .higherIsBetter: direction = fb.value > fa.value ? "better" : "worse"
        }
      }
      return Row(key: fa.key, label: fa.label, a: fa.value, b: fb.value, direction: direction)
    }
    connections = ConnectionComparison(a: shapesA, b: shapesB)
    findings = Self.findings(a: a, b: b, rows: rows, connections: connections)
  }

  private static func findings(a: StatsReport, b: StatsReport, rows: [Row], connections: ConnectionComparison)
    -> [String]
  {
    var out: [String] = []
    func value(_ key: String) -> Row? { rows.first { $0.key == key } }
    func number(_ x: Double) -> String { formatDecimal(x, digits: x >= 100 ? 0 : 2) }
    if let r = value("kernel_entries_per_request"), r.a > 0, r.b > 0, r.direction != "same" {
      out.append("B needs \(number(r.b)) kernel entries per request where A needs \(number(r.a)).")
    }
    for (key, what) in [("wake_latency_p99_ns", "wake latency p99"), ("wake_latency_p50_ns", "wake latency p50")] {
      if let r = value(key), let ratio = r.ratio, r.b > 0, ratio >= 1.25 || ratio <= 0.8 {
        out.append(
          "B's \(what) is \(formatDecimal(ratio, digits: 1))x A's (\(formatNanoseconds(Int(r.b))) vs \(formatNanoseconds(Int(r.a)))).")
      }
    }
    if let r = value("eagain_share"), abs(r.b - r.a) >= 0.02 {
      out.append("EAGAIN is \(percent(r.b)) of B's syscalls and \(percent(r.a)) of A's.")
    }
    if let r = value("spurious_wake_share"), abs(r.b - r.a) >= 0.01 {
      out.append("B wakes spuriously on \(percent(r.b)) of ready wakes, A on \(percent(r.a)).")
    }
    if a.epollWaits > 0, b.epollWaits > 0, let r = value("events_per_epoll_wait"), r.direction != "same" {
      out.append("B batches \(number(r.b)) events per epoll_wait, A \(number(r.a)).")
    }
    if a.backend != b.backend {
      let batchA = a.uringEnters > 0 ? a.completionsPerUringEnter : a.eventsPerEpollWait
      let batchB = b.uringEnters > 0 ? b.completionsPerUringEnter : b.eventsPerEpollWait
      out.append(
        "A (\(a.backend)) reaps \(number(batchA)) readiness reports per wait; B (\(b.backend)) \(number(batchB)).")
    }
    if let divergence = connections.divergence {
      out.append(divergence)
    }
    if out.isEmpty { out.append("No notable behavioural difference.") }
    return out
  }
}
