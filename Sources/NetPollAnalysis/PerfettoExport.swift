#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes a trace as Chrome Trace Event JSON, which ui.perfetto.dev and Perfetto's trace processor
/// load, streaming (constant memory).
///
/// Timestamps are microseconds rebased to the trace's first event. `epoll_wait` and
/// `io_uring_enter` are complete (`X`) slices on their thread, ending at the event's `ts`; other
/// system calls are thread instants (`i`); each park → wake is an async slice (`b`/`e`) with the
/// task as id; each `ready` wake is a zero-length slice with a flow arrow to the task's resumed call.
/// Process and thread names are metadata (`M`) events.
public struct PerfettoExport {
  /// Exports `input` to `output` (`-` for standard output); returns the number of trace events
  /// written. `output` must not be the input, nor a symbolic link, nor an existing file unless
  /// `force` (see `OutputFile`).
  @discardableResult
  public static func run(input: String, output: String, force: Bool = false) throws(TraceError) -> Int {
    try checkOutputPath(output, inputs: [input], force: force)
    let reader = try TraceReader(path: input)
    let sink = try OutputFile(path: output, inputs: [input], force: force)
    var exporter = PerfettoExport(header: reader.header)
    sink.write("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")
    exporter.emit(
      sink, name: "process_name", ph: "M", ts: nil, tid: 0,
      args: "{\"name\":\(jsonQuoted("netpoll \(reader.header.backend) (pid \(reader.header.pid))"))}")
    while let event = try reader.next() { exporter.consume(event, into: sink) }
    sink.write("\n]}\n")
    try sink.close()
    return exporter.written
  }

  private let header: TraceHeader
  private var origin: Int?
  private var namedThreads: Set<Int> = []
  private var nextFlow = 1
  /// Wakes waiting for their task's resumed call → flow id.
  private var pendingFlows: [FDDirection: Int] = [:]
  private(set) var written = 0

  private init(header: TraceHeader) { self.header = header }

  private mutating func consume(_ e: TraceEvent, into sink: OutputFile) {
    if origin == nil { origin = e.ts }
    if namedThreads.insert(e.tid).inserted {
      emit(sink, name: "thread_name", ph: "M", ts: nil, tid: e.tid, args: "{\"name\":\"tid \(e.tid)\"}")
    }
    let errno = e.errno.map { ",\"errno\":\(jsonQuoted($0))" } ?? ""
    switch e.body {
    case .epollWait(let wait):
      // A negative dur_ns (a damaged trace) is a zero-length slice; the args keep the value.
      let duration = max(0, wait.durationNs)
      emit(
        sink, name: "epoll_wait", ph: "X", ts: e.ts.saturatingSubtracting(duration), tid: e.tid,
        extra: ",\"dur\":\(micros(duration))",
        args:
          "{\"ret\":\(wait.ret),\"timeout_ms\":\(wait.timeoutMs),\"ready\":\(wait.ready.count),\"dur_ns\":\(wait.durationNs)\(errno)}")
    case .uringEnter(_, let toSubmit, _, let ret, let duration):
      emit(
        sink, name: "io_uring_enter", ph: "X", ts: e.ts.saturatingSubtracting(max(0, duration)), tid: e.tid,
        extra: ",\"dur\":\(micros(max(0, duration)))",
        args: "{\"ret\":\(ret),\"to_submit\":\(toSubmit),\"dur_ns\":\(duration)\(errno)}")
    case .park(let task, let fd, let mode):
      emit(
        sink, name: "parked", ph: "b", ts: e.ts, tid: e.tid, extra: ",\"cat\":\"park\",\"id\":\(task)",
        args: "{\"task\":\(task),\"fd\":\(fd),\"mode\":\"\(mode.rawValue)\"}")
    case .wake(let task, let fd, let mode, let reason):
      emit(
        sink, name: "parked", ph: "e", ts: e.ts, tid: e.tid, extra: ",\"cat\":\"park\",\"id\":\(task)",
        args: "{\"reason\":\"\(reason.rawValue)\"}")
      let flow = nextFlow
      nextFlow += 1
      pendingFlows[FDDirection(fd: fd, mode: mode)] = flow
      emit(
        sink, name: "wake \(reason.rawValue)", ph: "X", ts: e.ts, tid: e.tid,
        extra: ",\"dur\":0,\"bind_id\":\(flow),\"flow_out\":true",
        args: "{\"task\":\(task),\"fd\":\(fd),\"mode\":\"\(mode.rawValue)\"}")
    case .socketCall(let call):
      let args = "{\"fd\":\(call.fd),\"ret\":\(call.ret)\(errno)}"
      let mode: PollMode? =
        switch call.syscall {
        case .read, .accept, .connect: .read
        case .write: .write
        default: nil
        }
      if let mode, call.fd >= 0,
        let flow = pendingFlows.removeValue(forKey: FDDirection(fd: call.fd, mode: mode))
      {
        emit(
          sink, name: call.syscall.rawValue, ph: "X", ts: e.ts, tid: e.tid,
          extra: ",\"dur\":0,\"bind_id\":\(flow),\"flow_in\":true", args: args)
      } else {
        emit(
          sink, name: call.syscall.rawValue, ph: "i", ts: e.ts, tid: e.tid, extra: ",\"s\":\"t\"", args: args)
      }
    case .traceStart:
      emit(
        sink, name: "trace_start", ph: "i", ts: e.ts, tid: e.tid, extra: ",\"s\":\"g\"",
        args:
          "{\"command\":\(jsonQuoted(header.command)),\"wall\":\(jsonQuoted(header.wall)),\"backend_note\":\(jsonQuoted(header.backendNote))}"
      )
    default:
      emit(
        sink, name: e.name, ph: "i", ts: e.ts, tid: e.tid, extra: ",\"s\":\"t\"",
        args: "{\"line\":\(e.line)\(errno)}")
    }
  }

  fileprivate mutating func emit(
    _ sink: OutputFile, name: String, ph: String, ts: Int?, tid: Int, extra: String = "", args: String
  ) {
    let time = ts.map { ",\"ts\":\(micros($0.saturatingSubtracting(origin ?? 0)))" } ?? ""
    sink.write(
      (written == 0 ? "" : ",\n")
        + "{\"name\":\(jsonQuoted(name)),\"ph\":\"\(ph)\",\"pid\":\(header.pid),\"tid\":\(tid)\(time)\(extra),\"args\":\(args)}"
    )
    written += 1
  }
}

/// Nanoseconds as microseconds with three decimals (`12.345`).
private func micros(_ ns: Int) -> String {
  let sign = ns < 0 ? "-" : ""
  let magnitude = ns.magnitude
  let fraction = magnitude % 1000
  let digits = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
  return "\(sign)\(magnitude / 1000).\(digits)"
}
