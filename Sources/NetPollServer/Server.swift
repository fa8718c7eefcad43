import NetPoll
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
  let writeTimeout: Duration?
  private let connections = Mutex<[Int32: TCPConnection]>([:])
  private let stopping = Atomic<Bool>(false)
  /// Set while accept fails for want of fds: the first failure of an episode is logged, the rest
  /// are counted in ``acceptBackoffs``.
  private let exhausted = Atomic<Bool>(false)
  private let backoffs = Atomic<Int>(0)
  private let refused = Atomic<Int>(0)
  /// The longest pause between accept attempts while fds are exhausted.
  static let maxBackoff: Duration = .milliseconds(100)

  /// Listens on `address`.
  /// - Parameters:
  ///   - maxConnections: connections beyond this many are closed as soon as they are accepted.
  ///   - idleTimeout: a read deadline: an echo connection is cut when a read waits this long; an
  ///     HTTP connection when a request head takes longer than this to arrive (so a client that
  ///     trickles a head byte by byte is cut too).
  ///   - writeTimeout: a write deadline armed before every reply; a client that stops reading is
  ///     cut once its socket buffer stays full this long.
  public init(
    runtime: NetPollRuntime, address: SocketAddress, protocol proto: ServerProtocol,
    maxConnections: Int = 10_000, idleTimeout: Duration? = nil, writeTimeout: Duration? = nil
  ) throws(NetPollError) {
    self.runtime = runtime
    self.proto = proto
    self.maxConnections = maxConnections
    self.idleTimeout = idleTimeout
    self.writeTimeout = writeTimeout
    listener = try TCPListener(on: runtime, address: address)
  }

  /// The bound address (with the real port when port 0 was asked for).
  public var localAddress: SocketAddress { listener.localAddress }

  /// Connections open right now.
  public var connectionCount: Int { connections.withLock { $0.count } }

  /// Accept attempts that failed with EMFILE or ENFILE (each one followed by a pause).
  public var acceptBackoffs: Int { backoffs.load(ordering: .relaxed) }

  /// Connections closed on accept because ``maxConnections`` were open.
  public var refusedConnections: Int { refused.load(ordering: .relaxed) }

  /// Accepts and serves connections until ``stop()``; returns when every connection has ended.
  public func run() async {
    await withDiscardingTaskGroup { group in
      var backoff: Duration = .zero
      while !stopping.load(ordering: .acquiring) {
        let connection: TCPConnection
        do throws(NetPollError) {
          connection = try await listener.accept()
        } catch .closed {
          break
        } catch let .system(_, errno) where errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem {
          // Out of fds: the pending connection stays in the backlog. Keep serving the open ones
          // and retry with a growing pause (as Go's net/http does), saying so once.
          backoffs.add(1, ordering: .relaxed)
          if !exhausted.exchange(true, ordering: .relaxed) {
            Log.warning(
              "accept: \(errno); backing off until fds are free (\(connectionCount) connections open)")
          }
          backoff = backoff == .zero ? .milliseconds(5) : min(backoff * 2, Self.maxBackoff)
          await pauseAccepting(for: backoff)
          continue
        } catch .system(_, .connectionAborted) {
          continue
        } catch {
          Log.warning("accept: \(error)")
          await pauseAccepting(for: .milliseconds(10))
          continue
        }
        backoff = .zero
        if exhausted.exchange(false, ordering: .relaxed) {
          Log.warning("accept: fds available again; accepting")
        }
        let admitted = connections.withLock { c -> Bool in
          guard c.count < maxConnections, !stopping.load(ordering: .acquiring) else { return false }
          c[connection.fd] = connection
          return true
        }
        guard admitted else {
          refused.add(1, ordering: .relaxed)
          connection.close()
          continue
        }
        group.addTask { [self] in
          // Awaited so that the group (and run()) ends only when every connection has.
          await runtime.spawn { [self] in await serve(connection) }.value
        }
      }
    }
  }

  /// Waits until `duration` has passed or a new connection arrives, on the runtime's own deadline
  /// timer. Not Task.sleep: its timer and thread pool are libdispatch's, which opens files of its
  /// own (/proc, to size the pool) and traps when that fails, so with no fd left it would
  /// kill the server (seen with `prlimit --nofile=32`: SIGILL in _dispatch_workq_monitor_pools).
  private func pauseAccepting(for duration: Duration) async {
    await listener.pause(for: duration)
  }

  private func serve(_ connection: TCPConnection) async {
    defer {
      _ = connections.withLock { $0.removeValue(forKey: connection.fd) }
      connection.close()
    }
    switch proto {
    case .echo:
      await EchoHandler(connection: connection, idleTimeout: idleTimeout, writeTimeout: writeTimeout).run()
    case .http:
      await HTTPHandler(connection: connection, idleTimeout: idleTimeout, writeTimeout: writeTimeout).run()
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
