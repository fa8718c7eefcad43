import Foundation
import Glibc
import NetPoll
import NetPollAnalysis
import NetPollServer
import NetPollTestSupport
import NetPollTrace
import Testing

/// Flight-recorder mode (issue 11): the newest events in memory, written only as dumps, each a
/// complete trace of its window that `replay` accepts.
@Suite(.serialized) struct FlightRecorderTests {
  static func tempBase(_ name: String) -> String {
    "\(NSTemporaryDirectory())netpoll-flight-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).jsonl"
  }

  static func removeDumps(_ f: FlightRecorder) {
    for p in f.dumps {
      keepTrace(p, as: "flight-dump")
      unlink(p)
    }
  }

  /// Runs an echo server and `connections` x `requests` of load on a flight-recorded runtime,
  /// calling `during` while the load runs.
  static func serve(
    _ backend: Backend, flight: (TraceRecorder) -> FlightRecorder, connections: Int = 32,
    requests: Int = 200, during: @escaping @Sendable (FlightRecorder) async -> Void = { _ in }
  ) async throws -> FlightRecorder {
    let recorder = TraceRecorder()
    let f = flight(recorder)
    let rt = try NetPollRuntime(backend: backend, recorder: recorder, workers: 2)
    try await rt.run {
      let server = try Server(runtime: rt, address: SocketAddress("127.0.0.1:0"), protocol: .echo)
      let serving = rt.spawn { await server.run() }
      let load = LoadGenerator(
        address: server.localAddress, connections: connections, requests: requests, size: 256)
      async let report = load.run(on: rt)
      await during(f)
      let r = await report
      #expect(r.errors.prefix(3) == [], "\(r.errors.count) client errors")
      server.stop()
      await serving.value
    }
    rt.shutdown()
    f.finish()
    return f
  }

  @Test(
    "a dump on SIGUSR1 under load is a windowed trace that replays as consistent",
    arguments: Backend.available)
  func signalDumpReplays(_ backend: Backend) async throws {
    let base = Self.tempBase("usr1-\(backend.rawValue)")
    FlightRecorder.installDumpSignal()
    let f = try await Self.serve(
      backend,
      flight: { r in
        FlightRecorder(
          recorder: r, bytes: 256 << 10, basePath: base,
          header: .init(backend: backend.rawValue, command: "test"))
      },
      during: { f in
        // Under a loaded test run the load can take a while to get going: dump once it has.
        let loading = nowMs()
        while f.recordsTaken < 4_000 && nowMs() - loading < 5_000 {
          try? await Task.sleep(for: .milliseconds(5))
        }
        kill(getpid(), SIGUSR1)
        let start = nowMs()
        while f.dumps.isEmpty && nowMs() - start < 5_000 { try? await Task.sleep(for: .milliseconds(5)) }
      })
    defer { Self.removeDumps(f) }
    let path = try #require(f.dumps.first, "no dump was written")
    #expect(path.hasSuffix("-flight-1.jsonl"))
    let report = try TraceReplay.run(path: path)
    #expect(report.header.window != nil, "trace_start says it is a window")
    #expect(report.summary.violations == 0, "\(report.violations.prefix(5))")
    #expect(report.summary.events > 1_000, "the window holds the recent events")
    var st = stat()
    #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600, "dumps are created 0600")
  }

  @Test("a park→wake slower than the trigger dumps a window holding that wake", arguments: Backend.available)
  func latencyTriggerHoldsTheSlowWake(_ backend: Backend) async throws {
    let base = Self.tempBase("latency-\(backend.rawValue)")
    let recorder = TraceRecorder()
    let f = FlightRecorder(
      recorder: recorder, bytes: 256 << 10, basePath: base,
      header: .init(backend: backend.rawValue, command: "test"), wakeLatencyTrigger: 30_000_000)
    defer { Self.removeDumps(f) }
    let rt = try NetPollRuntime(backend: backend, recorder: recorder, workers: 2)
    try await rt.run {
      let (server, client, listener) = try await Harness.pair(rt)
      async let echoed = server.read(maxBytes: 16)
      try await Task.sleep(for: .milliseconds(60))  // the server's read stays parked this long
      try await client.write([1, 2, 3])
      #expect(try await echoed == [1, 2, 3])
      server.close()
      client.close()
      listener.close()
    }
    rt.shutdown()
    let start = nowMs()
    while f.dumps.isEmpty && nowMs() - start < 5_000 { try await Task.sleep(for: .milliseconds(5)) }
    f.finish()
    let path = try #require(f.dumps.first, "the slow wake did not trigger a dump")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let lines = text.split(separator: "\n")
    #expect(lines.first?.contains("\"trigger\":\"wake_latency task ") == true)
    // The slow park→wake is in the window: a read park and its ready wake >= 30 ms apart.
    var parks: [String: Int] = [:]
    var slowest = 0
    for line in lines {
      guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let ev = obj["ev"] as? String, let ts = obj["ts"] as? Int
      else { continue }
      let key = "\(obj["task"] ?? "")"
      if ev == "park" { parks[key] = ts }
      if ev == "wake", let p = parks[key] { slowest = max(slowest, ts - p) }
    }
    #expect(slowest >= 30_000_000, "slowest park→wake in the dump: \(slowest) ns")
    let report = try TraceReplay.run(path: path)
    #expect(report.summary.violations == 0, "\(report.violations.prefix(5))")
  }

  @Test("a dump never overwrites a file and never follows a symlink: it takes the next number")
  func dumpFileRules() async throws {
    let base = Self.tempBase("rules")
    let stem = String(base.dropLast(6))
    let existing = "\(stem)-flight-1.jsonl"
    let link = "\(stem)-flight-2.jsonl"
    let target = "\(stem)-target"
    try "keep me\n".write(toFile: existing, atomically: false, encoding: .utf8)
    symlink(target, link)
    defer {
      unlink(existing)
      unlink(link)
      unlink(target)
    }
    let recorder = TraceRecorder()
    let f = FlightRecorder(
      recorder: recorder, bytes: 64 << 10, basePath: base, header: .init(backend: "epoll", command: "test"))
    defer { Self.removeDumps(f) }
    recorder.record(TraceRecord(.read, ret: 1, a: 3, b: 1))
    f.requestDump(trigger: "test")
    let start = nowMs()
    while f.dumps.isEmpty && nowMs() - start < 5_000 { try await Task.sleep(for: .milliseconds(5)) }
    f.finish()
    #expect(f.dumps == ["\(stem)-flight-3.jsonl"])
    #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me\n")
    #expect(access(target, F_OK) != 0, "nothing was written through the symlink")
  }

  @Test(
    "the window is the newest 7/8 to all of the buffer, ends at the newest event, and its seq has no gap",
    arguments: [10_000, 100_000, 1_000_003])
  func windowHoldsTheNewest(events: Int) async throws {
    let base = Self.tempBase("window-\(events)")
    let recorder = TraceRecorder()
    let bytes = 256 << 10
    let f = FlightRecorder(
      recorder: recorder, bytes: bytes, basePath: base, header: .init(backend: "epoll", command: "test"))
    defer { Self.removeDumps(f) }
    // An fd registered long before the window must be in its snapshot, and one closed long
    // before it must not be.
    recorder.record(TraceRecord(.epollCtl, a: 5, b: 1, c: 7, d: 1, e: 70))
    recorder.record(TraceRecord(.epollCtl, a: 5, b: 1, c: 8, d: 1, e: 80))
    recorder.record(TraceRecord(.close, a: 8))
    for i in 0..<events { recorder.record(TraceRecord(.read, ret: 1, a: 7, b: Int64(i))) }
    // Dump once the flight thread has taken everything (a dump that ends earlier is retried).
    var lines: [Substring] = []
    for attempt in 1...10 {
      try await Task.sleep(for: .milliseconds(20 * attempt))
      f.requestDump(trigger: "test")
      let start = nowMs()
      while f.dumps.count < attempt && nowMs() - start < 5_000 { try await Task.sleep(for: .milliseconds(5)) }
      let path = try #require(f.dumps.last)
      lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
      if lines.dropLast().last?.contains(#""seq":\#(events + 3),"#) == true { break }
    }
    f.finish()
    let path = try #require(f.dumps.last)
    let reads = lines.filter { $0.contains(#""ev":"read""#) }
    let capacity = bytes / MemoryLayout<TraceRecord>.stride
    #expect(reads.count >= min(events, capacity / 8 * 7), "\(reads.count) events in the window")
    #expect(reads.count <= capacity)
    #expect(reads.last?.contains(#""seq":\#(events + 3),"#) == true, "the window ends at the newest event")
    var seqs: [Int] = []
    for line in reads {
      let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      seqs.append(try #require(obj?["seq"] as? Int))
    }
    #expect(seqs == Array((seqs.first ?? 0)..<((seqs.first ?? 0) + seqs.count)), "no seq gap")
    let snapshot = lines.filter { $0.contains("snapshot_fd") }
    if events > capacity {
      #expect(snapshot.count == 1 && snapshot[0].contains(#""fd":7,"tag":70"#), "\(snapshot)")
    }
    let report = try TraceReplay.run(path: path)
    #expect(report.header.window != nil)
  }
}
