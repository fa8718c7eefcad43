import CNetPollShims
import NetPoll
import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// Turns SIGINT and SIGTERM into a call of a Swift closure, on a thread of its own.
///
/// The signal handler (C, async-signal-safe) only writes the signal number to a pipe; a watcher
/// thread blocked on the pipe calls `handler`. The pipe is the process's, not the runtime's, so
/// its read is not in the trace.
public enum StopSignals {
  /// Installs the handlers; `handler` gets the signal number, once per signal.
  public static func install(_ handler: @escaping @Sendable (Int32) -> Void) throws(NetPollError) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw .system(syscall: "pipe2", errno: Errno(errno)) }
    guard netpoll_install_stop_signals(fds[1]) == 0 else {
      throw .system(syscall: "sigaction", errno: Errno(errno))
    }
    let readFD = fds[0]
    _ = OSThread(name: "netpoll-signals") {
      var byte: UInt8 = 0
      while true {
        let n = Glibc.read(readFD, &byte, 1)
        if n == 1 { handler(Int32(byte)) } else if n < 0 && errno == EINTR { continue } else { return }
      }
    }
  }
}
