// netpoll-bench: the micro-benchmarks tools/bench runs. Prints one JSON object on stdout.
//
//   netpoll-bench recorder [--seconds S]     (includes the JSON encoder's throughput, "encode")
//   netpoll-bench encoder [--seconds S]      (only that: MB/s and ns per line, two event mixes)
//   netpoll-bench park-wake [--backends epoll,uring,...] [--workers N] [--seconds S]
//   netpoll-bench all [--seconds S]
//   netpoll-bench record-only --events N [--threads T]   (run under valgrind: allocations/event)
//   netpoll-bench encode-only --events N                 (run under valgrind: allocations/line)
import NetPoll

#if canImport(Glibc)
  import Glibc
#endif

func usage() -> Never {
  let text = """
    usage: netpoll-bench recorder|encoder|park-wake|all|record-only|encode-only [--seconds S] [--backends LIST] [--workers N]
                     [--events N] [--threads T]

    """
  _ = text.withCString { write(2, $0, strlen($0)) }
  exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let what = args.first,
  ["recorder", "encoder", "park-wake", "all", "record-only", "encode-only"].contains(what)
else {
  usage()
}
args.removeFirst()
var seconds = 1.0
var workers = 1
var backends = Backend.allCases
var events = 0
var threads = 1
while !args.isEmpty {
  let flag = args.removeFirst()
  guard !args.isEmpty else { usage() }
  let value = args.removeFirst()
  switch flag {
  case "--seconds": seconds = Double(value) ?? 0
  case "--workers": workers = Int(value) ?? 0
  case "--events": events = Int(value) ?? -1
  case "--threads": threads = Int(value) ?? 0
  case "--backends":
    backends = value.split(separator: ",").compactMap { Backend(rawValue: String($0)) }
  default: usage()
  }
}
guard seconds > 0, workers > 0, events >= 0, threads > 0 else { usage() }
if what == "record-only" {
  RecorderBenchmark.recordOnly(events: events, threads: threads)
  exit(0)
}
if what == "encode-only" {
  EncoderBenchmark.encodeOnly(lines: events)
  exit(0)
}

var parts: [String] = []
if what == "recorder" || what == "all" {
  parts.append("\"recorder\":" + RecorderBenchmark(seconds: seconds).run())
}
if what == "encoder" {
  parts.append("\"encode\":" + EncoderBenchmark(seconds: seconds).run())
}
if what == "park-wake" || what == "all" {
  var results: [String] = []
  for backend in backends {
    if let reason = backend.unavailableReason {
      results.append("\(quoted(backend.rawValue)):{\"skipped\":\(quoted(reason))}")
      continue
    }
    do {
      let rate = try await ParkWakeBenchmark(backend: backend, workers: workers, seconds: seconds).run()
      results.append("\(quoted(backend.rawValue)):{\"round_trips_per_second\":\(Int(rate))}")
    } catch {
      results.append("\(quoted(backend.rawValue)):{\"error\":\(quoted("\(error)"))}")
    }
  }
  parts.append("\"park_wake\":{\"workers\":\(workers),\(results.joined(separator: ","))}")
}
print("{" + parts.joined(separator: ",") + "}")
