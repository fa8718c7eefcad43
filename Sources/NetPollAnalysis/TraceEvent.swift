/// One line of a version-1 or version-2 trace, decoded and checked against `docs/trace-format.md`.
///
/// Only the fields the analyses use are kept; the others are type-checked and dropped, so an event
/// is a few words and a stream of them needs no per-line allocation (except `epoll_wait.ready`).
public struct TraceEvent: Sendable {
  /// The 1-based line of the file the event came from.
  public var line: Int
  /// `seq`: 0 on the first line, +1 per recorded event.
  public var seq: Int
  /// `ts`: nanoseconds of `CLOCK_MONOTONIC` since the recorder started.
  public var ts: Int
  /// `tid`: the OS thread that made the call.
  public var tid: Int
  /// `errno`'s symbolic name when the system call failed, `nil` on success.
  public var errno: String?
  /// The event's own fields.
  public var body: Body

  /// The event-specific part of a line, one case per `ev`.
  public enum Body: Sendable {
    /// `trace_start`, always the first line.
    indirect case traceStart(TraceHeader)
    /// `trace_end`: the last line of a cleanly stopped trace. `lines` is version 2's `lines`
    /// (version 1's `events`): the lines of the file, this one included; `nil` when missing.
    case traceEnd(lines: Int?, dropped: Int)
    /// `snapshot_fd` (a flight-recorder window): the fd was registered when the window began,
    /// with `tag` (on io_uring readiness, its multishot `POLL_ADD` armed with `user_data`
    /// fd + (tag << 32)).
    case snapshotFD(fd: Int, tag: Int)
    /// `snapshot_park`: the task was parked on the fd when the window began.
    case snapshotPark(task: Int, fd: Int, mode: PollMode)
    /// `snapshot_op`: a completion-mode operation was in flight when the window began.
    case snapshotOperation(userData: UInt64, op: String, fd: Int)
    /// `epoll_create` (the `epoll_create1(2)` call).
    case epollCreate(epfd: Int, ret: Int)
    /// `epoll_ctl(2)`.
    case epollCtl(EpollControl)
    /// `epoll_wait(2)` with the events it returned.
    case epollWait(EpollWait)
    /// One of the socket calls (`socket`, `accept`, `read`, ...) or `eventfd`.
    case socketCall(SocketCall)
    /// A task suspended on an fd's poll descriptor.
    case park(task: Int, fd: Int, mode: PollMode)
    /// A parked task was resumed.
    case wake(task: Int, fd: Int, mode: PollMode, reason: WakeReason)
    /// A readiness for a closed-and-reused fd was dropped.
    case stale(fd: Int, tag: Int, currentTag: Int, mode: StaleMode)
    /// A read or write deadline was set (`timeoutNs` -1 clears it).
    case deadline(fd: Int, mode: PollMode, timeoutNs: Int)
    /// `io_uring_setup(2)`.
    case uringSetup(ringFd: Int, entries: Int)
    /// A submission queue entry was queued (not a system call).
    case uringSubmission(op: String, fd: Int, userData: UInt64)
    /// `io_uring_enter(2)`.
    case uringEnter(ringFd: Int, toSubmit: Int, minComplete: Int, ret: Int, durationNs: Int)
    /// A completion queue entry was reaped (not a system call); `more` is the `MORE` flag (a
    /// multishot request stays armed).
    case uringCompletion(userData: UInt64, res: Int, fd: Int, more: Bool)
    /// Completions the kernel dropped for a full completion queue.
    case uringOverflow(count: Int)
    /// An event this reader does not know (a newer recorder); counted, not checked.
    case unknown(name: String)
  }

  /// The system call this event records, or `nil` for runtime and io_uring queue events.
  public var syscall: Syscall? {
    switch body {
    case .epollCreate: .epollCreate
    case .epollCtl: .epollCtl
    case .epollWait: .epollWait
    case .socketCall(let call): call.syscall
    case .uringSetup: .ioUringSetup
    case .uringEnter: .ioUringEnter
    default: nil
    }
  }

  /// The event name as written in the trace (`ev`).
  public var name: String {
    switch body {
    case .traceStart: "trace_start"
    case .traceEnd: "trace_end"
    case .epollCreate: "epoll_create"
    case .epollCtl: "epoll_ctl"
    case .epollWait: "epoll_wait"
    case .socketCall(let call): call.syscall.rawValue
    case .park: "park"
    case .wake: "wake"
    case .stale: "stale"
    case .deadline: "deadline"
    case .uringSetup: "uring_setup"
    case .uringSubmission: "uring_sqe"
    case .uringEnter: "uring_enter"
    case .uringCompletion: "uring_cqe"
    case .uringOverflow: "uring_overflow"
    case .snapshotFD: "snapshot_fd"
    case .snapshotPark: "snapshot_park"
    case .snapshotOperation: "snapshot_op"
    case .unknown(let name): name
    }
  }
}

/// The fields of `trace_start` a tool needs.
public struct TraceHeader: Sendable, Equatable {
  /// `version`: 1 or 2.
  public var version: Int
  /// `source`: who wrote the trace (`"runtime"` for version 1).
  public var source: TraceSource
  /// `backend`: `"epoll"`, `"uring"` or `"uring-completion"` (`"unknown"` when an `"ebpf"` trace
  /// could not tell, or when the field is missing).
  public var backend: String
  /// `pid` of the traced process (0 when missing).
  public var pid: Int
  /// `wall`: RFC 3339 wall-clock time at `ts` 0 (empty when missing).
  public var wall: String
  /// `command`: the traced command line (empty when missing).
  public var command: String
  /// `backend_note`: why this backend was chosen (may be empty).
  public var backendNote: String
  /// The flight-recorder window this trace is a dump of, `nil` for a whole run.
  public var window: TraceWindow?

  /// Creates a header.
  public init(
    backend: String, pid: Int, wall: String, command: String, backendNote: String, version: Int = 2,
    source: TraceSource = .runtime, window: TraceWindow? = nil
  ) {
    self.version = version
    self.source = source
    self.backend = backend
    self.pid = pid
    self.wall = wall
    self.command = command
    self.backendNote = backendNote
    self.window = window
  }
}

/// `trace_start.source`: which recorder wrote the trace, and so what it can hold.
public enum TraceSource: String, Sendable, Equatable {
  /// The netpoll runtime's own recorder: every event kind, parks and wakes included.
  case runtime
  /// `netpoll record`, from kernel tracepoints: system calls and io_uring only, no `park`,
  /// `wake`, `stale` or `deadline` (figures built on them cannot be computed).
  case ebpf

  /// Whether the trace has the runtime's own events (`park`, `wake`, `stale`, `deadline`).
  public var hasRuntimeEvents: Bool { self == .runtime }
}

/// A flight-recorder dump's window (`trace_start.window` true): the trace starts from snapshot
/// lines, then the events from `firstSeq` on.
public struct TraceWindow: Sendable, Equatable {
  /// `window_seq`: the `seq` of the window's first event.
  public var firstSeq: Int
  /// `window_ts`: its `ts`.
  public var firstTs: Int
  /// `trigger`: why the dump was written (empty when missing).
  public var trigger: String

  /// Creates a window.
  public init(firstSeq: Int, firstTs: Int, trigger: String) {
    self.firstSeq = firstSeq
    self.firstTs = firstTs
    self.trigger = trigger
  }
}

/// A system call the recorder logs, named as strace names it (`ev` for the socket calls).
public enum Syscall: String, Sendable, CaseIterable, Comparable {
  case socket, setsockopt, bind, listen, accept, connect, getsockopt, getsockname, read, write, poll,
    shutdown, close
  case eventfd
  case epollCreate = "epoll_create"
  case epollCtl = "epoll_ctl"
  case epollWait = "epoll_wait"
  case ioUringSetup = "io_uring_setup"
  case ioUringEnter = "io_uring_enter"

  /// Orders by name, for stable output.
  public static func < (a: Syscall, b: Syscall) -> Bool { a.rawValue < b.rawValue }
}

/// A socket call or `eventfd`: the fd it was made on and what it returned.
public struct SocketCall: Sendable {
  /// Which call.
  public var syscall: Syscall
  /// `fd` (for `accept`, the listener; for `socket`/`eventfd`, the new fd).
  public var fd: Int
  /// `ret`: the kernel's return value (-1 on failure, with the event's `errno`).
  public var ret: Int
  /// `len` for `read`/`write` (bytes asked for or offered), 0 for the other calls.
  public var length: Int
}

/// `epoll_ctl`: a registration change.
public struct EpollControl: Sendable {
  /// The epoll instance.
  public var epfd: Int
  /// `op`: ADD, MOD or DEL.
  public var op: ControlOperation
  /// The fd being (de)registered.
  public var fd: Int
  /// `events`: the interest set.
  public var events: EpollEvents
  /// `tag`: the poll descriptor's sequence tag stored in the user data (`nil` when the line has
  /// none: any tag then matches the registration).
  public var tag: Int?
  /// `ret`.
  public var ret: Int
}

/// `epoll_ctl`'s `op`.
public enum ControlOperation: String, Sendable {
  case add = "ADD"
  case modify = "MOD"
  case delete = "DEL"
}

/// `epoll_wait`: one call and what it returned.
public struct EpollWait: Sendable {
  /// The epoll instance.
  public var epfd: Int
  /// `timeout_ms`: -1 blocks, 0 polls.
  public var timeoutMs: Int
  /// `ret`: the number of ready events, -1 on failure.
  public var ret: Int
  /// `dur_ns`: time spent in the call.
  public var durationNs: Int
  /// `ready`, in kernel order.
  public var ready: [Readiness]
}

/// One `epoll_wait.ready` entry.
public struct Readiness: Sendable, Equatable {
  /// The ready fd.
  public var fd: Int
  /// The tag the kernel returned (from the registration's user data).
  public var tag: Int
  /// The ready event set.
  public var events: EpollEvents

  /// Creates an entry.
  public init(fd: Int, tag: Int, events: EpollEvents) {
    self.fd = fd
    self.tag = tag
    self.events = events
  }
}

/// An epoll event set, decoded from its names; unknown names set `.other`.
public struct EpollEvents: OptionSet, Sendable, Hashable {
  public let rawValue: UInt16
  /// Creates a set from bits.
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  /// `EPOLLIN`.
  public static let input = EpollEvents(rawValue: 1 << 0)
  /// `EPOLLOUT`.
  public static let output = EpollEvents(rawValue: 1 << 1)
  /// `EPOLLRDHUP`.
  public static let readHangup = EpollEvents(rawValue: 1 << 2)
  /// `EPOLLPRI`.
  public static let priority = EpollEvents(rawValue: 1 << 3)
  /// `EPOLLERR`.
  public static let error = EpollEvents(rawValue: 1 << 4)
  /// `EPOLLHUP`.
  public static let hangup = EpollEvents(rawValue: 1 << 5)
  /// `EPOLLET`.
  public static let edgeTriggered = EpollEvents(rawValue: 1 << 6)
  /// A name this reader does not know.
  public static let other = EpollEvents(rawValue: 1 << 15)

  static let names: [(String, EpollEvents)] = [
    ("EPOLLIN", .input), ("EPOLLOUT", .output), ("EPOLLRDHUP", .readHangup),
    ("EPOLLPRI", .priority), ("EPOLLERR", .error), ("EPOLLHUP", .hangup),
    ("EPOLLET", .edgeTriggered),
  ]

  /// The flag whose name is `bytes` (`.other` for a name this reader does not know).
  static func named(_ bytes: UnsafeRawBufferPointer) -> EpollEvents {
    // Every name starts with "EPOLL"; compare the rest without building a String.
    guard bytes.count > 5, bytes.starts(with: "EPOLL".utf8) else { return .other }
    let rest = bytes[5...]
    for (name, bit) in suffixes where rest.elementsEqual(name) { return bit }
    return .other
  }

  private static let suffixes: [([UInt8], EpollEvents)] = names.map { (Array($0.0.utf8.dropFirst(5)), $0.1) }

  /// Whether a parked reader would be woken (`EPOLLIN`, `EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`).
  public var wakesReader: Bool { !isDisjoint(with: [.input, .readHangup, .hangup, .error]) }
  /// Whether a parked writer would be woken (`EPOLLOUT`, `EPOLLHUP`, `EPOLLERR`).
  public var wakesWriter: Bool { !isDisjoint(with: [.output, .hangup, .error]) }

  /// Short form without the `EPOLL` prefix, e.g. `IN|OUT`.
  public var shortDescription: String {
    let parts = Self.names.filter { contains($0.1) }.map { String($0.0.dropFirst(5)) }
    return parts.isEmpty ? "-" : parts.joined(separator: "|")
  }
}

/// A poll descriptor direction: `"r"` or `"w"`.
public enum PollMode: String, Sendable, Hashable, CaseIterable {
  case read = "r"
  case write = "w"
}

/// `stale.mode`: `"r"`, `"w"` or `"rw"`.
public enum StaleMode: String, Sendable {
  case read = "r"
  case write = "w"
  case readWrite = "rw"
}

/// Why a parked task was resumed.
public enum WakeReason: String, Sendable, CaseIterable, Comparable {
  case ready, deadline, close, cancel

  /// Orders by name, for stable output.
  public static func < (a: WakeReason, b: WakeReason) -> Bool { a.rawValue < b.rawValue }
}
