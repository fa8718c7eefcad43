import Foundation
import NetPollAnalysis

/// The path of a hand-made trace in `Fixtures/`.
func fixture(_ name: String) -> String {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// Writes `contents` to a fresh temporary file and returns its path.
func temporaryTrace(_ contents: String, name: String = "trace.jsonl") throws -> String {
  try temporaryTrace(Data(contents.utf8), name: name)
}

/// Writes `data` to a fresh temporary file and returns its path.
func temporaryTrace(_ data: Data, name: String = "trace.jsonl") throws -> String {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("netpoll-analysis-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  let url = directory.appendingPathComponent(name)
  try data.write(to: url)
  return url.path
}

/// A path in a fresh temporary directory where nothing exists yet (an output path).
func temporaryPath(name: String) throws -> String {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("netpoll-analysis-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  return directory.appendingPathComponent(name).path
}

/// A valid first line.
let startLine =
  #"{"seq":0,"ts":0,"tid":1,"ev":"trace_start","format":"netpoll-trace","version":1,"backend":"epoll","pid":1,"wall":"2026-11-26T22:50:01Z","command":"test","backend_note":""}"#

/// Reads every event of `path`, returning the reader for its warnings and state.
@discardableResult
func readAll(_ path: String) throws(TraceError) -> (TraceReader, [TraceEvent]) {
  let reader = try TraceReader(path: path)
  var events: [TraceEvent] = []
  while let event = try reader.next() { events.append(event) }
  return (reader, events)
}

/// The `TraceError` that reading `path` throws, or `nil` if it reads cleanly.
func readError(_ path: String) -> TraceError? {
  do {
    try readAll(path)
    return nil
  } catch {
    return error
  }
}
