import Foundation

/// The directory in `NETPOLL_KEEP_TRACES`, where tools/test collects every trace the suite
/// records so that tools/check-sql can load each one into the SQL engines (issue 12: not only the
/// samples in traces/ must load with no schema hints). Unset: traces are deleted as before.
private let keptTracesDirectory = ProcessInfo.processInfo.environment["NETPOLL_KEEP_TRACES"]

/// Copies the trace at `path` into `NETPOLL_KEEP_TRACES` (if set) as `swift-NAME-PID-N.jsonl`.
/// `invalid` says why the trace is not a whole one on purpose (torn, cut short); it is written
/// beside the copy as `....jsonl.invalid`, and check-sql skips the trace and prints the reason.
/// A copy that fails is reported on standard error: the test itself does not depend on it.
public func keepTrace(_ path: String, as name: String, invalid: String? = nil) {
  guard let directory = keptTracesDirectory, FileManager.default.fileExists(atPath: path) else { return }
  let target = "\(directory)/swift-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).jsonl"
  do {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: path, toPath: target)
    if let invalid { try Data((invalid + "\n").utf8).write(to: URL(fileURLWithPath: target + ".invalid")) }
  } catch {
    FileHandle.standardError.write(Data("keepTrace: \(path) -> \(target): \(error)\n".utf8))
  }
}
