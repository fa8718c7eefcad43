import NetPoll
import NetPollTrace
import Testing

/// One test per backend, skipped (and so listed as skipped) where the backend cannot run: the
/// behavioural suites run over `Backend.available` only. Where it runs, the backend must carry a
/// byte across a loopback connection with a park and a wake in its trace: a backend that is
/// "available" but cannot serve fails here, not as an empty parameter list elsewhere.
@Suite struct BackendAvailability {
  @Test(.enabled(if: Backend.epoll.isAvailable)) func epollRuns() async throws {
    try await Self.serves(.epoll)
  }
  @Test(.enabled(if: Backend.uring.isAvailable)) func uringRuns() async throws {
    try await Self.serves(.uring)
  }
  @Test(.enabled(if: Backend.uringCompletion.isAvailable)) func uringCompletionRuns() async throws {
    try await Self.serves(.uringCompletion)
  }

  @Test("the behavioural suites run on at least epoll, and on exactly the available backends")
  func availableListIsConsistent() {
    #expect(Backend.available.contains(.epoll), "epoll is always there on Linux")
    for b in Backend.allCases {
      #expect(Backend.available.contains(b) == (b.unavailableReason == nil), "\(b)")
    }
  }

  static func serves(_ backend: Backend) async throws {
    let h = try Harness(backend, workers: 1)
    #expect(h.runtime.backend == backend)
    let trace = try await h.run { rt in
      let (server, client, listener) = try await Harness.pair(rt)
      async let got = server.read(maxBytes: 8)
      try await eventually("the reader parks") { server.debugReadState == .parked }
      try await client.write([42])
      #expect(try await got == [42])
      server.close()
      client.close()
      listener.close()
    }
    #expect(trace.of(.park).count >= 1)
    #expect(trace.of(.wake).contains { $0.d == TraceWakeReason.ready.rawValue })
  }
}
