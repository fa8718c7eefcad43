import NetPoll
import NetPollAnalysis
import NetPollServer
import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// What a live replay runs on and how fast.
public struct LiveReplayOptions: Sendable {
  /// The backend the fresh server runs on.
  public var backend: Backend
  /// Recorded time is divided by this (2 = twice as fast); `nil` sends as fast as possible.
  public var speed: Double?
  /// Where the new server trace goes; `nil` writes a temporary file and removes it afterwards.
  public var tracePath: String?
  /// Overwrite `tracePath` if it exists.
  public var overwrite: Bool
  /// `trace_start.command` of the new trace is the equivalent `netpoll serve` command followed by
  /// this note (the replay's own command line, say).
  public var note: String

  /// Options for a replay on `backend`.
  public init(
    backend: Backend, speed: Double? = 1, tracePath: String? = nil, overwrite: Bool = false, note: String = ""
  ) {
    self.backend = backend
    self.speed = speed
    self.tracePath = tracePath
    self.overwrite = overwrite
    self.note = note
  }
}

/// Why a live replay could not run.
public struct LiveReplayError: Error, CustomStringConvertible {
  /// One line, naming what failed.
  public var description: String
}

/// Live replay: re-drives the client side of a recorded server trace against a fresh in-process
/// `Server` on any backend, records the new server's trace, and compares the two.
///
/// The server runs on a traced runtime on the chosen backend; the clients run on a second,
/// untraced epoll runtime with one worker, so the new trace holds the server's calls only, as the
/// original did. Connections are opened one after another in the recorded accept order (each
/// `connect` returns once the handshake is in the listener's queue, so the server accepts them in
/// that order); each then sends its requests at the recorded arrival times scaled by the speed,
/// waits for each response's recorded size, and ends as the original did.
public enum LiveReplay {
  /// Replays the trace at `path` and returns the fidelity report.
  /// The new trace (`options.tracePath`) is refused before anything runs when it is the input
  /// trace by any name (a hard link, `./` detours, a linked directory), even with `overwrite`: the
  /// recorder's writer truncates the file it opens, and the trace being replayed would be lost.
  public static func run(path: String, options: LiveReplayOptions) async throws -> LiveReplayReport {
    if let tracePath = options.tracePath {
      // Checked by path; the recorder's writer then opens it (O_NOFOLLOW, and O_EXCL unless
      // overwrite): a file swapped in between the two is not caught here.
      do {
        try checkOutputPath(tracePath, inputs: [path], force: options.overwrite)
      } catch {
        throw LiveReplayError(description: error.description)
      }
    }
    let original: RecordedWorkload
    do {
      original = try RecordedWorkload.read(path: path)
    } catch {
      throw LiveReplayError(description: error.description)
    }
    guard options.backend.isAvailable else {
      throw LiveReplayError(
        description:
          "netpoll: backend \(options.backend): \(options.backend.unavailableReason ?? "unavailable")")
    }
    let outPath = options.tracePath ?? temporaryTracePath()
    let settings = original.settings
    let proto = settings.proto ?? .echo
    let recorder = TraceRecorder()
    let command =
      "netpoll serve --backend \(options.backend.rawValue) \(settings.serveArguments) --listen 127.0.0.1:0"
      + (options.note.isEmpty ? "" : " (\(options.note))")
    let writer: TraceWriter
    do {
      writer = try TraceWriter(
        path: outPath, recorder: recorder, backend: options.backend.rawValue, command: command,
        overwrite: options.overwrite || options.tracePath == nil)
    } catch {
      throw LiveReplayError(description: "netpoll: trace \(error)")
    }
    let clock = ContinuousClock()
    let started = clock.now
    var outcome = ClientOutcome()
    do {
      let serverRuntime = try NetPollRuntime(
        backend: options.backend, recorder: recorder, workers: settings.workers)
      let clientRuntime = try NetPollRuntime(backend: .epoll, recorder: nil, workers: 1)
      let server: Server
      do {
        server = try Server(
          runtime: serverRuntime, address: try SocketAddress("127.0.0.1:0"), protocol: proto,
          maxConnections: settings.maxConnections ?? 10_000,
          idleTimeout: settings.idleTimeoutMs.map { .milliseconds($0) },
          writeTimeout: settings.writeTimeoutMs.map { .milliseconds($0) })
      } catch {
        serverRuntime.shutdown()
        clientRuntime.shutdown()
        throw error
      }
      // Spawned on the server's own workers. `Task { await serverRuntime.run { ... } }` ran its
      // first step on Swift's global pool, one thread per core, which a busy process (the test
      // suite) fills: the server then started accepting 15-24 s late, after every client had
      // given up waiting for its first response (10 s), which looked like a uring stall.
      let serving = serverRuntime.spawn { await server.run() }
      let driver = ClientDriver(
        workload: original, address: server.localAddress, proto: proto, speed: options.speed,
        runtime: clientRuntime)
      outcome = await clientRuntime.run { await driver.run() }
      server.stop()
      await serving.value
      for connection in outcome.held { connection.close() }
      serverRuntime.shutdown()
      clientRuntime.shutdown()
    } catch {
      writer.finish()
      if options.tracePath == nil { unlink(outPath) }
      throw LiveReplayError(description: "netpoll: backend \(options.backend): \(error)")
    }
    let elapsed = clock.now - started
    let dropped = writer.finish()
    defer { if options.tracePath == nil { unlink(outPath) } }
    let replayed: RecordedWorkload
    do {
      replayed = try RecordedWorkload.read(path: outPath)
    } catch {
      throw LiveReplayError(description: error.description)
    }
    return LiveReplayReport(
      original: original, replayed: replayed, backend: options.backend, speed: options.speed,
      tracePath: options.tracePath, clientErrors: outcome.errors, droppedEvents: Int(dropped),
      elapsedSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
  }

  private static func temporaryTracePath() -> String {
    "/tmp/netpoll-live-replay-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
  }
}

/// What the clients did: errors, and the connections the original kept open until the server
/// stopped (closed after it is stopped).
struct ClientOutcome: Sendable {
  var errors: [String] = []
  var held: [TCPConnection] = []
}

/// Drives the reconstructed clients on the client runtime.
struct ClientDriver: Sendable {
  let workload: RecordedWorkload
  let address: SocketAddress
  let proto: ServerProtocol
  let speed: Double?
  let runtime: NetPollRuntime
  /// How long a client waits for a response or the server's close before giving up, so a server
  /// that answers differently from the recorded one fails the replay instead of hanging it.
  static let responseTimeout: Duration = .seconds(10)

  func run() async -> ClientOutcome {
    let origin = ContinuousClock.now
    var outcome = ClientOutcome()
    await withTaskGroup(of: ClientOutcome.self) { group in
      for (index, recorded) in workload.connections.enumerated() {
        await sleep(until: recorded.acceptNs, from: origin)
        let connection: TCPConnection
        do {
          connection = try await TCPConnection.connect(to: address, on: runtime)
        } catch {
          outcome.errors.append("connection \(index + 1): connect: \(error)")
          continue
        }
        group.addTask {
          await runtime.spawn { await self.drive(connection, recorded, index: index, origin: origin) }.value
        }
      }
      for await partial in group {
        outcome.errors += partial.errors
        outcome.held += partial.held
      }
    }
    return outcome
  }

  /// Waits until the recorded time `ns` (scaled) after `origin`; returns at once with no speed.
  private func sleep(until ns: Int, from origin: ContinuousClock.Instant) async {
    guard let speed else { return }
    let offset = Double(ns - workload.firstAcceptNs) / speed
    guard offset > 0 else { return }
    try? await Task.sleep(until: origin + .nanoseconds(Int64(offset)), clock: .continuous)
  }

  private func drive(
    _ connection: TCPConnection, _ recorded: RecordedConnection, index: Int, origin: ContinuousClock.Instant
  ) async -> ClientOutcome {
    var outcome = ClientOutcome()
    let name = "connection \(index + 1)"
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    defer { scratch.deallocate() }
    do throws(NetPollError) {
      for (r, exchange) in recorded.exchanges.enumerated() {
        await sleep(until: exchange.arrivalNs, from: origin)
        if exchange.requestBytes > 0 {
          try await connection.write(request(exchange.requestBytes, connection: index, number: r))
        }
        var got = 0
        connection.setReadDeadline(after: Self.responseTimeout)
        while got < exchange.responseBytes {
          let n = try await connection.read(
            into: UnsafeMutableRawBufferPointer(
              rebasing: scratch[0..<min(scratch.count, exchange.responseBytes - got)]))
          if n == 0 {
            outcome.errors.append(
              "\(name) request \(r + 1): closed after \(got) of \(exchange.responseBytes) bytes")
            connection.close()
            return outcome
          }
          got += n
        }
      }
      connection.setReadDeadline(after: Self.responseTimeout)
      switch recorded.end {
      case .halfClose?:
        try connection.shutdownWrite()
        try await drain(connection, scratch)
        connection.close()
      case .reset?:
        // The client runtime is untraced, so this one call may go around its Syscalls layer:
        // SO_LINGER 0 makes the close send RST, as the original client's did.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(
          connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        connection.close()
      case .serverClose?:
        try await drain(connection, scratch)
        connection.close()
      case .openAtEnd?, nil:
        outcome.held.append(connection)
      }
    } catch {
      outcome.errors.append("\(name): \(error)")
      connection.close()
    }
    return outcome
  }

  /// Reads until the server closes; bytes beyond the recorded responses are ignored.
  private func drain(_ connection: TCPConnection, _ scratch: UnsafeMutableRawBufferPointer)
    async throws(NetPollError)
  {
    do {
      while try await connection.read(into: scratch) > 0 {}
    } catch .system(_, .connectionReset) {
      return
    }
  }

  /// A request of exactly `size` bytes: for HTTP a GET whose path pads it to size; for echo a
  /// pattern unique to the connection and request.
  private func request(_ size: Int, connection: Int, number: Int) -> [UInt8] {
    switch proto {
    case .http:
      let bare = "GET / HTTP/1.1\r\n\r\n".utf8.count
      guard size >= bare else { return Array(repeating: UInt8(ascii: "x"), count: size) }
      return Array("GET /\(String(repeating: "a", count: size - bare)) HTTP/1.1\r\n\r\n".utf8)
    case .echo:
      return (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ number &* 7 &+ connection &* 13) }
    }
  }
}
