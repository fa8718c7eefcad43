import Glibc
import NetPoll
import NetPollTrace
import Synchronization
import Testing

/// The poll descriptor's state machine under races: tasks parked on the same descriptors while
/// readiness (real and injected), deadlines, deadline resets, close and cancellation hit them
/// from the runtime's workers and from threads outside it, for a fixed number of rounds.
///
/// After every round the trace must show each park followed by exactly one wake of the same task,
/// fd and mode, with a reason the round's actions can explain; every task must have returned
/// (none lost), every surviving descriptor must be idle, and every fd must be deregistered.
@Suite struct StateMachineStress {
  static let rounds = 200
  static let pairs = 8
  /// Pairs `0..<writers` also get a writer parked on a full socket buffer.
  static let writers = 3

  @Test(
    "racing park, readiness, deadline, close and cancel: every parked task wakes exactly once",
    arguments: Backend.available)
  func raceEverything(_ backend: Backend) async throws {
    let h = try Harness(backend)
    let big = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 20, alignment: 16)
    big.initializeMemory(as: UInt8.self, repeating: 0x42)
    defer { big.deallocate() }
    let payload = SharedBytes(bytes: UnsafeRawBufferPointer(big))
    let recorder = h.recorder
    _ = try await h.run { rt in
      let listener = try TCPListener(on: rt, address: "127.0.0.1:0")
      var previous: [PollToken] = []
      var reasons: [Int: Int] = [:]
      var parks = 0
      var outcomes: [String: Int] = [:]
      var rng = SplitMix(seed: 0x5eed_0000 &+ UInt64(backend.rawValue.utf8.count))
      for round in 0..<Self.rounds {
        let report = try await Self.round(
          round, rt: rt, listener: listener, payload: payload, staleTokens: previous, rng: &rng)
        previous = report.tokens
        let records = recorder.drainAll()
        for r in records where r.kind == .wake { reasons[Int(r.d), default: 0] += 1 }
        parks += records.of(.park).count
        for t in report.tasks { outcomes["\(t.outcome.map { "\($0)" } ?? "none")", default: 0] += 1 }
        Self.verify(round: round, report: report, records: records)
        #expect(rt.registeredCount == 1, "round \(round): only the listener is still registered")
      }
      listener.close()
      print("STRESS \(backend): parks \(parks) wakes by reason \(reasons) outcomes \(outcomes)")
    }
  }

  @Test(
    "a reader started while the previous one is still returning from its wake is never lost",
    arguments: Backend.available)
  func restartAfterWake(_ backend: Backend) async throws {
    // A cancelled reader returns from its wake after its successor has parked: the first must
    // not clear the successor's waiter (Parking.swift clears only a latched `ready`).
    let h = try Harness(backend)
    let recorder = h.recorder
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      for i in 0..<100 {
        _ = recorder.drainAll()
        let first = rt.spawn { () async -> Bool in (try? await server.read(maxBytes: 8)) != nil }
        try await eventually("reader \(i) parks") { server.debugReadState == .parked }
        // The next reader runs on the other worker, ready to go the moment the first is woken,
        // as a handler that replaces a cancelled reader does. Until it parks, the first reader's
        // resumption waits in the queue (both workers are busy).
        let started = Atomic<Bool>(false)
        let go = Atomic<Bool>(false)
        let second = rt.spawn { () async -> [UInt8]? in
          started.store(true, ordering: .releasing)
          while !go.load(ordering: .acquiring) {}
          return try? await server.read(maxBytes: 8)
        }
        while !started.load(ordering: .acquiring) { try await Task.sleep(for: .microseconds(50)) }
        first.cancel()  // wakes the first reader with reason cancel, here and now
        go.store(true, ordering: .releasing)
        // Keep this worker busy until the successor has parked, so the first reader's return
        // (which runs next, on one of the two workers) comes after it.
        let spinStart = nowMs()
        while server.debugReadState != .parked && nowMs() - spinStart < 200 {}
        _ = await first.value
        try await client.write([UInt8(truncatingIfNeeded: i)])
        let done = Atomic<Bool>(false)
        let watcher = rt.spawn { () async -> [UInt8]? in
          let got = await second.value
          done.store(true, ordering: .releasing)
          return got
        }
        let start = nowMs()
        while !done.load(ordering: .acquiring) && nowMs() - start < 1000 {
          try await Task.sleep(for: .milliseconds(1))
        }
        guard done.load(ordering: .acquiring) else {
          let waits = recorder.drainAll().waits(fd: server.fd).map(describe).joined(separator: "\n")
          Issue.record(
            "iteration \(i): the second reader was never woken by the data (read semaphore: \(server.debugReadState)); park/wake on fd \(server.fd):\n\(waits)"
          )
          break  // nothing can resume its task any more; stop before more leak
        }
        #expect(await watcher.value == [UInt8(truncatingIfNeeded: i)], "iteration \(i)")
      }
      server.close()
      client.close()
      listener.close()
    }
  }

  @Test(
    "a deadline reset racing the old deadline's timer leaves the new deadline in force",
    arguments: Backend.available)
  func deadlineResetRacesTimer(_ backend: Backend) async throws {
    let h = try Harness(backend)
    _ = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      var spurious = 0
      for i in 0..<400 {
        server.setReadDeadline(after: .microseconds(300 + (i % 7) * 50))
        spin(microseconds: 300 + (i * 37) % 400)  // the old timer fires around now, on the poller
        server.setReadDeadline(after: .seconds(60))
        async let got = server.read(maxBytes: 8)
        try await eventually("the reader parks or fails") { server.debugReadState != .empty }
        try await client.write([1])
        do {
          _ = try await got
        } catch {
          spurious += 1
          Issue.record("iteration \(i): read failed with \(error) under a 60 s deadline")
        }
      }
      #expect(spurious == 0)
      server.close()
      client.close()
      listener.close()
    }
  }

  // MARK: One round

  enum Action: CaseIterable {
    case data, inject, staleInject, deadline, deadlineReset, close, cancel
  }

  enum Outcome: Equatable, CustomStringConvertible {
    case data, endOfStream, closed, deadline, cancelled, concurrent
    case other(String)
    var description: String {
      switch self {
      case .data: "data"
      case .endOfStream: "end of stream"
      case .closed: "closed"
      case .deadline: "deadline"
      case .cancelled: "cancelled"
      case .concurrent: "concurrentWait"
      case .other(let s): s
      }
    }
    init(_ error: NetPollError) {
      switch error {
      case .closed: self = .closed
      case .deadlineExceeded: self = .deadline
      case .cancelled: self = .cancelled
      case .concurrentWait: self = .concurrent
      default: self = .other("\(error)")
      }
    }
  }

  /// One task of a round and what became of it.
  struct Waiting {
    var pair: Int
    var fd: Int32
    var mode: TraceMode
    var actions: Set<Action>
    var outcome: Outcome?
    var finishedBeforeFinalClose = false
    /// Must return without the final close (its actions end it).
    var mustFinish: Bool
  }

  struct RoundReport {
    var tasks: [Waiting]
    var tokens: [PollToken]
    var staleInjected: [PollToken]
  }

  /// Runs one round: pairs, parked tasks, racing actions; returns what happened.
  static func round(
    _ round: Int, rt: NetPollRuntime, listener: TCPListener, payload: SharedBytes,
    staleTokens: [PollToken], rng: inout SplitMix
  ) async throws -> RoundReport {
    var servers: [TCPConnection] = []
    var clients: [TCPConnection] = []
    for _ in 0..<pairs {
      async let accepted = listener.accept()
      clients.append(try await TCPConnection.connect(to: listener.localAddress, on: rt))
      servers.append(try await accepted)
    }
    let tokens = servers.map(\.debugToken)

    // Which actions hit which pair, and in which direction.
    var plans: [Waiting] = []
    for i in 0..<pairs {
      var actions = Set<Action>()
      for a in Action.allCases where rng.next() % 3 == 0 { actions.insert(a) }
      if staleTokens.isEmpty { actions.remove(.staleInject) }
      let readerEnds =
        actions.contains(.data) || actions.contains(.close) || actions.contains(.cancel)
        || (actions.contains(.deadline) && !actions.contains(.deadlineReset))
      plans.append(
        Waiting(pair: i, fd: servers[i].fd, mode: .read, actions: actions, mustFinish: readerEnds))
      if i < writers {
        let writerEnds =
          actions.contains(.close) || actions.contains(.cancel)
          || (actions.contains(.deadline) && !actions.contains(.deadlineReset))
        plans.append(
          Waiting(pair: i, fd: servers[i].fd, mode: .write, actions: actions, mustFinish: writerEnds))
      }
    }

    let results = Mutex<[Int: (Outcome, Bool)]>([:])
    let finalCloseDone = Atomic<Bool>(false)
    var spawned: [Task<Void, Never>] = []
    for (index, plan) in plans.enumerated() {
      let server = servers[plan.pair]
      let mode = plan.mode
      spawned.append(
        rt.spawn {
          var outcome: Outcome
          do throws(NetPollError) {
            if mode == .read {
              outcome = try await server.read(maxBytes: 16).isEmpty ? .endOfStream : .data
            } else {
              try await server.write(payload.bytes)
              outcome = .data
            }
          } catch {
            outcome = Outcome(error)
          }
          let early = !finalCloseDone.load(ordering: .acquiring)
          results.withLock { $0[index] = (outcome, early) }
        })
    }

    // Half the rounds let the tasks park first; the others race the park itself.
    if round % 2 == 0 {
      let deadline = nowMs() + 2000
      while nowMs() < deadline {
        let parkedOrDone = plans.indices.allSatisfy { i in
          let s =
            plans[i].mode == .read
            ? servers[plans[i].pair].debugReadState : servers[plans[i].pair].debugWriteState
          return s == .parked || results.withLock { $0[i] != nil }
        }
        if parkedOrDone { break }
        try await Task.sleep(for: .microseconds(200))
      }
    }

    // Fire every action at once, from the runtime's workers and from the global executor.
    var staleInjected: [PollToken] = []
    let tasks = spawned
    await withTaskGroup(of: Void.self) { group in
      for (i, server) in servers.enumerated() {
        let actions = plans.first { $0.pair == i }!.actions
        let client = clients[i]
        let token = tokens[i]
        let readerIndex = plans.firstIndex { $0.pair == i && $0.mode == .read }!
        let writerIndex = plans.firstIndex { $0.pair == i && $0.mode == .write }
        for action in actions {
          let delay = Int(rng.next() % 60)
          let offRuntime = rng.next() % 2 == 0
          let deadlineMicros = Int(rng.next() % 1500)
          let stale = staleTokens.isEmpty ? token : staleTokens[Int(rng.next() % UInt64(staleTokens.count))]
          if action == .staleInject { staleInjected.append(stale) }
          let body: @Sendable () async -> Void = {
            spin(microseconds: delay)
            switch action {
            case .data:
              try? await client.write([UInt8(truncatingIfNeeded: i)])
            case .inject:
              rt.inject([PollEvent(token: token, readable: true, writable: true)])
            case .staleInject:
              rt.inject([PollEvent(token: stale, readable: true, writable: true)])
            case .deadline:
              let d: Duration = deadlineMicros < 100 ? .zero : .microseconds(deadlineMicros)
              server.setReadDeadline(after: d)
              server.setWriteDeadline(after: d)
            case .deadlineReset:
              server.setReadDeadline(after: nil)
              server.setWriteDeadline(after: nil)
            case .close:
              server.close()
            case .cancel:
              tasks[readerIndex].cancel()
              if let writerIndex { tasks[writerIndex].cancel() }
            }
          }
          if offRuntime {
            group.addTask(executorPreference: globalConcurrentExecutor, operation: body)
          } else {
            group.addTask(operation: body)
          }
        }
      }
    }

    // Tasks whose actions end them must return on their own: a missing wake shows here.
    let start = nowMs()
    while nowMs() - start < 2000 {
      let pending = plans.indices.filter { i in plans[i].mustFinish && results.withLock { $0[i] == nil } }
      if pending.isEmpty { break }
      try await Task.sleep(for: .milliseconds(1))
    }
    // A descriptor whose tasks have all returned must be idle: no waiter left behind.
    for (i, server) in servers.enumerated() {
      let mine = plans.indices.filter { plans[$0].pair == i }
      guard !plans[mine[0]].actions.contains(.close),
        results.withLock({ r in mine.allSatisfy { r[$0] != nil } })
      else { continue }
      let states = [server.debugReadState, server.debugWriteState]
      #expect(
        states.allSatisfy { $0 == .empty || $0 == .ready },
        "round \(round) pair \(i): semaphores \(states) after every task returned")
    }

    finalCloseDone.store(true, ordering: .releasing)
    for s in servers { s.close() }
    let closeStart = nowMs()
    while nowMs() - closeStart < 3000 {
      if results.withLock({ $0.count }) == plans.count { break }
      try await Task.sleep(for: .milliseconds(1))
    }
    for c in clients { c.close() }

    let final = results.withLock { $0 }
    for i in plans.indices {
      if let (outcome, early) = final[i] {
        plans[i].outcome = outcome
        plans[i].finishedBeforeFinalClose = early
      }
    }
    // Let the last references drop (a task returning releases its fd).
    try await eventually("round \(round): every fd deregistered") { rt.registeredCount == 1 }
    return RoundReport(tasks: plans, tokens: tokens, staleInjected: staleInjected)
  }

  // MARK: Checks

  static func verify(round: Int, report: RoundReport, records: [TraceRecord]) {
    let validReasons = Set([TraceWakeReason.ready, .deadline, .close, .cancel].map(\.rawValue))
    // Every park is followed by exactly one wake of the same task, fd and mode; no wake without a park.
    var open: [Int64: TraceRecord] = [:]  // task -> its unmatched park
    var lastWake: [String: TraceRecord] = [:]  // "fd/mode" -> last wake
    for r in records where r.kind == .park || r.kind == .wake {
      if r.kind == .park {
        if let p = open[r.a] {
          Issue.record(
            "round \(round): task \(r.a) parked on fd \(r.b) while still parked on fd \(p.b) (seq \(p.seq))")
        }
        open[r.a] = r
      } else {
        guard let p = open.removeValue(forKey: r.a) else {
          Issue.record("round \(round): wake without a park: task \(r.a) fd \(r.b) seq \(r.seq)")
          continue
        }
        if p.b != r.b || p.c != r.c {
          Issue.record("round \(round): task \(r.a) parked on fd \(p.b)/\(p.c), woken for fd \(r.b)/\(r.c)")
        }
        if !validReasons.contains(r.d) {
          Issue.record("round \(round): wake with invalid reason \(r.d) (seq \(r.seq))")
        }
        lastWake["\(r.b)/\(r.c)"] = r
      }
    }
    for (task, p) in open {
      Issue.record(
        "round \(round): task \(task) parked on fd \(p.b) mode \(p.c) (seq \(p.seq)) and never woke")
    }

    for t in report.tasks {
      let label =
        "round \(round) pair \(t.pair) \(t.mode == .read ? "reader" : "writer") fd \(t.fd) actions \(t.actions)"
      guard let outcome = t.outcome else {
        Issue.record("\(label): never returned, even after close")
        continue
      }
      if t.mustFinish && !t.finishedBeforeFinalClose {
        Issue.record(
          "\(label): still waiting 2 s after its actions (outcome \(outcome) only after the final close)")
      }
      // The outcome must be explained by the round's actions.
      switch outcome {
      case .data, .endOfStream:
        if t.mode == .write { Issue.record("\(label): a write to a peer that never reads completed") }
        if t.mode == .read && !t.actions.contains(.data) { Issue.record("\(label): read data nobody sent") }
      case .closed:
        if !t.actions.contains(.close) && t.finishedBeforeFinalClose {
          Issue.record("\(label): failed with closed before anything closed it")
        }
      case .deadline:
        if !t.actions.contains(.deadline) { Issue.record("\(label): deadline exceeded with no deadline set") }
      case .cancelled:
        if !t.actions.contains(.cancel) { Issue.record("\(label): cancelled though nobody cancelled it") }
      case .concurrent, .other:
        Issue.record("\(label): failed with \(outcome)")
      }
      // A wake for a reason other than readiness ends the call with that reason's error.
      if let w = lastWake["\(t.fd)/\(t.mode.rawValue)"], let reason = TraceWakeReason(rawValue: w.d) {
        let expected: Outcome? =
          switch reason {
          case .ready: nil
          case .deadline: .deadline
          case .close: .closed
          case .cancel: .cancelled
          }
        if let expected, expected != outcome {
          Issue.record("\(label): last wake (seq \(w.seq)) says \(reason) but the call ended with \(outcome)")
        }
        if reason == .cancel && !t.actions.contains(.cancel) {
          Issue.record("\(label): woken with reason cancel (seq \(w.seq)) though nobody cancelled it")
        }
        if reason == .deadline && !t.actions.contains(.deadline) {
          Issue.record("\(label): woken with reason deadline (seq \(w.seq)) with no deadline set")
        }
      }
      // A reader's wake with reason ready needs a readiness to explain it: data the client sent,
      // an event injected with the fd's current token, or (uring readiness) a multishot poll that
      // ended (a CQE without IORING_CQE_F_MORE): URingPoller re-arms it and reports both
      // directions, so as not to lose an edge. An injected stale token, a deadline (reset) or a
      // close explains none. (Not checked for writers: their socket becomes writable on its own
      // while loopback moves the send buffer into the peer's receive buffer.)
      guard t.mode == .read else { continue }
      let cqeMore: Int64 = 2  // IORING_CQE_F_MORE
      for r in records where r.kind == .wake && r.b == Int64(t.fd) && r.c == t.mode.rawValue {
        let rearmed = records.contains {
          $0.kind == .uringCQE && $0.b == Int64(t.fd) && $0.c & cqeMore == 0 && $0.seq < r.seq
        }
        if r.d == TraceWakeReason.ready.rawValue && !rearmed && t.actions.isDisjoint(with: [.data, .inject]) {
          Issue.record("\(label): woken with reason ready (seq \(r.seq)) with no readiness to explain it")
        }
      }
    }

    // A readiness event for a closed registration is dropped and recorded as stale, never delivered.
    let stale = records.of(.stale)
    for token in report.staleInjected {
      let seen = stale.contains { $0.a == Int64(token.fd) && $0.b == Int64(token.tag) }
      if !seen {
        Issue.record("round \(round): injected event for old token \(token) was not recorded as stale")
      }
    }
  }
}

/// A park or wake record as a trace line would show it.
func describe(_ r: TraceRecord) -> String {
  let reasons = ["ready", "deadline", "close", "cancel"]
  let mode = r.c == 1 ? "r" : r.c == 2 ? "w" : "rw"
  return r.kind == .park
    ? "seq \(r.seq) park task \(r.a) fd \(r.b) mode \(mode)"
    : "seq \(r.seq) wake task \(r.a) fd \(r.b) mode \(mode) reason \(r.d >= 0 && r.d < 4 ? reasons[Int(r.d)] : "\(r.d)")"
}

/// A read-only buffer shared by the writers of a round.
struct SharedBytes: @unchecked Sendable {  // never written after the test fills it
  let bytes: UnsafeRawBufferPointer
}

/// A small, seedable generator, so a failing round can be replayed.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Busy-waits, to shift one racer against another by a few microseconds.
func spin(microseconds: Int) {
  let end = nowMs() + Double(microseconds) / 1000
  while nowMs() < end {}
}
