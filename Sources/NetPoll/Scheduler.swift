import CNetPollShims
import NetPollTrace
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The runtime's task executor: worker threads that run ready tasks and take turns being the
/// poller, as in Go's scheduler (`findRunnable` → `netpoll`).
///
/// - A worker runs jobs from one shared FIFO queue.
/// - Every 61 jobs (Go's figure for checking the global queue) a worker polls the kernel without
///   blocking, if no other worker holds the poller role, so a busy runtime still sees readiness.
/// - A worker that finds the queue empty becomes the poller if the role is free and blocks in
///   ``Poller/poll(delay:into:)`` until the next deadline; the others sleep on a condition variable.
/// - New work wakes a sleeping worker; when none sleeps and the poller is blocked, it breaks the
///   poll (``Poller/wakeup()``), unless the job came from one of this scheduler's workers, which
///   will run it next. Resuming a parked task therefore costs no system call when a worker is
///   already awake.
///
/// - A task whose calls never have to wait would otherwise keep its worker forever (Swift cannot
///   preempt it, as Go's sysmon does): after ``fairnessBatch`` operations in one job it yields
///   (``PollFD``), and a monitor thread polls the kernel itself when nobody has for 10 ms
///   (Go's sysmon `lastpoll` rule), so parked tasks still wake while every worker is busy.
///
/// Tasks reach this executor through `withTaskExecutorPreference` (``NetPollRuntime/run(_:)``,
/// ``NetPollRuntime/spawn(_:)``); a continuation resumed by the poller enqueues its task here.
// @unchecked Sendable: mutable state lives in `state` (a ConditionLock); `threads` and
// `pollOnce` are written once, in `start`, before any worker runs.
final class Scheduler: TaskExecutor, @unchecked Sendable {
  struct State {
    var queue = JobQueue()
    var sleepers = 0
    /// Sleepers already signalled but not yet awake: each sleeper is signalled at most once.
    var signalled = 0
    /// A worker holds the poller role.
    var polling = false
    /// The poller is (about to be) blocked in the kernel.
    var pollerBlocked = false
    var stopping = false
    /// Tests only: runs on the monitor thread after its poll, while it still holds the poller
    /// role, so a test can hold the window that poll opens.
    var afterMonitorPoll: (@Sendable () -> Void)?
  }

  let state = ConditionLock(State())
  private var threads: [OSThread] = []
  /// Operations a job may complete before its task yields to the others.
  static let fairnessBatch: UInt32 = 32
  /// CLOCK_MONOTONIC ns of the last poll's return, for the monitor.
  let lastPoll = Atomic<UInt64>(0)
  private let workers: Int
  private var pollOnce: @Sendable (_ block: Bool) -> Void = { _ in }
  let wakeupPoller: @Sendable () -> Void

  /// - Parameter wakeupPoller: breaks a blocking poll (``Poller/wakeup()``).
  init(workers: Int, wakeupPoller: @escaping @Sendable () -> Void) {
    self.workers = max(1, workers)
    self.wakeupPoller = wakeupPoller
  }

  /// Starts the workers.
  /// - Parameter pollOnce: polls the kernel and wakes the ready tasks; blocks (until the next
  ///   deadline) when its argument is true.
  func start(pollOnce: @escaping @Sendable (Bool) -> Void) {
    self.pollOnce = pollOnce
    lastPoll.store(netpoll_monotonic_ns(), ordering: .relaxed)
    for i in 0..<workers {
      threads.append(OSThread(name: "netpoll-w\(i)") { [unowned self] in self.work() })
    }
    threads.append(OSThread(name: "netpoll-mon") { [unowned self] in self.monitor() })
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    let fromWorker = onOwnWorker
    let (signal, breakPoll) = state.withLock { s, _ -> (Bool, Bool) in
      s.pointee.queue.append(job)
      if s.pointee.sleepers > s.pointee.signalled {
        s.pointee.signalled += 1
        return (true, false)
      }
      if s.pointee.pollerBlocked && (!fromWorker || s.pointee.queue.count > 1) {
        s.pointee.pollerBlocked = false  // one break is enough
        return (false, true)
      }
      return (false, false)
    }
    if signal { state.signal() }
    if breakPoll { wakeupPoller() }
  }

  private func work() {
    netpoll_set_worker_owner(identity)
    var ticks = 0
    while true {
      enum Next {
        case run(UnownedJob)
        case poll(block: Bool)
        case stop
      }
      let next: Next = state.withLock { s, waiting in
        while true {
          if let job = s.pointee.queue.popFirst() {
            ticks &+= 1
            if ticks % 61 == 0 && !s.pointee.polling {
              s.pointee.queue.prepend(job)
              s.pointee.polling = true
              return .poll(block: false)
            }
            return .run(job)
          }
          if s.pointee.stopping { return .stop }
          if !s.pointee.polling {
            s.pointee.polling = true
            s.pointee.pollerBlocked = true
            return .poll(block: true)
          }
          s.pointee.sleepers += 1
          waiting.wait()
          s.pointee.sleepers -= 1
          if s.pointee.signalled > 0 { s.pointee.signalled -= 1 }
        }
      }
      switch next {
      case .run(let job):
        netpoll_job_ops_reset()
        job.runSynchronously(on: asUnownedTaskExecutor())
      case .poll(let block):
        pollOnce(block)
        let wakeOther = state.withLock { s, _ -> Bool in
          s.pointee.polling = false
          s.pointee.pollerBlocked = false
          // Hand the poller role on: if work is queued, this worker runs it and a sleeper polls.
          guard s.pointee.sleepers > s.pointee.signalled && !s.pointee.queue.isEmpty else { return false }
          s.pointee.signalled += 1
          return true
        }
        if wakeOther { state.signal() }
      case .stop:
        return
      }
    }
  }

  /// Go's sysmon, reduced to its netpoll duty: every 10 ms, if no worker is polling and none has
  /// for 10 ms, poll without blocking and wake what is ready; then hand the poller role to a
  /// sleeping worker, if one went to sleep meanwhile.
  private func monitor() {
    let interval: UInt64 = 10_000_000
    while true {
      usleep(10_000)
      let (stop, take) = state.withLock { s, _ -> (Bool, Bool) in
        if s.pointee.stopping { return (true, false) }
        guard !s.pointee.polling, netpoll_monotonic_ns() &- lastPoll.load(ordering: .relaxed) > interval
        else {
          return (false, false)
        }
        s.pointee.polling = true
        return (false, true)
      }
      if stop { return }
      if take {
        pollOnce(false)
        if let hook = state.withLock({ s, _ in s.pointee.afterMonitorPoll }) { hook() }
        let wakeOther = state.withLock { s, _ -> Bool in
          s.pointee.polling = false
          // Hand the poller role on. A worker that ran out of work while the monitor held the
          // role went to sleep trusting the poller to cover the kernel; the monitor does not
          // block, so without this nobody would until its next tick, 10 ms away. The woken
          // worker runs what the poll made ready, or takes the role and blocks.
          guard s.pointee.sleepers > s.pointee.signalled else { return false }
          s.pointee.signalled += 1
          return true
        }
        if wakeOther { state.signal() }
      }
    }
  }

  /// This scheduler, as its workers' thread-local owner value.
  private var identity: UnsafeRawPointer { UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque()) }

  /// Whether the calling thread is one of this scheduler's workers. Not any runtime's: a job that
  /// a worker of another runtime enqueues here (a task hopping back to this runtime after
  /// `await other.run { ... }`, or spawned here from there) must break this runtime's blocked
  /// poll, since none of this runtime's workers will look at the queue until the kernel returns.
  private var onOwnWorker: Bool { netpoll_worker_owner() == identity }

  /// Whether the job running on this worker has done a batch of operations without waiting and
  /// should let the others run.
  func shouldYield() -> Bool {
    guard onOwnWorker, netpoll_job_ops_increment() >= Self.fairnessBatch else { return false }
    return state.withLock { s, _ in !s.pointee.queue.isEmpty }
      || netpoll_monotonic_ns() &- lastPoll.load(ordering: .relaxed) > 1_000_000
  }

  /// Called by the poller as soon as the kernel returns, before it wakes anyone: from here on a
  /// new job needs no break.
  func pollReturned() {
    lastPoll.store(netpoll_monotonic_ns(), ordering: .relaxed)
    state.withLock { s, _ in s.pointee.pollerBlocked = false }
  }

  /// Breaks a blocked poll so the poller re-reads the earliest deadline.
  func deadlineChanged() {
    let blocked = state.withLock { s, _ -> Bool in
      defer { s.pointee.pollerBlocked = false }
      return s.pointee.pollerBlocked
    }
    if blocked { wakeupPoller() }
  }

  /// Stops the workers once the queue is empty and waits for them to exit.
  func stop() {
    state.withLock { s, _ in s.pointee.stopping = true }
    state.broadcast()
    wakeupPoller()
    for t in threads { t.join() }
  }
}

/// A FIFO of jobs: a ring buffer that grows, so steady-state enqueue allocates nothing.
struct JobQueue {
  private var slots: [UnownedJob?] = Array(repeating: nil, count: 256)
  private var head = 0
  private(set) var count = 0

  var isEmpty: Bool { count == 0 }

  mutating func append(_ job: UnownedJob) {
    if count == slots.count { grow() }
    slots[(head + count) & (slots.count - 1)] = job
    count += 1
  }

  mutating func prepend(_ job: UnownedJob) {
    if count == slots.count { grow() }
    head = (head - 1) & (slots.count - 1)
    slots[head] = job
    count += 1
  }

  mutating func popFirst() -> UnownedJob? {
    guard count > 0 else { return nil }
    let job = slots[head]
    slots[head] = nil
    head = (head + 1) & (slots.count - 1)
    count -= 1
    return job
  }

  private mutating func grow() {
    var bigger: [UnownedJob?] = Array(repeating: nil, count: slots.count * 2)
    for i in 0..<count { bigger[i] = slots[(head + i) & (slots.count - 1)] }
    slots = bigger
    head = 0
  }
}
