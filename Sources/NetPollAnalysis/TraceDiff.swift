/// Two traces' figures side by side (`netpoll diff A B`).
public struct TraceDiff: Sendable {
  /// One figure of both traces.
  public struct Row: Sendable {
    /// Machine name, e.g. `kernel_entries_per_request`.
    public var key: String
    /// Human label.
    public var label: String
    /// A's value (`nil`: the figure does not apply to A, e.g. `epoll_wait` figures of io_uring).
    public var a: Double?
    /// B's value (`nil`: the figure does not apply to B).
    public var b: Double?
    /// B / A, or `nil` when either is missing or A is 0.
    public var ratio: Double? {
      guard let a, let b, a != 0 else { return nil }
      return b / a
    }
    /// `better`, `worse`, `same`, `up`/`down` (for figures with no preferred direction), or `n/a`
    /// when the figure applies to only one of the traces.
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
    let report = stats.finish(header: reader.header, truncated: reader.isTruncated)
    return (report, shapes)
  }

  /// Compares two reports (and their connection shapes).
  public init(a: StatsReport, b: StatsReport, shapesA: ConnectionShapes, shapesB: ConnectionShapes) {
    self.a = a
    self.b = b
    let figuresB = b.figures
    let notComparable = Self.notComparable(a: a, b: b)
    rows = zip(a.figures, figuresB).map { fa, fb in
      let direction: String
      if fa.needsRuntimeEvents, let notComparable {
        return Row(key: fa.key, label: fa.label, a: fa.value, b: fb.value, direction: notComparable)
      }
      guard let va = fa.value, let vb = fb.value else {
        return Row(key: fa.key, label: fa.label, a: fa.value, b: fb.value, direction: "n/a")
      }
      let tolerance = Swift.max(abs(va), abs(vb)) * 0.02
      if abs(vb - va) <= tolerance {
        direction = "same"
      } else {
        switch fa.preference {
        case .neutral: direction = vb > va ? "up" : "down"
        case .lowerIsBetter: direction = vb < va ? "better" : "worse"
        case .higherIsBetter: direction = vb > va ? "better" : "worse"
        }
      }
      return Row(key: fa.key, label: fa.label, a: va, b: vb, direction: direction)
    }
    connections = ConnectionComparison(
      a: shapesA, b: shapesB, leavingOutRuntimeSteps: notComparable != nil)
    findings = Self.findings(a: a, b: b, rows: rows, connections: connections)
  }

  /// `not comparable (B is an ebpf trace: no park/wake)` when either trace lacks park, wake and
  /// stale events, `nil` when both have them.
  static func notComparable(a: StatsReport, b: StatsReport) -> String? {
    switch (a.recordsRuntimeEvents, b.recordsRuntimeEvents) {
    case (true, true): nil
    case (true, false): "not comparable (B is an \(b.source.rawValue) trace: no park/wake)"
    case (false, true): "not comparable (A is an \(a.source.rawValue) trace: no park/wake)"
    case (false, false): "not comparable (A and B are \(a.source.rawValue) traces: no park/wake)"
    }
  }

  private static func findings(a: StatsReport, b: StatsReport, rows: [Row], connections: ConnectionComparison)
    -> [String]
  {
    var out: [String] = []
    /// The row's two values, when both traces have the figure.
    func values(_ key: String) -> (a: Double, b: Double, row: Row)? {
      guard let r = rows.first(where: { $0.key == key }), let va = r.a, let vb = r.b else { return nil }
      return (va, vb, r)
    }
    func number(_ x: Double) -> String { formatDecimal(x, digits: x >= 100 ? 0 : 2) }
    if let (va, vb, r) = values("kernel_entries_per_request"), va > 0, vb > 0, r.direction != "same" {
      let factor =
        vb <= va / 2
        ? " (\(formatDecimal(va / vb, digits: va / vb >= 10 ? 0 : 1))x fewer)"
        : vb >= va * 2 ? " (\(formatDecimal(vb / va, digits: vb / va >= 10 ? 0 : 1))x more)" : ""
      out.append("B needs \(number(vb)) kernel entries per request where A needs \(number(va))\(factor).")
    }
    // Latency is compared per park mode: read parks with read parks, write parks with write parks.
    for mode in PollMode.allCases {
      let parks = mode == .read ? "read parks" : "write parks"
      for percentile in ["p99", "p50"] {
        let key = "wake_latency_\(mode.rawValue)_\(percentile)_ns"
        if let (va, vb, r) = values(key), let ratio = r.ratio, vb > 0, ratio >= 1.25 || ratio <= 0.8 {
          out.append(
            "B's wake latency \(percentile) for \(parks) is \(formatDecimal(ratio, digits: 1))x A's (\(formatNanoseconds(Int(saturating: vb))) vs \(formatNanoseconds(Int(saturating: va))); \(b.wakeLatency(mode).count) vs \(a.wakeLatency(mode).count) parks)."
          )
        }
      }
    }
    if a.isCompletionMode != b.isCompletionMode, a.recordsRuntimeEvents, b.recordsRuntimeEvents {
      // What a park is differs: say so next to the figures it explains.
      let (completion, readiness) = a.isCompletionMode ? (("A", a), ("B", b)) : (("B", b), ("A", a))
      func parks(_ r: StatsReport) -> String {
        "\(r.wakeLatencyRead.count) read and \(r.wakeLatencyWrite.count) write parks"
      }
      out.append(
        "\(completion.0) (\(completion.1.backend)) parks for every operation until its completion (\(parks(completion.1))); \(readiness.0) (\(readiness.1.backend)) parks only when a call returns EAGAIN (\(parks(readiness.1)))."
      )
    }
    if let (va, vb, _) = values("eagain_share"), abs(vb - va) >= 0.02 {
      out.append("EAGAIN is \(percent(vb)) of B's syscalls and \(percent(va)) of A's.")
    }
    if let (va, vb, _) = values("spurious_wake_share"), abs(vb - va) >= 0.01 {
      out.append("B wakes spuriously on \(percent(vb)) of ready wakes, A on \(percent(va)).")
    }
    if a.isCompletionMode || b.isCompletionMode, a.kernelWaits > 0, b.kernelWaits > 0 {
      // A completion-mode ring reports results, not readiness: say what each side batches.
      func batching(_ side: String, _ r: StatsReport) -> String {
        r.isCompletionMode
          ? "\(side) (\(r.backend)) reaps \(number(r.completionsPerUringEnter)) completions per io_uring_enter, each a call's result, not a readiness report"
          : "\(side) (\(r.backend)) gets \(number(r.readinessPerWait)) readiness reports per kernel wait"
      }
      out.append(batching("A", a) + "; " + batching("B", b) + ".")
    } else if let (va, vb, r) = values("readiness_per_wait"), a.kernelWaits > 0, b.kernelWaits > 0,
      a.backend != b.backend || r.direction != "same"
    {
      out.append(
        "A (\(a.backend)) gets \(number(va)) readiness reports per kernel wait; B (\(b.backend)) \(number(vb))."
      )
    }
    if let divergence = connections.divergence {
      out.append(divergence)
    }
    if let why = notComparable(a: a, b: b) {
      // Said last, so the findings above stay in their order for traces that have every figure.
      out.append(
        "Parks, wakes, spurious wakes, stale drops and wake latency are \(why); the typical connection leaves out the steps only the runtime records (park, wake, stale, deadline, poll, shutdown, setsockopt, getsockopt, getsockname)."
      )
    }
    if out.isEmpty { out.append("No notable behavioural difference.") }
    return out
  }
}
