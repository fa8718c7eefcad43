import NetPoll
import NetPollAnalysis
import NetPollServer

/// The client side of a server trace, reconstructed from what the server did: its connections in
/// accept order and, for each, the requests it read and the responses it wrote.
///
/// Bytes come from `read`/`write` return values, or in completion mode from RECV/SEND `uring_cqe.res`
/// paired with their `uring_sqe` by `user_data` (docs/trace-format.md, "Counting in completion
/// mode"). EAGAIN reads and writes carry no bytes and are skipped; consecutive reads (a request that
/// arrived in pieces) fold into one request, consecutive writes into one response.
public struct RecordedWorkload: Sendable {
  /// How the recorded server was started, from `trace_start.command`.
  public var settings: ServerSettings
  /// `trace_start.backend`.
  public var backend: String
  /// Connections in accept order.
  public var connections: [RecordedConnection]

  /// `ts` of the first accept (0 when nothing was accepted): the origin of the replay schedule.
  public var firstAcceptNs: Int { connections.first?.acceptNs ?? 0 }
  /// Bytes the server read, over all connections.
  public var bytesIn: Int { connections.reduce(0) { $0 + $1.bytesIn } }
  /// Bytes the server wrote, over all connections.
  public var bytesOut: Int { connections.reduce(0) { $0 + $1.bytesOut } }

  /// Reads the server trace at `path` (streaming; memory grows with connections and requests).
  public static func read(path: String) throws(TraceError) -> RecordedWorkload {
    let reader = try TraceReader(path: path)
    var builder = Builder()
    while let event = try reader.next() { builder.consume(event) }
    var settings = ServerSettings(command: reader.header.command)
    if settings.proto == nil {
      // No --protocol on the command line: the server's default, unless it did not just echo.
      let echoes = builder.connections.allSatisfy {
        $0.exchanges.allSatisfy { $0.requestBytes == $0.responseBytes }
      }
      settings.proto = echoes ? .echo : .http
    }
    return RecordedWorkload(
      settings: settings, backend: reader.header.backend, connections: builder.connections)
  }

  /// The state of a pass over the events.
  struct Builder {
    var connections: [RecordedConnection] = []
    /// Connection fd → index in `connections`, from accept to close.
    var open: [Int: Int] = [:]
    var listeners: Set<Int> = []
    /// Set once a listener is closed: the server is stopping, so later closes are its doing.
    var stopping = false
    /// `uring_sqe.user_data` → `op`, latest submission wins; dropped at the request's last CQE.
    var operations: [UInt64: String] = [:]

    mutating func consume(_ e: TraceEvent) {
      switch e.body {
      case .socketCall(let call):
        switch call.syscall {
        case .accept:
          listeners.insert(call.fd)
          if call.ret >= 0 { accepted(fd: call.ret, ts: e.ts) }
        case .read: moved(fd: call.fd, ret: call.ret, errno: e.errno, ts: e.ts, isRead: true)
        case .write: moved(fd: call.fd, ret: call.ret, errno: e.errno, ts: e.ts, isRead: false)
        case .close: closed(fd: call.fd)
        default: break
        }
      case .uringSubmission(let op, let fd, let userData):
        operations[userData] = op
        if op == "ACCEPT" { listeners.insert(fd) }
      case .uringCompletion(let userData, let res, let fd, let more):
        guard let op = more ? operations[userData] : operations.removeValue(forKey: userData) else { return }
        switch op {
        case "ACCEPT" where res >= 0: accepted(fd: res, ts: e.ts)
        case "RECV": moved(fd: fd, ret: res, errno: e.errno, ts: e.ts, isRead: true)
        case "SEND": moved(fd: fd, ret: res, errno: e.errno, ts: e.ts, isRead: false)
        default: break
        }
      default: break
      }
    }

    private mutating func accepted(fd: Int, ts: Int) {
      open[fd] = connections.count
      connections.append(RecordedConnection(acceptNs: ts))
    }

    private mutating func moved(fd: Int, ret: Int, errno: String?, ts: Int, isRead: Bool) {
      guard let i = open[fd] else { return }
      if ret > 0 {
        if isRead {
          connections[i].received(ret, at: ts)
        } else {
          connections[i].sent(ret)
        }
      } else if isRead && ret == 0 && errno == nil {
        if connections[i].end == nil { connections[i].end = .halfClose }
      } else if errno == "ECONNRESET" {
        if connections[i].end == nil { connections[i].end = .reset }
      }
    }

    private mutating func closed(fd: Int) {
      if listeners.contains(fd) && open[fd] == nil { stopping = true }
      guard let i = open.removeValue(forKey: fd) else { return }
      if connections[i].end == nil { connections[i].end = stopping ? .openAtEnd : .serverClose }
    }
  }
}

/// One accepted connection of a recorded (or replayed) server.
public struct RecordedConnection: Sendable, Equatable {
  /// `ts` of the accept (the ACCEPT completion in completion mode).
  public var acceptNs: Int
  /// Request/response pairs in order.
  public var exchanges: [Exchange] = []
  /// How the connection ended; `nil` while it was still open when the trace ended.
  public var end: ConnectionEnd?

  /// Bytes the server read.
  public var bytesIn: Int { exchanges.reduce(0) { $0 + $1.requestBytes } }
  /// Bytes the server wrote.
  public var bytesOut: Int { exchanges.reduce(0) { $0 + $1.responseBytes } }

  init(acceptNs: Int) { self.acceptNs = acceptNs }

  mutating func received(_ bytes: Int, at ts: Int) {
    if let last = exchanges.last, last.responseBytes == 0 {
      exchanges[exchanges.count - 1].requestBytes += bytes
    } else {
      exchanges.append(Exchange(requestBytes: bytes, responseBytes: 0, arrivalNs: ts))
    }
  }

  mutating func sent(_ bytes: Int) {
    if exchanges.isEmpty {
      exchanges.append(Exchange(requestBytes: 0, responseBytes: 0, arrivalNs: acceptNs))
    }
    exchanges[exchanges.count - 1].responseBytes += bytes
  }
}

/// A request the server read (possibly in pieces) and the response it wrote before reading again.
public struct Exchange: Sendable, Equatable {
  /// Bytes read.
  public var requestBytes: Int
  /// Bytes written in reply (0 if the server read again, or the peer left, without writing).
  public var responseBytes: Int
  /// `ts` of the request's first read: when it arrived.
  public var arrivalNs: Int
}

/// How a connection ended, as the server saw it.
public enum ConnectionEnd: String, Sendable, Equatable {
  /// The server read end-of-stream: the client shut down or closed its side first.
  case halfClose = "half-close"
  /// A read failed with ECONNRESET: the client reset the connection.
  case reset
  /// The server closed it while still serving (a deadline fired, or the protocol said close).
  case serverClose = "server-close"
  /// Still open when the server was stopped (closed after its listener).
  case openAtEnd = "open-at-end"
}

/// The `netpoll serve` options a live replay needs, parsed from `trace_start.command`.
public struct ServerSettings: Sendable, Equatable {
  /// `--protocol`; `nil` if the command did not say.
  public var proto: ServerProtocol?
  /// `--idle-timeout-ms`.
  public var idleTimeoutMs: Int?
  /// `--write-timeout-ms`.
  public var writeTimeoutMs: Int?
  /// `--workers`.
  public var workers: Int?
  /// `--max-connections`.
  public var maxConnections: Int?

  /// Reads the options from a command line (`--name value` or `--name=value`); others are ignored.
  public init(command: String) {
    var values: [String: String] = [:]
    let words = command.split(separator: " ").map(String.init)
    var i = 0
    while i < words.count {
      let word = words[i]
      if word.hasPrefix("--"), let eq = word.firstIndex(of: "=") {
        values[String(word[..<eq])] = String(word[word.index(after: eq)...])
      } else if word.hasPrefix("--"), i + 1 < words.count {
        values[word] = words[i + 1]
      }
      i += 1
    }
    proto = values["--protocol"].flatMap(ServerProtocol.init(rawValue:))
    idleTimeoutMs = values["--idle-timeout-ms"].flatMap { Int($0) }
    writeTimeoutMs = values["--write-timeout-ms"].flatMap { Int($0) }
    workers = values["--workers"].flatMap { Int($0) }
    maxConnections = values["--max-connections"].flatMap { Int($0) }
  }

  /// The `netpoll serve` options these settings stand for.
  public var serveArguments: String {
    var words = ["--protocol", (proto ?? .echo).rawValue]
    if let workers { words += ["--workers", "\(workers)"] }
    if let idleTimeoutMs { words += ["--idle-timeout-ms", "\(idleTimeoutMs)"] }
    if let writeTimeoutMs { words += ["--write-timeout-ms", "\(writeTimeoutMs)"] }
    if let maxConnections { words += ["--max-connections", "\(maxConnections)"] }
    return words.joined(separator: " ")
  }
}
