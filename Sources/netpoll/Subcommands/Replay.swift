import ArgumentParser
import NetPollAnalysis

/// `netpoll replay TRACE`: re-drives a trace through a model of the runtime and reports where the
/// recorded behaviour breaks the runtime's invariants.
struct Replay: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check a trace against a model of the runtime and print a summary.",
    discussion: """
      Reports, with FILE:LINE, parks of parked tasks, wakes of unparked tasks or on the wrong fd/mode,
      readiness for unregistered/deleted/stale fds not dropped by a stale event, double ADDs, seq gaps,
      and EAGAINs followed by neither a park nor a retry.
      Exit status: 0 consistent, 1 violations found, 2 the input is not a readable trace.
      """)

  @Argument(help: "The trace file (JSON lines), or - for standard input.")
  var trace: String

  @Option(help: "Print this fd's timeline step by step.")
  var fd: Int?

  @Option(help: "Print this task's timeline step by step.")
  var task: Int?

  func validate() throws {
    if let fd, fd < 0 { throw ValidationError("--fd must be a non-negative fd number") }
  }

  func run() async throws {
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
}
