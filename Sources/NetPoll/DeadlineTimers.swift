import CNetPollShims
import NetPollTrace
import Synchronization

/// Pending read/write deadlines, earliest first (a binary min-heap). The poller blocks no longer
/// than the earliest and fires the expired ones after each poll.
final class DeadlineTimers: Sendable {
  struct Entry {
    var when: UInt64  // CLOCK_MONOTONIC ns
    var pd: PollDescriptor
    var mode: IOMode
    var generation: UInt64  // the descriptor's generation when armed; stale once it is reused
  }

  private let heap = Mutex<[Entry]>([])

  /// Adds a deadline; true when it is now the earliest (a blocked poll must re-read it).
  func add(_ e: Entry) -> Bool {
    heap.withLock { h in
      h.append(e)
      var i = h.count - 1
      while i > 0 {
        let parent = (i - 1) / 2
        if h[parent].when <= h[i].when { break }
        h.swapAt(parent, i)
        i = parent
      }
      return i == 0
    }
  }

  /// The earliest deadline, if any.
  var earliest: UInt64? { heap.withLock { $0.first?.when } }

  /// Removes and returns every entry due at `now`.
  func popExpired(now: UInt64, into out: inout [Entry]) {
    heap.withLock { h in
      while let first = h.first, first.when <= now {
        out.append(first)
        let last = h.removeLast()
        if h.isEmpty { break }
        h[0] = last
        var i = 0
        while true {
          let l = 2 * i + 1
          let r = l + 1
          var m = i
          if l < h.count && h[l].when < h[m].when { m = l }
          if r < h.count && h[r].when < h[m].when { m = r }
          if m == i { break }
          h.swapAt(i, m)
          i = m
        }
      }
    }
  }
}

extension NetPollRuntime {
  /// Sets (a duration from now) or clears (`nil`) the deadline for `mode`. A deadline that has
  /// passed wakes a parked task with reason "deadline" and fails later calls until it is reset.
  func setDeadline(_ pd: PollDescriptor, _ mode: IOMode, after duration: Duration?) {
    let now = netpoll_monotonic_ns()
    let ns: Int64? = duration.map { d in
      let (s, atto) = d.components
      return max(0, s.multipliedReportingOverflow(by: 1_000_000_000).partialValue + atto / 1_000_000_000)
    }
    sys.record(
      TraceRecord(.deadline, a: Int64(pd.fd.load(ordering: .relaxed)), b: mode.trace.rawValue, c: ns ?? -1))
    // The expired flag changes under the same lock as the deadline, so a timer firing for the
    // old deadline cannot expire the new one (Go holds pd.lock for both).
    let (expiredNow, arm) = pd.deadlines.withLock { d -> (Bool, DeadlineTimers.Entry?) in
      var dl = d[mode]
      defer { d[mode] = dl }
      guard let ns else {
        dl.when = 0
        pd.setExpired(mode, false)
        return (false, nil)
      }
      if ns == 0 {
        dl.when = 0
        pd.setExpired(mode, true)
        return (true, nil)
      }
      dl.when = now &+ UInt64(ns)
      pd.setExpired(mode, false)
      guard dl.armed == 0 || dl.when < dl.armed else { return (false, nil) }  // the armed entry re-arms
      dl.armed = dl.when
      return (false, DeadlineTimers.Entry(when: dl.when, pd: pd, mode: mode, generation: dl.generation))
    }
    if expiredNow, let w = pd.unblock(mode, ioReady: false) { interrupt(w, pd, mode, .deadline) }
    if let arm, timers.add(arm) { scheduler.deadlineChanged() }
  }

  /// A timer came due: expire the deadline if it has passed and wake the waiter (Go's
  /// `netpolldeadlineimpl`); if the deadline moved later meanwhile, arm one entry for it instead.
  func fireDeadline(_ e: DeadlineTimers.Entry) {
    let now = netpoll_monotonic_ns()
    let (fire, rearm) = e.pd.deadlines.withLock { d -> (Bool, DeadlineTimers.Entry?) in
      var dl = d[e.mode]
      defer { d[e.mode] = dl }
      guard e.generation == dl.generation else { return (false, nil) }
      if e.when == dl.armed { dl.armed = 0 }
      guard dl.when != 0 else { return (false, nil) }
      if dl.when <= now {
        dl.when = 0
        e.pd.setExpired(e.mode, true)
        return (true, nil)
      }
      guard dl.armed == 0 else { return (false, nil) }
      dl.armed = dl.when
      return (false, DeadlineTimers.Entry(when: dl.when, pd: e.pd, mode: e.mode, generation: dl.generation))
    }
    if fire, let w = e.pd.unblock(e.mode, ioReady: false) { interrupt(w, e.pd, e.mode, .deadline) }
    if let rearm { _ = timers.add(rearm) }  // called by the poller itself: it re-reads the earliest
  }
}
