extension TraceDiff {
  /// One JSON object: both backends, every figure with A, B, ratio and direction, the findings and
  /// the connection alignment, in a fixed order.
  public var json: JSONValue {
    .object([
      (
        "a",
        .object([
          ("backend", .string(a.backend)), ("events", .int(a.events)), ("truncated", .bool(a.truncated)),
        ])
      ),
      (
        "b",
        .object([
          ("backend", .string(b.backend)), ("events", .int(b.events)), ("truncated", .bool(b.truncated)),
        ])
      ),
      (
        "figures",
        .array(
          rows.map { row in
            .object([
              ("key", .string(row.key)), ("a", row.a.map { .double($0) } ?? .null),
              ("b", row.b.map { .double($0) } ?? .null),
              ("ratio", row.ratio.map { .double($0) } ?? .null), ("direction", .string(row.direction)),
            ])
          })
      ),
      ("findings", .array(findings.map { .string($0) })),
      (
        "connections",
        .object([
          ("a_count", .int(connections.connectionsA)), ("b_count", .int(connections.connectionsB)),
          ("first_difference", connections.firstDifference.map { .int($0 + 1) } ?? .null),
          (
            "segments",
            .array(
              connections.segmentStarts.enumerated().map {
                .object([
                  ("name", .string(ConnectionComparison.segmentName($0.offset))),
                  ("first_row", .int($0.element + 1)),
                ])
              })
          ),
          (
            "alignment",
            .array(
              connections.alignment.map {
                .array([$0.0.map { .string($0) } ?? .null, $0.1.map { .string($0) } ?? .null])
              })
          ),
        ])
      ),
    ])
  }

  /// A plain-text table and the findings.
  public func text(fileA: String, fileB: String) -> String {
    render(fileA: fileA, fileB: fileB, markdown: false)
  }

  /// A Markdown table and the findings.
  public func markdown(fileA: String, fileB: String) -> String {
    render(fileA: fileA, fileB: fileB, markdown: true)
  }

  private func render(fileA: String, fileB: String, markdown: Bool) -> String {
    func number(_ x: Double?) -> String {
      guard let x else { return "-" }
      return x == x.rounded() && abs(x) < 1e12 ? String(Int(x)) : formatDecimal(x, digits: 3)
    }
    func source(_ r: StatsReport) -> String { r.recordsRuntimeEvents ? "" : ", source \(r.source.rawValue)" }
    var out =
      "A: \(fileA) (\(a.backend)\(source(a)), \(a.events) events)\nB: \(fileB) (\(b.backend)\(source(b)), \(b.events) events)\n\n"
    let header = ["figure", "A", "B", "B/A", ""]
    let body = rows.map {
      [
        $0.label, number($0.a), number($0.b), $0.ratio.map { formatDecimal($0, digits: 2) } ?? "-",
        $0.direction,
      ]
    }
    if markdown {
      out += "| " + header.joined(separator: " | ") + " |\n|---|--:|--:|--:|---|\n"
      for r in body { out += "| " + r.joined(separator: " | ") + " |\n" }
    } else {
      let widths = (0..<header.count).map { c in ([header] + body).map { $0[c].count }.max() ?? 0 }
      for r in [header] + body {
        out +=
          r.enumerated().map { c, cell in
            c == 0 || c == 4
              ? cell + String(repeating: " ", count: widths[c] - cell.count) : pad(cell, widths[c])
          }.joined(separator: "  ") + "\n"
      }
    }
    out += markdown ? "\n**Findings**\n\n" : "\nfindings\n"
    for f in findings { out += "- \(f)\n" }
    if !connections.alignment.isEmpty {
      out +=
        markdown
        ? "\n**Typical connection** (A: \(connections.connectionsA), B: \(connections.connectionsB) connections)\n\n| A | B |\n|---|---|\n"
        : "\ntypical connection (A: \(connections.connectionsA), B: \(connections.connectionsB) connections)\n"
      var shownSegment = -1
      for (i, (x, y)) in connections.alignment.enumerated() {
        let segment = connections.segment(ofRow: i)
        if segment != shownSegment {
          shownSegment = segment
          let name = ConnectionComparison.segmentName(segment)
          out += markdown ? "| *\(name)* | |\n" : "  -- \(name)\n"
        }
        let mark =
          i == connections.firstDifference
          ? (markdown ? " ⟵ first difference" : "   <- first difference") : ""
        if markdown {
          out += "| \(x ?? "") | \(y ?? "")\(mark) |\n"
        } else {
          let left = x ?? "-"
          out +=
            "  " + left + String(repeating: " ", count: max(1, 22 - left.count)) + (y ?? "-") + mark + "\n"
        }
      }
    }
    return out
  }
}
