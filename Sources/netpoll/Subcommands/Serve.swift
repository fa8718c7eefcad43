import ArgumentParser
import NetPoll
import NetPollServer
import NetPollTrace

/// `netpoll serve`: a traced echo or HTTP server.
struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run an echo or HTTP server on the netpoll runtime, optionally traced.",
    discussion: """
      Prints "listening on HOST:PORT" once bound. SIGINT or SIGTERM stops it: every parked task \
      is woken with reason "close", the trace is flushed and ended, and the exit status is 0.
      """)

  @OptionGroup var runtimeOptions: RuntimeOptions

  @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
  var listen = "127.0.0.1:0"

  @Option(name: .customLong("protocol"), help: "echo or http.")
  var proto: ServerProtocol = .echo

  @Option(help: "Connections beyond this many are closed on accept.")
  var maxConnections = 10_000

  @Option(help: "Close a connection idle for this many milliseconds (a read deadline).")
  var idleTimeoutMs: Int?

  @Option(
    help: "Close a connection whose reply cannot be written for this many milliseconds (a write deadline).")
  var writeTimeoutMs: Int?

  func validate() throws {
    guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1") }
    if let idleTimeoutMs, idleTimeoutMs <= 0 { throw ValidationError("--idle-timeout-ms must be at least 1") }
    if let writeTimeoutMs, writeTimeoutMs <= 0 {
      throw ValidationError("--write-timeout-ms must be at least 1")
    }
  }

  func run() async throws {
    let address = try parseAddress(listen, option: "--listen")
    let session = try TraceSession(runtimeOptions, command: CommandLine.arguments.joined(separator: " "))
    let server: Server
    do {
      server = try Server(
        runtime: session.runtime, address: address, protocol: proto, maxConnections: maxConnections,
        idleTimeout: idleTimeoutMs.map { .milliseconds($0) },
        writeTimeout: writeTimeoutMs.map { .milliseconds($0) })
    } catch {
      session.finish()
      throw CleanExit.message("netpoll serve: \(listen): \(error)", failing: true)
    }
    try StopSignals.install { _ in server.stop() }
    print("listening on \(server.localAddress)")
    fflushStdout()
    await session.runtime.run { await server.run() }
    session.finish()
  }
}

extension ServerProtocol: ExpressibleByArgument {}
