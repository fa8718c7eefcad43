import Glibc
import NetPollTrace
import Testing

@testable import NetPoll

extension Backend: CustomTestStringConvertible {
  public var testDescription: String { rawValue }
  /// The backends behavioural tests run on: every one this machine supports. Each backend that
  /// is not available shows up as a skipped test in `BackendAvailability`.
  static var available: [Backend] { allCases.filter(\.isAvailable) }
}

/// A runtime with an in-memory recorder, for one test.
struct Harness {
  let runtime: NetPollRuntime
  let recorder: TraceRecorder

  init(_ backend: Backend, workers: Int = 2, ringEntries: UInt32? = nil) throws {
    recorder = TraceRecorder(capacity: 1 << 20)
    runtime = try NetPollRuntime(
      backend: backend, recorder: recorder, workers: workers, ringEntries: ringEntries)
  }

  /// Runs `body` on the runtime, then shuts the runtime down; returns what was recorded.
  /// Every test that runs through here has its park/wake pairing checked: each park left in the
  /// trace is woken once, for the same fd and mode (a test that drained part of the trace itself
  /// may see wakes whose parks it took; those are not flagged).
  func run(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: @Sendable (NetPollRuntime) async throws -> Void
  ) async throws -> [TraceRecord] {
    let rt = runtime
    do {
      try await rt.run { try await body(rt) }
    } catch {
      rt.shutdown()
      throw error
    }
    rt.shutdown()
    let trace = recorder.drainAll()
    for problem in parkWakeProblems(trace) { Issue.record("\(problem)", sourceLocation: sourceLocation) }
    return trace
  }

  /// A connected pair: (accepted server side, client side).
  static func pair(_ rt: NetPollRuntime, address: String = "127.0.0.1:0") async throws -> (
    TCPConnection, TCPConnection, TCPListener
  ) {
    let listener = try TCPListener(on: rt, address: address)
    async let accepted = listener.accept()
    let client = try await TCPConnection.connect(to: listener.localAddress, on: rt)
    let server = try await accepted
    return (server, client, listener)
  }
}

extension [TraceRecord] {
  func of(_ kind: TraceEventKind) -> [TraceRecord] { filter { $0.kind == kind } }
  func first(_ kind: TraceEventKind, fd: Int32) -> TraceRecord? {
    first { $0.kind == kind && $0.a == Int64(fd) }
  }
  /// park/wake records about `fd` (their fd is in slot `b`).
  func waits(fd: Int32) -> [TraceRecord] {
    filter { ($0.kind == .park || $0.kind == .wake) && $0.b == Int64(fd) }
  }
}

/// Monotonic milliseconds, for elapsed-time checks.
func nowMs() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

/// Polls `condition` every millisecond until it holds (or 5 s pass: then the test fails).
func eventually(
  _ what: String = "condition", sourceLocation: SourceLocation = #_sourceLocation,
  _ condition: () -> Bool
) async throws {
  let start = nowMs()
  while !condition() {
    if nowMs() - start > 5000 {
      Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
      return
    }
    try await Task.sleep(for: .milliseconds(1))
  }
}

/// Whether the heavy load suites run (they need the machine to themselves).
let loadTestsEnabled = getenv("NETPOLL_LOAD_TESTS").map { String(cString: $0) == "1" } ?? false

/// Whether the tests with wall-clock bounds run (NETPOLL_TIMING_TESTS=1). `tools/test` runs them
/// in a step of their own, one test at a time, after the parallel run: there a 200 ms deadline
/// checked against 3 s cannot be starved past its bound by the rest of the suite on 2 cores (it
/// was: 3,029 ms), and in the parallel run they show as skipped rather than as flakes.
let timingTestsEnabled = getenv("NETPOLL_TIMING_TESTS").map { String(cString: $0) == "1" } ?? false

/// Connections the traced runtime accepted: `accept` calls that returned an fd, or, in io_uring
/// completion mode, ACCEPT operations that completed with one.
func acceptedConnections(_ trace: [TraceRecord]) -> Int {
  let acceptOp: Int64 = 13  // IORING_OP_ACCEPT
  var acceptData = Set<Int64>()
  var count = 0
  for r in trace {
    switch r.kind {
    case .accept where r.ret >= 0: count += 1
    case .uringSQE where r.a == acceptOp: acceptData.insert(r.c)
    case .uringCQE where r.ret >= 0 && acceptData.contains(r.a): count += 1
    default: break
    }
  }
  return count
}

/// Parks without a wake, parks while parked, and wakes for another fd or mode than their park.
func parkWakeProblems(_ trace: [TraceRecord]) -> [String] {
  var problems: [String] = []
  var parked: [Int64: TraceRecord] = [:]
  for r in trace where r.kind == .park || r.kind == .wake {
    if r.kind == .park {
      if let p = parked[r.a] {
        problems.append("task \(r.a) parked (seq \(r.seq)) while parked since seq \(p.seq)")
      }
      parked[r.a] = r
    } else if let p = parked.removeValue(forKey: r.a), p.b != r.b || p.c != r.c {
      problems.append(
        "task \(r.a) parked on fd \(p.b) mode \(p.c) (seq \(p.seq)), woken for fd \(r.b) mode \(r.c)")
    }
  }
  for p in parked.values.sorted(by: { $0.seq < $1.seq }) {
    problems.append("task \(p.a) parked on fd \(p.b) mode \(p.c) (seq \(p.seq)) and was never woken")
  }
  return problems
}
