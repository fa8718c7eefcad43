import ArgumentParser
import NetPoll
import NetPollAnalysis
import NetPollLiveReplay

/// `netpoll replay TRACE`: re-drives a trace through a model of the runtime and reports where the
/// recorded behaviour breaks the runtime's invariants. With `--live`, re-runs the trace's client
/// workload against a fresh server on `--backend` and reports how faithfully it was reproduced.
struct Replay: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a trace against a model of the runtime and print a summary.",
    discussion: """
      Reports, with FILE:LINE, parks of parked tasks, wakes of unparked tasks or on the wrong fd/mode,
      readiness for unregistered/deleted/stale fds not dropped by a stale event, double ADDs, seq gaps,
      and EAGAINs followed by neither a park nor a retry.
      A trace of source ebpf has no park/wake/stale events: the summary lists the checks that ran and
      those that cannot for it.
      Exit status: 0 consistent, 1 violations found, 2 the input is not a readable trace.

      With --live: reconstructs the clients of a server trace (connections in accept order, request \
      and response sizes, think times, half-closes and resets), serves them from a fresh in-process \
      server on --backend with the trace's protocol and timeouts, and prints connections and bytes \
      reproduced and the inter-arrival timing error (p50/p99). Exit status: 0 reproduced exactly, \
      1 not, 2 the input is not a readable trace or the server could not start.
      """)

  @Argument(help: "The trace file (JSON lines), or - for standard input.")
  var trace: String

  @Option(help: "Print this fd's timeline step by step.")
  var fd: Int?

  @Option(help: "Print this task's timeline step by step.")
  var task: Int?

  @Flag(help: "Re-run the trace's workload against a fresh server (see below).")
  var live = false

  @Option(help: "With --live: the server's backend: epoll, uring or uring-completion.")
  var backend: String?

  @Option(help: "With --live: replay at this multiple of the recorded pace (default 1).")
  var speed: Double?

  @Flag(help: "With --live: send as fast as possible, ignoring recorded think times.")
  var max = false

  @Option(
    name: .customLong("trace"),
    help: ArgumentHelp("With --live: write the new server trace to this file.", valueName: "out"))
  var output: String?

  @Flag(help: "With --live: overwrite the --trace file if it exists.")
  var force = false

  func validate() throws {
    if let fd, fd < 0 { throw ValidationError("--fd must be a non-negative fd number") }
    guard live else {
      if backend != nil || speed != nil || max || output != nil || force {
        throw ValidationError("--backend, --speed, --max, --trace and --force need --live")
      }
      return
    }
    if fd != nil || task != nil { throw ValidationError("--fd and --task do not apply to --live") }
    guard let backend else { throw ValidationError("--live needs --backend epoll|uring|uring-completion") }
    guard Backend(rawValue: backend) != nil else {
      throw ValidationError("--backend: '\(backend)' is not one of epoll, uring, uring-completion")
    }
    if let speed, !(speed > 0 && speed.isFinite) {
      throw ValidationError("--speed must be a positive number")
    }
    if speed != nil && max { throw ValidationError("--speed and --max exclude each other") }
  }

  func run() async throws {
    if live { return try await runLive() }
    let report: ReplayReport
    do {
      report = try TraceReplay.run(path: trace, options: ReplayOptions(fd: fd, task: task))
    } catch {
      printToStandardError(error.description)
      throw ExitCode(2)
    }
    for warning in report.warnings { printToStandardError(warning.description) }
    if let fd {
      print(ReplayReport.renderTimeline(report.fdTimeline, title: "fd \(fd) timeline"), terminator: "")
    }
    if let task {
      print(ReplayReport.renderTimeline(report.taskTimeline, title: "task \(task) timeline"), terminator: "")
    }
    print(report.renderViolations(file: trace), terminator: "")
    print(report.renderNotes(file: trace), terminator: "")
    print(report.renderSummary(file: trace), terminator: "")
    if !report.isConsistent { throw ExitCode(1) }
  }

  private func runLive() async throws {
    let options = LiveReplayOptions(
      backend: Backend(rawValue: backend ?? "")!, speed: max ? nil : (speed ?? 1), tracePath: output,
      overwrite: force, note: "replay --live of \(trace)")
    let report: LiveReplayReport
    do {
      report = try await LiveReplay.run(path: trace, options: options)
    } catch {
      printToStandardError("\(error)")
      throw ExitCode(2)
    }
    print(report.text(file: trace), terminator: "")
    if !report.isExact { throw ExitCode(1) }
  }
}
