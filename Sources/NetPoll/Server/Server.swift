import Synchronization

/// What a ``Server`` speaks.
public enum ServerProtocol: String, Sendable, CaseIterable {
  /// Writes back every byte it reads.
  case echo
  /// Answers every HTTP/1.1 request with a small 200 response, keeping the connection alive.
  case http
}

/// A TCP server on the runtime: an accept loop that starts one task per connection, running the
/// echo or HTTP protocol, and a ``stop()`` that wakes every parked task with reason "close".
public final class Server: Sendable {
  public let runtime: NetPollRuntime
  public let proto: ServerProtocol
  let listener: TCPListener
  let maxConnections: Int
  let idleTimeout: Duration?
  private let connections = Mutex<[Int32: TCPConnection]>([:])
  private let stopping = Atomic<Bool>(false)
  /// Counts accept failures for running out of fds; logged on the first of each episode.
  private let exhausted = Atomic<Bool>(false)

  /// Listens on `address`.
  /// - Parameters:
  ///   - maxConnections: connections beyond this many are closed as soon as they are accepted.
  ///   - idleTimeout: a read deadline armed before every read; an idle client is cut.
  public init(
    runtime: NetPollRuntime, address: SocketAddress, protocol proto: ServerProtocol,
    maxConnections: Int = 10_000, idleTimeout: Duration? = nil
  ) throws(NetPollError) {
    self.runtime = runtime
    self.proto = proto
    self.maxConnections = maxConnections
    self.idleTimeout = idleTimeout
    listener = try TCPListener(on: runtime, address: address)
  }

  /// The bound address (with the real port when port 0 was asked for).
  public var localAddress: SocketAddress { listener.localAddress }

  /// Connections open right now.
  public var connectionCount: Int { connections.withLock { $0.count } }

  /// Accepts and serves connections until ``stop()``; returns when every connection has ended.
  public func run() async {
    await withDiscardingTaskGroup { group in
      while !stopping.load(ordering: .acquiring) {
        let connection: TCPConnection
        do throws(NetPollError) {
          connection = try await listener.accept()
        } catch .closed {
          break
        } catch let .system(_, errno) where errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem {
          if !exhausted.exchange(true, ordering: .relaxed) {
            Log.warning("accept: \(errno); backing off until fds are free")
          }
          try? await Task.sleep(for: .milliseconds(10))
          continue
        } catch .system(_, .connectionAborted) {
          continue
        } catch {
          Log.warning("accept: \(error)")
          try? await Task.sleep(for: .milliseconds(10))
          continue
        }
        exhausted.store(false, ordering: .relaxed)
        let admitted = connections.withLock { c -> Bool in
          guard c.count < maxConnections, !stopping.load(ordering: .acquiring) else { return false }
          c[connection.fd] = connection
          return true
        }
        guard admitted else {
          connection.close()
          continue
        }
        group.addTask { [self] in
          await runtime.spawn { [self] in await serve(connection) }.result
        }
      }
    }
  }

  private func serve(_ connection: TCPConnection) async {
    defer {
      _ = connections.withLock { $0.removeValue(forKey: connection.fd) }
      connection.close()
    }
    switch proto {
    case .echo: await EchoHandler(connection: connection, idleTimeout: idleTimeout).run()
    case .http: await HTTPHandler(connection: connection, idleTimeout: idleTimeout).run()
    }
  }

  /// Stops accepting and closes every connection; parked tasks wake with reason "close".
  public func stop() {
    guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
    listener.close()
    let open = connections.withLock { Array($0.values) }
    for c in open { c.close() }
  }
}

/// One-line diagnostics on stderr.
enum Log {
  static func warning(_ message: String) {
    var line = "netpoll: \(message)\n"
    line.withUTF8 { buf in _ = writeStderr(buf) }
  }
}
