import NetPollTrace
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The cost of `TraceRecorder.record(_:)`, the call every traced system call, park and wake makes.
///
/// - **in ring**: events go into a ring big enough for a whole round, drained (untimed) between
///   rounds, so the figure is the recorder's own cost: the lock, the clock read, the copy.
///   Timed in blocks of 256 calls (one clock read per block, ~20 ns, is 0.1 ns per event);
///   the median and p99 are over blocks.
/// - **two threads**: both cores record into one recorder at once (lock contention).
/// - **with writer**: a real ``TraceWriter`` drains to /dev/null on its own thread while one
///   thread records flat out; the rate is whichever of recording and JSON encoding is slower.
/// - **encode**: the writer's JSON encoding alone, MB/s and ns per line (``EncoderBenchmark``).
/// - **allocations**: not counted in process (glibc 2.34+ has no malloc hooks, and an executable's
///   own `malloc` is not exported to the libraries' versioned `malloc@GLIBC_2.2.5` references
///   without linker flags); `recordOnly(events:threads:)` is run under valgrind instead, see
///   tools/bench.
struct RecorderBenchmark {
  var seconds: Double
  static let block = 256

  /// One event as the runtime records a successful 1 KiB read.
  @inline(__always)
  static func event(_ i: Int) -> TraceRecord {
    TraceRecord(.read, ret: 1024, a: Int64(i & 1023), b: 1024)
  }

  func run() -> String {
    let single = singleThread()
    let two = twoThreads()
    let writer = withWriter()
    let encode = EncoderBenchmark(seconds: seconds).run()
    return """
      {"ns_per_event_single":\(single.json),"ns_per_event_two_threads":\(two.summary.json),\
      "two_thread_events_per_second":\(Int(two.eventsPerSecond)),"ns_per_event_with_writer":\(fixed(writer)),\
      "encode":\(encode)}
      """
  }

  /// ns per event, in blocks.
  func singleThread() -> Summary {
    let blocksPerRound = 128
    let recorder = TraceRecorder(capacity: Self.block * blocksPerRound)
    var samples: [Double] = []
    samples.reserveCapacity(1 << 16)
    let deadline = monotonicNanos() + UInt64(seconds * 1e9)
    repeat {
      for _ in 0..<blocksPerRound {
        let t0 = monotonicNanos()
        for i in 0..<Self.block { recorder.record(Self.event(i)) }
        let t1 = monotonicNanos()
        samples.append(Double(t1 - t0) / Double(Self.block))
      }
      _ = recorder.drainAll()
    } while monotonicNanos() < deadline
    return Summary(samples)
  }

  /// Two long-lived threads recording into one recorder at the same time, while this thread
  /// drains it as the writer would (every 1 ms). The threads live for the whole run, as a
  /// runtime's workers do: a thread's ring is allocated and first touched once, not per round.
  func twoThreads() -> (summary: Summary, eventsPerSecond: Double) {
    let recorder = TraceRecorder(capacity: 1 << 15)
    let samples = Mutex<[Double]>([])
    let events = Atomic<Int>(0)
    let ready = Atomic<Int>(0)
    let done = Atomic<Bool>(false)
    let finished = Atomic<Int>(0)
    let threads = (0..<2).map { n in
      OSThread(name: "bench-rec\(n)") {
        var mine: [Double] = []
        mine.reserveCapacity(1 << 16)
        ready.add(1, ordering: .acquiringAndReleasing)
        while ready.load(ordering: .acquiring) < 2 {}  // start together
        var count = 0
        while !done.load(ordering: .relaxed) {
          let s = monotonicNanos()
          for i in 0..<Self.block { recorder.record(Self.event(i)) }
          mine.append(Double(monotonicNanos() - s) / Double(Self.block))
          count += Self.block
        }
        events.add(count, ordering: .relaxed)
        samples.withLock { $0 += mine }
        finished.add(1, ordering: .releasing)
      }
    }
    while ready.load(ordering: .acquiring) < 2 {}
    let t0 = monotonicNanos()
    let deadline = t0 + UInt64(seconds * 1e9)
    while monotonicNanos() < deadline {
      _ = recorder.drainAll()
      usleep(1000)
    }
    done.store(true, ordering: .relaxed)
    // Keep draining until both have stopped: a thread whose ring is full waits for it.
    while finished.load(ordering: .acquiring) < 2 {
      _ = recorder.drainAll()
      usleep(1000)
    }
    for t in threads { t.join() }
    let elapsed = monotonicNanos() - t0
    _ = recorder.drainAll()
    let all = samples.withLock { $0 }
    return (Summary(all), Double(events.load(ordering: .relaxed)) / (Double(elapsed) / 1e9))
  }

  /// ns per event sustained with a TraceWriter encoding JSON to /dev/null.
  func withWriter() -> Double {
    let recorder = TraceRecorder()
    guard
      let writer = try? TraceWriter(
        path: "/dev/null", recorder: recorder, backend: "bench", command: "netpoll-bench recorder",
        overwrite: true)
    else { return .nan }
    var events = 0
    let t0 = monotonicNanos()
    let deadline = t0 + UInt64(seconds * 1e9)
    repeat {
      for i in 0..<4096 { recorder.record(Self.event(i)) }
      events += 4096
    } while monotonicNanos() < deadline
    let elapsed = monotonicNanos() - t0
    writer.finish()
    return Double(elapsed) / Double(events)
  }

  /// Records `events` events on each of `threads` threads into one recorder, nothing else: the
  /// program tools/bench runs under `valgrind --tool=memcheck` at two sizes, so that the
  /// difference in "total heap usage: N allocs" divided by the difference in events is the
  /// allocations per recorded event, exactly.
  static func recordOnly(events: Int, threads: Int) {
    // Big enough for every event, so nothing drains (draining is the writer's cost, not this).
    let recorder = TraceRecorder(capacity: events * threads)
    let workers = (0..<threads).map { n in
      OSThread(name: "bench-rec\(n)") {
        for i in 0..<events { recorder.record(event(i)) }
      }
    }
    for w in workers { w.join() }
  }
}
