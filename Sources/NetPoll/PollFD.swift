import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// An fd registered with the runtime's poller, with Go's `poll.FD` reference counting: every
/// operation holds a reference, close marks the fd closing and wakes its waiters, and whoever
/// drops the last reference deregisters it (epoll `DEL`) and only then closes it, so an fd
/// number is never reused while an operation could still touch it.
final class PollFD: Sendable {
  let fd: Int32
  let pd: PollDescriptor
  let runtime: NetPollRuntime
  /// How this fd's accept/read/write/connect reach the kernel (readiness loop or ring operations).
  /// An existential: one indirect call per operation, next to a system call or a ring round trip.
  let io: any SocketIO
  /// In-flight operations plus one for the owner; ``closedBit`` once close was called.
  private let refs = Atomic<UInt64>(1)
  private static let closedBit: UInt64 = 1 << 63

  /// Registers `fd` with the poller. On failure the fd is closed.
  init(fd: Int32, runtime: NetPollRuntime) throws(NetPollError) {
    self.fd = fd
    self.runtime = runtime
    io = runtime.socketIO
    pd = runtime.descriptors.open(fd: fd)
    do {
      try io.register(fd: fd, token: pd.token)
    } catch {
      runtime.descriptors.remove(pd)
      runtime.descriptors.recycle(pd)
      try? runtime.sys.close(fd: fd)
      throw .system(syscall: io.registrationCall, errno: error)
    }
  }

  /// Takes a reference for one operation; fails once the fd is closing.
  func acquire() throws(NetPollError) {
    var old = refs.load(ordering: .acquiring)
    while true {
      if old & Self.closedBit != 0 { throw .closed }
      let (done, now) = refs.compareExchange(
        expected: old, desired: old + 1, ordering: .acquiringAndReleasing)
      if done { return }
      old = now
    }
  }

  func release() {
    let now = refs.subtract(1, ordering: .acquiringAndReleasing).newValue
    if now == Self.closedBit { destroy() }
  }

  /// True once ``close()`` was called.
  var isClosed: Bool { refs.load(ordering: .acquiring) & Self.closedBit != 0 }

  /// Closes the fd: parked tasks wake with ``NetPollError/closed``; the fd itself is deregistered
  /// and closed when the last operation on it has returned. Calling it again does nothing.
  func close() {
    let old = refs.bitwiseOr(Self.closedBit, ordering: .acquiringAndReleasing).oldValue
    guard old & Self.closedBit == 0 else { return }
    runtime.evict(pd)
    release()
  }

  private func destroy() {
    // DEL before close: once closed the number can be reused by another thread's accept.
    try? io.deregister(fd: fd, token: pd.token)
    runtime.descriptors.remove(pd)
    try? runtime.sys.close(fd: fd)
    runtime.descriptors.recycle(pd)
  }

  /// Runs `call` until it stops failing with EAGAIN, parking on `mode` in between.
  ///
  /// `levelCheck` turns on the level check below; `mayStayReady` then says whether a result can
  /// leave the fd ready with no edge to come (a write that took everything: the buffer never
  /// filled, so no "writable again" edge will follow).
  ///
  /// The rules are non-escaping closures with a flag beside each, not optional closures: an
  /// optional closure escapes, and an async caller heap-allocates its context on every call
  /// (two allocations per read, seen with heaptrack).
  ///
  /// `drainCheck` turns on the rule below; `drains` says whether a result proves the fd drained in `mode` (a short read on
  /// a stream socket: the kernel copied everything queued). The next call in that direction then
  /// waits on the descriptor first instead of making a call that can only say EAGAIN, which saves
  /// one system call per request on an echo or request/response connection. Why no data is
  /// missed: the short read emptied the receive queue, so every byte queued after it makes a new
  /// edge (epoll's and io_uring's polls report each arrival), and the poller hands that edge to
  /// the descriptor's semaphore: a latch if the task has not parked yet (``NetPollRuntime/wait``
  /// consumes it and the call is made at once), a wake if it has. An edge dispatched before the
  /// short read whose bytes that read already took leaves a stale latch: one EAGAIN, then the
  /// usual park. Not skipped: once the fd reported a hang-up or error (a FIN that arrived with
  /// the data shares its edge, so end of stream would have no edge of its own), or when a
  /// deadline or close already stops a wait (the call is made and answers as it always did).
  func perform<T>(
    _ mode: IOMode, _ syscall: String, levelCheck: Bool = false, mayStayReady: (T) -> Bool = { _ in false },
    drainCheck: Bool = false, drains: (T) -> Bool = { _ in false }, _ call: () throws(Errno) -> T
  ) async throws(NetPollError) -> T {
    try acquire()
    defer { release() }
    var levelChecked = false
    if drainCheck, takeDrained(mode), !pd.hangup.load(ordering: .sequentiallyConsistent),
      pd.blockingReason(mode) == nil
    {
      try await runtime.wait(pd, mode)
      if levelCheck { setShouldBeReady(mode, true) }
    }
    while true {
      do {
        let result = try call()
        if levelCheck { setShouldBeReady(mode, mayStayReady(result)) }
        if drainCheck, drains(result) { setDrained(mode) }
        // A task whose calls never wait must still let the others (and the poller) run.
        if runtime.scheduler.shouldYield() { await Task.yield() }
        return result
      } catch .wouldBlock {
        // Edge-triggered readiness is reported once per change. An EAGAIN that comes while the
        // fd should be ready (right after a wake, or after a write that took everything) may be
        // false (an injected fault, a spurious kernel answer): parked, the task would wait for
        // an edge that never comes. Ask the kernel for the level with poll(2) and a zero
        // timeout first; at most once between two waits, so a kernel that keeps lying cannot
        // make us spin. The usual path (a wake, a read, a write, EAGAIN) makes no check.
        if levelCheck, !levelChecked, shouldBeReady(mode) {
          levelChecked = true
          let ready = levelReady(mode)
          setShouldBeReady(mode, ready)
          if ready { continue }
        }
        try await runtime.wait(pd, mode)
        if levelCheck { setShouldBeReady(mode, true) }
        levelChecked = false
      } catch {
        throw .system(syscall: syscall, errno: error)
      }
    }
  }

  /// Per direction (bit 0 read, bit 1 write): the fd should be ready now (a wait just returned,
  /// a level check said so, or a write took everything), so an EAGAIN is worth a level check. Only a hint, read and written by the
  /// fd's current user; a race costs at most one extra or one missing level check.
  private let readyBits = Atomic<UInt8>(0)

  private func shouldBeReady(_ mode: IOMode) -> Bool {
    readyBits.load(ordering: .relaxed) & bit(mode) != 0
  }

  private func setShouldBeReady(_ mode: IOMode, _ value: Bool) {
    guard shouldBeReady(mode) != value else { return }
    if value {
      readyBits.bitwiseOr(bit(mode), ordering: .relaxed)
    } else {
      readyBits.bitwiseAnd(~bit(mode), ordering: .relaxed)
    }
  }

  private func bit(_ mode: IOMode) -> UInt8 { mode == .read ? 1 : 2 }

  /// Per direction (bit 2 read, bit 3 write, in ``readyBits``): the last call proved the fd
  /// drained (see `drains` in ``perform(_:_:levelCheck:mayStayReady:drainCheck:drains:_:)``). Read and written by the
  /// fd's current user in that direction only.
  private func drainedBit(_ mode: IOMode) -> UInt8 { mode == .read ? 4 : 8 }

  private func setDrained(_ mode: IOMode) {
    if readyBits.load(ordering: .relaxed) & drainedBit(mode) == 0 {
      readyBits.bitwiseOr(drainedBit(mode), ordering: .relaxed)
    }
  }

  /// Whether the last call drained the fd in `mode`; clears the mark.
  private func takeDrained(_ mode: IOMode) -> Bool {
    guard readyBits.load(ordering: .relaxed) & drainedBit(mode) != 0 else { return false }
    readyBits.bitwiseAnd(~drainedBit(mode), ordering: .relaxed)
    return true
  }

  /// Whether the fd is ready in `mode` right now, by poll(2) with a zero timeout. A failed poll
  /// counts as not ready: the task then parks as it would have without the check.
  private func levelReady(_ mode: IOMode) -> Bool {
    let wanted: Int16 = mode == .read ? Int16(POLLIN) : Int16(POLLOUT)
    guard let revents = try? runtime.sys.pollNow(fd: fd, events: wanted) else { return false }
    return revents & (wanted | Int16(POLLERR | POLLHUP)) != 0
  }

  /// Runs `call` once, holding a reference (for calls that cannot block).
  func withReference<T>(_ syscall: String, _ call: () throws(Errno) -> T) throws(NetPollError) -> T {
    try acquire()
    defer { release() }
    do { return try call() } catch { throw .system(syscall: syscall, errno: error) }
  }
}
