#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension HTMLReport {
  /// The whole page. The diff JSON (`diff --json`'s object, byte for byte apart from `</` escaping)
  /// and the chart series are embedded as `<script type="application/json">` blocks with ids
  /// `netpoll-diff` and `netpoll-charts`; each table cell carries its figure in `data-value`.
  public var html: String {
    var out = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="color-scheme" content="light dark">
      <title>netpoll diff: \(escapeHTML(diff.a.backend)) vs \(escapeHTML(diff.b.backend))</title>
      <style>\(Self.css)</style>
      </head>
      <body>
      <main>
      <h1>netpoll diff: <span class="ka">\(escapeHTML(diff.a.backend))</span> vs <span class="kb">\(escapeHTML(diff.b.backend))</span></h1>
      <p class="files"><span class="ka">A</span> \(escapeHTML(fileA)) (\(escapeHTML(diff.a.backend)), \(diff.a.events) events\(diff.a.truncated ? ", truncated" : ""))<br>
      <span class="kb">B</span> \(escapeHTML(fileB)) (\(escapeHTML(diff.b.backend)), \(diff.b.events) events\(diff.b.truncated ? ", truncated" : ""))</p>

      """
    out += "<section><h2>Findings</h2><ul class=\"findings\">"
    for finding in diff.findings { out += "<li>\(escapeHTML(finding))</li>" }
    out += "</ul></section>\n"
    out +=
      latencySection + kernelEntriesSection + batchingSection + timelineSection + tableSection
      + alignmentSection
    out += "</main>\n"
    out +=
      "<script type=\"application/json\" id=\"netpoll-diff\">\(Self.scriptSafe(diff.json.text()))</script>\n"
    out +=
      "<script type=\"application/json\" id=\"netpoll-charts\">\(Self.scriptSafe(chartsJSON.text()))</script>\n"
    return out + "</body>\n</html>\n"
  }

  private func row(_ key: String) -> TraceDiff.Row? { diff.rows.first { $0.key == key } }

  /// The chart's legend, in HTML so long names wrap.
  private func legend(_ series: [SVGChart.Series]) -> String {
    "<p class=\"legend\">"
      + series.map { "<span><span class=\"swatch \($0.cssClass)\"></span> \(escapeHTML($0.name))</span>" }
      .joined(separator: " ") + "</p>"
  }

  private var latencySection: String {
    var out = "<section><h2>Park → wake latency</h2>"
    if let why = TraceDiff.notComparable(a: diff.a, b: diff.b) {
      out += "<p class=\"note\">Park → wake latency is \(escapeHTML(why)).</p>"
    }
    guard seriesA.wakeCount + seriesB.wakeCount > 0 else {
      return out + "<p class=\"note\">Neither trace has a park followed by a wake.</p></section>\n"
    }
    for mode in PollMode.allCases { out += latencyChart(mode) }
    out +=
      "<p class=\"note\">Share of each mode's wakes by latency, power-of-two buckets (each labelled with its lower bound); dashed lines are the p50 and p99 of the table below. Read parks and write parks are shown apart: they wait for different things, and completion mode parks on every operation.</p></section>\n"
    return out
  }

  /// The histogram of one park mode's latencies, A and B overlaid.
  private func latencyChart(_ mode: PollMode) -> String {
    let what = mode == .read ? "read parks" : "write parks"
    let bucketsA = seriesA.wakeLatency(mode)
    let bucketsB = seriesB.wakeLatency(mode)
    let exponents = (bucketsA + bucketsB).map { exponent($0.lowerNs) }
    var out = "<h3>\(what)</h3>"
    guard let low = exponents.min(), let high = exponents.max() else {
      return out + "<p class=\"note\">Neither trace has \(what).</p>"
    }
    func total(_ buckets: [HTMLReportSeries.LatencyBucket]) -> Int { buckets.reduce(0) { $0 + $1.count } }
    func shares(_ buckets: [HTMLReportSeries.LatencyBucket]) -> [Double] {
      let sum = Double(max(total(buckets), 1))
      let counts = Dictionary(buckets.map { (exponent($0.lowerNs), $0.count) }, uniquingKeysWith: +)
      return (low...high).map { Double(counts[$0, default: 0]) * 100 / sum }
    }
    var markers: [SVGChart.Marker] = []
    for (side, cssClass) in [("A", "sa"), ("B", "sb")] {
      for percentile in ["p50", "p99"] {
        let key = "wake_latency_\(mode.rawValue)_\(percentile)_ns"
        guard let r = row(key), let v = side == "A" ? r.a : r.b, v > 0 else { continue }
        markers.append(
          .init(
            position: log2(v) - Double(low),
            label: "\(side) \(percentile) \(formatNanoseconds(Int(saturating: v)))",
            cssClass: cssClass))
      }
    }
    let series: [SVGChart.Series] = [
      .init(name: "A \(diff.a.backend) (n=\(total(bucketsA)))", cssClass: "sa", values: shares(bucketsA)),
      .init(name: "B \(diff.b.backend) (n=\(total(bucketsB)))", cssClass: "sb", values: shares(bucketsB)),
    ]
    out += SVGChart.bars(
      title: "park to wake latency histogram, \(what)",
      categories: (low...high).map { formatNanoseconds(1 << $0) },
      series: series, overlay: true, yLabel: "% of wakes",
      format: { formatDecimal($0, digits: $0 >= 10 ? 0 : 1) + "%" },
      markers: markers)
    return out + legend(series)
  }

  private var kernelEntriesSection: String {
    var out = "<section><h2>Kernel entries per request</h2>"
    let syscalls = Set(diff.a.syscallCounts.keys).union(diff.b.syscallCounts.keys).sorted {
      (diff.a.syscallCounts[$0, default: 0] + diff.b.syscallCounts[$0, default: 0], $1.rawValue)
        > (diff.a.syscallCounts[$1, default: 0] + diff.b.syscallCounts[$1, default: 0], $0.rawValue)
    }
    func perRequest(_ report: StatsReport, _ syscall: Syscall) -> Double {
      ratio(report.syscallCounts[syscall, default: 0], report.requests)
    }
    // Set-up calls (socket, bind, ...) are a few per trace: below 0.01 per request they share a bar.
    let shown = syscalls.filter { perRequest(diff.a, $0) >= 0.01 || perRequest(diff.b, $0) >= 0.01 }
    let folded = syscalls.filter { !shown.contains($0) }
    func values(_ report: StatsReport, _ total: Double?) -> [Double] {
      [total ?? 0] + shown.map { perRequest(report, $0) }
        + (folded.isEmpty ? [] : [folded.reduce(0) { $0 + perRequest(report, $1) }])
    }
    let total = row("kernel_entries_per_request")
    let series: [SVGChart.Series] = [
      .init(name: "A \(diff.a.backend)", cssClass: "sa", values: values(diff.a, total?.a)),
      .init(name: "B \(diff.b.backend)", cssClass: "sb", values: values(diff.b, total?.b)),
    ]
    out += SVGChart.bars(
      title: "kernel entries per request",
      categories: ["all"] + shown.map(\.rawValue) + (folded.isEmpty ? [] : ["other"]),
      series: series, overlay: false, yLabel: "per request", format: { formatDecimal($0, digits: 2) })
    out += legend(series)
    out +=
      "<p class=\"note\">System calls per request (a read returning data on a connection); \"all\" is the table's kernel entries per request: A \(number(total?.a)), B \(number(total?.b)).</p></section>\n"
    return out
  }

  private var batchingSection: String {
    var out = "<section><h2>Batching</h2>"
    let sizes = Set(seriesA.batching.keys).union(seriesB.batching.keys)
    guard let largest = sizes.max() else {
      return out + "<p class=\"note\">Neither trace has an epoll_wait or io_uring_enter.</p></section>\n"
    }
    // Sizes past `cap` share the last bar, so a rare huge batch does not squeeze the common ones.
    let cap = min(largest, 32)
    func shares(_ series: HTMLReportSeries) -> [Double] {
      var counts = [Int](repeating: 0, count: cap + 1)
      for (size, count) in series.batching { counts[min(size, cap)] += count }
      let total = Double(max(series.batchCount, 1))
      return counts.map { Double($0) * 100 / total }
    }
    func name(_ side: String, _ report: StatsReport, _ series: HTMLReportSeries) -> String {
      let what =
        series.batchingKey == "events_per_epoll_wait"
        ? "events per epoll_wait" : "completions per io_uring_enter"
      return
        "\(side) \(report.backend): \(what) (mean \(number(row(series.batchingKey).flatMap { side == "A" ? $0.a : $0.b })))"
    }
    let series: [SVGChart.Series] = [
      .init(name: name("A", diff.a, seriesA), cssClass: "sa", values: shares(seriesA)),
      .init(name: name("B", diff.b, seriesB), cssClass: "sb", values: shares(seriesB)),
    ]
    out += SVGChart.bars(
      title: "batching histogram",
      categories: (0...cap).map { $0 == cap && largest > cap ? "≥\(cap)" : String($0) },
      series: series, overlay: false, yLabel: "% of kernel waits",
      format: { formatDecimal($0, digits: $0 >= 10 ? 0 : 1) + "%" })
    out += legend(series)
    out +=
      "<p class=\"note\">How many readiness events each epoll_wait returned, or how many completions followed each io_uring_enter on its thread; the means are the table's figures.</p></section>\n"
    return out
  }

  private var timelineSection: String {
    var out = "<section><h2>A typical connection</h2>"
    let span = (seriesA.timeline + seriesB.timeline).map(\.offsetNs).max() ?? 0
    let firstSpan =
      (seriesA.timeline.prefix(Self.timelineSteps) + seriesB.timeline.prefix(Self.timelineSteps))
      .map(\.offsetNs).max() ?? 0
    for (side, cssClass, report, series) in [("A", "sa", diff.a, seriesA), ("B", "sb", diff.b, seriesB)] {
      out += "<h3><span class=\"k\(cssClass.dropFirst())\">\(side)</span> \(escapeHTML(report.backend))"
      if series.timeline.isEmpty {
        out += "</h3><p class=\"note\">No connection closed in this trace.</p>"
        continue
      }
      let kind =
        series.timelineIsTypical ? "the first connection of the most common shape" : "the first connection"
      let omitted =
        series.timelineOmittedEvents > 0 ? " (and \(series.timelineOmittedEvents) more not shown)" : ""
      out +=
        " — \(kind), \(series.timeline.count) events\(omitted) over \(escapeHTML(formatNanoseconds(series.timeline.last?.offsetNs ?? 0)))</h3>"
      out += SVGChart.lanes(series.timeline, cssClass: cssClass, spanNs: span)
      let first = series.timeline.prefix(Self.timelineSteps)
      out += "<p class=\"note\">Its first \(first.count) events:</p>"
      out += SVGChart.timeline(Array(first), cssClass: cssClass, spanNs: firstSpan)
    }
    out +=
      "<p class=\"note\">Time since the connection's first event (its accept, or the ACCEPT submitted before it); A and B share each scale. Hover a mark for the event. Colours: <span class=\"swatch call\"></span> system call, <span class=\"swatch task\"></span> park/wake, <span class=\"swatch kernel\"></span> readiness or ring traffic; bars span each park → wake.</p></section>\n"
    return out
  }

  /// Events of each timeline drawn one per row.
  static let timelineSteps = 16

  private var tableSection: String {
    var out =
      "<section><h2>Figures</h2><table class=\"figures\"><thead><tr><th>figure</th><th>A</th><th>B</th><th>B/A</th><th></th></tr></thead><tbody>"
    for r in diff.rows {
      func cell(_ side: String, _ value: Double?) -> String {
        "<td class=\"num\" data-key=\"\(escapeHTML(r.key))\" data-side=\"\(side)\" data-value=\"\(value.map(jsonNumber) ?? "null")\">\(number(value))</td>"
      }
      out += "<tr><td title=\"\(escapeHTML(r.key))\">\(escapeHTML(r.label))</td>"
      out += cell("a", r.a) + cell("b", r.b)
      out +=
        "<td class=\"num\" data-key=\"\(escapeHTML(r.key))\" data-side=\"ratio\" data-value=\"\(r.ratio.map(jsonNumber) ?? "null")\">\(r.ratio.map { formatDecimal($0, digits: 2) } ?? "-")</td>"
      out +=
        "<td class=\"dir \(r.direction.hasPrefix("not comparable") ? "n/a" : escapeHTML(r.direction))\" data-key=\"\(escapeHTML(r.key))\" data-side=\"direction\">\(escapeHTML(r.direction))</td></tr>"
    }
    return out + "</tbody></table></section>\n"
  }

  private var alignmentSection: String {
    let c = diff.connections
    guard !c.alignment.isEmpty else { return "" }
    var out =
      "<section><h2>Typical connection, step by step</h2><p class=\"note\">A: \(c.connectionsA) connections, B: \(c.connectionsB) connections; the most common event sequence of each, aligned request by request (a request begins when its data arrives: read&gt;0, or a RECV completion with data).</p><table class=\"alignment\"><thead><tr><th>#</th><th>A</th><th>B</th></tr></thead><tbody>"
    var shownSegment = -1
    for (i, (x, y)) in c.alignment.enumerated() {
      let segment = c.segment(ofRow: i)
      if segment != shownSegment {
        shownSegment = segment
        out +=
          "<tr class=\"segment\"><th colspan=\"3\">\(escapeHTML(ConnectionComparison.segmentName(segment)))</th></tr>"
      }
      let mark = i == c.firstDifference ? " class=\"first-difference\" title=\"first difference\"" : ""
      out +=
        "<tr\(mark)><td class=\"num\">\(i + 1)</td><td>\(escapeHTML(x ?? "–"))</td><td>\(escapeHTML(y ?? "–"))</td></tr>"
    }
    return out + "</tbody></table></section>\n"
  }

  /// A figure as `diff`'s text table prints it.
  private func number(_ x: Double?) -> String {
    guard let x else { return "-" }
    return x == x.rounded() && abs(x) < 1e12 ? String(Int(x)) : formatDecimal(x, digits: 3)
  }

  private func exponent(_ ns: Int) -> Int { Int.bitWidth - 1 - max(ns, 1).leadingZeroBitCount }

  /// JSON text safe inside `<script>`: `</` becomes `<\/`, which JSON reads back as `</`.
  static func scriptSafe(_ json: String) -> String {
    json.replacing("</", with: "<\\/")
  }

  static let css = """
    :root{--bg:#fff;--fg:#1d1f23;--muted:#5c6370;--grid:#e3e5e8;--a:#2f6fdb;--b:#e0731c;--call:#4b8f3a;--task:#8a4fc9;--kernel:#c23b5a;--row:#f5f6f8;--better:#2e7d32;--worse:#c62828}
    @media (prefers-color-scheme: dark){:root{--bg:#16181c;--fg:#e6e8eb;--muted:#9aa1ab;--grid:#30343a;--a:#6ea0ff;--b:#ffa45c;--call:#7cc46a;--task:#b98cf0;--kernel:#ff7a96;--row:#1e2126;--better:#7bd17f;--worse:#ff7b7b}}
    html{background:var(--bg);color:var(--fg)}
    body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
    main{max-width:800px;margin:0 auto;padding:20px}
    h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--grid);padding-bottom:4px}h3{font-size:15px;margin:14px 0 4px;font-weight:600}
    .files{color:var(--muted);font-size:13px;word-break:break-all}
    .ka{color:var(--a);font-weight:700}.kb{color:var(--b);font-weight:700}
    .note{color:var(--muted);font-size:13px}
    .findings li{margin:4px 0}
    svg.chart{width:100%;height:auto;display:block;font-size:11px}
    svg text{fill:var(--fg)}svg .tick,svg .row-label{fill:var(--muted)}svg .axis{fill:var(--muted);font-size:12px}
    .grid{stroke:var(--grid);stroke-width:1}.axisline{stroke:var(--muted);stroke-width:1}
    rect.sa{fill:var(--a)}rect.sb{fill:var(--b)}rect.overlay{fill-opacity:.5;stroke-width:1}rect.sa.overlay{stroke:var(--a)}rect.sb.overlay{stroke:var(--b)}
    line.marker{stroke-width:1.5;stroke-dasharray:4 3}line.marker.sa{stroke:var(--a)}line.marker.sb{stroke:var(--b)}
    text.marker-label.sa{fill:var(--a)}text.marker-label.sb{fill:var(--b)}
    .tickmark{stroke-width:1.5}.tickmark.call{stroke:var(--call)}.tickmark.task{stroke:var(--task)}.tickmark.kernel{stroke:var(--kernel)}.tickmark.other{stroke:var(--muted)}
    .legend{font-size:13px;margin:4px 0 0}.legend>span{margin-right:14px;white-space:nowrap}.swatch.sa{background:var(--a);border-radius:2px}.swatch.sb{background:var(--b);border-radius:2px}
    .dot.call{fill:var(--call)}.dot.task{fill:var(--task)}.dot.kernel{fill:var(--kernel)}.dot.other{fill:var(--muted)}
    .swatch{display:inline-block;width:10px;height:10px;border-radius:5px;vertical-align:middle}.swatch.call{background:var(--call)}.swatch.task{background:var(--task)}.swatch.kernel{background:var(--kernel)}
    table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:3px 8px;text-align:left}th{border-bottom:1px solid var(--muted)}
    tbody tr:nth-child(even){background:var(--row)}td.num{text-align:right;font-variant-numeric:tabular-nums}
    td.dir.better{color:var(--better)}td.dir.worse{color:var(--worse)}td.dir.n\\/a,td.dir.same{color:var(--muted)}
    tr.first-difference td{font-weight:700;outline:1px solid var(--b)}
    tr.segment th{text-align:left;font-weight:600;padding-top:8px}
    """
}
