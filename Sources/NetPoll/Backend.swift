/// Which kernel interface drives the runtime.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
  /// epoll(7), edge-triggered.
  case epoll
  /// io_uring in readiness mode: multishot POLL_ADD per fd.
  case uring
  /// io_uring in completion mode: accept/recv/send are ring operations.
  case uringCompletion = "uring-completion"

  public var description: String { rawValue }

  /// Whether this backend can run on this machine and in this build.
  public var isAvailable: Bool {
    switch self {
    case .epoll: true
    case .uring, .uringCompletion: false
    }
  }

  /// Makes the backend's poller.
  func makePoller(sys: Syscalls) throws(NetPollError) -> any Poller {
    switch self {
    case .epoll:
      do { return try EpollPoller(sys: sys) } catch { throw .system(syscall: "epoll_create1", errno: error) }
    case .uring, .uringCompletion:
      throw .system(syscall: "io_uring_setup", errno: .noSystemCall)
    }
  }
}
