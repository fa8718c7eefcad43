#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a version-1 trace one event at a time, in constant memory.
///
/// The first line must be a valid `trace_start`; otherwise `init` throws. Every later line is
/// checked against the contract: a bad line throws `TraceError` naming its line, except a bad *last*
/// line of a trace without `trace_end`, which is the torn write of a killed recorder: it is reported
/// as a warning and skipped, and `isTruncated` becomes true. Unknown event names are warned about
/// once and counted in `unknownEvents`. Lines longer than `maxLineLength` are errors and are never
/// buffered whole.
public final class TraceReader {
  /// The path as given (`-` is standard input).
  public let path: String
  /// The `trace_start` fields.
  public private(set) var header: TraceHeader
  /// Warnings so far (the first `maxWarnings`; `warningCount` counts them all).
  public private(set) var warnings: [TraceWarning] = []
  /// How many warnings were raised, including those not kept.
  public private(set) var warningCount = 0
  /// Lines with an `ev` this reader does not know, by name.
  public private(set) var unknownEvents: [String: Int] = [:]
  /// `trace_end`'s `events` and `dropped`, once read.
  @exclusivity(unchecked) public private(set) var end: (events: Int, dropped: Int)?
  /// Lines read so far.
  @exclusivity(unchecked) public private(set) var lineNumber = 0
  /// True once the input ended without `trace_end`.
  public private(set) var isTruncated = false
  /// Bytes read so far.
  public var bytesRead: Int { lines.bytesConsumed }

  /// At most this many warnings are kept in `warnings`.
  public static let maxWarnings = 100

  private let lines: LineReader
  // The per-line state skips the runtime's exclusivity checks: `next()` is the only code that
  // touches it and never calls out while accessing it; the checks cost ~5% of `netpoll stats`.
  @exclusivity(unchecked) private var decoder = TraceLineDecoder()
  @exclusivity(unchecked) private var pending: TraceEvent?
  @exclusivity(unchecked) private var finished = false

  /// Opens `path` (`-` for standard input) and reads its `trace_start` line.
  ///
  /// - Throws: `TraceError` if the file cannot be opened, is a directory, is empty, or does not
  ///   start with a version-1 `trace_start`.
  public convenience init(path: String, maxLineLength: Int = 1 << 20) throws(TraceError) {
    try self.init(path: path, maxLineLength: maxLineLength, chunkSize: 256 * 1024)
  }

  /// As `init(path:maxLineLength:)`, reading `chunkSize` bytes at a time (small chunks let the
  /// fuzzer reach the lines that straddle chunks).
  init(path: String, maxLineLength: Int, chunkSize: Int) throws(TraceError) {
    self.path = path
    let fd: Int32
    if path == "-" {
      fd = STDIN_FILENO
    } else {
      fd = open(path, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else {
        throw TraceError(file: path, line: nil, message: "cannot open: \(errnoDescription(errno))")
      }
    }
    var info = stat()
    if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
      if path != "-" { close(fd) }
      throw TraceError(file: path, line: nil, message: "is a directory, not a trace file")
    }
    lines = LineReader(
      fd: fd, ownsDescriptor: path != "-", chunkSize: chunkSize, maxLineLength: maxLineLength)
    header = TraceHeader(backend: "", pid: 0, wall: "", command: "", backendNote: "")
    guard let first = lines.next() else {
      if lines.readErrno != 0 {
        throw TraceError(file: path, line: nil, message: "cannot read: \(errnoDescription(lines.readErrno))")
      }
      throw TraceError(file: path, line: nil, message: "empty file, not a netpoll trace")
    }
    lineNumber = 1
    let event: TraceEvent
    switch first {
    case .overlong(let length, _):
      throw TraceError(
        file: path, line: 1, message: "not a netpoll trace: first line is \(length) bytes without a newline")
    case .line(let bytes, _):
      if let kind = compressionKind(bytes) {
        throw TraceError(
          file: path, line: nil,
          message:
            "\(kind)-compressed; decompress it first, e.g. `\(kind == "gzip" ? "gzip" : "zstd") -dc \(path) | netpoll … -`"
        )
      }
      do {
        event = try decoder.decode(bytes, lineNumber: 1)
      } catch {
        throw TraceError(file: path, line: 1, message: "not a netpoll trace: \(error.message)")
      }
    }
    guard case .traceStart(let h) = event.body else {
      throw TraceError(
        file: path, line: 1,
        message: "not a netpoll trace: first event is '\(event.name)', expected 'trace_start'")
    }
    guard event.seq == 0 else {
      throw TraceError(file: path, line: 1, message: "trace_start has seq \(event.seq), expected 0")
    }
    header = h
    pending = event
  }

  /// The next event, or `nil` at the end of the trace.
  public func next() throws(TraceError) -> TraceEvent? {
    if let event = pending {
      pending = nil
      return event
    }
    while !finished {
      guard let chunk = lines.next() else { return try finish() }
      lineNumber += 1
      let problem: String
      switch chunk {
      case .overlong(let length, _):
        problem = "line is \(length) bytes, longer than the \(lines.maxLineLength)-byte limit"
      case .line(let bytes, let terminated):
        if bytes.isEmpty {
          warn(line: lineNumber, "empty line skipped")
          continue
        }
        if end != nil {
          problem = "data after trace_end"
          break
        }
        do throws(LineProblem) {
          let event = try decoder.decode(bytes, lineNumber: lineNumber)
          switch event.body {
          case .traceEnd(let events, let dropped):
            end = (events, dropped)
          case .traceStart:
            throw LineProblem(message: "second trace_start (concatenated traces?)")
          case .unknown(let name):
            let seen = unknownEvents[name, default: 0]
            unknownEvents[name] = seen + 1
            if seen == 0 {
              warn(line: lineNumber, "unknown event '\(name)' (newer recorder?); counted and ignored")
            }
          default: break
          }
          if !terminated && end == nil {
            warn(line: lineNumber, "last line has no newline")
          }
          return event
        } catch {
          problem = error.message
        }
      }
      // A bad line is the torn write of a killed recorder only if nothing follows it.
      let badLine = lineNumber
      if end == nil, lines.next() == nil, lines.readErrno == 0 {
        warn(line: badLine, "torn last line skipped (\(problem))")
        return try finish()
      }
      finished = true
      throw TraceError(file: path, line: badLine, message: problem)
    }
    return nil
  }

  private func finish() throws(TraceError) -> TraceEvent? {
    finished = true
    if lines.readErrno != 0 {
      throw TraceError(
        file: path, line: lineNumber + 1, message: "cannot read: \(errnoDescription(lines.readErrno))")
    }
    if end == nil {
      isTruncated = true
      warn(line: nil, "truncated: no trace_end after line \(lineNumber) (the recorder was killed?)")
    }
    return nil
  }

  private func warn(line: Int?, _ message: String) {
    warningCount += 1
    if warnings.count < Self.maxWarnings {
      warnings.append(TraceWarning(file: path, line: line, message: message))
    }
  }
}

private func compressionKind(_ bytes: UnsafeRawBufferPointer) -> String? {
  if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B { return "gzip" }
  if bytes.count >= 4, bytes[0] == 0x28, bytes[1] == 0xB5, bytes[2] == 0x2F, bytes[3] == 0xFD {
    return "zstd"
  }
  return nil
}

/// `strerror(3)` text with the errno's name for the common cases.
func errnoDescription(_ code: Int32) -> String {
  let name: String =
    switch code {
    case ENOENT: "ENOENT"
    case EACCES: "EACCES"
    case EISDIR: "EISDIR"
    case EIO: "EIO"
    default: "E\(code)"
    }
  return "\(String(cString: strerror(code))) (\(name))"
}
