import Foundation
import Glibc
import NetPoll
import NetPollAnalysis
import NetPollServer
import NetPollTestSupport
import NetPollTrace
import Testing

/// The trace's order is causal across threads (docs/trace-format.md, "Order"): the load that
/// breaks an order taken when calls return is many workers, many short connections and fd numbers
/// reused fast. Issue 11: before per-call stamping, 3,000 short connections on 2 workers gave
/// 18 to 53 readiness reports ahead of their registration.
@Suite struct CausalOrder {
  @Test(
    "many workers, 3,000 short connections: every readiness follows its registration, every reuse its close",
    arguments: Backend.available)
  func shortConnectionsKeepCausalOrder(_ backend: Backend) async throws {
    let h = try Harness(backend, workers: 4)
    let trace = try await h.run { rt in try await Self.shortConnections(on: rt) }
    #expect(acceptedConnections(trace) == 3_000)
    let violations = causalOrderViolations(trace)
    #expect(violations.prefix(5) == [], "\(violations.count) events out of causal order")
  }

  @Test(
    "the same load written by the live writer (merging while threads record) replays with no violation",
    arguments: Backend.available)
  func liveWriterTraceReplaysClean(_ backend: Backend) async throws {
    let path =
      "\(NSTemporaryDirectory())netpoll-causal-\(getpid())-\(backend.rawValue)-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    defer {
      keepTrace(path, as: "causal-\(backend.rawValue)")
      unlink(path)
    }
    let recorder = TraceRecorder()
    let writer = try TraceWriter(path: path, recorder: recorder, backend: backend.rawValue, command: "test")
    let rt = try NetPollRuntime(backend: backend, recorder: recorder, workers: 4)
    try await rt.run { try await Self.shortConnections(on: rt) }
    rt.shutdown()
    #expect(writer.finish() == 0)
    let report = try TraceReplay.run(path: path)
    #expect(report.summary.violations == 0, "\(report.violations.prefix(5))")
  }

  /// An echo server on `rt`, and 3,000 clients on a runtime of their own, 48 at a time: connect,
  /// one 64-byte echo, close.
  static func shortConnections(on rt: NetPollRuntime) async throws {
    let clients = try NetPollRuntime(backend: .epoll, workers: 2)
    defer { clients.shutdown() }
    let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
    let serving = rt.spawn { await server.run() }
    let address = server.localAddress
    let errors = await clients.run {
      await withTaskGroup(of: [String].self) { group in
        for lane in 0..<48 {
          group.addTask {
            await clients.spawn {
              let load = LoadGenerator(address: address, connections: 1, requests: 1, size: 64)
              var errors: [String] = []
              for _ in stride(from: lane, to: 3_000, by: 48) {
                errors += await load.run(on: clients).errors
              }
              return errors
            }.value
          }
        }
        var all: [String] = []
        for await e in group { all += e }
        return all
      }
    }
    #expect(errors.prefix(3) == [], "\(errors.count) client errors")
    try await eventually("every server connection ends") { server.connectionCount == 0 }
    server.stop()
    await serving.value
  }
}

/// Events of a trace (in `seq` order) that come before what caused them: a readiness report or
/// poll completion naming an fd and tag that no earlier registration gave it, and an fd number
/// handed out (accept, socket, eventfd, ACCEPT completion) while the trace still has it open.
func causalOrderViolations(_ trace: [TraceRecord]) -> [String] {
  let epollCtlAdd: Int64 = 1
  let pollAdd: Int64 = 6  // IORING_OP_POLL_ADD
  let acceptOp: Int64 = 13  // IORING_OP_ACCEPT
  var registered = Set<[Int64]>()  // (fd, tag) pairs registered so far
  var open = Set<Int64>()
  var acceptData = Set<Int64>()
  var out: [String] = []
  func handOut(_ fd: Int64, _ r: TraceRecord) {
    guard fd >= 0 else { return }
    if !open.insert(fd).inserted {
      out.append("seq \(r.seq): fd \(fd) handed out by \(r.kind.name) before its close")
    }
  }
  for r in trace {
    switch r.kind {
    case .accept, .socket, .eventfd, .epollCreate: handOut(r.ret, r)
    case .close: open.remove(r.a)
    case .epollCtl where r.b == epollCtlAdd: registered.insert([r.c, r.e])
    case .readyItem where r.b != 0 && !registered.contains([r.a, r.b]):
      out.append("seq \(r.seq): epoll_wait reports fd \(r.a) tag \(r.b) before its epoll_ctl ADD")
    case .uringSQE where r.a == pollAdd: registered.insert([r.c & 0xffff_ffff, r.c >> 32])
    case .uringSQE where r.a == acceptOp: acceptData.insert(r.c)
    case .uringCQE:
      if acceptData.contains(r.a), r.ret >= 0 { handOut(r.ret, r) }
      let tag = r.a >> 32
      if r.a >= 0, r.a < 1 << 62, tag != 0, !registered.contains([r.a & 0xffff_ffff, tag]) {
        out.append("seq \(r.seq): poll completion for fd \(r.a & 0xffff_ffff) tag \(tag) before its POLL_ADD")
      }
    default: break
    }
  }
  return out
}
