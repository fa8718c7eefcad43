/// Everything a socket operation on the runtime can fail with.
public enum NetPollError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The socket was closed by this process, before or while the call waited.
  case closed
  /// The read or write deadline passed (the task was woken with reason "deadline").
  case deadlineExceeded
  /// The waiting task was cancelled.
  case cancelled
  /// Another task is already waiting in the same direction on this socket.
  case concurrentWait
  /// A system call failed; `syscall` names it ("connect"), `errno` says why.
  case system(syscall: String, errno: Errno)
  /// An address could not be parsed or resolved.
  case invalidAddress(String)

  public var description: String {
    switch self {
    case .closed: "socket closed"
    case .deadlineExceeded: "deadline exceeded"
    case .cancelled: "cancelled"
    case .concurrentWait: "another task is already waiting on this socket in the same direction"
    case .system(let syscall, let errno): "\(syscall): \(errno)"
    case .invalidAddress(let text): "invalid address '\(text)'"
    }
  }

  /// The errno of a failed system call, if that is what this is.
  public var errno: Errno? {
    if case .system(_, let e) = self { return e }
    return nil
  }
}
