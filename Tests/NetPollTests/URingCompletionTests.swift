import Glibc
import NetPollTrace
import Synchronization
import Testing

@testable import NetPoll

/// io_uring completion mode: what its trace shows through the runtime, and (below the runtime)
/// the races the behavioural suite cannot force: a cancel that loses to the operation's CQE, and
/// a CQE for an operation slot that has been reused.
@Suite(.enabled(if: Backend.uringCompletion.isAvailable)) struct URingCompletionBehaviour {
  // MARK: Through the runtime

  @Test("a read is one RECV whose CQE carries the byte count; no accept, read or write call is made")
  func readIsOneRecv() async throws {
    let h = try Harness(.uringCompletion)
    let fds = SendableBox<(Int32, Int32)>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fds.value = (server.fd, listener.fd)
      try await client.write(Array("hello".utf8))
      #expect(try await server.read(maxBytes: 100) == Array("hello".utf8))
      server.close()
      client.close()
      listener.close()
    }
    let (serverFD, listenFD) = try #require(fds.value)
    #expect(trace.of(.accept).isEmpty && trace.of(.read).isEmpty && trace.of(.write).isEmpty)
    let recv = try #require(trace.first { $0.kind == .uringSQE && $0.a == 27 && $0.b == Int64(serverFD) })
    let cqe = try #require(trace.first { $0.kind == .uringCQE && $0.a == recv.c })
    #expect(cqe.ret == 5, "RECV res is the byte count")
    #expect(cqe.b == Int64(serverFD), "uring_cqe.fd names the socket")
    // The accepted fd is the ACCEPT CQE's res.
    let accept = try #require(trace.first { $0.kind == .uringSQE && $0.a == 13 && $0.b == Int64(listenFD) })
    #expect(trace.first { $0.kind == .uringCQE && $0.a == accept.c }?.ret == Int64(serverFD))
    // park before the SQE, wake after the CQE.
    let waits = trace.waits(fd: serverFD).filter { $0.c == TraceMode.read.rawValue }
    #expect(waits.map(\.kind) == [.park, .wake])
    #expect(waits[0].seq < recv.seq && cqe.seq < waits[1].seq)
  }

  @Test("a deadline cancels the parked RECV; the wake follows the operation's final CQE")
  func deadlineCancelsRecv() async throws {
    let h = try Harness(.uringCompletion)
    let fd = SendableBox<Int32>()
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      fd.value = server.fd
      server.setReadDeadline(after: .milliseconds(50))
      await #expect(throws: NetPollError.deadlineExceeded) { try await server.read(maxBytes: 10) }
      server.close()
      client.close()
      listener.close()
    }
    let serverFD = Int64(try #require(fd.value))
    let recv = try #require(trace.first { $0.kind == .uringSQE && $0.a == 27 && $0.b == serverFD })
    let cancel = try #require(trace.first { $0.kind == .uringSQE && $0.a == 14 && $0.b == serverFD })
    let final = try #require(trace.first { $0.kind == .uringCQE && $0.a == recv.c })
    let wake = try #require(trace.first { $0.kind == .wake && $0.b == serverFD })
    #expect(final.ret == -Int64(ECANCELED))
    #expect(recv.seq < cancel.seq && cancel.seq < final.seq && final.seq < wake.seq)
    #expect(wake.d == TraceWakeReason.deadline.rawValue)
  }

  // MARK: Below the runtime

  /// A completion-mode ring with an in-memory trace, and one end of a socket pair to read.
  struct Rig {
    let recorder = TraceRecorder(capacity: 1 << 16)
    let poller: URingPoller
    let pd: PollDescriptor
    let reader: Int32
    let peer: Int32

    init() throws {
      poller = try URingPoller(sys: Syscalls(recorder: recorder), mode: .completion)
      (reader, peer) = URingPollerBehaviour.socketPair()
      pd = PollDescriptor(fd: reader, tag: 1)
    }

    func close() {
      poller.shutdown()
      Glibc.close(reader)
      Glibc.close(peer)
    }

    /// Publishes `op`'s waiter on the read semaphore and queues its SQE, as a parking task does.
    func park(_ op: CompletionOp) -> UInt {
      poller.register(op)
      let bits = op.waiter.retainedBits()
      pd.rg.store(bits, ordering: .sequentiallyConsistent)
      poller.start(op)
      return bits
    }

    /// Submits what is queued without reaping, so CQEs stay in the CQ.
    func submit() throws {
      try poller.submission.withLock { s throws(Errno) in try poller.submitPending(&s) }
    }

    /// Takes the waiter from the semaphore as a deadline does, and interrupts its operation.
    func interrupt(_ bits: UInt, _ reason: TraceWakeReason) {
      #expect(pd.compareExchange(.read, expected: bits, desired: PollDescriptor.Semaphore.empty))
      let waiter = Waiter.take(bits)
      #expect(poller.interrupt(waiter: waiter, reason: reason))
    }
  }

  /// A task suspended on `waiter`'s continuation, as a parked task is; returns once the
  /// continuation is published. Awaited only after its operation is done (`reap`), so a failed
  /// submit or poll fails the test (they throw) instead of leaving it suspended forever.
  static func publishContinuation(_ waiter: Waiter) async throws -> Task<TraceWakeReason, Never> {
    let published = Atomic<Bool>(false)
    let woken = Task {
      await withUnsafeContinuation { continuation in
        waiter.continuation = continuation
        published.store(true, ordering: .releasing)
      }
    }
    try await eventually("the continuation is published") { published.load(ordering: .acquiring) }
    return woken
  }

  /// Polls the ring (10 ms at a time, up to 1 s) until `op` is done; fails the test otherwise.
  static func reap(_ rig: Rig, until op: CompletionOp) throws {
    var events: [PollEvent] = []
    for _ in 0..<100 where !op.done {
      try rig.poller.poll(delay: .nanoseconds(10_000_000), into: &events)
    }
    try #require(op.done, "the operation's final CQE was never reaped")
  }

  @Test("a cancel that loses the race to the CQE delivers the bytes, and the wake says ready")
  func cancelLosesRace() async throws {
    let rig = try Rig()
    defer { rig.close() }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
    defer { buffer.deallocate() }
    let waiter = Waiter(task: 1)
    let op = CompletionOp(waiter: waiter, pd: rig.pd, mode: .read, fd: rig.reader, kind: .recv(buffer))
    var three: [UInt8] = [1, 2, 3]
    _ = Glibc.write(rig.peer, &three, 3)
    let woken = try await Self.publishContinuation(waiter)
    let bits = rig.park(op)
    try rig.submit()  // the RECV completes inline: its CQE waits in the CQ
    rig.interrupt(bits, .deadline)  // too late: the bytes are already in the buffer
    try Self.reap(rig, until: op)
    let reason = await woken.value
    #expect(reason == .ready)
    #expect(op.result == 3)
    #expect(Array(buffer[0..<3]) == [1, 2, 3])
    let trace = rig.recorder.drainAll()
    #expect(trace.contains { $0.kind == .uringSQE && $0.a == 14 }, "the cancel was still issued")
    #expect(trace.last { $0.kind == .wake }?.d == TraceWakeReason.ready.rawValue)
  }

  @Test("a cancel that wins ends the RECV with ECANCELED and wakes the task with the interruption's reason")
  func cancelWins() async throws {
    let rig = try Rig()
    defer { rig.close() }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
    defer { buffer.deallocate() }
    let waiter = Waiter(task: 1)
    let op = CompletionOp(waiter: waiter, pd: rig.pd, mode: .read, fd: rig.reader, kind: .recv(buffer))
    let woken = try await Self.publishContinuation(waiter)
    let bits = rig.park(op)
    try rig.submit()  // nothing to read: the RECV waits in the kernel
    rig.interrupt(bits, .close)
    try Self.reap(rig, until: op)
    let reason = await woken.value
    #expect(reason == .close)
    #expect(op.result == -ECANCELED)
  }

  @Test("an operation's user_data names its slot and generation: a reused slot answers only to the new one")
  func reusedSlotIsNotMisdelivered() throws {
    let pd = PollDescriptor(fd: 3, tag: 1)
    var table = OpTable()
    let first = CompletionOp(waiter: Waiter(task: 1), pd: pd, mode: .read, fd: 3, kind: .accept)
    table.insert(first)
    let stale = first.userData
    table.remove(first)
    let second = CompletionOp(waiter: Waiter(task: 2), pd: pd, mode: .read, fd: 3, kind: .accept)
    table.insert(second)
    #expect(second.userData & 0xffff_ffff == stale & 0xffff_ffff, "the slot was reused")
    #expect(second.userData != stale)
    #expect(table.lookup(stale) == nil, "a late CQE of the first finds nothing")
    #expect(table.lookup(second.userData) === second)
    #expect(table.lookup(waiter: second.waiter) === second)
    #expect(
      stale & OpTable.marker != 0 && PollToken(userData: stale).tag != 0,
      "never mistaken for the poller's own")
  }
}
