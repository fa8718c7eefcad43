import Foundation
import NetPollAnalysis
import Testing

/// Writes a large synthetic trace for the speed/memory measurements (not run by default):
///
///     NETPOLL_BENCH_TRACE=/tmp/bench-10m.jsonl NETPOLL_BENCH_CONNECTIONS=15000 \
///       swift test -c release --filter writesBenchmarkTrace
///     /usr/bin/time -v .build/release/netpoll stats /tmp/bench-10m.jsonl
@Test(
  "writes a synthetic benchmark trace when NETPOLL_BENCH_TRACE is set",
  .enabled(if: ProcessInfo.processInfo.environment["NETPOLL_BENCH_TRACE"] != nil))
func writesBenchmarkTrace() throws {
  let environment = ProcessInfo.processInfo.environment
  let path = try #require(environment["NETPOLL_BENCH_TRACE"])
  let connections = Int(environment["NETPOLL_BENCH_CONNECTIONS"] ?? "") ?? 1500
  let backend = SyntheticTrace.Backend(rawValue: environment["NETPOLL_BENCH_BACKEND"] ?? "epoll") ?? .epoll
  let trace = SyntheticTrace(backend: backend, connections: connections, requestsPerConnection: 100)
  let events = try trace.write(to: path)
  #expect(events > connections * 100)
  print("wrote \(events) events to \(path)")
}
