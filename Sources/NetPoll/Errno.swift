import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// A Linux errno, named after its symbol (`Errno.wouldBlock` is EAGAIN), so code can write
/// `catch Errno.wouldBlock` and a message can say "ECONNRESET" rather than 104.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
  public let rawValue: Int32
  public init(_ rawValue: Int32) { self.rawValue = rawValue }

  /// The symbolic name, e.g. "EAGAIN".
  public var name: String { ErrnoNames.name(rawValue) }
  /// "ECONNRESET (Connection reset by peer)".
  public var description: String { "\(name) (\(String(cString: strerror(rawValue))))" }

  /// EAGAIN: the call would block; the runtime parks the task instead.
  public static let wouldBlock = Errno(EAGAIN)
  /// EINTR: a signal interrupted the call.
  public static let interrupted = Errno(EINTR)
  /// EBADF.
  public static let badFileDescriptor = Errno(EBADF)
  /// EINPROGRESS: a non-blocking connect has started.
  public static let inProgress = Errno(EINPROGRESS)
  /// ECONNRESET.
  public static let connectionReset = Errno(ECONNRESET)
  /// ECONNREFUSED.
  public static let connectionRefused = Errno(ECONNREFUSED)
  /// EPIPE: writing to a socket whose peer has gone.
  public static let brokenPipe = Errno(EPIPE)
  /// EMFILE: the process has no free file descriptors.
  public static let tooManyOpenFiles = Errno(EMFILE)
  /// ENFILE: the system has no free file descriptors.
  public static let tooManyOpenFilesInSystem = Errno(ENFILE)
  /// EADDRINUSE.
  public static let addressInUse = Errno(EADDRINUSE)
  /// ECONNABORTED: a connection was reset before accept took it.
  public static let connectionAborted = Errno(ECONNABORTED)
  /// ENOTCONN.
  public static let notConnected = Errno(ENOTCONN)
  /// EPERM.
  public static let notPermitted = Errno(EPERM)
  /// ENOSYS: the kernel lacks the call (io_uring compiled out, say).
  public static let noSystemCall = Errno(ENOSYS)
}
