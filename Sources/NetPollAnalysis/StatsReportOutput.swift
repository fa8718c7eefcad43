extension StatsReport {
  /// The report as one JSON object with a fixed key order (`netpoll stats --json`).
  public var json: JSONValue {
    func sorted(_ d: [String: Int]) -> JSONValue {
      .object(d.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })
    }
    func top(_ list: [FDFigure]) -> JSONValue {
      .array(list.map { .object([("fd", .int($0.fd)), ("count", .int($0.count))]) })
    }
    /// `value`, or `null` when the source does not record what it needs.
    func runtime(_ value: JSONValue) -> JSONValue { recordsRuntimeEvents ? value : .null }
    let windowJSON: JSONValue =
      window.map {
        .object([
          ("window_seq", .int($0.firstSeq)), ("window_ts", .int($0.firstTs)),
          ("trigger", .string($0.trigger)),
        ])
      } ?? .null
    return .object([
      ("backend", .string(backend)),
      ("events", .int(events)),
      ("source", .string(source.rawValue)),
      ("window", windowJSON),
      ("not_recorded", .array(notRecorded.map { .string($0) })),
      ("unknown_events", .int(unknownEvents)),
      ("unknown_names_not_shown", .int(unknownNamesNotShown)),
      ("truncated", .bool(truncated)),
      ("duration_ns", .int(durationNs)),
      ("events_by_name", sorted(eventCounts)),
      (
        "syscalls",
        sorted(Dictionary(uniqueKeysWithValues: syscallCounts.map { ($0.key.rawValue, $0.value) }))
      ),
      ("kernel_entries", .int(kernelEntries)),
      ("errno", sorted(errnoCounts)),
      ("eagain", .int(eagainCount)),
      ("eagain_share", .double(eagainShare)),
      (
        "batching",
        .object([
          ("epoll_waits", .int(epollWaits)),
          ("ready_events", .int(readyEvents)),
          ("empty_epoll_waits", .int(emptyEpollWaits)),
          ("events_per_epoll_wait", .double(eventsPerEpollWait)),
          ("uring_enters", .int(uringEnters)),
          ("uring_completions", .int(uringCompletions)),
          ("completions_per_uring_enter", .double(completionsPerUringEnter)),
          ("operation_completions", .int(operationCompletions)),
          ("readiness_reports", .int(readinessReports)),
          ("kernel_waits", .int(kernelWaits)),
          ("readiness_per_wait", .double(readinessPerWait)),
        ])
      ),
      ("requests", .int(requests)),
      ("bytes_read", .int(bytesRead)),
      ("bytes_written", .int(bytesWritten)),
      ("kernel_entries_per_request", .double(kernelEntriesPerRequest)),
      ("kernel_entries_per_kib", .double(kernelEntriesPerKiB)),
      ("wake_latency", runtime(wakeLatency.json)),
      (
        "wake_latency_by_mode", runtime(.object([("r", wakeLatencyRead.json), ("w", wakeLatencyWrite.json)]))
      ),
      ("epoll_wait_duration", epollWaitDuration.json),
      ("uring_enter_duration", uringEnterDuration.json),
      (
        "wakes",
        runtime(
          .object(
            [("total", .int(wakes))]
              + WakeReason.allCases.sorted().map { ($0.rawValue, .int(wakesByReason[$0, default: 0])) }))
      ),
      ("spurious_wakes", runtime(.int(spuriousWakes))),
      ("spurious_wake_share", runtime(.double(spuriousWakeShare))),
      ("stale_drops", runtime(.int(staleDrops))),
      (
        "top_fds",
        .object([
          ("by_events", top(topFDsByEvents)), ("by_eagain", top(topFDsByEAGAIN)),
          ("by_parks", runtime(top(topFDsByParks))),
        ])
      ),
    ])
  }

  /// The human-readable report (`netpoll stats`).
  public func text(file: String) -> String {
    var out = "\(file): backend \(backend)"
    if !recordsRuntimeEvents { out += ", source \(source.rawValue)" }
    out += ", \(events) events over \(formatNanoseconds(durationNs))"
    if let window {
      out +=
        ", a flight-recorder window from seq \(window.firstSeq) (trigger: \(window.trigger.isEmpty ? "unknown" : window.trigger))"
    }
    out += truncated ? ", truncated (no trace_end)\n" : "\n"
    if !recordsRuntimeEvents {
      out +=
        "  \(notRecordedText): park → wake latency, wakes, spurious wakes, stale drops and parks by fd (no park/wake/stale events)\n"
    }
    if unknownEvents > 0 { out += "  \(unknownEvents) events of unknown kinds were counted and ignored\n" }
    out += "\nevents by name\n"
    for (name, count) in eventCounts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
      out += "  \(pad(count, 10))  \(name)\n"
    }
    if unknownEventsNotShown > 0 {
      let names = unknownNamesUncounted ? "at least \(unknownNamesNotShown + 1)" : "\(unknownNamesNotShown)"
      out += "  and \(names) more unknown event names (\(unknownEventsNotShown) events)\n"
    }
    out += "\nsyscalls (kernel entries): \(kernelEntries)\n"
    for (call, count) in syscallCounts.sorted(by: {
      ($0.value, $1.key.rawValue) > ($1.value, $0.key.rawValue)
    }) {
      out += "  \(pad(count, 10))  \(call.rawValue)\n"
    }
    out +=
      "\nerrno: \(errnoCounts.values.reduce(0, +)) failed calls, EAGAIN \(eagainCount) = \(percent(eagainShare)) of syscalls\n"
    for (name, count) in errnoCounts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
      out += "  \(pad(count, 10))  \(name)\n"
    }
    out += "\nbatching\n"
    if epollWaits > 0 {
      out +=
        "  epoll_wait: \(epollWaits) calls, \(formatDecimal(eventsPerEpollWait, digits: 2)) events per call, \(emptyEpollWaits) empty\n"
    }
    if uringEnters > 0 {
      out +=
        "  io_uring_enter: \(uringEnters) calls, \(formatDecimal(completionsPerUringEnter, digits: 2)) completions per call\n"
    }
    if operationCompletions > 0 {
      out +=
        "  operation results (ACCEPT/RECV/SEND completions, not readiness): \(operationCompletions)\n"
    }
    if !isCompletionMode || readinessReports > 0 {
      out +=
        "  readiness reports per kernel wait: \(formatDecimal(readinessPerWait, digits: 2)) (\(readinessReports) over \(kernelWaits) waits)\n"
    }
    out +=
      "\nrequests (\(isCompletionMode ? "RECV completions" : "reads") with data on connection fds): \(requests)\n"
    out += "  bytes read \(bytesRead), written \(bytesWritten)\n"
    out +=
      "  kernel entries per request \(formatDecimal(kernelEntriesPerRequest, digits: 2)), per KiB moved \(formatDecimal(kernelEntriesPerKiB, digits: 2))\n"
    out += "\nlatency (HDR histograms)\n"
    if recordsRuntimeEvents {
      out += "  park → wake       \(wakeLatency.text)\n"
      out += "    read parks      \(wakeLatencyRead.text)\n"
      out += "    write parks     \(wakeLatencyWrite.text)\n"
    } else {
      out += "  park → wake       \(notRecordedText)\n"
    }
    if epollWaits > 0 { out += "  epoll_wait        \(epollWaitDuration.text)\n" }
    if uringEnters > 0 { out += "  io_uring_enter    \(uringEnterDuration.text)\n" }
    if recordsRuntimeEvents {
      let reasons = WakeReason.allCases.sorted().compactMap { r in
        wakesByReason[r].map { "\(r.rawValue) \($0)" }
      }
      out += "\nwakes: \(wakes)\(reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")")\n"
      out +=
        "  spurious (woken ready, next call EAGAIN): \(spuriousWakes) = \(percent(spuriousWakeShare)) of ready wakes\n"
      out += "  stale readiness dropped: \(staleDrops)\n"
    } else {
      out += "\nwakes, spurious wakes, stale readiness dropped: \(notRecordedText)\n"
    }
    out += "\ntop fds\n"
    for (title, list) in [("events", topFDsByEvents), ("EAGAIN", topFDsByEAGAIN), ("parks", topFDsByParks)] {
      if title == "parks" && !recordsRuntimeEvents {
        out += "  by parks: \(notRecordedText)\n"
        continue
      }
      let items = list.map { "fd \($0.fd): \($0.count)" }.joined(separator: ", ")
      out += "  by \(title): \(items.isEmpty ? "-" : items)\n"
    }
    return out
  }
}

/// `12.5%`.
func percent(_ share: Double) -> String { formatDecimal(share * 100, digits: 1) + "%" }
