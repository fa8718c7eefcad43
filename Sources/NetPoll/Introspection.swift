/// The state of one of a poll descriptor's semaphores, for tests and diagnostics.
package enum SemaphoreState: Equatable, Sendable {
  case empty, ready, waiting, parked
}

extension PollDescriptor {
  func state(_ mode: IOMode) -> SemaphoreState {
    switch load(mode) {
    case Semaphore.empty: .empty
    case Semaphore.ready: .ready
    case Semaphore.waiting: .waiting
    default: .parked
    }
  }
}

extension TCPConnection {
  /// The read semaphore's state (a latched readiness shows as `.ready`).
  package var debugReadState: SemaphoreState { handle.pd.state(.read) }
  /// The write semaphore's state.
  package var debugWriteState: SemaphoreState { handle.pd.state(.write) }
  /// The registration's token (fd and sequence tag).
  package var debugToken: PollToken { handle.pd.token }
}

extension TCPListener {
  /// The accept (read) semaphore's state.
  package var debugAcceptState: SemaphoreState { handle.pd.state(.read) }
}
