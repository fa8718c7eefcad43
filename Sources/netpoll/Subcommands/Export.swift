import ArgumentParser
import NetPollAnalysis

/// `netpoll export TRACE --format perfetto -o OUT.json`: converts a trace for a timeline viewer.
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert a trace to Chrome Trace Event JSON for ui.perfetto.dev.",
    discussion: "Exit status 2 if the input is not a readable trace or the output cannot be written.")

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

  func run() async throws {
    do {
      try PerfettoExport.run(input: trace, output: output, force: force)
    } catch {
      printToStandardError(error.description)
      throw ExitCode(2)
    }
  }
}
