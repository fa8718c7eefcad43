/// Inline SVG for the HTML report: a bar chart (grouped or overlaid) and a connection timeline.
/// Colours come from the page's CSS classes (`sa`, `sb`, `grid`, …), so one chart reads in light
/// and dark mode.
enum SVGChart {
  /// One data series of a bar chart.
  struct Series {
    var name: String
    /// CSS class: `sa` for A, `sb` for B.
    var cssClass: String
    /// One value per category.
    var values: [Double]
  }

  /// A vertical marker at a fractional category position (`1.5`: the middle of the second bar).
  struct Marker {
    var position: Double
    var label: String
    var cssClass: String
  }

  static let width = 760.0
  private static let left = 58.0
  private static let right = 12.0
  private static let top = 18.0
  private static let bottom = 28.0

  /// Bars per category; `overlay` draws the series on top of each other (translucent) instead of
  /// side by side.
  static func bars(
    title: String, categories: [String], series: [Series], overlay: Bool, yLabel: String,
    format: (Double) -> String, markers: [Marker] = [], height: Double = 240
  ) -> String {
    let plotWidth = width - left - right
    let plotHeight = height - top - bottom
    let maxValue = series.flatMap(\.values).max() ?? 0
    let yMax = niceCeiling(maxValue > 0 ? maxValue * 1.08 : 1)
    let slot = plotWidth / Double(max(categories.count, 1))
    func y(_ v: Double) -> Double { top + plotHeight * (1 - v / yMax) }
    var out =
      "<svg class=\"chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" role=\"img\" aria-label=\"\(escapeHTML(title))\">"
    for i in 0...5 {
      let v = yMax * Double(i) / 5
      out +=
        "<line class=\"grid\" x1=\"\(n(left))\" x2=\"\(n(width - right))\" y1=\"\(n(y(v)))\" y2=\"\(n(y(v)))\"/>"
      out +=
        "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y(v) + 4))\" text-anchor=\"end\">\(escapeHTML(format(v)))</text>"
    }
    out +=
      "<text class=\"axis\" transform=\"translate(12 \(n(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escapeHTML(yLabel))</text>"
    let labelEvery = max(1, Int((Double(categories.count) * 46 / plotWidth).rounded(.up)))
    for (c, category) in categories.enumerated() {
      let x0 = left + slot * Double(c)
      let inner = slot * 0.8
      let barWidth = overlay ? inner : inner / Double(max(series.count, 1))
      for (s, line) in series.enumerated() where c < line.values.count {
        let v = line.values[c]
        guard v > 0 else { continue }
        let x = x0 + slot * 0.1 + (overlay ? 0 : barWidth * Double(s))
        out +=
          "<rect class=\"\(line.cssClass)\(overlay ? " overlay" : "")\" x=\"\(n(x))\" y=\"\(n(y(v)))\" width=\"\(n(barWidth))\" height=\"\(n(y(0) - y(v)))\"><title>\(escapeHTML("\(line.name), \(category): \(format(v))"))</title></rect>"
      }
      if c % labelEvery == 0 {
        out +=
          "<text class=\"tick\" x=\"\(n(x0 + slot / 2))\" y=\"\(n(top + plotHeight + 16))\" text-anchor=\"middle\">\(escapeHTML(category))</text>"
      }
    }
    out +=
      "<line class=\"axisline\" x1=\"\(n(left))\" x2=\"\(n(width - right))\" y1=\"\(n(y(0)))\" y2=\"\(n(y(0)))\"/>"
    for (i, marker) in markers.enumerated() {
      let x = left + slot * marker.position
      out +=
        "<line class=\"marker \(marker.cssClass)\" x1=\"\(n(x))\" x2=\"\(n(x))\" y1=\"\(n(top))\" y2=\"\(n(y(0)))\"/>"
      out +=
        "<text class=\"marker-label \(marker.cssClass)\" x=\"\(n(x + 3))\" y=\"\(n(top + 10 + Double(i % 4) * 12))\">\(escapeHTML(marker.label))</text>"
    }
    return out + "</svg>"
  }

  /// One connection's events as rows: label on the left, a dot at its time since accept, and each
  /// park → wake as a bar.
  static func timeline(_ events: [HTMLReportSeries.TimelineEvent], cssClass: String, spanNs: Int) -> String {
    let rowHeight = 16.0
    let labelWidth = 190.0
    let height = top + rowHeight * Double(events.count) + 28
    let plotWidth = width - labelWidth - right - 10
    let span = Double(max(spanNs, 1))
    func x(_ ns: Int) -> Double { labelWidth + plotWidth * Double(ns) / span }
    var out =
      "<svg class=\"chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" role=\"img\" aria-label=\"connection timeline\">"
    for i in 0...4 {
      let ns = Int(saturating: span * Double(i) / 4)
      out +=
        "<line class=\"grid\" x1=\"\(n(x(ns)))\" x2=\"\(n(x(ns)))\" y1=\"\(n(top - 6))\" y2=\"\(n(height - 24))\"/><text class=\"tick\" x=\"\(n(x(ns)))\" y=\"\(n(height - 10))\" text-anchor=\"\(i == 4 ? "end" : i == 0 ? "start" : "middle")\">\(escapeHTML(formatNanoseconds(ns)))</text>"
    }
    var parkedRow: Int?
    for (row, event) in events.enumerated() {
      let yMid = top + rowHeight * (Double(row) + 0.5)
      if event.label.hasPrefix("park") { parkedRow = row }
      if event.label.hasPrefix("wake"), let p = parkedRow {
        let start = x(events[p].offsetNs)
        out +=
          "<rect class=\"\(cssClass) overlay\" x=\"\(n(start))\" y=\"\(n(top + rowHeight * Double(p) + 4))\" width=\"\(n(max(1.5, x(event.offsetNs) - start)))\" height=\"\(n(rowHeight * Double(row - p) + rowHeight - 8))\"><title>parked \(escapeHTML(formatNanoseconds(event.offsetNs - events[p].offsetNs)))</title></rect>"
        parkedRow = nil
      }
      out +=
        "<text class=\"row-label\" x=\"\(n(labelWidth - 8))\" y=\"\(n(yMid + 4))\" text-anchor=\"end\">\(escapeHTML(event.label))</text>"
      out +=
        "<circle class=\"dot \(event.category)\" cx=\"\(n(x(event.offsetNs)))\" cy=\"\(n(yMid))\" r=\"4\"><title>\(escapeHTML("+\(formatNanoseconds(event.offsetNs)) \(event.label)"))</title></circle>"
    }
    return out + "</svg>"
  }

  /// A whole connection on three lanes (system calls, park/wake, kernel), one tick per event, each
  /// park → wake as a bar; labels are in tooltips.
  static func lanes(_ events: [HTMLReportSeries.TimelineEvent], cssClass: String, spanNs: Int) -> String {
    let laneHeight = 22.0
    let labelWidth = 110.0
    let lanes = [("call", "system calls"), ("task", "park → wake"), ("kernel", "kernel")]
    let height = top + laneHeight * Double(lanes.count) + 24
    let plotWidth = width - labelWidth - right - 10
    let span = Double(max(spanNs, 1))
    func x(_ ns: Int) -> Double { labelWidth + plotWidth * Double(ns) / span }
    func lane(_ category: String) -> Int { lanes.firstIndex { $0.0 == category } ?? 2 }
    var out =
      "<svg class=\"chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" role=\"img\" aria-label=\"connection timeline\">"
    for i in 0...4 {
      let ns = Int(saturating: span * Double(i) / 4)
      out +=
        "<line class=\"grid\" x1=\"\(n(x(ns)))\" x2=\"\(n(x(ns)))\" y1=\"\(n(top - 6))\" y2=\"\(n(height - 20))\"/><text class=\"tick\" x=\"\(n(x(ns)))\" y=\"\(n(height - 6))\" text-anchor=\"\(i == 4 ? "end" : i == 0 ? "start" : "middle")\">\(escapeHTML(formatNanoseconds(ns)))</text>"
    }
    for (i, (_, name)) in lanes.enumerated() {
      out +=
        "<text class=\"row-label\" x=\"\(n(labelWidth - 8))\" y=\"\(n(top + laneHeight * (Double(i) + 0.5) + 4))\" text-anchor=\"end\">\(escapeHTML(name))</text>"
    }
    var parkedAt: Int?
    for event in events {
      if event.label.hasPrefix("park") { parkedAt = event.offsetNs }
      if event.label.hasPrefix("wake"), let start = parkedAt {
        out +=
          "<rect class=\"\(cssClass) overlay\" x=\"\(n(x(start)))\" y=\"\(n(top + laneHeight + 5))\" width=\"\(n(max(1.5, x(event.offsetNs) - x(start))))\" height=\"\(n(laneHeight - 10))\"><title>parked \(escapeHTML(formatNanoseconds(event.offsetNs.saturatingSubtracting(start))))</title></rect>"
        parkedAt = nil
      }
      let y = top + laneHeight * Double(lane(event.category))
      out +=
        "<line class=\"tickmark \(event.category)\" x1=\"\(n(x(event.offsetNs)))\" x2=\"\(n(x(event.offsetNs)))\" y1=\"\(n(y + 4))\" y2=\"\(n(y + laneHeight - 4))\"><title>\(escapeHTML("+\(formatNanoseconds(event.offsetNs)) \(event.label)"))</title></line>"
    }
    return out + "</svg>"
  }

  /// 1, 2, 2.5 or 5 times a power of ten, at least `v`.
  static func niceCeiling(_ v: Double) -> Double {
    var scale = 1.0
    while scale * 10 <= v { scale *= 10 }
    while scale > v { scale /= 10 }
    for step in [1.0, 2, 2.5, 5, 10] where step * scale >= v { return step * scale }
    return 10 * scale
  }

  /// A coordinate with at most one decimal.
  private static func n(_ v: Double) -> String { jsonNumber((v * 10).rounded() / 10) }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
func escapeHTML(_ text: String) -> String {
  var out = ""
  out.reserveCapacity(text.utf8.count)
  for c in text {
    switch c {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.append(c)
    }
  }
  return out
}
