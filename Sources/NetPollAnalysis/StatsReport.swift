/// The figures `netpoll stats` prints for one trace.
public struct StatsReport: Sendable {
  /// Entries in each top list.
  public static let topCount = 5

  /// `trace_start.backend`.
  public var backend = ""
  /// `trace_start.source`: an `"ebpf"` trace has no park, wake, stale or deadline events, so the
  /// figures built on them (`notRecorded`) are not computed.
  public var source = TraceSource.runtime
  /// The flight-recorder window the trace is a dump of, `nil` for a whole run.
  public var window: TraceWindow?
  /// Events read.
  public var events = 0
  /// Unknown event names listed in `eventCounts`, at most: the first ones seen.
  public static let unknownNamesShown = 20

  /// Events with an `ev` this version does not know.
  public var unknownEvents = 0
  /// Distinct unknown event names past the first `unknownNamesShown`, not in `eventCounts` (those
  /// among the first `TraceReader.maxUnknownEventNames` kept; see `unknownNamesUncounted`).
  public var unknownNamesNotShown = 0
  /// True when more than `TraceReader.maxUnknownEventNames` distinct unknown names were seen: the
  /// names past that are counted only as events, as the reader counts them.
  public var unknownNamesUncounted = false
  /// Events with those names.
  public var unknownEventsNotShown = 0
  /// True when the trace has no `trace_end`.
  public var truncated = false
  /// `ts` of the last event minus `ts` of the first.
  public var durationNs = 0
  /// Events by `ev` name.
  public var eventCounts: [String: Int] = [:]
  /// System calls by name.
  public var syscallCounts: [Syscall: Int] = [:]
  /// Failed system calls by errno name.
  public var errnoCounts: [String: Int] = [:]
  /// `epoll_wait` calls.
  public var epollWaits = 0
  /// `epoll_wait.ready` entries in all.
  public var readyEvents = 0
  /// `epoll_wait` calls that returned no event.
  public var emptyEpollWaits = 0
  /// `io_uring_enter` calls.
  public var uringEnters = 0
  /// `uring_cqe` events.
  public var uringCompletions = 0
  /// `uring_cqe`s of completion-mode ACCEPT, RECV and SEND operations (call results, not readiness).
  public var operationCompletions = 0
  /// Readiness reports from the kernel: `epoll_wait.ready` entries, plus `uring_cqe`s with a
  /// positive result for an fd that are poll completions (not ACCEPT/RECV/SEND results).
  public var readinessReports = 0
  /// Calls that wait for the kernel: `epoll_wait`, plus `io_uring_enter` with `min_complete > 0`.
  public var kernelWaits = 0
  /// Successful reads with `ret > 0` on connection fds, or RECV completions with `res > 0` on them
  /// (see `TraceStats`).
  public var requests = 0
  /// Bytes returned by successful reads on connection fds.
  public var bytesRead = 0
  /// Bytes returned by successful writes on connection fds.
  public var bytesWritten = 0
  /// Wakes by reason.
  public var wakesByReason: [WakeReason: Int] = [:]
  /// `ready` wakes whose next call on the fd and direction returned EAGAIN.
  public var spuriousWakes = 0
  /// `stale` events.
  public var staleDrops = 0
  /// park → wake latency of each task.
  public var wakeLatency = LatencySummary.empty
  /// park → wake latency of read parks (`park.mode` `"r"`).
  public var wakeLatencyRead = LatencySummary.empty
  /// park → wake latency of write parks (`park.mode` `"w"`).
  public var wakeLatencyWrite = LatencySummary.empty

  /// park → wake latency of the parks in `mode`.
  public func wakeLatency(_ mode: PollMode) -> LatencySummary {
    mode == .read ? wakeLatencyRead : wakeLatencyWrite
  }
  /// Time spent in `epoll_wait`.
  public var epollWaitDuration = LatencySummary.empty
  /// Time spent in `io_uring_enter`.
  public var uringEnterDuration = LatencySummary.empty
  /// fd numbers with the most events.
  public var topFDsByEvents: [FDFigure] = []
  /// fd numbers with the most EAGAIN results.
  public var topFDsByEAGAIN: [FDFigure] = []
  /// fd numbers with the most parks.
  public var topFDsByParks: [FDFigure] = []

  /// Creates an empty report.
  public init() {}

  /// Whether the trace can hold the figures built on park, wake and stale events.
  public var recordsRuntimeEvents: Bool { source.hasRuntimeEvents }

  /// The `--json` keys of the figures that need park, wake or stale events, which a trace of
  /// `source` cannot hold (empty for `"runtime"`); they are `null` in `--json`.
  public var notRecorded: [String] {
    recordsRuntimeEvents
      ? []
      : [
        "wake_latency", "wake_latency_by_mode", "wakes", "spurious_wakes", "spurious_wake_share",
        "stale_drops", "top_fds.by_parks",
      ]
  }

  /// `not recorded by source ebpf`.
  public var notRecordedText: String { "not recorded by source \(source.rawValue)" }

  /// Every system call (kernel entry).
  public var kernelEntries: Int { syscallCounts.values.reduce(0, +) }
  /// System calls that failed with EAGAIN (or EWOULDBLOCK).
  public var eagainCount: Int { errnoCounts["EAGAIN", default: 0] + errnoCounts["EWOULDBLOCK", default: 0] }
  /// EAGAIN results per system call.
  public var eagainShare: Double { ratio(eagainCount, kernelEntries) }
  /// Mean `ready` entries per `epoll_wait`.
  public var eventsPerEpollWait: Double { ratio(readyEvents, epollWaits) }
  /// Mean completions per `io_uring_enter`.
  public var completionsPerUringEnter: Double { ratio(uringCompletions, uringEnters) }
  /// System calls per request.
  public var kernelEntriesPerRequest: Double { ratio(kernelEntries, requests) }
  /// System calls per KiB read or written.
  public var kernelEntriesPerKiB: Double {
    let kib = (Double(bytesRead) + Double(bytesWritten)) / 1024
    return kib > 0 ? Double(kernelEntries) / kib : 0
  }
  /// All wakes.
  public var wakes: Int { wakesByReason.values.reduce(0, +) }
  /// Whether the trace is of io_uring completion mode (its calls are ring operations).
  public var isCompletionMode: Bool { backend == "uring-completion" || operationCompletions > 0 }
  /// Readiness reports per kernel wait, the batching figure both backends share.
  public var readinessPerWait: Double { ratio(readinessReports, kernelWaits) }
  /// Spurious wakes per `ready` wake.
  public var spuriousWakeShare: Double { ratio(spuriousWakes, wakesByReason[.ready, default: 0]) }

  /// The headline figures, in a fixed order, for tables and `diff`; a figure that does not apply
  /// to this trace (an epoll figure of an io_uring trace, a latency with no samples) has no value.
  public var figures: [StatsFigure] {
    let epoll = epollWaits > 0
    let uring = uringEnters > 0
    return [
      StatsFigure("events", "events", Double(events), .neutral),
      StatsFigure("requests", "requests", Double(requests), .neutral),
      StatsFigure("kernel_entries", "kernel entries (syscalls)", Double(kernelEntries), .lowerIsBetter),
      StatsFigure(
        "kernel_entries_per_request", "kernel entries per request", kernelEntriesPerRequest, .lowerIsBetter),
      StatsFigure(
        "kernel_entries_per_kib", "kernel entries per KiB moved", kernelEntriesPerKiB, .lowerIsBetter),
      StatsFigure("eagain_share", "EAGAIN share of syscalls", eagainShare, .lowerIsBetter),
      // Completion mode reports results, not readiness: its batching figure is completions per enter.
      StatsFigure(
        "readiness_per_wait", "readiness reports per kernel wait", isCompletionMode ? nil : readinessPerWait,
        .higherIsBetter),
      StatsFigure(
        "events_per_epoll_wait", "events per epoll_wait", epoll ? eventsPerEpollWait : nil, .higherIsBetter),
      StatsFigure(
        "completions_per_uring_enter", "completions per io_uring_enter",
        uring ? completionsPerUringEnter : nil,
        .higherIsBetter),
      runtimeFigure("parks", "parks", Double(eventCounts["park", default: 0]), .lowerIsBetter),
      runtimeFigure("wakes", "wakes", Double(wakes), .neutral),
      runtimeFigure("spurious_wake_share", "spurious wake share", spuriousWakeShare, .lowerIsBetter),
      runtimeFigure("stale_drops", "stale drops", Double(staleDrops), .neutral),
    ]
      // Latency by park mode: a read park waits for a peer, a write park for buffer space, and
      // completion mode parks on every operation; only the same mode compares like with like.
      + PollMode.allCases.flatMap { mode -> [StatsFigure] in
        let summary = wakeLatency(mode)
        let woken = summary.count > 0
        let what = mode == .read ? "read parks" : "write parks"
        return [
          runtimeFigure(
            "wake_latency_\(mode.rawValue)_p50_ns", "wake latency p50, \(what) (ns)",
            woken ? Double(summary.p50) : nil, .lowerIsBetter),
          runtimeFigure(
            "wake_latency_\(mode.rawValue)_p99_ns", "wake latency p99, \(what) (ns)",
            woken ? Double(summary.p99) : nil, .lowerIsBetter),
          runtimeFigure(
            "wake_latency_\(mode.rawValue)_p999_ns", "wake latency p99.9, \(what) (ns)",
            woken ? Double(summary.p999) : nil, .lowerIsBetter),
        ]
      } + [
        StatsFigure(
          "epoll_wait_p50_ns", "epoll_wait p50 (ns)", epoll ? Double(epollWaitDuration.p50) : nil, .neutral),
        StatsFigure(
          "epoll_wait_p99_ns", "epoll_wait p99 (ns)", epoll ? Double(epollWaitDuration.p99) : nil, .neutral),
        StatsFigure(
          "uring_enter_p50_ns", "io_uring_enter p50 (ns)", uring ? Double(uringEnterDuration.p50) : nil,
          .neutral),
        StatsFigure(
          "uring_enter_p99_ns", "io_uring_enter p99 (ns)", uring ? Double(uringEnterDuration.p99) : nil,
          .neutral),
      ]
  }
}

extension StatsReport {
  /// A figure built on park, wake or stale events: no value, and marked, when the source has none.
  fileprivate func runtimeFigure(
    _ key: String, _ label: String, _ value: Double?, _ preference: StatsFigure.Preference
  ) -> StatsFigure {
    var figure = StatsFigure(key, label, recordsRuntimeEvents ? value : nil, preference)
    figure.needsRuntimeEvents = true
    return figure
  }
}

/// One fd number in a top list.
public struct FDFigure: Sendable, Equatable {
  /// The fd number (all its lifetimes together).
  public var fd: Int
  /// The counted value.
  public var count: Int

  /// Creates an entry.
  public init(fd: Int, count: Int) {
    self.fd = fd
    self.count = count
  }
}

/// A named figure of a report.
public struct StatsFigure: Sendable {
  /// Which way is an improvement.
  public enum Preference: Sendable { case lowerIsBetter, higherIsBetter, neutral }
  /// Machine name, e.g. `kernel_entries_per_request`.
  public var key: String
  /// Human label.
  public var label: String
  /// The value, or `nil` when the figure does not apply to the trace.
  public var value: Double?
  /// Which way is an improvement.
  public var preference: Preference
  /// Whether the figure is built on park, wake or stale events, which only a `"runtime"` trace has.
  public var needsRuntimeEvents = false

  init(_ key: String, _ label: String, _ value: Double?, _ preference: Preference) {
    self.key = key
    self.label = label
    self.value = value
    self.preference = preference
  }
}

func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
