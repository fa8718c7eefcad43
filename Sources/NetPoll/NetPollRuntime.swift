import CNetPollShims
import NetPollTrace
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A Go-style network poller runtime: worker threads that run tasks and take turns waiting in the
/// kernel (``Poller``), poll descriptors that park tasks on EAGAIN, and read/write deadlines.
///
/// Run async code on it with ``run(_:)`` or ``spawn(_:)``; the sockets (``TCPListener``,
/// ``TCPConnection``) work from any task, but tasks running on the runtime's workers are resumed
/// without a thread hop.
public final class NetPollRuntime: Sendable {
  /// The backend in use.
  public let backend: Backend
  /// The system-call layer, with the trace recorder (if any).
  public let sys: Syscalls
  let poller: any Poller
  /// How sockets reach the kernel on this backend; each ``PollFD`` keeps a copy.
  let socketIO: any SocketIO
  let descriptors = DescriptorTable()
  let timers = DeadlineTimers()
  let scheduler: Scheduler
  let nextTaskID = Atomic<Int64>(0)
  private let pollScratch = Mutex(PollScratch())
  private let stopped = Atomic<Bool>(false)
  /// Runs between the kernel's report and its dispatch, for tests that must act in that window
  /// (close and reuse an fd the report names). The flag keeps the lock off the poll path.
  private let hasPollHook = Atomic<Bool>(false)
  private let pollHook = Mutex<(@Sendable ([PollEvent]) -> Void)?>(nil)

  struct PollScratch {
    var events: [PollEvent] = []
    var ready: [(PollDescriptor, PollEvent)] = []
    var stale: [(PollEvent, Int64)] = []
    var expired: [DeadlineTimers.Entry] = []
  }

  /// Starts a runtime on `backend` with `workers` threads (default: one per core).
  ///
  /// - Parameter recorder: where every system call, park and wake is recorded; nil for none.
  public convenience init(backend: Backend = .epoll, recorder: TraceRecorder? = nil, workers: Int? = nil)
    throws(NetPollError)
  {
    try self.init(backend: backend, recorder: recorder, workers: workers, ringEntries: nil)
  }

  /// As the public initialiser, with the io_uring SQ size (`ringEntries`, nil for the default)
  /// exposed for tests of the full-SQ path.
  init(backend: Backend, recorder: TraceRecorder?, workers: Int?, ringEntries: UInt32?) throws(NetPollError) {
    self.backend = backend
    sys = Syscalls(recorder: recorder)
    let driver = try backend.makeDriver(sys: sys, ringEntries: ringEntries)
    poller = driver.poller
    socketIO = driver.io
    let count = workers ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    let poller = self.poller
    scheduler = Scheduler(workers: count, wakeupPoller: { poller.wakeup() })
    scheduler.start { [weak self] block in self?.netpoll(block: block) }
  }

  /// The executor that runs tasks on this runtime's workers.
  public var executor: some TaskExecutor { scheduler }

  /// Runs `body` with this runtime's workers as its preferred executor (on them even when the
  /// caller is on an actor: the module's async functions run on their caller's executor, but the
  /// preference's operation does not; `RunIsolation` checks this).
  public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(scheduler) {
      try await Self.$identity.withValue(newIdentity()) { try await body() }
    }
  }

  /// Starts an unstructured task on the runtime; it keeps one task number in the trace for life.
  @discardableResult
  public func spawn<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
    Task(executorPreference: scheduler) {
      try await Self.$identity.withValue(self.newIdentity()) { try await body() }
    }
  }

  /// Starts an unstructured, non-throwing task on the runtime.
  @discardableResult
  public func spawn<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> Task<T, Never> {
    Task(executorPreference: scheduler) {
      await Self.$identity.withValue(self.newIdentity()) { await body() }
    }
  }

  /// Stops the workers and releases the poller. Sockets still open are left to their owners;
  /// a task still parked will not be woken, so close sockets first.
  public func shutdown() {
    guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
    scheduler.stop()
    poller.shutdown()
  }

  /// fds registered with the poller right now.
  public var registeredCount: Int { descriptors.openCount }

  // MARK: Polling

  /// One round of Go's `netpoll` + `checkTimers`: waits in the kernel (until the next deadline
  /// when `block`), then wakes the tasks whose descriptors became ready or whose deadlines passed.
  func netpoll(block: Bool) {
    pollScratch.withLock { s in
      s.events.removeAll(keepingCapacity: true)
      var delay = PollDelay.nonBlocking
      if block {
        if let next = timers.earliest {
          let now = netpoll_monotonic_ns()
          delay = next <= now ? .nonBlocking : .nanoseconds(Int64(next - now))
        } else {
          delay = .block
        }
      }
      do {
        try poller.poll(delay: delay, into: &s.events)
      } catch {
        preconditionFailure("NetPollRuntime: \(poller.name) poll failed: \(error)")
      }
      scheduler.pollReturned()
      if hasPollHook.load(ordering: .acquiring), let hook = pollHook.withLock({ $0 }) { hook(s.events) }
      dispatch(&s)

      s.expired.removeAll(keepingCapacity: true)
      timers.popExpired(now: netpoll_monotonic_ns(), into: &s.expired)
      for e in s.expired { fireDeadline(e) }
      s.expired.removeAll(keepingCapacity: true)
    }
  }

  /// Wakes the tasks waiting on the descriptors `s.events` names; records and drops stale events.
  private func dispatch(_ s: inout PollScratch) {
    s.ready.removeAll(keepingCapacity: true)
    s.stale.removeAll(keepingCapacity: true)
    if !s.events.isEmpty {
      descriptors.resolve(s.events, into: &s.ready, stale: &s.stale)
    }
    for (ev, current) in s.stale { recordStale(ev, current: current) }
    for (pd, ev) in s.ready {
      // The descriptor may have been closed and reused since it was resolved; its tag says so,
      // and the event is as stale as one resolved to a newer tag (recorded, never dropped unseen).
      let current = pd.tag.load(ordering: .acquiring)
      guard current == ev.token.tag else {
        recordStale(ev, current: Int64(current))
        continue
      }
      // Before the wake or latch that the reader will see (PollFD's short-read rule reads it).
      if ev.hangup { pd.hangup.store(true, ordering: .sequentiallyConsistent) }
      if ev.readable, let w = pd.unblock(.read, ioReady: true) { wake(w, pd, .read, .ready) }
      if ev.writable, let w = pd.unblock(.write, ioReady: true) { wake(w, pd, .write, .ready) }
    }
    s.ready.removeAll(keepingCapacity: true)
  }

  private func recordStale(_ ev: PollEvent, current: Int64) {
    let mode: TraceMode = ev.readable && ev.writable ? .readWrite : ev.readable ? .read : .write
    sys.record(
      TraceRecord(.stale, a: Int64(ev.token.fd), b: Int64(ev.token.tag), c: current, d: mode.rawValue))
  }

  /// Sets (or, with nil, removes) the hook each poll round runs with the kernel's events before
  /// they are dispatched. It runs on the polling thread, inside the round: it must not wait for
  /// another round.
  func setPollHook(_ hook: (@Sendable ([PollEvent]) -> Void)?) {
    pollHook.withLock { $0 = hook }
    hasPollHook.store(hook != nil, ordering: .releasing)
  }

  /// Feeds `events` through the same path as events from the kernel (for tests that need an
  /// event the kernel will not produce on demand, such as one for a closed-and-reused fd).
  package func inject(_ events: [PollEvent]) {
    // Its own scratch: the poller holds `pollScratch` while it blocks in the kernel.
    var s = PollScratch()
    s.events = events
    dispatch(&s)
  }

  /// Records the wake and resumes the waiter; the caller took it out of its semaphore.
  func wake(_ w: Waiter, _ pd: PollDescriptor, _ mode: IOMode, _ reason: TraceWakeReason) {
    sys.record(
      TraceRecord(
        .wake, a: w.task, b: Int64(pd.fd.load(ordering: .relaxed)), c: mode.trace.rawValue,
        d: reason.rawValue))
    w.continuation!.resume(returning: reason)
  }

  // MARK: Task identity

  /// The task number a spawned task carries; `owner` tells it apart from child tasks, which
  /// inherit task-locals but are different tasks.
  final class TaskIdentity: Sendable {
    let id: Int64
    let owner: Int
    init(id: Int64, owner: Int) {
      self.id = id
      self.owner = owner
    }
  }

  @TaskLocal static var identity: TaskIdentity?

  private func newIdentity() -> TaskIdentity {
    let owner = withUnsafeCurrentTask { $0?.hashValue ?? 0 }
    return TaskIdentity(id: nextTaskID.add(1, ordering: .relaxed).newValue, owner: owner)
  }

  /// The trace's number for the current task: its spawned identity, or a fresh number.
  func currentTaskID() -> Int64 {
    if let identity = Self.identity, identity.owner == withUnsafeCurrentTask(body: { $0?.hashValue ?? 0 }) {
      return identity.id
    }
    return nextTaskID.add(1, ordering: .relaxed).newValue
  }
}
