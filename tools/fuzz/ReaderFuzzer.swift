// libFuzzer entry point for the trace reader, compiled together with the NetPollAnalysis sources
// (not as a package target) by `tools/fuzz-reader`. Each input is written to a file and read the
// way the CLI reads it: every line through the reader, every event through replay (with an fd and a
// task timeline), the connection shapes and the Perfetto exporter. Any crash, trap or
// out-of-memory is a bug: bad input must end as a `TraceError` or a warning.
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

private let inputPath = "/dev/shm/netpoll-fuzz-\(getpid()).jsonl"
/// `NETPOLL_FUZZ_SKIP_EXPORT=1` leaves the Perfetto exporter out, to fuzz the reader and replay
/// alone while a known exporter crash is being fixed.
private let skipExport = getenv("NETPOLL_FUZZ_SKIP_EXPORT") != nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
  guard fd >= 0 else { fatalError("fuzz-reader: cannot create \(inputPath)") }
  var offset = 0
  while offset < size {
    let n = write(fd, data + offset, size - offset)
    guard n > 0 else { fatalError("fuzz-reader: cannot write \(inputPath)") }
    offset += n
  }
  close(fd)
  // A 64-byte chunk and a 512-byte line limit reach the straddling and overlong paths with
  // small inputs.
  do {
    let reader = try TraceReader(path: inputPath, maxLineLength: 512, chunkSize: 64)
    var replay = TraceReplay(options: ReplayOptions(fd: 7, task: 2))
    var shapes = ConnectionShapes()
    while let event = try reader.next() {
      replay.consume(event)
      shapes.consume(event)
    }
    let report = replay.finish(header: reader.header, truncated: reader.isTruncated)
    _ = report.renderViolations(file: inputPath) + report.renderNotes(file: inputPath)
    _ = report.renderSummary(file: inputPath)
    _ = ReplayReport.renderTimeline(report.fdTimeline, title: "fd")
    _ = ConnectionComparison(a: shapes, b: shapes).divergence
  } catch {
    _ = error.description
  }
  if !skipExport { _ = try? PerfettoExport.run(input: inputPath, output: "/dev/null") }
  return 0
}
