import ArgumentParser
import NetPoll
import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// Options shared by every command that runs the runtime.
struct RuntimeOptions: ParsableArguments {
  @Option(
    help: """
      Kernel interface: \(BackendChoice.allCases.map(\.rawValue).joined(separator: ", ")) \
      (auto: io_uring if this machine allows it, else epoll, with the reason in the trace).
      """)
  var backend: BackendChoice = .epoll

  @Option(help: "Write a JSON-lines trace to this file (created 0600; never through a symlink).")
  var trace: String?

  @Flag(help: "Overwrite the trace file if it exists.")
  var force = false

  @Option(help: "Worker threads (default: one per core).")
  var workers: Int?

  @Option(
    help: """
      Flight-recorder mode: keep only the last SIZE of events in memory (e.g. 8M, 64MiB) and \
      write nothing until a dump (SIGUSR1, or --dump-on-wake-latency); each dump is a new \
      trace file beside --trace PATH (PATH without .jsonl, then -flight-N.jsonl).
      """)
  var flightRecorder: String?

  @Option(
    help: "With --flight-recorder: dump when a park→wake takes longer than this (e.g. 10ms).")
  var dumpOnWakeLatency: String?

  /// The flight-recorder settings, checked: nil when it is off.
  func validateFlight() throws -> (bytes: Int, trigger: UInt64?)? {
    guard let flightRecorder else {
      if dumpOnWakeLatency != nil {
        throw ValidationError("--dump-on-wake-latency needs --flight-recorder SIZE")
      }
      return nil
    }
    guard trace != nil else {
      throw ValidationError("--flight-recorder needs --trace PATH: dumps are written beside it")
    }
    guard let bytes = Units.bytes(flightRecorder), bytes >= 64 * 1024 else {
      throw ValidationError(
        "--flight-recorder: '\(flightRecorder)' is not a size of at least 64K (e.g. 8M, 64MiB)")
    }
    var trigger: UInt64?
    if let text = dumpOnWakeLatency {
      guard let ns = Units.nanoseconds(text), ns > 0 else {
        throw ValidationError("--dump-on-wake-latency: '\(text)' is not a duration (e.g. 10ms, 1.5s)")
      }
      trigger = ns
    }
    return (bytes, trigger)
  }
}

extension BackendChoice: ExpressibleByArgument {}

/// A runtime with its (optional) trace recorder and writer, ended together.
struct TraceSession {
  let runtime: NetPollRuntime
  let writer: TraceWriter?
  let flight: FlightRecorder?

  init(_ options: RuntimeOptions, command: String) throws {
    if let workers = options.workers, workers < 1 {
      throw ValidationError("--workers must be at least 1")
    }
    let (backend, backendNote) = options.backend.resolve()
    let flightOptions = try options.validateFlight()
    var writer: TraceWriter?
    var recorder: TraceRecorder?
    var flight: FlightRecorder?
    if let path = options.trace, let flightOptions {
      let r = TraceRecorder()
      flight = FlightRecorder(
        recorder: r, bytes: flightOptions.bytes, basePath: path,
        header: .init(backend: backend.rawValue, command: command, backendNote: backendNote),
        wakeLatencyTrigger: flightOptions.trigger)
      FlightRecorder.installDumpSignal()
      recorder = r
    } else if let path = options.trace {
      let r = TraceRecorder()
      do {
        writer = try TraceWriter(
          path: path, recorder: r, backend: backend.rawValue, command: command,
          backendNote: backendNote, overwrite: options.force)
      } catch {
        throw CleanExit.message("netpoll: trace \(error)", failing: true)
      }
      recorder = r
    }
    do {
      runtime = try NetPollRuntime(backend: backend, recorder: recorder, workers: options.workers)
    } catch {
      writer?.finish()
      flight?.finish()
      throw CleanExit.message("netpoll: backend \(backend): \(error)", failing: true)
    }
    self.writer = writer
    self.flight = flight
  }

  /// Stops the runtime, then ends the trace.
  func finish() {
    runtime.shutdown()
    flight?.finish()
    if let writer {
      let dropped = writer.finish()
      if dropped > 0 { printError("netpoll: trace \(writer.path): \(dropped) events dropped") }
    }
  }
}

func parseAddress(_ text: String, option: String) throws -> SocketAddress {
  do {
    return try SocketAddress(text)
  } catch {
    throw ValidationError("\(option): '\(text)' is not HOST:PORT (IPv6 as [ADDR]:PORT)")
  }
}

func printError(_ message: String) {
  var line = message + "\n"
  line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}

func fflushStdout() { fflush(nil) }  // nil flushes every stdio stream, stdout included

extension String {
  /// `x` with three decimals.
  init(format3 x: Double) {
    let scaled = (x * 1000).rounded()
    let whole = Int(scaled) / 1000
    let frac = abs(Int(scaled) % 1000)
    self = "\(whole).\(String(repeating: "0", count: 3 - String(frac).count))\(frac)"
  }
}

/// An error the CLI prints as one line and exits non-zero with, without a stack trace.
enum CleanExit {
  static func message(_ text: String, failing: Bool) -> Error {
    printError(text)
    return ExitCode.failure
  }
}
