import Synchronization

/// The runtime's poll descriptors: the fd → descriptor map the poller resolves events through,
/// and the cache descriptors are recycled from (Go's `pollCache`).
final class DescriptorTable: Sendable {
  struct State {
    var byFD: [PollDescriptor?] = []
    var cache: [PollDescriptor] = []
    /// Tags start at 1 (0 marks the poller's own eventfd) and are never reused while any
    /// registration could still hold them: 2^32 registrations before wrap-around.
    var nextTag: UInt32 = 1
  }

  let state = Mutex(State())

  /// Takes a descriptor from the cache (or makes one) for `fd`, with a fresh tag.
  func open(fd: Int32) -> PollDescriptor {
    state.withLock { s in
      let tag = s.nextTag
      s.nextTag = s.nextTag == .max ? 1 : s.nextTag + 1
      let pd: PollDescriptor
      if let cached = s.cache.popLast() {
        cached.reset(fd: fd, tag: tag)
        pd = cached
      } else {
        pd = PollDescriptor(fd: fd, tag: tag)
      }
      let index = Int(fd)
      if index >= s.byFD.count {
        s.byFD.append(contentsOf: repeatElement(nil, count: max(index + 1 - s.byFD.count, s.byFD.count)))
      }
      precondition(s.byFD[index] == nil, "NetPollRuntime: fd \(fd) opened twice without close")
      s.byFD[index] = pd
      return pd
    }
  }

  /// Forgets `fd`'s descriptor; called after the poller's close and before close(2), so an
  /// event still in flight for it resolves to nothing.
  func remove(_ pd: PollDescriptor) {
    let fd = Int(pd.fd.load(ordering: .relaxed))
    state.withLock { s in
      if fd < s.byFD.count, s.byFD[fd] === pd { s.byFD[fd] = nil }
    }
  }

  /// Returns a descriptor nobody references any more to the cache.
  func recycle(_ pd: PollDescriptor) {
    state.withLock { s in s.cache.append(pd) }
  }

  /// Resolves each event to its descriptor. An event whose fd has no descriptor, or whose tag is
  /// not the descriptor's, is stale: it goes to `stale` with the fd's current tag (-1: none).
  func resolve(
    _ events: [PollEvent], into ready: inout [(PollDescriptor, PollEvent)],
    stale: inout [(PollEvent, Int64)]
  ) {
    state.withLock { s in
      for ev in events {
        let i = Int(ev.token.fd)
        if i >= 0, i < s.byFD.count, let pd = s.byFD[i] {
          let current = pd.tag.load(ordering: .acquiring)
          if current == ev.token.tag {
            ready.append((pd, ev))
          } else {
            stale.append((ev, Int64(current)))
          }
        } else {
          stale.append((ev, -1))
        }
      }
    }
  }

  /// How many fds are registered now.
  var openCount: Int { state.withLock { s in s.byFD.reduce(0) { $0 + ($1 == nil ? 0 : 1) } } }
}
