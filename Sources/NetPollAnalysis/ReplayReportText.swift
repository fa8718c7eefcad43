extension ReplayReport {
  /// The timeline as printed by `netpoll replay --fd/--task`: one step a line, with the time since
  /// the trace started and since the previous step.
  public static func renderTimeline(_ steps: [TimelineStep], title: String) -> String {
    var out = "\(title) (\(steps.count) steps)\n"
    var previous: Int?
    for step in steps {
      let delta = previous.map { "+" + formatNanoseconds(step.ts - $0) } ?? ""
      out +=
        "  line \(pad(step.line, 7))  t=\(pad(formatNanoseconds(step.ts), 9))  \(pad(delta, 10))  \(step.text)\n"
      previous = step.ts
    }
    return out
  }

  /// Violations, `FILE:LINE: [kind] message`, one a line, and how many were not kept.
  public func renderViolations(file: String) -> String {
    var out = ""
    for v in violations { out += "\(file):\(v.description)\n" }
    let hidden = summary.violations - violations.count
    if hidden > 0 { out += "… and \(hidden) more violations\n" }
    return out
  }

  /// Notes, `FILE:LINE: note: message`.
  public func renderNotes(file: String) -> String {
    notes.map { note in
      "\(file)\(note.line.map { ":\($0)" } ?? ""): note: \(note.message)\n"
    }.joined()
  }

  /// The summary block printed at the end of a replay.
  public func renderSummary(file: String) -> String {
    let s = summary
    let runtime = header.source.hasRuntimeEvents
    var out = "\(file): backend \(header.backend)"
    if !runtime { out += ", source \(header.source.rawValue)" }
    out += ", \(s.events) events, \(s.fds) fds"
    if runtime { out += ", \(s.tasks) tasks" }
    out += s.truncated ? ", truncated (no trace_end)\n" : "\n"
    if runtime {
      let reasons = s.wakesByReason.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
      out += "  parks \(s.parks), wakes \(s.wakes)"
      out += reasons.isEmpty ? "\n" : " (\(reasons.joined(separator: ", ")))\n"
      out += "  readiness \(s.readiness) (latched \(s.latchedReadiness)), stale drops \(s.staleDrops)"
    } else {
      let missing = "not recorded by source \(header.source.rawValue)"
      out += "  tasks, parks, wakes: \(missing)\n"
      out += "  readiness \(s.readiness) (latched: \(missing)), stale drops: \(missing)"
    }
    if s.operationResults > 0 { out += ", operation results \(s.operationResults)" }
    out += s.dropped > 0 ? ", events lost by the recorder \(s.dropped)\n" : "\n"
    if !runtime {
      out += "  checked: \(checksRun.joined(separator: ", "))\n"
      out +=
        "  not checked (source \(header.source.rawValue) has no park/wake/stale events): \(checksNotRun.joined(separator: ", "))\n"
    }
    if s.violations == 0 {
      out +=
        runtime
        ? "  violations: none, the trace is consistent\n"
        : "  violations: none in the checks above\n"
    } else {
      let kinds = s.violationsByKind.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
      out += "  violations: \(s.violations) (\(kinds.joined(separator: ", ")))\n"
    }
    return out
  }
}

/// Right-aligns `value` in `width` columns.
func pad(_ value: some CustomStringConvertible, _ width: Int) -> String {
  let text = value.description
  return text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}
