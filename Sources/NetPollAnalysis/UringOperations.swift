/// What an io_uring submission asked the kernel to do, from `uring_sqe.op`.
///
/// In completion mode (`"uring-completion"`) the socket calls are ring operations: an ACCEPT,
/// RECV or SEND completion is that call's result (`res` = the new fd, or bytes moved), never a
/// readiness report; only a `POLL_ADD` completion reports readiness (docs/trace-format.md,
/// "Completion mode").
public enum UringOperation: Sendable, Equatable {
  /// `POLL_ADD`: readiness (multishot in readiness mode, one-shot for a `connect` in completion mode).
  case pollAdd
  /// `ACCEPT`: `res` is the new connection's fd.
  case accept
  /// `RECV`: `res` is the bytes received, 0 at end of stream.
  case receive
  /// `SEND`: `res` is the bytes sent.
  case send
  /// `ASYNC_CANCEL`: its own completion means nothing to a task.
  case cancel
  /// Any other op (`NOP`, the wake-up), or one this reader does not know.
  case other

  /// The operation named by `uring_sqe.op`.
  public init(op: String) {
    switch op {
    case "POLL_ADD": self = .pollAdd
    case "ACCEPT": self = .accept
    case "RECV": self = .receive
    case "SEND": self = .send
    case "ASYNC_CANCEL": self = .cancel
    default: self = .other
    }
  }

  /// Whether the completion is a socket call's result (ACCEPT, RECV, SEND) rather than readiness.
  public var isCallResult: Bool { self == .accept || self == .receive || self == .send }

  /// The name of the call the operation stands for on the other backends, for step names.
  var callName: String {
    switch self {
    case .pollAdd: "POLL_ADD"
    case .accept: "ACCEPT"
    case .receive: "RECV"
    case .send: "SEND"
    case .cancel: "ASYNC_CANCEL"
    case .other: "other"
    }
  }
}

/// The operations in flight on a ring: `uring_sqe.user_data` → operation, so that each
/// `uring_cqe` can be told apart. The latest submission with a `user_data` wins (completion-mode
/// slots are reused with a new generation); an entry leaves with its request's last completion
/// (one without `MORE`), so memory is bounded by the requests in flight, not the trace's length.
struct UringOperations {
  private var inFlight: [UInt64: UringOperation] = [:]

  /// Records a `uring_sqe`.
  mutating func submitted(op: String, userData: UInt64) {
    inFlight[userData] = UringOperation(op: op)
  }

  /// Looks up a `uring_cqe`'s operation (`nil`: no recorded submission) and forgets it when the
  /// completion is the request's last.
  mutating func completed(userData: UInt64, more: Bool) -> UringOperation? {
    more ? inFlight[userData] : inFlight.removeValue(forKey: userData)
  }
}
