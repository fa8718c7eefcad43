// netpoll-bench: the micro-benchmarks tools/bench runs. Prints one JSON object on stdout.
//
//   netpoll-bench recorder [--seconds S]
//   netpoll-bench park-wake [--backends epoll,uring,...] [--workers N] [--seconds S]
//   netpoll-bench all [--seconds S]
import NetPoll

#if canImport(Glibc)
  import Glibc
#endif

func usage() -> Never {
  let text = """
    usage: netpoll-bench recorder|park-wake|all [--seconds S] [--backends LIST] [--workers N]

    """
  _ = text.withCString { write(2, $0, strlen($0)) }
  exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let what = args.first, ["recorder", "park-wake", "all"].contains(what) else { usage() }
args.removeFirst()
var seconds = 1.0
var workers = 1
var backends = Backend.allCases
while !args.isEmpty {
  let flag = args.removeFirst()
  guard !args.isEmpty else { usage() }
  let value = args.removeFirst()
  switch flag {
  case "--seconds": seconds = Double(value) ?? 0
  case "--workers": workers = Int(value) ?? 0
  case "--backends":
    backends = value.split(separator: ",").compactMap { Backend(rawValue: String($0)) }
  default: usage()
  }
}
guard seconds > 0, workers > 0 else { usage() }

var parts: [String] = []
if what == "recorder" || what == "all" {
  parts.append("\"recorder\":" + RecorderBenchmark(seconds: seconds).run())
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
