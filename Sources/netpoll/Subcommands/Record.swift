import ArgumentParser
import NetPollRecord

/// `netpoll record`: another process's epoll, io_uring and socket calls, seen through eBPF, as a
/// trace in the project's format (`"source":"ebpf"`).
struct Record: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Record any process's epoll, io_uring and socket calls with eBPF into a trace.",
    discussion: """
      netpoll record --pid PID --trace PATH [--duration S]
      netpoll record --trace PATH [--duration S] -- CMD ARGS...
      Needs root, and the libbpf loader (built by tools/record-bpf/build into .build-peers/record-bpf \
      of this checkout, used when found: cheaper) or bpftrace (apt-get install -y bpftrace; \
      --bpftrace to use it even when the loader is built). Every thread of the process is \
      traced, including threads created later. Stops when the process exits, after --duration, \
      or on SIGINT/SIGTERM (with a command, the signal is passed to it and recording goes on \
      until it exits). Events the kernel could not hand over are counted in trace_end.dropped. \
      Exit status 2: bad use (no such process, not root, no bpftrace, the output exists).
      """)

  @Option(help: "The process to attach to.")
  var pid: Int32?

  @Option(help: "Write the trace to this file (created 0600; never through a symlink).")
  var trace: String

  @Option(help: "Stop after this many seconds.")
  var duration: Double?

  @Flag(help: "Overwrite the trace file if it exists.")
  var force = false

  @Option(
    help: ArgumentHelp(
      "Record with the libbpf loader in this directory (built by tools/record-bpf/build) instead of bpftrace.",
      valueName: "dir"))
  var loader: String?

  @Flag(help: "Record with bpftrace even when the libbpf loader is built.")
  var bpftrace = false

  @Argument(parsing: .postTerminator, help: "The command to start and record (after --).")
  var command: [String] = []

  func validate() throws {
    if pid == nil && command.isEmpty { throw ValidationError("give --pid PID or -- CMD ARGS...") }
    if pid != nil && !command.isEmpty { throw ValidationError("--pid and a command exclude each other") }
    if bpftrace && loader != nil { throw ValidationError("--bpftrace and --loader exclude each other") }
    if let duration, !(duration > 0 && duration.isFinite) {
      throw ValidationError("--duration must be a positive number of seconds")
    }
  }

  func run() throws {
    var options = RecordOptions(
      pid: pid, command: command, tracePath: trace, duration: duration, overwrite: force)
    if let loader {
      guard let found = RecordLoader(directory: loader) else {
        printError(
          "netpoll record: --loader \(loader): no netpoll-record-bpf and record.bpf.o there (run tools/record-bpf/build)"
        )
        throw ExitCode(2)
      }
      options.loader = found
    } else if !bpftrace {
      options.loader = RecordLoader.builtForThisExecutable()
    }
    do {
      let bpftrace = try Recorder.preflight(options)
      let summary = try Recorder.run(options, bpftrace: bpftrace) { printError("netpoll record: \($0)") }
      var line =
        "netpoll record: \(summary.lines) lines, \(summary.dropped) dropped, backend \(summary.backend), "
        + "\(String(format3: summary.seconds)) s, stopped by \(summary.stoppedBy)"
      if summary.late > 0 { line += "; \(summary.late) records arrived late (ts raised)" }
      if summary.incompleteReadyLists > 0 {
        line += "; \(summary.incompleteReadyLists) epoll_wait ready lists incomplete"
      }
      if let status = summary.exitStatus { line += "; command wait status \(status)" }
      printError(line)
    } catch {
      printError("netpoll record: \(error)")
      throw ExitCode(2)
    }
  }
}
