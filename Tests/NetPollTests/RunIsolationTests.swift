import Glibc
import NetPoll
import Testing

/// Where a runtime's async code runs. NetPoll's async functions run on their caller's executor
/// (the module is built with `NonisolatedNonsendingByDefault`, which saves a hop per call); the
/// one entry point that must leave its caller's actor still does.
@Suite struct RunIsolation {
  static func threadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY)
    defer { close(fd) }
    var name = [UInt8](repeating: 0, count: 32)
    let n = read(fd, &name, name.count)
    return String(decoding: name.prefix(max(0, n)).filter { $0 != 10 }, as: UTF8.self)
  }

  @MainActor
  @Test(
    "run, awaited on the main actor, runs its body on the runtime's workers",
    arguments: Backend.available)
  func runLeavesTheCallersActor(_ backend: Backend) async throws {
    let rt = try NetPollRuntime(backend: backend, workers: 1)
    defer { rt.shutdown() }
    let name = await rt.run { Self.threadName() }
    #expect(name == "netpoll-w0", "the body ran on thread \"\(name)\"")
  }
}
