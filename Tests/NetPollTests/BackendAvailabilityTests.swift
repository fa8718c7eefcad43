import NetPoll
import Testing

/// One test per backend, skipped (and so listed as skipped) where the backend cannot run: the
/// behavioural suites run over `Backend.available` only.
@Suite struct BackendAvailability {
  @Test(.enabled(if: Backend.epoll.isAvailable)) func epollRuns() throws {
    _ = try NetPollRuntime(backend: .epoll, workers: 1).shutdown()
  }
  @Test(.enabled(if: Backend.uring.isAvailable)) func uringRuns() throws {
    _ = try NetPollRuntime(backend: .uring, workers: 1).shutdown()
  }
  @Test(.enabled(if: Backend.uringCompletion.isAvailable)) func uringCompletionRuns() throws {
    _ = try NetPollRuntime(backend: .uringCompletion, workers: 1).shutdown()
  }
}
