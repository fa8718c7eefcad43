#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A time window of a trace to export: events with `from <= ts <= to`, in nanoseconds on the
/// trace's clock (`ts`); `nil` leaves that side open.
public struct ExportWindow: Sendable, Equatable {
  /// The first `ts` exported.
  public var from: Int?
  /// The last `ts` exported.
  public var to: Int?

  /// The window `from...to` (the whole trace by default).
  public init(from: Int? = nil, to: Int? = nil) {
    self.from = from
    self.to = to
  }

  func contains(_ ts: Int) -> Bool { ts >= (from ?? .min) && ts <= (to ?? .max) }
}

/// A time on the trace clock: nanoseconds (`1500`), or a decimal number with a unit `ns`, `us`
/// (or `µs`), `ms` or `s` (`1.5s`, `200ms`); `nil` for anything else, a negative time or one past
/// Int64.
public func parseTraceTime(_ text: String) -> Int? {
  let units: [(String, Int)] = [
    ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
  ]
  var number = Substring(text)
  var scale = 1
  for (suffix, factor) in units where text.hasSuffix(suffix) {
    number = text.dropLast(suffix.count)
    scale = factor
    break
  }
  let parts = number.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
  guard (1...2).contains(parts.count), let wholeText = parts.first, !wholeText.isEmpty,
    wholeText.allSatisfy({ $0.isASCII && $0.isNumber }), let whole = Int(wholeText)
  else { return nil }
  let (scaled, overflow) = whole.multipliedReportingOverflow(by: scale)
  guard !overflow else { return nil }
  guard parts.count == 2 else { return scaled }
  // The fraction, digit by digit, to the unit's precision (digits past a nanosecond are dropped).
  let fractionText = parts[1]
  guard !fractionText.isEmpty, fractionText.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
  var fraction = 0
  var place = scale
  for digit in fractionText {
    place /= 10
    fraction += (digit.wholeNumberValue ?? 0) * place
  }
  let (total, overflowed) = scaled.addingReportingOverflow(fraction)
  return overflowed ? nil : total
}

/// Writes a trace as Chrome Trace Event JSON, which ui.perfetto.dev and Perfetto's trace processor
/// load, streaming (constant memory).
///
/// Timestamps are microseconds rebased to the trace's first event. `epoll_wait` and
/// `io_uring_enter` are complete (`X`) slices on their thread, ending at the event's `ts`; other
/// events are thread instants (`i`) whose args carry the line's fields (op, fd, result, errno,
/// ...); each park → wake is an async slice (`b`/`e`) with the task as id; each wake is a
/// zero-length slice with a flow arrow to what the task did next: on the readiness backends its
/// retried call on the fd in the same direction, in completion mode the next operation submitted
/// on the fd (or the next call on it, e.g. `close`). Process and thread names are metadata (`M`).
public struct PerfettoExport {
  /// Exports `input` (or the events of `window`) to `output` (`-` for standard output); returns
  /// the number of trace events written. `output` must not be the input, nor a symbolic link, nor
  /// an existing file unless `force` (see `OutputFile`).
  @discardableResult
  public static func run(
    input: String, output: String, force: Bool = false, window: ExportWindow = ExportWindow()
  ) throws(TraceError) -> Int {
    if let from = window.from, let to = window.to, from > to {
      throw TraceError(
        file: input, line: nil, message: "the window ends (\(to) ns) before it starts (\(from) ns)")
    }
    try checkOutputPath(output, inputs: [input], force: force)
    let reader = try TraceReader(path: input)
    let sink = try OutputFile(path: output, inputs: [input], force: force)
    var exporter = PerfettoExport(header: reader.header, window: window)
    sink.write("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")
    exporter.emit(
      sink, name: "process_name", ph: "M", ts: nil, tid: 0,
      args: "{\"name\":\(jsonQuoted(Self.processName(reader.header)))}")
    while let event = try reader.next() {
      // `ts` never decreases in a trace: nothing after the window's end can be in it.
      if let to = window.to, event.ts > to { break }
      exporter.consume(event, into: sink)
    }
    exporter.closeWindow(sink)
    sink.write("\n]}\n")
    try sink.close()
    return exporter.written
  }

  private let header: TraceHeader
  private let window: ExportWindow
  private let completionMode: Bool
  private var origin: Int?
  private var namedThreads: Set<Int> = []
  private var nextFlow = 1
  /// Readiness backends: wakes waiting for their task's retried call → flow id.
  private var pendingFlows: [FDDirection: Int] = [:]
  /// Completion mode: wakes waiting for the next operation or call on their fd → flow id.
  private var pendingFlowsByFD: [Int: Int] = [:]
  /// Tasks whose park began in the window and has not ended, with where it began.
  private var openParks: [Int: Int] = [:]
  private var uringOperations = UringOperations()
  private(set) var written = 0

  /// `netpoll epoll (pid 4711)`; a trace without park/wake events says so, since its timeline has
  /// no park slices or wake flows (`netpoll epoll (pid 4711, source ebpf: no park/wake recorded)`).
  static func processName(_ header: TraceHeader) -> String {
    let source =
      header.source.hasRuntimeEvents ? "" : ", source \(header.source.rawValue): no park/wake recorded"
    return "netpoll \(header.backend) (pid \(header.pid)\(source))"
  }

  private init(header: TraceHeader, window: ExportWindow) {
    self.header = header
    self.window = window
    completionMode = header.backend == "uring-completion"
  }

  private mutating func consume(_ e: TraceEvent, into sink: OutputFile) {
    if origin == nil { origin = e.ts }
    // Operations are paired with their submissions even before the window opens.
    var operation: UringOperation?
    switch e.body {
    case .uringSubmission(let op, _, let userData): uringOperations.submitted(op: op, userData: userData)
    case .uringCompletion(let userData, _, _, let more):
      operation = uringOperations.completed(userData: userData, more: more)
    default: break
    }
    let inWindow = window.contains(e.ts)
    let line = "\"line\":\(e.line)"
    let errno = e.errno.map { ",\"errno\":\(jsonQuoted($0))" } ?? ""
    switch e.body {
    case .epollWait(let wait):
      // A negative dur_ns (a damaged trace) is a zero-length slice; the args keep the value.
      let duration = max(0, wait.durationNs)
      guard inWindow else { return }
      emit(
        sink, name: "epoll_wait", ph: "X", ts: e.ts.saturatingSubtracting(duration), tid: e.tid,
        extra: ",\"dur\":\(micros(duration))",
        args:
          "{\(line),\"epfd\":\(wait.epfd),\"ret\":\(wait.ret),\"timeout_ms\":\(wait.timeoutMs),\"ready\":\(wait.ready.count),\"dur_ns\":\(wait.durationNs)\(errno)}"
      )
    case .uringEnter(let ringFd, let toSubmit, let minComplete, let ret, let duration):
      guard inWindow else { return }
      emit(
        sink, name: "io_uring_enter", ph: "X", ts: e.ts.saturatingSubtracting(max(0, duration)), tid: e.tid,
        extra: ",\"dur\":\(micros(max(0, duration)))",
        args:
          "{\(line),\"ring_fd\":\(ringFd),\"ret\":\(ret),\"to_submit\":\(toSubmit),\"min_complete\":\(minComplete),\"dur_ns\":\(duration)\(errno)}"
      )
    case .park(let task, let fd, let mode):
      guard inWindow else { return }
      openParks[task] = e.ts
      emit(
        sink, name: "parked", ph: "b", ts: e.ts, tid: e.tid, extra: ",\"cat\":\"park\",\"id\":\(task)",
        args: "{\(line),\"task\":\(task),\"fd\":\(fd),\"mode\":\"\(mode.rawValue)\"}")
    case .wake(let task, let fd, let mode, let reason):
      guard inWindow else { return }
      if openParks.removeValue(forKey: task) != nil {
        emit(
          sink, name: "parked", ph: "e", ts: e.ts, tid: e.tid, extra: ",\"cat\":\"park\",\"id\":\(task)",
          args: "{\(line),\"reason\":\"\(reason.rawValue)\"}")
      }
      let flow = nextFlow
      nextFlow += 1
      if completionMode {
        pendingFlowsByFD[fd] = flow
      } else {
        pendingFlows[FDDirection(fd: fd, mode: mode)] = flow
      }
      emit(
        sink, name: "wake \(reason.rawValue)", ph: "X", ts: e.ts, tid: e.tid,
        extra: ",\"dur\":0,\"bind_id\":\(flow),\"flow_out\":true",
        args: "{\(line),\"task\":\(task),\"fd\":\(fd),\"mode\":\"\(mode.rawValue)\"}")
    case .socketCall(let call):
      guard inWindow else { return }
      let args =
        "{\(line),\"fd\":\(call.fd),\"ret\":\(call.ret)\(call.syscall == .read || call.syscall == .write ? ",\"len\":\(call.length)" : "")\(errno)}"
      let mode: PollMode? =
        switch call.syscall {
        case .read, .accept, .connect: .read
        case .write: .write
        default: nil
        }
      var flow: Int?
      if completionMode {
        flow = call.fd >= 0 ? pendingFlowsByFD.removeValue(forKey: call.fd) : nil
      } else if let mode, call.fd >= 0 {
        flow = pendingFlows.removeValue(forKey: FDDirection(fd: call.fd, mode: mode))
      }
      instant(sink, e, name: call.syscall.rawValue, flowIn: flow, args: args)
    case .uringSubmission(let op, let fd, let userData):
      guard inWindow else { return }
      let flow =
        completionMode && fd >= 0 && UringOperation(op: op) != .cancel
        ? pendingFlowsByFD.removeValue(forKey: fd) : nil
      instant(
        sink, e, name: "uring_sqe", flowIn: flow,
        args: "{\(line),\"op\":\(jsonQuoted(op)),\"fd\":\(fd),\"user_data\":\(userData)}")
    case .uringCompletion(let userData, let res, let fd, let more):
      guard inWindow else { return }
      let op = operation.map { ",\"op\":\"\($0.callName)\"" } ?? ""
      instant(
        sink, e, name: "uring_cqe", flowIn: nil,
        args: "{\(line)\(op),\"fd\":\(fd),\"res\":\(res),\"user_data\":\(userData),\"more\":\(more)\(errno)}")
    case .epollCtl(let ctl):
      guard inWindow else { return }
      instant(
        sink, e, name: "epoll_ctl", flowIn: nil,
        args:
          "{\(line),\"epfd\":\(ctl.epfd),\"op\":\"\(ctl.op.rawValue)\",\"fd\":\(ctl.fd),\"events\":\(jsonQuoted(ctl.events.shortDescription)),\"tag\":\(ctl.tag.map(String.init) ?? "null"),\"ret\":\(ctl.ret)\(errno)}"
      )
    case .stale(let fd, let tag, let currentTag, let mode):
      guard inWindow else { return }
      instant(
        sink, e, name: "stale", flowIn: nil,
        args:
          "{\(line),\"fd\":\(fd),\"tag\":\(tag),\"current_tag\":\(currentTag),\"mode\":\"\(mode.rawValue)\"}")
    case .deadline(let fd, let mode, let timeoutNs):
      guard inWindow else { return }
      instant(
        sink, e, name: "deadline", flowIn: nil,
        args: "{\(line),\"fd\":\(fd),\"mode\":\"\(mode.rawValue)\",\"timeout_ns\":\(timeoutNs)}")
    case .epollCreate(let epfd, let ret):
      guard inWindow else { return }
      instant(
        sink, e, name: "epoll_create", flowIn: nil, args: "{\(line),\"epfd\":\(epfd),\"ret\":\(ret)\(errno)}")
    case .uringSetup(let ringFd, let entries):
      guard inWindow else { return }
      instant(
        sink, e, name: "uring_setup", flowIn: nil,
        args: "{\(line),\"ring_fd\":\(ringFd),\"entries\":\(entries)\(errno)}")
    case .uringOverflow(let count):
      guard inWindow else { return }
      instant(sink, e, name: "uring_overflow", flowIn: nil, args: "{\(line),\"count\":\(count)}")
    case .traceStart:
      guard inWindow else { return }
      emit(
        sink, name: "trace_start", ph: "i", ts: e.ts, tid: e.tid, extra: ",\"s\":\"g\"",
        args:
          "{\"command\":\(jsonQuoted(header.command)),\"wall\":\(jsonQuoted(header.wall)),\"backend_note\":\(jsonQuoted(header.backendNote)),\"source\":\(jsonQuoted(header.source.rawValue))}"
      )
    case .traceEnd(let events, let dropped):
      guard inWindow else { return }
      instant(
        sink, e, name: "trace_end", flowIn: nil,
        args: "{\(line),\"lines\":\(events.map(String.init) ?? "null"),\"dropped\":\(dropped)}")
    case .unknown:
      guard inWindow else { return }
      instant(sink, e, name: e.name, flowIn: nil, args: "{\(line)\(errno)}")
    case .snapshotFD(let fd, let tag):
      guard inWindow else { return }
      instant(sink, e, name: "snapshot_fd", flowIn: nil, args: "{\(line),\"fd\":\(fd),\"tag\":\(tag)}")
    case .snapshotPark(let task, let fd, let mode):
      guard inWindow else { return }
      instant(
        sink, e, name: "snapshot_park", flowIn: nil,
        args: "{\(line),\"task\":\(task),\"fd\":\(fd),\"mode\":\"\(mode.rawValue)\"}")
    case .snapshotOperation(let userData, let op, let fd):
      guard inWindow else { return }
      instant(
        sink, e, name: "snapshot_op", flowIn: nil,
        args: "{\(line),\"user_data\":\(userData),\"op\":\(jsonQuoted(op)),\"fd\":\(fd)}")
    }
  }

  /// A thread instant, or a zero-length slice when a wake's flow ends on it.
  private mutating func instant(_ sink: OutputFile, _ e: TraceEvent, name: String, flowIn: Int?, args: String)
  {
    if let flowIn {
      emit(
        sink, name: name, ph: "X", ts: e.ts, tid: e.tid,
        extra: ",\"dur\":0,\"bind_id\":\(flowIn),\"flow_in\":true",
        args: args)
    } else {
      emit(sink, name: name, ph: "i", ts: e.ts, tid: e.tid, extra: ",\"s\":\"t\"", args: args)
    }
  }

  /// Ends the parks the window's end cut, at that end.
  fileprivate mutating func closeWindow(_ sink: OutputFile) {
    guard let to = window.to else { return }
    for (task, _) in openParks.sorted(by: { $0.key < $1.key }) {
      emit(
        sink, name: "parked", ph: "e", ts: to, tid: 0, extra: ",\"cat\":\"park\",\"id\":\(task)",
        args: "{\"reason\":\"window end\"}")
    }
    openParks = [:]
  }

  fileprivate mutating func emit(
    _ sink: OutputFile, name: String, ph: String, ts: Int?, tid: Int, extra: String = "", args: String
  ) {
    if ph != "M", tid != 0, namedThreads.insert(tid).inserted {
      emit(sink, name: "thread_name", ph: "M", ts: nil, tid: tid, args: "{\"name\":\"tid \(tid)\"}")
    }
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
