/// The events a trace holds, one per `ev` name in `docs/trace-format.md`.
///
/// A ``TraceRecord`` stores an event's fields in six integer slots (`ret`, `a` … `e`) so that
/// recording copies a fixed-size value and allocates nothing; the comment on each case says
/// which slot holds which field. The background writer turns them into names and JSON.
public enum TraceEventKind: UInt8, Sendable, CaseIterable {
  /// `a` epfd, `b` flags (EPOLL_CLOEXEC bits), `ret`.
  case epollCreate
  /// `a` epfd, `b` op (EPOLL_CTL_*), `c` fd, `d` event mask, `e` tag, `ret`.
  case epollCtl
  /// `a` epfd, `b` maxevents, `c` timeout_ms, `d` dur_ns, `e` number of ``readyItem`` records
  /// that follow it in the buffer, `ret`.
  case epollWait
  /// One entry of the preceding `epoll_wait`'s `ready` list: `a` fd, `b` tag, `c` event mask.
  case readyItem
  /// `a` task, `b` fd, `c` mode (``TraceMode``).
  case park
  /// `a` task, `b` fd, `c` mode, `d` reason (``TraceWakeReason``).
  case wake
  /// `a` fd, `b` tag returned by the kernel, `c` current tag (-1: none), `d` mode.
  case stale
  /// `a` fd, `b` mode, `c` timeout_ns from now (-1 clears).
  case deadline
  /// `a` fd, `b` domain (AF_*), `ret`.
  case socket
  /// `a` fd, `b` option (``TraceSocketOption``), `ret`.
  case setsockopt
  /// `a` fd, `b`/`c`/`d` address (``TraceAddress``), `ret`.
  case bind
  /// `a` fd, `b` backlog, `ret`.
  case listen
  /// `a` listening fd, `ret` new fd.
  case accept
  /// `a` fd, `b`/`c`/`d` address (``TraceAddress``), `ret`.
  case connect
  /// `a` fd, `b` option (``TraceSocketOption``), `c` value, `ret`.
  case getsockopt
  /// `a` fd, `b`/`c`/`d` the bound address (``TraceAddress``), `ret`.
  case getsockname
  /// `a` fd, `b` bytes asked for, `ret` bytes read.
  case read
  /// `a` fd, `b` bytes offered, `ret` bytes written.
  case write
  /// `a` fd, `b` events asked for (POLL*), `c` revents, `ret` (1 when revents is not empty).
  case poll
  /// `a` fd, `b` how (SHUT_*), `ret`.
  case shutdown
  /// `a` fd, `ret`.
  case close
  /// `a` fd, `ret`.
  case eventfd
  /// `a` ring fd, `b` sq entries, `c` cq entries, `d` setup flags, `e` features.
  case uringSetup
  /// `a` opcode (IORING_OP_*), `b` fd, `c` user_data, `d` sqe flags.
  case uringSQE
  /// `a` ring fd, `b` to_submit, `c` min_complete, `d` enter flags, `e` dur_ns, `ret`.
  case uringEnter
  /// `a` user_data, `b` fd, `c` cqe flags, `ret` res.
  case uringCQE
  /// `a` completions dropped by the kernel since the last report, `b` 1 when the kernel holds
  /// completions back for a full CQ (`IORING_SQ_CQ_OVERFLOW`).
  case uringOverflow
  /// Flight-recorder snapshot (`snapshot_fd`): the fd is registered with the poller at the
  /// window's start. `a` fd, `b` tag. No `ret`, no `errno`.
  case snapshotFD
  /// Flight-recorder snapshot (`snapshot_park`): the task is parked on the fd at the window's
  /// start. `a` task, `b` fd, `c` mode (``TraceMode``). No `ret`, no `errno`.
  case snapshotPark
  /// Flight-recorder snapshot (`snapshot_op`): a completion-mode operation is in flight at the
  /// window's start. `a` user_data, `b` opcode (IORING_OP_*), `c` fd. No `ret`, no `errno`.
  case snapshotOp

  /// The `ev` name written to the trace.
  public var name: String {
    switch self {
    case .epollCreate: "epoll_create"
    case .epollCtl: "epoll_ctl"
    case .epollWait: "epoll_wait"
    case .readyItem: "ready"
    case .park: "park"
    case .wake: "wake"
    case .stale: "stale"
    case .deadline: "deadline"
    case .socket: "socket"
    case .setsockopt: "setsockopt"
    case .bind: "bind"
    case .listen: "listen"
    case .accept: "accept"
    case .connect: "connect"
    case .getsockopt: "getsockopt"
    case .getsockname: "getsockname"
    case .read: "read"
    case .write: "write"
    case .poll: "poll"
    case .shutdown: "shutdown"
    case .close: "close"
    case .eventfd: "eventfd"
    case .uringSetup: "uring_setup"
    case .uringSQE: "uring_sqe"
    case .uringEnter: "uring_enter"
    case .uringCQE: "uring_cqe"
    case .uringOverflow: "uring_overflow"
    case .snapshotFD: "snapshot_fd"
    case .snapshotPark: "snapshot_park"
    case .snapshotOp: "snapshot_op"
    }
  }
}

/// The direction a task waits for: `"r"` or `"w"` (`"rw"` for a readiness that is both).
public enum TraceMode: Int64, Sendable {
  case read = 1
  case write = 2
  case readWrite = 3

  var name: StaticString {
    switch self {
    case .read: "r"
    case .write: "w"
    case .readWrite: "rw"
    }
  }
}

/// Why a parked task was resumed.
public enum TraceWakeReason: Int64, Sendable {
  case ready = 0
  case deadline = 1
  case close = 2
  case cancel = 3

  var name: StaticString {
    switch self {
    case .ready: "ready"
    case .deadline: "deadline"
    case .close: "close"
    case .cancel: "cancel"
    }
  }
}

/// Socket options the runtime sets or reads, by name.
public enum TraceSocketOption: Int64, Sendable {
  case reuseAddress = 1
  case noDelay = 2
  case ipv6Only = 3
  case error = 4
  case reusePort = 5

  var name: StaticString {
    switch self {
    case .reuseAddress: "SO_REUSEADDR"
    case .noDelay: "TCP_NODELAY"
    case .ipv6Only: "IPV6_V6ONLY"
    case .error: "SO_ERROR"
    case .reusePort: "SO_REUSEPORT"
    }
  }
}
