import ArgumentParser
import NetPollAnalysis

/// `netpoll diff A B`: two traces' figures side by side, with findings in words and where the
/// typical connection's event sequence first differs.
struct Diff: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare two traces: figures side by side with B/A, findings, connection alignment.",
    discussion: "Exit status 2 if either input is not a readable trace.")

  @Argument(help: "The baseline trace (A).")
  var a: String

  @Argument(help: "The trace to compare (B).")
  var b: String

  @Flag(help: "Print one JSON object (stable key order).")
  var json = false

  @Flag(help: "Print Markdown tables.")
  var markdown = false

  @Option(
    name: .customLong("html"),
    help: ArgumentHelp(
      "Also write a self-contained HTML report with charts to this file.", valueName: "REPORT.html"))
  var htmlPath: String?

  @Flag(help: "Replace the --html file if it exists (never one of the traces).")
  var force = false

  func validate() throws {
    if json && markdown { throw ValidationError("--json and --markdown exclude each other") }
  }

  func run() async throws {
    let diff: TraceDiff
    do {
      if let htmlPath {
        // Refused before the traces are read; the page and the printed figures come from one
        // `TraceDiff`, so they cannot disagree.
        try checkOutputPath(htmlPath, inputs: [a, b], force: force)
        let report = try HTMLReport.run(pathA: a, pathB: b)
        try report.write(to: htmlPath, force: force)
        diff = report.diff
      } else {
        diff = try TraceDiff.run(pathA: a, pathB: b)
      }
    } catch {
      printToStandardError(error.description)
      throw ExitCode(2)
    }
    if json {
      print(diff.json.text(indent: true))
    } else {
      print(markdown ? diff.markdown(fileA: a, fileB: b) : diff.text(fileA: a, fileB: b), terminator: "")
    }
  }
}
