import Synchronization

/// Pending read/write deadlines, earliest first (a binary min-heap). The poller blocks no longer
/// than the earliest and fires the expired ones after each poll.
final class DeadlineTimers: Sendable {
  struct Entry {
    var when: UInt64  // CLOCK_MONOTONIC ns
    var pd: PollDescriptor
    var mode: IOMode
    var seq: UInt64  // the descriptor's deadline seq when set; stale if it moved on
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
