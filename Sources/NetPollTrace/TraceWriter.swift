import CNetPollShims
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Why a trace file could not be opened or written.
public struct TraceFileError: Error, CustomStringConvertible {
  public let path: String
  public let errno: Int32
  public let operation: String

  public var description: String {
    let reason = String(cString: strerror(errno))
    switch errno {
    case EEXIST: return "\(path): file exists (use --force to overwrite)"
    case ELOOP: return "\(path): is a symbolic link; traces are never written through one"
    default: return "\(path): \(operation): \(ErrnoNames.name(errno)) (\(reason))"
    }
  }
}

/// Drains a ``TraceRecorder`` on a background thread into a JSON-lines file.
///
/// The file is created with mode 0600, never through a symbolic link (`O_NOFOLLOW`) and never over
/// an existing file unless `overwrite` is set. The thread wakes every 2 ms, so at most that much
/// is lost to a `kill -9` and every line on disk is whole. A failed write (disk full, file gone
/// unwritable) stops recording: the recorder counts everything after it as dropped and the writer
/// says so once on stderr; the program being traced keeps running.
public final class TraceWriter: Sendable {
  public let recorder: TraceRecorder
  public let path: String
  private let fd: Int32
  private let stopping = Atomic<Bool>(false)
  private let failed = Atomic<Bool>(false)
  private let thread = Mutex<OSThread?>(nil)
  private let linesWritten = Atomic<UInt64>(0)

  /// Creates the trace file and writes `trace_start` (which takes `seq` 0 and `ts` 0).
  ///
  /// - Parameters:
  ///   - backend: the `trace_start.backend` value.
  ///   - command: the command line, for `trace_start.command`.
  ///   - backendNote: why this backend was chosen (a fallback, say); may be empty.
  public init(
    path: String, recorder: TraceRecorder, backend: String, command: String,
    backendNote: String = "", overwrite: Bool = false
  ) throws(TraceFileError) {
    self.path = path
    self.recorder = recorder
    var flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC
    flags |= overwrite ? O_TRUNC : O_EXCL
    let fd = open(path, flags, 0o600)
    guard fd >= 0 else { throw TraceFileError(path: path, errno: Glibc.errno, operation: "open") }
    self.fd = fd

    var enc = JSONLineEncoder()
    enc.begin(seq: 0, ts: 0, tid: netpoll_cached_tid(), ev: "trace_start")
    enc.key("format")
    enc.string("netpoll-trace")
    enc.field("version", 1)
    enc.key("backend")
    enc.string(backend)
    enc.field("pid", Int64(getpid()))
    enc.key("wall")
    enc.string(Self.rfc3339Now())
    enc.key("command")
    enc.string(command)
    enc.key("backend_note")
    enc.string(backendNote)
    enc.end()
    guard enc.out.withUnsafeBytes({ writeAll($0) }) else {
      let e = Glibc.errno
      Glibc.close(fd)
      throw TraceFileError(path: path, errno: e, operation: "write")
    }
    linesWritten.store(1, ordering: .relaxed)
    thread.withLock { $0 = OSThread(name: "netpoll-trace") { [self] in run() } }
  }

  private func run() {
    let batch = UnsafeMutableBufferPointer<TraceRecord>.allocate(capacity: 8192)
    defer { batch.deallocate() }
    var enc = JSONLineEncoder()
    while true {
      let last = stopping.load(ordering: .acquiring)
      var n = recorder.drain(into: batch)
      while n > 0 {
        guard flush(batch, count: n, encoder: &enc) else { return }
        n = recorder.drain(into: batch)
      }
      if last { return }
      usleep(2000)
    }
  }

  /// Encodes and writes `count` records; false once writing has failed.
  private func flush(
    _ batch: UnsafeMutableBufferPointer<TraceRecord>, count: Int, encoder enc: inout JSONLineEncoder
  ) -> Bool {
    enc.out.removeAll(keepingCapacity: true)
    var i = 0
    var lines: UInt64 = 0
    while i < count {
      let r = batch[i]
      let items = r.kind == .epollWait ? Int(r.e) : 0
      enc.encode(r, ready: batch[(i + 1)..<(i + 1 + items)])
      i += 1 + items
      lines += 1
    }
    guard enc.out.withUnsafeBytes({ writeAll($0) }) else {
      let e = Glibc.errno
      failed.store(true, ordering: .releasing)
      let (_, _) = recorder.close(writerFailed: true)
      let msg = "netpoll: trace \(path): write failed: \(ErrnoNames.name(e)); recording stopped\n"
      _ = msg.withCString { Glibc.write(2, $0, strlen($0)) }
      return false
    }
    linesWritten.add(lines, ordering: .relaxed)
    return true
  }

  /// Writes all of `buf`, retrying EINTR, and EAGAIN for up to 5 s without progress (a file
  /// does not say EAGAIN, but a pipe or socket given as the trace may, and an injected fault
  /// does: giving up there would lose the trace for nothing).
  private func writeAll(_ buf: UnsafeRawBufferPointer) -> Bool {
    var off = 0
    var stalledMs = 0
    while off < buf.count {
      let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
      if n < 0 {
        let e = Glibc.errno
        if e == EINTR { continue }
        if e == EAGAIN && stalledMs < 5000 {
          usleep(1000)
          stalledMs += 1
          continue
        }
        return false
      }
      off += n
      stalledMs = 0
    }
    return true
  }

  /// Stops recording, writes what is left and `trace_end`, and closes the file.
  /// Returns the number of events dropped.
  @discardableResult
  public func finish() -> UInt64 {
    let t = thread.withLock { t -> OSThread? in
      defer { t = nil }
      return t
    }
    guard let t else { return recorder.dropped }
    let (nextSeq, dropped) = recorder.close(writerFailed: false)
    stopping.store(true, ordering: .releasing)
    t.join()
    if !failed.load(ordering: .acquiring) {
      var enc = JSONLineEncoder()
      enc.begin(seq: nextSeq, ts: recorder.now(), tid: netpoll_cached_tid(), ev: "trace_end")
      enc.field("events", Int64(linesWritten.load(ordering: .relaxed) + 1))
      enc.field("dropped", Int64(dropped))
      enc.end()
      if !enc.out.withUnsafeBytes({ writeAll($0) }) {
        let msg = "netpoll: trace \(path): could not write trace_end\n"
        _ = msg.withCString { Glibc.write(2, $0, strlen($0)) }
      }
    }
    Glibc.close(fd)
    return failed.load(ordering: .acquiring) ? max(dropped, recorder.dropped) : dropped
  }

  static func rfc3339Now() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var t = ts.tv_sec
    var tm = tm()
    gmtime_r(&t, &tm)
    func pad(_ v: Int32, _ w: Int) -> String {
      let s = String(v)
      return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    return
      "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
      + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1000), 6))Z"
  }
}
