import Foundation
import NetPollAnalysis
import Testing

@Suite("diff compares like with like: latency by park mode, connections by request")
struct DiffByModeTests {
  private func completionDiff() throws -> TraceDiff {
    try TraceDiff.run(pathA: sampleTrace("echo-epoll"), pathB: sampleTrace("echo-uring-completion"))
  }

  @Test("stats splits park → wake latency by the park's mode")
  func statsByMode() throws {
    let r = try TraceStats.run(path: sampleTrace("echo-uring-completion"))
    #expect(r.wakeLatencyRead.count + r.wakeLatencyWrite.count == r.wakeLatency.count)
    #expect(r.wakeLatencyWrite.count > 0 && r.wakeLatencyRead.count > 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(r.json.text().utf8)) as? [String: Any])
    let byMode = try #require(object["wake_latency_by_mode"] as? [String: [String: Any]])
    #expect(byMode["r"]?["count"] as? Int == r.wakeLatencyRead.count)
    #expect(byMode["w"]?["p99_ns"] as? Int == r.wakeLatencyWrite.p99)
  }

  @Test("latency rows and findings are per mode: read parks are compared with read parks")
  func latencyByMode() throws {
    let diff = try completionDiff()
    let keys = diff.rows.map(\.key)
    #expect(!keys.contains("wake_latency_p50_ns"))
    for mode in ["r", "w"] {
      #expect(keys.contains("wake_latency_\(mode)_p50_ns") && keys.contains("wake_latency_\(mode)_p99_ns"))
    }
    let readP50 = try #require(diff.rows.first { $0.key == "wake_latency_r_p50_ns" })
    // In the samples recorded at this commit completion mode's read parks are no faster than
    // epoll's, while its mixed figure (SEND parks included) was 0.6x: the direction follows the
    // read figures alone.
    #expect((readP50.b ?? 0) >= (readP50.a ?? 0))
    #expect(["worse", "same"].contains(readP50.direction))
    let latencyFindings = diff.findings.filter { $0.contains("wake latency") }
    #expect(!latencyFindings.isEmpty)
    #expect(latencyFindings.allSatisfy { $0.contains("read parks") || $0.contains("write parks") })
    #expect(!diff.findings.contains { $0.contains("B's wake latency p50 is 0.6x A's") })
  }

  @Test("the typical connections are aligned request by request and no side 'does nothing'")
  func alignedByRequest() throws {
    let diff = try completionDiff()
    let c = diff.connections
    let firstReadA = try #require(c.alignment.firstIndex { $0.0 == "read>0" })
    let firstRecvB = try #require(c.alignment.firstIndex { $0.1 == "cqe RECV>0" })
    #expect(c.segment(ofRow: firstReadA) == 1)
    #expect(c.segment(ofRow: firstRecvB) == 1)
    let secondReadA = try #require(c.alignment[(firstReadA + 1)...].firstIndex { $0.0 == "read>0" })
    #expect(c.segment(ofRow: secondReadA) == 2)
    for finding in diff.findings { #expect(!finding.contains("nothing"), "\(finding)") }
    let divergence = try #require(diff.findings.first { $0.hasPrefix("The typical connection") })
    #expect(divergence.contains("'sqe RECV'"))
    #expect(diff.text(fileA: "a", fileB: "b").contains("request 1"))
  }
}
