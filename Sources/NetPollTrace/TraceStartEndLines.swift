/// The stretch of a run a flight-recorder dump holds, as its `trace_start` describes it
/// (docs/trace-format.md, "Flight-recorder windows and snapshots").
public struct TraceWindow: Sendable, Equatable {
  /// `window_seq`: the `seq` of the window's first event.
  public var seq: UInt64
  /// `window_ts`: that event's `ts`.
  public var ts: UInt64
  /// `trigger`: why the dump was written (`"SIGUSR1"`, `"wake_latency task 12 fd 9 r 15023114 ns"`).
  public var trigger: String

  /// A window starting at the event `seq`, recorded at `ts`, dumped because of `trigger`.
  public init(seq: UInt64, ts: UInt64, trigger: String) {
    self.seq = seq
    self.ts = ts
    self.trigger = trigger
  }
}

/// The first and last lines of a trace, version 2.
extension JSONLineEncoder {
  /// Appends the `trace_start` line (`seq` 0, `ts` 0): format, `"version":2`,
  /// `"source":"runtime"`, backend, pid, wall, command, backend_note, and for a flight-recorder
  /// dump `"window":true`, `window_seq`, `window_ts` and `trigger`.
  ///
  /// - Parameters:
  ///   - backend: `"epoll"`, `"uring"` or `"uring-completion"`.
  ///   - command: the command line.
  ///   - backendNote: why this backend was chosen (a fallback, say); may be empty.
  ///   - pid: the traced process (`getpid()`).
  ///   - wall: RFC 3339 UTC wall-clock time at `ts` 0.
  ///   - tid: the thread writing the line.
  ///   - window: the window of a flight-recorder dump; `nil` for a whole-run trace.
  package mutating func encodeTraceStart(
    backend: String, command: String, backendNote: String, pid: Int32, wall: String, tid: Int32,
    window: TraceWindow? = nil
  ) {
    let start = out.reserve(256)
    var w = ByteCursor(start)
    w.header(seq: 0, ts: 0, tid: tid)
    w.put(
      ",\"ev\":\"trace_start\",\"format\":\"netpoll-trace\",\"version\":2,\"source\":\"runtime\",\"backend\":"
    )
    out.commit(w.p - start)
    string(backend)
    field("pid", Int64(pid))
    key("wall")
    string(wall)
    key("command")
    string(command)
    key("backend_note")
    string(backendNote)
    if let window {
      raw(",\"window\":true,\"window_seq\":")
      int(window.seq)
      raw(",\"window_ts\":")
      int(window.ts)
      key("trigger")
      string(window.trigger)
    }
    end()
  }

  /// Appends the `trace_end` line: `lines` (every line of the file, this one included) and
  /// `dropped` (events whose `seq`s are missing).
  package mutating func encodeTraceEnd(seq: UInt64, ts: UInt64, tid: Int32, lines: UInt64, dropped: UInt64) {
    let start = out.reserve(160)
    var w = ByteCursor(start)
    w.header(seq: seq, ts: ts, tid: tid)
    w.put(",\"ev\":\"trace_end\",\"lines\":")
    w.uint(lines)
    w.put(",\"dropped\":")
    w.uint(dropped)
    w.put("}\n")
    out.commit(w.p - start)
  }
}
