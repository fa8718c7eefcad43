import ArgumentParser
import NetPollAnalysis

/// `netpoll export TRACE --format perfetto -o OUT.json`: converts a trace for a timeline viewer.
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert a trace to Chrome Trace Event JSON for ui.perfetto.dev.",
    discussion: """
      --from and --to take a time on the trace clock (its ts): nanoseconds, or a number with a unit
      (ns, us, ms, s), e.g. --from 1.5s --to 1800ms. Exit status 2 if the input is not a readable
      trace, a time is not one, or the output cannot be written.
      """)

  /// Output formats.
  enum Format: String, ExpressibleByArgument, CaseIterable {
    case perfetto
  }

  @Argument(help: "The trace file (JSON lines), or - for standard input.")
  var trace: String

  @Option(help: "Output format.")
  var format: Format = .perfetto

  @Option(
    name: .shortAndLong,
    help: "Output file, or - for standard output. Never the input, never through a symbolic link.")
  var output: String

  @Flag(help: "Replace the output file if it exists (never the input trace).")
  var force = false

  @Option(help: ArgumentHelp("Export only events at or after this time.", valueName: "TIME"))
  var from: String?

  @Option(help: ArgumentHelp("Export only events at or before this time.", valueName: "TIME"))
  var to: String?

  func run() async throws {
    var window = ExportWindow()
    for (name, text) in [("--from", from), ("--to", to)] {
      guard let text else { continue }
      guard let ns = parseTraceTime(text) else {
        printToStandardError(
          "\(name): '\(text)' is not a time (nanoseconds, or a number with ns, us, ms or s)")
        throw ExitCode(2)
      }
      if name == "--from" { window.from = ns } else { window.to = ns }
    }
    do {
      try PerfettoExport.run(input: trace, output: output, force: force, window: window)
    } catch {
      printToStandardError(error.description)
      throw ExitCode(2)
    }
  }
}
