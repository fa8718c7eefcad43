/// Which kernel interface drives the runtime.
public enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
  /// epoll(7), edge-triggered.
  case epoll
  /// io_uring in readiness mode: multishot POLL_ADD per fd.
  case uring
  /// io_uring in completion mode: accept/recv/send are ring operations, and a task parks on its
  /// operation until the CQE (no readiness, no EAGAIN).
  case uringCompletion = "uring-completion"

  public var description: String { rawValue }

  /// Whether a task parks until an fd is *ready* and then makes the call itself (epoll, uring), so
  /// a readiness with nobody waiting is latched on the descriptor; false in completion mode,
  /// where the kernel makes the call and nothing is ever latched.
  public var isReadinessBased: Bool { self != .uringCompletion }

  /// Whether this backend can run on this machine and in this build.
  public var isAvailable: Bool { unavailableReason == nil }

  /// Why the backend cannot run here (e.g. "io_uring_setup: EPERM …" when the sysctl
  /// `kernel.io_uring_disabled` or a seccomp filter refuses it), or nil when it can.
  public var unavailableReason: String? {
    switch self {
    case .epoll: nil
    case .uring: Self.uringProbe
    // The same ring; completion mode needs nothing more than readiness mode from the kernel
    // (ACCEPT, RECV and SEND predate the multishot poll the probe already requires).
    case .uringCompletion: Self.uringProbe
    }
  }

  /// Sets up (and tears down) a small ring once, untraced: the only reliable test, since
  /// io_uring can be compiled out, disabled by sysctl, or filtered by seccomp.
  private static let uringProbe: String? = {
    do {
      let poller = try URingPoller(sys: Syscalls(recorder: nil), entries: 4)
      poller.shutdown()
      return nil
    } catch {
      return "io_uring_setup: \(error)"
    }
  }()

  /// Makes the backend's parts: its poller and how its sockets reach the kernel. `ringEntries`
  /// sizes an io_uring SQ (tests use a tiny one to exercise the full-SQ path); nil is
  /// ``URingPoller/defaultEntries``. The one place that names the concrete backends.
  func makeDriver(sys: Syscalls, ringEntries: UInt32? = nil) throws(NetPollError) -> BackendDriver {
    let entries = ringEntries ?? URingPoller.defaultEntries
    switch self {
    case .epoll:
      let poller: EpollPoller
      do { poller = try EpollPoller(sys: sys) } catch {
        throw .system(syscall: "epoll_create1", errno: error)
      }
      return BackendDriver(poller: poller, io: ReadinessSocketIO(poller: poller))
    case .uring:
      let poller: URingPoller
      do { poller = try URingPoller(sys: sys, entries: entries) } catch {
        throw .system(syscall: "io_uring_setup", errno: error)
      }
      return BackendDriver(poller: poller, io: ReadinessSocketIO(poller: poller))
    case .uringCompletion:
      let poller: URingPoller
      do { poller = try URingPoller(sys: sys, entries: entries, mode: .completion) } catch {
        throw .system(syscall: "io_uring_setup", errno: error)
      }
      return BackendDriver(poller: poller, io: URingCompletion(poller: poller))
    }
  }
}

/// What a backend gives the runtime: the ``Poller`` its workers block in, and the ``SocketIO``
/// its sockets use (the readiness loop over that poller, or operations on the poller's ring).
struct BackendDriver {
  let poller: any Poller
  let io: any SocketIO
}

/// What `--backend` asks for: one backend, or `auto`, which picks io_uring (readiness mode) when
/// this machine allows it and epoll otherwise.
public enum BackendChoice: String, Sendable, CaseIterable, CustomStringConvertible {
  case epoll
  case uring
  case uringCompletion = "uring-completion"
  case auto

  public var description: String { rawValue }

  /// The backend to run, and a note for `trace_start.backend_note` saying why when `auto` chose
  /// (empty for an explicit choice).
  public func resolve() -> (backend: Backend, note: String) {
    switch self {
    case .epoll: return (.epoll, "")
    case .uring: return (.uring, "")
    case .uringCompletion: return (.uringCompletion, "")
    case .auto:
      if let reason = Backend.uring.unavailableReason {
        return (.epoll, "auto: io_uring unavailable (\(reason)); fell back to epoll")
      }
      return (.uring, "auto: io_uring available")
    }
  }
}
