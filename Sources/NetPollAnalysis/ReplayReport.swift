/// A broken runtime invariant that `TraceReplay` found, at the line that shows it.
public struct ReplayViolation: Sendable, Equatable, CustomStringConvertible {
  /// Which invariant.
  public enum Kind: String, Sendable, CaseIterable, Comparable {
    /// A `park` of a task that is already parked.
    case parkWhileParked = "park-while-parked"
    /// A `wake` of a task that is not parked.
    case wakeNotParked = "wake-not-parked"
    /// A `wake` whose fd or mode differs from the task's `park`.
    case wakeMismatch = "wake-mismatch"
    /// Readiness for an fd that was never registered (and no `stale` drop followed), including one
    /// reported before its registration (causal order broken).
    case readinessUnregistered = "readiness-unregistered"
    /// Readiness for an fd whose registration was deleted (and no `stale` drop followed).
    case readinessDeleted = "readiness-deleted"
    /// Readiness carrying a tag other than the registration's (and no `stale` drop followed).
    case readinessStaleTag = "readiness-stale-tag"
    /// `epoll_ctl` ADD of an fd that is already registered, or a `POLL_ADD` for an fd whose
    /// multishot poll is still armed.
    case addWhileRegistered = "add-while-registered"
    /// `seq` skipped values: events were lost.
    case seqGap = "seq-gap"
    /// `seq` did not increase (one line's `seq` too low, or two lines swapped).
    case seqBackwards = "seq-backwards"
    /// `ts` decreased.
    case timeBackwards = "ts-backwards"
    /// A read/write/accept returned EAGAIN and its task neither parked on that fd and direction
    /// nor retried the call (reported where the task did something else).
    case eagainNotFollowed = "eagain-not-followed"
    /// A task parked and was never woken before a clean `trace_end`.
    case parkWithoutWake = "park-without-wake"
    /// One line's `seq` is too high, and the lines around it count on as if it were not there.
    case seqWrong = "seq-wrong"
    /// `trace_end.lines` (`events`) or `dropped` disagrees with what was read.
    case traceEndMismatch = "trace-end-mismatch"
    /// A call, registration or submission names an fd that is not open at that point: closed (and
    /// not handed out again), or created later in the file; or a new fd gets a number still open.
    case fdNotOpen = "fd-not-open"
    /// A `uring_cqe` whose `user_data` has no submission in flight: never submitted, submitted
    /// later (causal order), or its request already had its final completion.
    case completionWithoutSubmission = "completion-without-submission"

    /// Orders by name, for stable output.
    public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
  }

  /// The 1-based line of the event that breaks the invariant.
  public var line: Int
  /// Which invariant.
  public var kind: Kind
  /// What happened, in words.
  public var message: String

  /// `LINE: [kind] message` (the CLI prefixes the file).
  public var description: String { "\(line): [\(kind.rawValue)] \(message)" }
}

/// Something replay noticed that is not a violation (e.g. a park left open by a truncated trace).
public struct ReplayNote: Sendable, Equatable {
  /// The line it concerns, if any.
  public var line: Int?
  /// What was noticed.
  public var message: String
}

/// Counts that summarise a replay.
public struct ReplaySummary: Sendable, Equatable {
  /// Events read (lines decoded).
  public var events = 0
  /// fds the trace opened (a reused number counts again) or used without opening them.
  public var fds = 0
  /// Distinct task numbers that parked (exact up to 65,536; past that, an upper bound).
  public var tasks = 0
  /// `park` events.
  public var parks = 0
  /// `wake` events by reason.
  public var wakesByReason: [WakeReason: Int] = [:]
  /// Readiness reports (`epoll_wait.ready` entries and poll completions).
  public var readiness = 0
  /// Readiness reports that found no task parked in any direction they report (latched).
  public var latchedReadiness = 0
  /// Completion-mode ACCEPT, RECV and SEND completions: call results, not readiness.
  public var operationResults = 0
  /// Bad readiness correctly dropped by the runtime (followed by a `stale` event).
  public var staleDrops = 0
  /// Violations by kind (all of them, including those not kept).
  public var violationsByKind: [ReplayViolation.Kind: Int] = [:]
  /// Events lost, from `trace_end.dropped`.
  public var dropped = 0
  /// True when the trace ended without `trace_end`.
  public var truncated = false

  /// All wakes.
  public var wakes: Int { wakesByReason.values.reduce(0, +) }
  /// All violations.
  public var violations: Int { violationsByKind.values.reduce(0, +) }
}

/// What `TraceReplay` found.
public struct ReplayReport: Sendable {
  /// The trace's header.
  public var header: TraceHeader
  /// The first violations in line order (at most `ReplayOptions.maxKeptViolations`).
  public var violations: [ReplayViolation]
  /// Notes (at most `ReplayOptions.maxKeptViolations`).
  public var notes: [ReplayNote]
  /// Counts.
  public var summary: ReplaySummary
  /// The requested `--fd` timeline, in trace order.
  public var fdTimeline: [TimelineStep]
  /// The requested `--task` timeline, in trace order.
  public var taskTimeline: [TimelineStep]
  /// Reader warnings (unknown events, torn last line, truncation).
  public var warnings: [TraceWarning]

  /// True when the trace is consistent.
  public var isConsistent: Bool { summary.violations == 0 }

  /// The checks this replay made, in words: all of them for a `"runtime"` trace; for `"ebpf"`, those
  /// that need no park, wake or stale event.
  public var checksRun: [String] {
    var checks = [
      "seq and ts order", "trace_end counts", "registration before readiness",
      "io_uring submissions before completions",
    ]
    if header.source.hasRuntimeEvents {
      checks += [
        "no fd used after close", "park/wake pairing", "EAGAIN followed by a park or a retry",
        "bad readiness dropped by a stale event",
      ]
    }
    return checks
  }

  /// The checks this replay could not make because the trace's source does not record their events
  /// (empty for `"runtime"`).
  public var checksNotRun: [String] {
    header.source.hasRuntimeEvents
      ? []
      : [
        "no fd used after close (files opened by calls the source does not record reuse numbers)",
        "park/wake pairing", "EAGAIN followed by a park or a retry",
        "bad readiness dropped by a stale event (reported as notes)", "latched readiness",
      ]
  }
}

/// One step of an fd's or task's timeline.
public struct TimelineStep: Sendable, Equatable {
  /// The 1-based line of the event.
  public var line: Int
  /// `ts` of the event, ns since trace start.
  public var ts: Int
  /// What happened, e.g. `read(len 4096) → EAGAIN`.
  public var text: String
}
