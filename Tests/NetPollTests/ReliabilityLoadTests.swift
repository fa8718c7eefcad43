import Glibc
import NetPoll
import NetPollServer
import NetPollTrace
import Synchronization
import Testing

/// Many connections at once, and deadlines that must fire while the server is busy (issue 6,
/// "Load"). The million-request soak runs against the release binary: `tools/check-load`.
///
/// These load the machine on purpose and time deadlines against it, so they run alone:
/// `tools/test` runs them in a step of their own with `NETPOLL_LOAD_TESTS=1`; a plain `swift test`
/// lists them as skipped.
@Suite(
  .serialized,
  .enabled(if: loadTestsEnabled, "set NETPOLL_LOAD_TESTS=1 (tools/test does, in a step of its own)"))
struct ReliabilityLoad {
  @Test(
    "2,000 concurrent echo connections all complete with zero errors, none stuck",
    .enabled(if: raiseFileLimit(to: 4_500), "needs RLIMIT_NOFILE >= 4,500 (2,000 fds a side)"),
    arguments: Backend.available)
  func twoThousandConnections(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let trace = try await h.run { rt in
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      let load = LoadGenerator(address: server.localAddress, connections: 2_000, requests: 5, size: 512)
      let report = await load.run(on: rt)
      #expect(report.errors.prefix(5) == [], "\(report.errors.count) errors")
      #expect(report.requests == 2_000 * 5)
      try await eventually("every server connection ends") { server.connectionCount == 0 }
      server.stop()
      await serving.value
      #expect(rt.registeredCount == 0, "every fd deregistered")
    }
    #expect(acceptedConnections(trace) == 2_000)
    #expect(unmatchedParks(trace) == [], "every park has its wake")
  }

  @Test(
    "500 idle connections with a 200 ms read deadline are all cut, while 64 busy ones are served",
    .enabled(if: raiseFileLimit(to: 2_000), "needs RLIMIT_NOFILE >= 2,000"),
    arguments: Backend.available)
  func idleCutWhileBusyServed(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let idleCount = 500
    let cutAfter = Mutex<[Double]>([])
    let trace = try await h.run { rt in
      let server = try Server(
        runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo, idleTimeout: .milliseconds(200))
      let serving = rt.spawn { await server.run() }
      // The busy clients start first and keep going until the idle ones have all been cut.
      let busy = rt.spawn {
        await LoadGenerator(address: server.localAddress, connections: 64, requests: 150, size: 256).run(
          on: rt)
      }
      var idle: [TCPConnection] = []
      for _ in 0..<idleCount { idle.append(try await TCPConnection.connect(to: server.localAddress, on: rt)) }
      let connected = nowMs()
      let clients = idle
      let times = await withTaskGroup(of: Double?.self) { group in
        for c in clients {
          group.addTask {
            // The server sends nothing: this read ends only when the server closes (EOF).
            let end = try? await c.read(maxBytes: 1)
            return end == [] ? nowMs() - connected : nil
          }
        }
        var times: [Double?] = []
        for await t in group { times.append(t) }
        return times
      }
      #expect(!times.contains(nil), "every idle connection ends with end of stream")
      cutAfter.withLock { $0 = times.compactMap { $0 } }
      let report = await busy.value
      #expect(report.errors.prefix(5) == [], "busy connections: \(report.errors.count) errors")
      #expect(report.requests == 64 * 150)
      for c in idle { c.close() }
      server.stop()
      await serving.value
    }
    let times = cutAfter.withLock { $0 }.sorted()
    #expect(times.count == idleCount)
    // Connecting all 500 took a while, so the first were cut before the last had connected.
    #expect(
      (times.last ?? .infinity) < 3_000, "the last idle connection was cut after \(times.last ?? -1) ms")
    for line in busyCutDiagnosis(trace).prefix(3) { Issue.record("busy connection cut: \(line)") }
    let deadlineWakes = trace.of(.wake).filter { $0.d == TraceWakeReason.deadline.rawValue }
    #expect(Set(deadlineWakes.map(\.a)).count >= idleCount, "one deadline wake per idle server task")
    // No cut before its time: the read deadline is armed after the accept, so each deadline
    // wake comes at least 200 ms after its fd's accept (trace clock; 1 ms for its granularity).
    let sinceAccept = acceptToReadDeadlineWake(trace)
    #expect(sinceAccept.count >= idleCount)
    let early = sinceAccept.filter { $0 < 199_000_000 }
    #expect(
      early.isEmpty, "\(early.count) deadline wakes came < 200 ms after the accept: \(early.prefix(5)) ns")
    #expect(unmatchedParks(trace) == [])
  }
}

/// For each connection that had read data and was then woken by its read deadline: what the
/// trace shows between its last data and the wake, to tell a slow client (no request for the
/// whole timeout) from a missed readiness.
func busyCutDiagnosis(_ trace: [TraceRecord]) -> [String] {
  var out: [String] = []
  var lastDataRead: [Int64: Int] = [:]  // fd -> index in trace
  for (i, r) in trace.enumerated() {
    switch r.kind {
    case .read where r.ret > 0: lastDataRead[r.a] = i
    case .close: lastDataRead[r.a] = nil
    case .wake where r.d == TraceWakeReason.deadline.rawValue && r.c == TraceMode.read.rawValue:
      guard let start = lastDataRead[r.b] else { continue }
      lastDataRead[r.b] = nil
      let fd = r.b
      let between = trace[start...i]
      var polls: [UInt64] = []
      var lines: [String] = []
      for x in between {
        if x.kind == .epollWait || x.kind == .uringEnter { polls.append(x.ts) }
        let mentions =
          switch x.kind {
          case .park, .wake: x.b == fd
          case .readyItem: x.a == fd
          case .uringCQE, .uringSQE: x.b == fd
          default: x.a == fd
          }
        if mentions {
          lines.append(
            "seq \(x.seq) +\((Int64(x.ts) - Int64(trace[start].ts)) / 1000) us \(x.kind) ret \(x.ret) a \(x.a) b \(x.b) c \(x.c) d \(x.d)"
          )
        }
      }
      let gaps = zip(polls.dropFirst(), polls).map { ($0 - $1) / 1_000_000 }
      out.append(
        "fd \(fd) task \(r.a): deadline wake \((Int64(r.ts) - Int64(trace[start].ts)) / 1_000_000) ms after its last data; "
          + "\(polls.count) polls in between, longest gap \(gaps.max() ?? 0) ms; its records:\n  "
          + lines.joined(separator: "\n  "))
    default: break
    }
  }
  return out
}

/// Raises the soft RLIMIT_NOFILE to at least `needed` (up to the hard limit); true on success.
func raiseFileLimit(to needed: Int) -> Bool {
  var limit = rlimit()
  guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return false }
  if limit.rlim_cur >= rlim_t(needed) { return true }
  guard limit.rlim_max >= rlim_t(needed) else { return false }
  limit.rlim_cur = limit.rlim_max
  return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0
}

/// The parks in `trace` that no wake of the same task, fd and mode follows.
func unmatchedParks(_ trace: [TraceRecord]) -> [String] {
  var parked: [Int64: TraceRecord] = [:]
  var problems: [String] = []
  for r in trace where r.kind == .park || r.kind == .wake {
    if r.kind == .park {
      if parked[r.a] != nil { problems.append("task \(r.a) parked twice (seq \(r.seq))") }
      parked[r.a] = r
    } else if let p = parked.removeValue(forKey: r.a) {
      if p.b != r.b || p.c != r.c {
        problems.append("task \(r.a) woken for another fd or mode (seq \(r.seq))")
      }
    } else {
      problems.append("wake without park: task \(r.a) seq \(r.seq)")
    }
  }
  return problems + parked.values.map { "task \($0.a) parked on fd \($0.b) (seq \($0.seq)) never woke" }
}

/// For each read-deadline wake: nanoseconds (trace clock) from the accept of its fd to the wake.
/// An accept is an `accept` call that returned the fd, or in completion mode an ACCEPT CQE.
func acceptToReadDeadlineWake(_ trace: [TraceRecord]) -> [UInt64] {
  let acceptOp: Int64 = 13  // IORING_OP_ACCEPT
  var acceptData = Set<Int64>()
  var acceptedAt: [Int64: UInt64] = [:]  // fd -> ts of its latest accept
  var out: [UInt64] = []
  for r in trace {
    switch r.kind {
    case .accept where r.ret >= 0: acceptedAt[r.ret] = r.ts
    case .uringSQE where r.a == acceptOp: acceptData.insert(r.c)
    case .uringCQE where r.ret >= 0 && acceptData.contains(r.a): acceptedAt[r.ret] = r.ts
    case .wake where r.d == TraceWakeReason.deadline.rawValue && r.c == TraceMode.read.rawValue:
      if let t = acceptedAt[r.b] { out.append(r.ts &- t) }
    default: break
    }
  }
  return out
}
