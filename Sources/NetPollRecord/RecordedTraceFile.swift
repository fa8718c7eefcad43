import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// The output file of `netpoll record`: `trace_start` with `"source":"ebpf"`, the events,
/// `trace_end`.
///
/// `trace_start.backend` is what the process was *seen* to use, known only at the end, so the
/// first line is written with `"backend":"unknown"` and a `backend_note` padded with spaces to a
/// fixed width, and rewritten in place (same length) when recording stops. A recorder killed
/// before that leaves a readable trace whose backend says "unknown".
public final class RecordedTraceFile {
  public let path: String
  private let fd: Int32
  private let header: TraceHeader
  public private(set) var linesWritten: Int64 = 0

  /// The fields of `trace_start` other than the backend.
  public struct TraceHeader: Sendable {
    public var pid: Int32
    public var command: String
    public var wall: String

    public init(pid: Int32, command: String, wall: String) {
      self.pid = pid
      self.command = command
      self.wall = wall
    }
  }

  /// Width of `backend` + `backend_note` text, so the line keeps its length when rewritten.
  static let backendFieldsWidth = 160

  /// Creates the file (mode 0600, never through a symbolic link, never over an existing file
  /// unless `overwrite`) and writes `trace_start`.
  public init(path: String, header: TraceHeader, overwrite: Bool) throws(RecordError) {
    self.path = path
    self.header = header
    let flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL)
    let fd = open(path, flags, 0o600)
    guard fd >= 0 else { throw .output(path: path, errno: errno) }
    self.fd = fd
    let line = Self.startLine(header, backend: "unknown", note: "")
    guard line.withUnsafeBytes({ writeAll($0) }) else { throw .output(path: path, errno: errno) }
    linesWritten = 1
  }

  static func startLine(_ h: TraceHeader, backend: String, note: String) -> [UInt8] {
    var e = TraceLineEncoder()
    e.begin(seq: 0, ts: 0, tid: Int64(h.pid), ev: "trace_start")
    e.field("format", "netpoll-trace")
    e.field("version", 2)
    e.field("source", "ebpf")
    e.field("backend", backend)
    e.field("pid", Int64(h.pid))
    e.field("wall", h.wall)
    e.field("command", h.command)
    let room = backendFieldsWidth - backend.utf8.count
    var text = String(note.utf8.prefix(room)) ?? ""
    text += String(repeating: " ", count: max(0, room - text.utf8.count))
    e.field("backend_note", text)
    e.end()
    return e.bytes
  }

  /// Appends encoded lines (`count` of them) from memory the caller owns.
  public func append(_ bytes: UnsafeRawBufferPointer, lines count: Int64) throws(RecordError) {
    guard !bytes.isEmpty else { return }
    guard writeAll(bytes) else { throw .output(path: path, errno: errno) }
    linesWritten += count
  }

  /// Writes `trace_end` and rewrites `trace_start` with the backend seen.
  public func finish(lastSeq: Int64, lastTS: Int64, dropped: Int64, backend: String, note: String)
    throws(RecordError)
  {
    var e = TraceLineEncoder()
    e.begin(seq: lastSeq + 1, ts: lastTS, tid: Int64(header.pid), ev: "trace_end")
    e.field("lines", linesWritten + 1)
    e.field("dropped", dropped)
    e.end()
    guard e.bytes.withUnsafeBytes({ writeAll($0) }) else { throw .output(path: path, errno: errno) }
    linesWritten += 1
    let start = Self.startLine(header, backend: backend, note: note)
    let n = start.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    guard n == start.count else { throw .output(path: path, errno: errno) }
    close(fd)
  }

  private func writeAll(_ buf: UnsafeRawBufferPointer) -> Bool {
    var off = 0
    while off < buf.count {
      let n = write(fd, buf.baseAddress! + off, buf.count - off)
      if n < 0 {
        if errno == EINTR { continue }
        return false
      }
      off += n
    }
    return true
  }
}

/// Why `netpoll record` could not run: one line each, for exit status 2.
public enum RecordError: Error, CustomStringConvertible {
  case notRoot
  case noBPFTrace
  case noTracefs(String)
  case noSuchProcess(Int32)
  case noPermission(Int32)
  case output(path: String, errno: Int32)
  case bpftraceFailed(String)
  case spawn(String, errno: Int32)

  public var description: String {
    switch self {
    case .notRoot:
      return "needs root (loading eBPF programs takes CAP_BPF and CAP_PERFMON): run it as root"
    case .noBPFTrace:
      return
        "bpftrace not found on PATH: install it with 'apt-get install -y bpftrace' (or build the libbpf loader: tools/record-bpf/build)"
    case .noTracefs(let why):
      return "tracefs is not mounted (\(why)): mount -t tracefs nodev /sys/kernel/tracing"
    case .noSuchProcess(let pid): return "no such process: \(pid)"
    case .noPermission(let pid): return "no permission to trace process \(pid) (EPERM)"
    case .output(let path, let e):
      switch e {
      case EEXIST: return "\(path): file exists (use --force to overwrite)"
      case ELOOP: return "\(path): is a symbolic link; traces are never written through one"
      default: return "\(path): \(ErrnoNames.name(e)) (\(String(cString: strerror(e))))"
      }
    case .bpftraceFailed(let why): return "bpftrace failed: \(why)"
    case .spawn(let what, let e): return "cannot start \(what): \(ErrnoNames.name(e))"
    }
  }
}
