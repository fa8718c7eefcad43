import ArgumentParser
import NetPollAnalysis

/// `netpoll stats TRACE`: counts, batching, EAGAIN share, syscalls per request and latency
/// histograms of one trace.
struct Stats: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a trace's figures: counts, errno, batching, syscalls per request, latencies.",
    discussion: """
      A request is a read with data on a connection fd (accepted or connected). Latencies are HDR
      histograms (p50, p90, p99, p99.9, max). A trace of source ebpf has no park/wake/stale events:
      those figures are printed as not recorded (null in --json, listed in not_recorded). Exit status
      2 if the input is not a readable trace.
      """)

  @Argument(help: "The trace file (JSON lines), or - for standard input.")
  var trace: String

  @Flag(help: "Print one JSON object with the same figures (stable key order).")
  var json = false

  func run() async throws {
    let report: StatsReport
    do {
      report = try TraceStats.run(path: trace)
    } catch {
      printToStandardError(error.description)
      throw ExitCode(2)
    }
    print(json ? report.json.text(indent: true) : report.text(file: trace), terminator: json ? "\n" : "")
  }
}
