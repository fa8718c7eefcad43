import Foundation
import NetPollAnalysis
import NetPollTestSupport
import NetPollTrace
import Testing

/// The recorder (writer side) and the analysis reader agree on the contract of
/// docs/trace-format.md: the two sides keep their own event tables on purpose, so this is where a
/// new event that only one of them knows is caught.
@Suite struct TraceContractTests {
  @Test("every event the recorder writes is read back by the tools as a known, well-formed event")
  func everyRecordedEventIsKnownToTheReader() throws {
    let path =
      "\(NSTemporaryDirectory())netpoll-contract-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    defer {
      keepTrace(path, as: "contract")
      unlink(path)
    }
    let recorder = TraceRecorder()
    let writer = try TraceWriter(path: path, recorder: recorder, backend: "epoll", command: "contract")
    // Snapshot lines are not recorded events: only a flight-recorder dump writes them, with seq 0
    // before its window (the reader learns them on its own branch; test them with the dump).
    let snapshots: [TraceEventKind] = [.snapshotFD, .snapshotPark, .snapshotOp]
    let recorded = TraceEventKind.allCases.filter { $0 != .readyItem && !snapshots.contains($0) }
    // Values chosen to be valid for every event's enumerated fields (op ADD, mode r, reason ready).
    for kind in recorded {
      recorder.record(TraceRecord(kind, ret: 1, a: 1, b: 1, c: 1, d: kind == .wake ? 0 : 1, e: 0))
    }
    let written = recorded.count
    writer.finish()

    let reader = try TraceReader(path: path)
    var events = 0
    while try reader.next() != nil { events += 1 }
    #expect(events == written + 2, "trace_start, one line per kind, trace_end")
    #expect(reader.unknownEvents.isEmpty, "events the reader does not know: \(reader.unknownEvents)")
    #expect(reader.warnings.isEmpty, "\(reader.warnings)")
  }
}
