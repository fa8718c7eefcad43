#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a version-1 or version-2 trace one event at a time, in constant memory.
///
/// The first line must be a valid `trace_start`; otherwise `init` throws. Every later line is
/// checked against the contract: a bad line throws `TraceError` naming its line, except a bad *last*
/// line of a trace without `trace_end`, which is the torn write of a killed recorder: it is reported
/// as a warning and skipped, and `isTruncated` becomes true. Empty and blank lines are warned about
/// and skipped. Unknown event names are warned about once and counted (the first
/// `maxUnknownEventNames` by name). An optional field that is missing is warned about once per
/// event kind and field. Snapshot lines are accepted only in a window, before its first event. A
/// line longer than `maxLineLength` is an error, and nothing after it is read.
public final class TraceReader {
  /// The path as given (`-` is standard input).
  public let path: String
  /// The `trace_start` fields.
  public private(set) var header: TraceHeader
  /// Warnings so far (the first `maxWarnings`; `warningCount` counts them all).
  public private(set) var warnings: [TraceWarning] = []
  /// How many warnings were raised, including those not kept.
  public private(set) var warningCount = 0
  /// Lines with an `ev` this reader does not know, by name: the first `maxUnknownEventNames`
  /// distinct names only (the others are counted in `otherUnknownEvents`).
  public private(set) var unknownEvents: [String: Int] = [:]
  /// Lines with an unknown `ev` whose name is not among those kept in `unknownEvents`.
  public private(set) var otherUnknownEvents = 0
  /// All lines with an unknown `ev`.
  public var unknownEventCount: Int { unknownEvents.values.reduce(otherUnknownEvents, +) }
  /// `trace_end`'s `lines` (version 1: `events`; `nil` when missing) and `dropped`, once read.
  @exclusivity(unchecked) public private(set) var end: (lines: Int?, dropped: Int)?
  /// Lines read so far.
  @exclusivity(unchecked) public private(set) var lineNumber = 0
  /// True once the input ended without `trace_end`.
  public private(set) var isTruncated = false
  /// Bytes read so far.
  public var bytesRead: Int { lines.bytesConsumed }

  /// At most this many warnings are kept in `warnings`.
  public static let maxWarnings = 100
  /// At most this many distinct unknown event names are kept (a hostile trace can name millions).
  public static let maxUnknownEventNames = 32

  private let lines: LineReader
  // The per-line state skips the runtime's exclusivity checks: `next()` is the only code that
  // touches it and never calls out while accessing it; the checks cost ~5% of `netpoll stats`.
  @exclusivity(unchecked) private var decoder = TraceLineDecoder()
  @exclusivity(unchecked) private var pending: TraceEvent?
  @exclusivity(unchecked) private var finished = false
  /// The line of the first event after `trace_start` (snapshots excluded), 0 before it.
  private var firstEventLine = 0
  /// (event, field) pairs already warned about as missing, as bits `ev * 64 + field`.
  private var missingWarned: Set<Int> = []

  /// Opens `path` (`-` for standard input) and reads its `trace_start` line.
  ///
  /// - Throws: `TraceError` if the file cannot be opened, is a directory, is empty, or does not
  ///   start with a version-1 or version-2 `trace_start`.
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
    // `/dev/zero` or a FIFO pass as files here; the line limit stops them.
    guard let first = lines.next() else {
      if lines.readErrno != 0 {
        throw TraceError(file: path, line: nil, message: "cannot read: \(errnoDescription(lines.readErrno))")
      }
      throw TraceError(file: path, line: nil, message: "empty file, not a netpoll trace")
    }
    lineNumber = 1
    let event: TraceEvent
    switch first {
    case .overlong:
      throw TraceError(
        file: path, line: 1,
        message: "not a netpoll trace: first line is longer than the \(maxLineLength)-byte limit")
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
    noteMissingFields(line: 1)
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
      case .overlong:
        finished = true
        throw TraceError(
          file: path, line: lineNumber,
          message: "line is longer than the \(lines.maxLineLength)-byte limit; reading stops here")
      case .line(let bytes, let terminated):
        if isBlank(bytes) {
          warn(line: lineNumber, bytes.isEmpty ? "empty line skipped" : "blank line skipped")
          continue
        }
        if end != nil {
          problem = "data after trace_end"
          break
        }
        do throws(LineProblem) {
          let event = try decoder.decode(bytes, lineNumber: lineNumber)
          try check(event)
          if !terminated && end == nil {
            warn(line: lineNumber, "last line has no newline")
          }
          noteMissingFields(line: lineNumber)
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

  /// The reader's own rules for a decoded line: one `trace_start`, snapshots only at the start of a
  /// window, unknown names counted.
  private func check(_ event: TraceEvent) throws(LineProblem) {
    switch event.body {
    case .traceEnd(let lines, let dropped):
      end = (lines, dropped)
    case .traceStart:
      throw LineProblem(message: "second trace_start (concatenated traces?)")
    case .snapshotFD, .snapshotPark, .snapshotOperation:
      guard let window = header.window else {
        throw LineProblem(message: "\(event.name) in a trace that is not a flight-recorder window")
      }
      guard firstEventLine == 0 else {
        throw LineProblem(
          message:
            "\(event.name) after the window's first event (line \(firstEventLine)); snapshots come first")
      }
      guard event.seq == 0 else {
        throw LineProblem(
          message: "\(event.name) has seq \(event.seq), expected 0 (snapshot lines all have seq 0)")
      }
      if event.ts != window.firstTs {
        warn(line: lineNumber, "\(event.name) has ts \(event.ts), expected the window's \(window.firstTs)")
      }
      return
    case .unknown(let name):
      if let seen = unknownEvents[name] {
        unknownEvents[name] = seen + 1
      } else if unknownEvents.count < Self.maxUnknownEventNames {
        unknownEvents[name] = 1
        warn(line: lineNumber, "unknown event '\(name)' (newer recorder?); counted and ignored")
      } else {
        if otherUnknownEvents == 0 {
          warn(
            line: lineNumber,
            "more than \(Self.maxUnknownEventNames) distinct unknown event names; the others are counted together"
          )
        }
        otherUnknownEvents += 1
      }
    default: break
    }
    if firstEventLine == 0 { firstEventLine = lineNumber }
  }

  /// Warns once per event kind and field about the optional fields the last line lacked.
  private func noteMissingFields(line: Int) {
    guard !decoder.missingOptional.isEmpty, let ev = decoder.ev else { return }
    for key in decoder.missingOptional
    where missingWarned.insert(Int(ev.rawValue) * 64 + Int(key.rawValue)).inserted {
      warn(line: line, "\(ev.name) has no '\(key.name)' (optional; not reported again for \(ev.name))")
    }
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

/// Whether a line holds only blanks (space, tab, `\r`), or nothing.
private func isBlank(_ bytes: UnsafeRawBufferPointer) -> Bool {
  for c in bytes where c != 0x20 && c != 0x09 && c != 0x0D { return false }
  return true
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
