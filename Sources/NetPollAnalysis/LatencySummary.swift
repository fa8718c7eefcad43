import Histogram

/// Percentiles of a latency distribution, in nanoseconds, from an HDR histogram (3 significant
/// digits, 1 ns to 1 hour).
public struct LatencySummary: Sendable, Equatable {
  /// Values recorded.
  public var count: Int
  /// Mean, ns.
  public var mean: Double
  /// 50th percentile, ns.
  public var p50: Int
  /// 90th percentile, ns.
  public var p90: Int
  /// 99th percentile, ns.
  public var p99: Int
  /// 99.9th percentile, ns.
  public var p999: Int
  /// Largest value, ns.
  public var max: Int

  /// An empty summary.
  public static let empty = LatencySummary(count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0)

  /// The figures as `(name, value)` pairs in a fixed order.
  public var figures: [(String, Int)] {
    [("p50", p50), ("p90", p90), ("p99", p99), ("p99.9", p999), ("max", max)]
  }

  /// `{"count":…, "mean_ns":…, "p50_ns":…, …}`.
  public var json: JSONValue {
    .object(
      [("count", .int(count)), ("mean_ns", .double(mean))]
        + figures.map { ("\($0.0)_ns", JSONValue.int($0.1)) })
  }

  /// `p50 14.6µs  p90 …  max …  (n=1234)`.
  public var text: String {
    guard count > 0 else { return "no samples" }
    return figures.map { "\($0.0) \(formatNanoseconds($0.1))" }.joined(separator: "  ") + "  (n=\(count))"
  }
}

/// Records latencies into an HDR histogram.
struct LatencyRecorder {
  private var histogram = Histogram<UInt64>(
    lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000,
    numberOfSignificantValueDigits: .three)

  mutating func record(_ ns: Int) {
    _ = histogram.record(UInt64(Swift.max(1, Swift.min(ns, 3_600_000_000_000))))
  }

  var summary: LatencySummary {
    guard histogram.totalCount > 0 else { return .empty }
    func at(_ p: Double) -> Int { Int(histogram.valueAtPercentile(p)) }
    return LatencySummary(
      count: Int(histogram.totalCount), mean: histogram.mean, p50: at(50), p90: at(90), p99: at(99),
      p999: at(99.9), max: Int(histogram.max))
  }
}
