import Glibc
import NetPoll
import NetPollTrace
import Synchronization
import Testing

/// The io_uring readiness backend on its own, below the runtime: what its trace says, and the
/// cases the behavioural suite cannot force (a full CQ, a blocked poll broken from another thread).
@Suite(.enabled(if: Backend.uring.isAvailable)) struct URingPollerBehaviour {
  /// A poller with an in-memory trace.
  struct Rig {
    let recorder = TraceRecorder(capacity: 1 << 16)
    let poller: URingPoller
    init(entries: UInt32 = URingPoller.defaultEntries) throws {
      poller = try URingPoller(sys: Syscalls(recorder: recorder), entries: entries)
    }
  }

  /// A connected AF_UNIX stream pair, non-blocking.
  static func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    let r = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0, &fds)
    precondition(r == 0)
    return (fds[0], fds[1])
  }

  /// `count` socket pairs, the first end of each registered with `rig`'s poller (tag: its index
  /// + 1), all closed when `body` returns.
  static func withRegisteredPairs<R>(
    _ rig: Rig, count: Int, _ body: ([(Int32, Int32)]) throws -> R
  ) throws -> R {
    let pairs = (0..<count).map { _ in socketPair() }
    defer {
      for (a, b) in pairs {
        Glibc.close(a)
        Glibc.close(b)
      }
    }
    for (i, (a, _)) in pairs.enumerated() {
      try rig.poller.open(fd: a, token: PollToken(fd: a, tag: UInt32(i + 1)))
    }
    return try body(pairs)
  }

  static func send(_ fd: Int32) {
    var b: UInt8 = 1
    _ = write(fd, &b, 1)
  }

  @Test("setup asks for CQSIZE, SUBMIT_ALL and COOP_TASKRUN, never SINGLE_ISSUER, with a 4x CQ")
  func setupFlags() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    let setup = try #require(rig.recorder.drainAll().first { $0.kind == .uringSetup })
    #expect(setup.a == Int64(rig.poller.ringFD))
    #expect(setup.c == 4 * setup.b)
    #expect(setup.d & 256 != 0, "COOP_TASKRUN")
    #expect(setup.d & 4096 == 0, "no SINGLE_ISSUER")
    #expect(setup.d & 8192 == 0, "no DEFER_TASKRUN")
  }

  @Test(
    "a timed poll with nothing ready returns after its timeout, in one enter",
    .enabled(if: timingTestsEnabled))
  func timeout() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    _ = rig.recorder.drainAll()
    var events: [PollEvent] = []
    let start = nowMs()
    try rig.poller.poll(delay: .nanoseconds(50_000_000), into: &events)
    let elapsed = nowMs() - start
    #expect(events.isEmpty)
    #expect(elapsed >= 45 && elapsed < 1000, "returned after \(elapsed) ms")
    let enters = rig.recorder.drainAll().filter { $0.kind == .uringEnter }
    #expect(enters.count == 1)
    #expect(enters.first?.errno == ETIME)
  }

  @Test("readiness arrives tagged with the registration's token; after close, none does")
  func openReportClose() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    let (a, b) = Self.socketPair()
    defer {
      Glibc.close(a)
      Glibc.close(b)
    }
    let token = PollToken(fd: a, tag: 7)
    try rig.poller.open(fd: a, token: token)
    Self.send(b)
    var events: [PollEvent] = []
    try rig.poller.poll(delay: .nanoseconds(1_000_000_000), into: &events)
    #expect(events.contains { $0.token == token && $0.readable })

    try rig.poller.close(fd: a, token: token)
    Self.send(b)
    events.removeAll()
    try rig.poller.poll(delay: .nanoseconds(50_000_000), into: &events)
    #expect(!events.contains { $0.token == token }, "no readiness after close: \(events)")
    // The cancel went to the kernel inside close (DEL before close(2)).
    let trace = rig.recorder.drainAll()
    let cancel = try #require(trace.firstIndex { $0.kind == .uringSQE && $0.a == 14 && $0.b == Int64(a) })
    #expect(trace[cancel...].contains { $0.kind == .uringEnter && $0.b >= 1 })
  }

  @Test("a wake-up from another thread breaks a blocking poll", .enabled(if: timingTestsEnabled))
  func wakeupBreaksBlockingPoll() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    let poller = rig.poller
    let waker = Thread {
      usleep(30_000)
      poller.wakeup()
    }
    var events: [PollEvent] = []
    let start = nowMs()
    try poller.poll(delay: .block, into: &events)
    waker.join()
    #expect(nowMs() - start < 1000)
    #expect(events.isEmpty, "a wake-up is not a readiness")
  }

  @Test("wake-ups fold while one is pending, and cost no enter when no poll is blocked")
  func wakeupsFold() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    _ = rig.recorder.drainAll()
    for _ in 0..<5 { rig.poller.wakeup() }
    var events: [PollEvent] = []
    try rig.poller.poll(delay: .block, into: &events)  // returns at once: the NOP completes
    let trace = rig.recorder.drainAll()
    #expect(trace.filter { $0.kind == .uringSQE && $0.a == 0 }.count == 1, "one NOP for five wake-ups")
    #expect(trace.filter { $0.kind == .uringEnter }.count == 1, "only the poll's own enter")
  }

  @Test(
    "a wake-up folded into a NOP whose completion is already in the CQ still stops the next poll blocking",
    .enabled(if: timingTestsEnabled))
  func foldedWakeupAfterCompletedNOP() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    let perPoll = 128  // the most CQEs one poll reaps (the Poller contract's cap)
    try Self.withRegisteredPairs(rig, count: perPoll) { pairs in
      var events: [PollEvent] = []
      repeat {  // arms them and reaps their first (writable) reports
        events.removeAll()
        try rig.poller.poll(delay: .nonBlocking, into: &events)
      } while !events.isEmpty
      for (_, b) in pairs { Self.send(b) }  // a full poll's worth of edges waits in the CQ
      rig.poller.wakeup()  // no poll is running: a NOP is queued
      events.removeAll()
      // Reaps the edges, then submits the NOP; with no room left its completion stays in the CQ.
      try rig.poller.poll(delay: .nonBlocking, into: &events)
      #expect(events.count == perPoll)
      rig.poller.wakeup()  // folds into that NOP
      events.removeAll()
      let start = nowMs()
      try rig.poller.poll(delay: .nanoseconds(2_000_000_000), into: &events)
      let elapsed = nowMs() - start
      #expect(elapsed < 1000, "the poll after a wake-up blocked for \(elapsed) ms")
      #expect(events.isEmpty, "a wake-up is not a readiness")
    }
  }

  @Test(
    "a wake-up whose NOP went to the kernel with someone else's enter still breaks the next poll",
    .enabled(if: timingTestsEnabled))
  func wakeupSubmittedByAnotherEnter() throws {
    let rig = try Rig()
    defer { rig.poller.shutdown() }
    // A pipe's read end: nothing to report, so the only CQEs are the NOP's and the close's.
    var fds: [Int32] = [-1, -1]
    try #require(pipe(&fds) == 0)
    defer {
      Glibc.close(fds[0])
      Glibc.close(fds[1])
    }
    let token = PollToken(fd: fds[0], tag: 7)
    try rig.poller.open(fd: fds[0], token: token)
    rig.poller.wakeup()  // no poll is running: the NOP waits in the SQ for the next enter,
    try rig.poller.close(fd: fds[0], token: token)  // which is this close's, made at once
    var events: [PollEvent] = []
    let start = nowMs()
    try rig.poller.poll(delay: .nanoseconds(2_000_000_000), into: &events)
    let elapsed = nowMs() - start
    #expect(elapsed < 1000, "the poll blocked for \(elapsed) ms: it reaped the wake-up and waited anyway")
    #expect(events.isEmpty)
  }

  @Test("a full CQ ends multishot polls; each is re-armed and reported, none is lost")
  func overflowRearms() throws {
    let rig = try Rig(entries: 2)  // an 8-entry CQ
    defer { rig.poller.shutdown() }
    try Self.withRegisteredPairs(rig, count: 24) { pairs in
      var events: [PollEvent] = []
      try rig.poller.poll(delay: .nonBlocking, into: &events)  // arms them
      for (_, b) in pairs { Self.send(b) }  // 24 edges into 8 CQ slots
      var readable = Set<Int32>()
      for _ in 0..<20 where readable.count < pairs.count {
        events.removeAll()
        try rig.poller.poll(delay: .nanoseconds(20_000_000), into: &events)
        for e in events where e.readable { readable.insert(e.token.fd) }
      }
      #expect(readable == Set(pairs.map(\.0)))
      let trace = rig.recorder.drainAll()
      let ended = trace.filter { $0.kind == .uringCQE && $0.c & 2 == 0 && $0.a >> 32 != 0 }
      let rearms = trace.filter { $0.kind == .uringSQE && $0.a == 6 }.count - pairs.count
      #expect(rearms == ended.count, "every ended poll was re-armed")
      #expect(trace.contains { $0.kind == .uringOverflow })
      // The re-armed polls still work (the re-arms themselves report the unread bytes first).
      Self.send(pairs[0].1)
      var seen = false
      for _ in 0..<20 where !seen {
        events.removeAll()
        try rig.poller.poll(delay: .nanoseconds(20_000_000), into: &events)
        seen = events.contains { $0.token.fd == pairs[0].0 }
      }
      #expect(seen)
    }
  }
}

/// A joinable pthread, for calling the poller from a second thread.
final class Thread: @unchecked Sendable {  // `handle` is written once before join reads it
  private var handle = pthread_t()
  private let body: () -> Void
  init(_ body: @escaping @Sendable () -> Void) {
    self.body = body
    let context = Unmanaged.passRetained(self).toOpaque()
    pthread_create(
      &handle, nil,
      { ctx in
        let me = Unmanaged<Thread>.fromOpaque(ctx!).takeRetainedValue()
        me.body()
        return nil
      }, context)
  }
  func join() { pthread_join(handle, nil) }
}
