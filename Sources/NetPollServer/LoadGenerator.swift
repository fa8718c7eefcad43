import CNetPollShims
import NetPoll

#if canImport(Glibc)
  import Glibc
#endif

/// An echo load generator on the runtime: `connections` clients, each sending `requests`
/// messages of `size` bytes one at a time and checking that every byte comes back.
public struct LoadGenerator: Sendable {
  public var address: SocketAddress
  public var connections: Int
  public var requests: Int
  public var size: Int

  public init(address: SocketAddress, connections: Int, requests: Int, size: Int) {
    self.address = address
    self.connections = connections
    self.requests = requests
    self.size = size
  }

  /// What a run measured.
  public struct Report: Sendable {
    public var requests = 0
    public var bytes = 0
    public var errors: [String] = []
    public var seconds = 0.0
    /// Round-trip latencies in nanoseconds, sorted.
    public var latencies: [UInt64] = []

    public var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }

    /// The latency at quantile `q` (0...1), in microseconds.
    public func latencyMicros(_ q: Double) -> Double {
      guard !latencies.isEmpty else { return 0 }
      let i = min(latencies.count - 1, Int((Double(latencies.count) * q).rounded(.up)) - 1)
      return Double(latencies[max(0, i)]) / 1000
    }
  }

  /// Runs the load on `runtime`; errors are collected, never thrown.
  public func run(on runtime: NetPollRuntime) async -> Report {
    let start = netpoll_monotonic_ns()
    var report = Report()
    await withTaskGroup(of: Report.self) { group in
      for client in 0..<connections {
        group.addTask {
          await runtime.spawn { await self.client(client, on: runtime) }.value
        }
      }
      for await partial in group {
        report.requests += partial.requests
        report.bytes += partial.bytes
        report.errors += partial.errors
        report.latencies += partial.latencies
      }
    }
    report.seconds = Double(netpoll_monotonic_ns() - start) / 1e9
    report.latencies.sort()
    return report
  }

  private func client(_ id: Int, on runtime: NetPollRuntime) async -> Report {
    var report = Report()
    report.latencies.reserveCapacity(requests)
    let connection: TCPConnection
    do {
      connection = try await TCPConnection.connect(to: address, on: runtime)
    } catch {
      report.errors.append("client \(id): \(error)")  // the error names the call
      return report
    }
    defer { connection.close() }
    let sent = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
    let received = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
    defer {
      sent.deallocate()
      received.deallocate()
    }
    for r in 0..<requests {
      // A pattern unique to this client and request, so a crossed or shifted byte is caught.
      for i in 0..<size { sent[i] = UInt8(truncatingIfNeeded: i &* 31 &+ r &* 7 &+ id &* 13) }
      let t0 = netpoll_monotonic_ns()
      do {
        try await connection.write(UnsafeRawBufferPointer(rebasing: sent[0..<size]))
        var got = 0
        while got < size {
          let n = try await connection.read(
            into: UnsafeMutableRawBufferPointer(rebasing: received[got..<size]))
          if n == 0 {
            report.errors.append("client \(id) request \(r): connection closed after \(got) of \(size) bytes")
            return report
          }
          got += n
        }
      } catch {
        report.errors.append("client \(id) request \(r): \(error)")
        return report
      }
      report.latencies.append(netpoll_monotonic_ns() - t0)
      // memcmp, not `elementsEqual` on two slices: unspecialized (debug builds), that looks up
      // tuple metadata under a runtime lock for every byte, and the 200-connection test spent 15
      // minutes contending for it under ThreadSanitizer.
      if memcmp(sent.baseAddress!, received.baseAddress!, size) != 0 {
        report.errors.append("client \(id) request \(r): echoed bytes differ from those sent")
        return report
      }
      report.requests += 1
      report.bytes += size
    }
    return report
  }
}
