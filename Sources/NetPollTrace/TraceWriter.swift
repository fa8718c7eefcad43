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
/// an existing file unless `overwrite` is set. The thread drains the recorder's rings every 2 ms,
/// or sooner when a ring passes its fill mark, so at most that much is lost to a `kill -9`. It
/// writes whole lines, but SIGKILL can stop a large write between pages and leave a torn last
/// line (readers skip and report it: the torn-line rule). A failed write (disk full, file gone
/// unwritable) stops recording: the writer keeps emptying the rings so no recording thread ever
/// waits, counts everything after the failure as dropped and says so once on stderr; the program
/// being traced keeps running.
public final class TraceWriter: Sendable {
  public let recorder: TraceRecorder
  public let path: String
  private let fd: Int32
  private let stopping = Atomic<Bool>(false)
  private let failed = Atomic<Bool>(false)
  private let thread = Mutex<OSThread?>(nil)
  private let linesWritten = Atomic<UInt64>(0)
  private let eventsWritten = Atomic<UInt64>(0)

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
    let fd = try createTraceFile(path, overwrite: overwrite)
    self.fd = fd
    var enc = JSONLineEncoder()
    Self.encodeStart(
      &enc, backend: backend, command: command, backendNote: backendNote, window: nil)
    guard enc.out.withUnsafeBytes({ writeAll(fd, $0) }) else {
      let e = Glibc.errno
      Glibc.close(fd)
      throw TraceFileError(path: path, errno: e, operation: "write")
    }
    linesWritten.store(1, ordering: .relaxed)
    thread.withLock { $0 = OSThread(name: "netpoll-trace") { [self] in run() } }
  }

  /// The `trace_start` line of version 2, for this process and thread now.
  static func encodeStart(
    _ enc: inout JSONLineEncoder, backend: String, command: String, backendNote: String,
    window: TraceWindow?
  ) {
    enc.encodeTraceStart(
      backend: backend, command: command, backendNote: backendNote, pid: getpid(),
      wall: rfc3339Now(), tid: netpoll_cached_tid(), window: window)
  }

  private func run() {
    var enc = JSONLineEncoder()
    while true {
      if stopping.load(ordering: .acquiring) {
        drainFinal(&enc)
        return
      }
      let taken = recorder.merger.withLock { m in
        m.drain(from: recorder, final: false) { write($0, encoder: &enc) }
      }
      if taken == 0 { recorder.writerSleep() }
    }
  }

  /// The last drain after recording stopped: waits briefly for stamped calls still in flight
  /// (their threads are finishing a system call), then writes everything there is.
  private func drainFinal(_ enc: inout JSONLineEncoder) {
    let deadline = netpoll_monotonic_ns() + 50_000_000
    recorder.merger.withLock { m in
      while true {
        m.drain(from: recorder, final: false) { write($0, encoder: &enc) }
        if !m.hasPending() || netpoll_monotonic_ns() > deadline { break }
        usleep(200)
      }
      m.drain(from: recorder, final: true) { write($0, encoder: &enc) }
    }
  }

  /// Encodes and writes a batch of records in `seq` order (after a failure: counts them lost).
  private func write(_ batch: UnsafeBufferPointer<TraceRecord>, encoder enc: inout JSONLineEncoder) {
    var events: UInt64 = 0
    for r in batch where r.kind != .readyItem { events += 1 }
    if failed.load(ordering: .relaxed) {
      recorder.lostToFailure.add(events, ordering: .relaxed)
      return
    }
    enc.out.removeAll(keepingCapacity: true)
    _ = enc.encode(batch: batch)
    guard enc.out.withUnsafeBytes({ writeAll(fd, $0) }) else {
      let e = Glibc.errno
      failed.store(true, ordering: .releasing)
      recorder.lostToFailure.add(events, ordering: .relaxed)
      let msg = "netpoll: trace \(path): write failed: \(ErrnoNames.name(e)); recording stopped\n"
      _ = msg.withCString { Glibc.write(2, $0, strlen($0)) }
      return
    }
    linesWritten.add(events, ordering: .relaxed)
    eventsWritten.add(events, ordering: .relaxed)
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
    recorder.close()
    stopping.store(true, ordering: .releasing)
    recorder.wakeWriter()
    t.join()
    // An event recorded after the stop, or lost to a failed write, still counts in the numbering:
    // trace_end's seq leaves a gap as wide as the loss (docs/trace-format.md, `dropped`).
    let dropped = recorder.dropped
    let endSeq = recorder.merger.withLock { $0.nextSeq } &+ recorder.droppedAfterStop
    if !failed.load(ordering: .acquiring) {
      var enc = JSONLineEncoder()
      let ts = max(recorder.now(), recorder.merger.withLock { $0.lastTimestamp })
      enc.encodeTraceEnd(
        seq: endSeq, ts: ts, tid: netpoll_cached_tid(),
        lines: linesWritten.load(ordering: .relaxed) + 1, dropped: dropped)
      if !enc.out.withUnsafeBytes({ writeAll(fd, $0) }) {
        let msg = "netpoll: trace \(path): could not write trace_end\n"
        _ = msg.withCString { Glibc.write(2, $0, strlen($0)) }
      }
    }
    Glibc.close(fd)
    return dropped
  }

  /// The wall-clock time now, RFC 3339 in UTC with microseconds (`trace_start.wall`).
  package static func rfc3339Now() -> String {
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

/// Writes all of `buf`, retrying EINTR, and EAGAIN for up to 5 s without progress (a file
/// does not say EAGAIN, but a pipe or socket given as the trace may, and an injected fault
/// does: giving up there would lose the trace for nothing).
func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) -> Bool {
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

/// Creates a trace file: mode 0600, never through a symbolic link, never over an existing file
/// unless `overwrite` (the rules `--trace` and flight-recorder dumps share).
func createTraceFile(_ path: String, overwrite: Bool) throws(TraceFileError) -> Int32 {
  var flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC
  flags |= overwrite ? O_TRUNC : O_EXCL
  let fd = open(path, flags, 0o600)
  guard fd >= 0 else { throw TraceFileError(path: path, errno: Glibc.errno, operation: "open") }
  return fd
}
