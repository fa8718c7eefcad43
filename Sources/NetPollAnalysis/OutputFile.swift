#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file a tool writes its result to (`export -o`, `diff --html`), created by the recorder's own
/// rules so that no command can destroy a trace:
///
/// - an output that is one of the inputs (the same device and inode, or a path that resolves to an
///   input's path) is refused, even with `force`;
/// - a symbolic link is refused: the file is opened with `O_NOFOLLOW`, never through a link;
/// - an existing regular file is refused unless `force` (then it is replaced); a new file is
///   created with `O_EXCL` and mode 0644 (less the umask). A character device or FIFO (`/dev/null`)
///   is written to as it is;
/// - `-` is standard output, refused when it is an input's file: `1<>TRACE` or `>>TRACE` in a
///   shell opens the trace being read as standard output without truncating it (as `cat` refuses
///   "input file is output file").
///
/// Every refusal is one line, `OUT: what is wrong`, a `TraceError` (exit status 2).
final class OutputFile {
  private let path: String
  private let fd: Int32
  private var buffer: [UInt8] = []
  private var failure: Int32 = 0

  /// Opens `path` for writing after `OutputFile.check(_:inputs:force:)`; the opened file is
  /// checked against the inputs again, so a file swapped in between is refused too.
  init(path: String, inputs: [String], force: Bool) throws(TraceError) {
    self.path = path
    if path == "-" {
      try Self.check(path, inputs: inputs, force: force)
      fd = STDOUT_FILENO
    } else {
      let existing = try Self.check(path, inputs: inputs, force: force)
      // An existing regular file (force) is truncated only after the opened file is known not to
      // be an input.
      let exclusive = existing == nil ? O_EXCL : 0
      fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | exclusive, 0o644)
      guard fd >= 0 else {
        throw TraceError(file: path, line: nil, message: Self.openFailure(errno))
      }
      var info = stat()
      guard fstat(fd, &info) == 0 else {
        let code = errno
        _ = Glibc.close(fd)
        throw TraceError(file: path, line: nil, message: "cannot create: \(errnoDescription(code))")
      }
      if let input = Self.input(sameAs: info, among: inputs) {
        _ = Glibc.close(fd)
        throw TraceError(file: path, line: nil, message: Self.isInput(input))
      }
      if info.st_mode & S_IFMT == S_IFREG, existing != nil {
        guard force, existing == S_IFREG else {
          _ = Glibc.close(fd)
          throw TraceError(file: path, line: nil, message: Self.exists)
        }
        if ftruncate(fd, 0) != 0 {
          let code = errno
          _ = Glibc.close(fd)
          throw TraceError(file: path, line: nil, message: "cannot truncate: \(errnoDescription(code))")
        }
      }
    }
    buffer.reserveCapacity(1 << 16)
  }

  /// Refuses `path` as an output for `inputs` (paths as given; `-` is standard input) unless it
  /// may be written: it is not an input, not a symbolic link, and either does not exist, is a
  /// character device or FIFO, or is a regular file and `force` is set. Returns the file type
  /// (`S_IFREG`, ...) of an existing file, `nil` when there is none. Call it before a long
  /// analysis so that a refused output costs nothing; the `OutputFile` initialiser calls it again.
  /// For `-`, the file open as `standardOutput` is checked against the inputs (a test passes
  /// another descriptor: its own standard output is the test runner's).
  @discardableResult
  static func check(
    _ path: String, inputs: [String], force: Bool, standardOutput: Int32 = STDOUT_FILENO
  ) throws(TraceError) -> mode_t? {
    if path == "-" {
      var info = stat()
      if fstat(standardOutput, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
        let input = input(sameAs: info, among: inputs)
      {
        throw TraceError(file: path, line: nil, message: "standard output \(isInput(input))")
      }
      return nil
    }
    guard !path.isEmpty else { throw TraceError(file: path, line: nil, message: "empty output path") }
    var info = stat()
    guard lstat(path, &info) == 0 else {
      // Nothing there (or a path open() will explain): it cannot be an input.
      return nil
    }
    let type = info.st_mode & S_IFMT
    if type == S_IFLNK {
      throw TraceError(
        file: path, line: nil,
        message: "is a symbolic link; netpoll never writes through one (give another output path)")
    }
    if let input = input(sameAs: info, among: inputs) ?? input(resolvingLike: path, among: inputs) {
      throw TraceError(file: path, line: nil, message: isInput(input))
    }
    switch type {
    case S_IFDIR:
      throw TraceError(file: path, line: nil, message: "is a directory; give a file path for the output")
    case S_IFCHR, S_IFIFO:
      return type
    case S_IFREG:
      if !force { throw TraceError(file: path, line: nil, message: exists) }
      return type
    default:
      throw TraceError(
        file: path, line: nil, message: "exists and is not a regular file; give another output path")
    }
  }

  private static let exists = "exists; netpoll does not replace a file unless given --force"

  private static func isInput(_ input: String) -> String {
    "is the input \(input == "-" ? "(standard input)" : shownPath(input)); netpoll never writes over a file it reads, even with --force"
  }

  private static func openFailure(_ code: Int32) -> String {
    switch code {
    case ELOOP: "is a symbolic link; netpoll never writes through one (give another output path)"
    case EEXIST: exists
    default: "cannot create: \(errnoDescription(code))"
    }
  }

  /// The input whose file is `info`'s (same device and inode), if any.
  private static func input(sameAs info: stat, among inputs: [String]) -> String? {
    for input in inputs {
      var other = stat()
      let found = input == "-" ? fstat(STDIN_FILENO, &other) == 0 : stat(input, &other) == 0
      if found, other.st_dev == info.st_dev, other.st_ino == info.st_ino { return input }
    }
    return nil
  }

  /// The input whose canonical path is `path`'s, if any.
  private static func input(resolvingLike path: String, among inputs: [String]) -> String? {
    guard let resolved = canonicalPath(path) else { return nil }
    return inputs.first { $0 != "-" && canonicalPath($0) == resolved }
  }

  private static func canonicalPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// Appends `text` (written in 64 KiB blocks).
  func write(_ text: String) {
    buffer.append(contentsOf: text.utf8)
    if buffer.count >= 1 << 16 { flush() }
  }

  private func flush() {
    buffer.withUnsafeBytes { bytes in
      var offset = 0
      while offset < bytes.count, failure == 0 {
        let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          failure = errno
        }
        offset += max(n, 0)
      }
    }
    buffer.removeAll(keepingCapacity: true)
  }

  /// Writes what is buffered and closes the file; a failed write is reported here.
  func close() throws(TraceError) {
    flush()
    if fd != STDOUT_FILENO { _ = Glibc.close(fd) }
    if failure != 0 {
      throw TraceError(file: path, line: nil, message: "write failed: \(errnoDescription(failure))")
    }
  }
}

/// Refuses `path` as the output of a command reading `inputs` unless it may be written (see
/// `OutputFile`): not an input (even with `force`), not a symbolic link, not an existing regular
/// file unless `force`. The CLI calls it before reading, so a refusal costs nothing.
public func checkOutputPath(_ path: String, inputs: [String], force: Bool) throws(TraceError) {
  try OutputFile.check(path, inputs: inputs, force: force)
}
