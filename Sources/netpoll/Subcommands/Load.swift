import ArgumentParser
import NetPoll
import NetPollServer

/// `netpoll load`: the echo load generator.
struct Load: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Drive an echo server: N connections x M requests, every byte verified.",
    discussion: "Exits non-zero if any request fails or any echoed byte differs.")

  @OptionGroup var runtimeOptions: RuntimeOptions

  @Option(help: "Server address, HOST:PORT.")
  var connect: String

  @Option(help: "Concurrent connections.")
  var connections = 64

  @Option(help: "Requests per connection.")
  var requests = 100

  @Option(help: "Bytes per request.")
  var size = 1024

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func validate() throws {
    guard connections > 0 else { throw ValidationError("--connections must be at least 1") }
    guard requests > 0 else { throw ValidationError("--requests must be at least 1") }
    guard size > 0, size <= 64 << 20 else { throw ValidationError("--size must be 1 ... 67108864") }
  }

  func run() async throws {
    let address = try parseAddress(connect, option: "--connect")
    let session = try TraceSession(runtimeOptions, command: CommandLine.arguments.joined(separator: " "))
    let load = LoadGenerator(address: address, connections: connections, requests: requests, size: size)
    let report = await session.runtime.run { await load.run(on: session.runtime) }
    session.finish()
    if json {
      print(
        """
        {"requests":\(report.requests),"bytes":\(report.bytes),"errors":\(report.errors.count),\
        "seconds":\(report.seconds),"requests_per_second":\(Int(report.requestsPerSecond)),\
        "latency_us":{"p50":\(report.latencyMicros(0.5)),"p90":\(report.latencyMicros(0.9)),\
        "p99":\(report.latencyMicros(0.99)),"p999":\(report.latencyMicros(0.999)),"max":\(report.latencyMicros(1))}}
        """)
    } else {
      print(
        "\(report.requests) requests, \(report.bytes) bytes in \(String(format3: report.seconds)) s: "
          + "\(Int(report.requestsPerSecond)) req/s")
      print(
        "latency us: p50 \(String(format3: report.latencyMicros(0.5))) p90 \(String(format3: report.latencyMicros(0.9))) "
          + "p99 \(String(format3: report.latencyMicros(0.99))) p99.9 \(String(format3: report.latencyMicros(0.999))) "
          + "max \(String(format3: report.latencyMicros(1)))")
    }
    if !report.errors.isEmpty {
      for e in report.errors.prefix(10) { printError("netpoll load: \(e)") }
      if report.errors.count > 10 { printError("netpoll load: ... \(report.errors.count - 10) more errors") }
      throw ExitCode.failure
    }
  }
}
