/// `netpoll diff --html`: a diff of two traces as one self-contained HTML page (inline CSS and SVG,
/// no script but two JSON data blocks, nothing fetched), built from the same `TraceDiff` value that
/// `diff --json` prints, so every figure on the page is the figure in the JSON.
public struct HTMLReport: Sendable {
  /// The comparison; the page's table, findings and alignment are this value's.
  public var diff: TraceDiff
  /// A's distributions.
  public var seriesA: HTMLReportSeries
  /// B's distributions.
  public var seriesB: HTMLReportSeries
  /// A's path, as given.
  public var fileA: String
  /// B's path, as given.
  public var fileB: String

  /// Reads both traces once each, computing their stats, connection shapes and chart series.
  public static func run(pathA: String, pathB: String) throws(TraceError) -> HTMLReport {
    let (statsA, shapesA, seriesA) = try analyse(pathA)
    let (statsB, shapesB, seriesB) = try analyse(pathB)
    let diff = TraceDiff(a: statsA, b: statsB, shapesA: shapesA, shapesB: shapesB)
    return HTMLReport(diff: diff, seriesA: seriesA, seriesB: seriesB, fileA: pathA, fileB: pathB)
  }

  /// Builds a report from parts already computed.
  public init(
    diff: TraceDiff, seriesA: HTMLReportSeries, seriesB: HTMLReportSeries, fileA: String, fileB: String
  ) {
    self.diff = diff
    self.seriesA = seriesA
    self.seriesB = seriesB
    self.fileA = fileA
    self.fileB = fileB
  }

  private static func analyse(_ path: String) throws(TraceError) -> (
    StatsReport, ConnectionShapes, HTMLReportSeries
  ) {
    let reader = try TraceReader(path: path)
    var stats = TraceStats()
    var shapes = ConnectionShapes()
    var collector = HTMLReportCollector()
    while let event = try reader.next() {
      stats.consume(event)
      shapes.consume(event)
      collector.consume(event)
    }
    let report = stats.finish(header: reader.header, truncated: reader.isTruncated)
    return (report, shapes, collector.finish(typicalShape: shapes.typical?.steps ?? []))
  }

  /// The chart data embedded in the page (`<script type="application/json" id="netpoll-charts">`).
  public var chartsJSON: JSONValue {
    .object([("a", seriesA.json), ("b", seriesB.json)])
  }

  /// Writes the page to `path`, which must not be either trace, nor a symbolic link, nor an
  /// existing file unless `force` (see `OutputFile`).
  public func write(to path: String, force: Bool = false) throws(TraceError) {
    let sink = try OutputFile(path: path, inputs: [fileA, fileB], force: force)
    sink.write(html)
    try sink.close()
  }
}
