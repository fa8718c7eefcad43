#if canImport(Glibc)
  import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds (vDSO, no system call).
func monotonicNanos() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Median, 99th percentile and mean of a set of samples.
struct Summary {
  var median = 0.0
  var p99 = 0.0
  var mean = 0.0
  var count = 0

  init(_ samples: [Double]) {
    guard !samples.isEmpty else { return }
    let sorted = samples.sorted()
    median = sorted[sorted.count / 2]
    p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    mean = sorted.reduce(0, +) / Double(sorted.count)
    count = sorted.count
  }

  var json: String {
    "{\"median\":\(fixed(median)),\"p99\":\(fixed(p99)),\"mean\":\(fixed(mean)),\"samples\":\(count)}"
  }
}

/// `x` with two decimals, for JSON and tables.
func fixed(_ x: Double) -> String {
  guard x.isFinite else { return "null" }
  let scaled = Int((x * 100).rounded())
  let sign = scaled < 0 ? "-" : ""
  let a = abs(scaled)
  let frac = a % 100
  return "\(sign)\(a / 100).\(frac < 10 ? "0" : "")\(frac)"
}

/// A JSON string literal.
func quoted(_ s: String) -> String {
  var out = "\""
  for ch in s.unicodeScalars {
    switch ch {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    default:
      if ch.value < 0x20 {
        out += "\\u00\(ch.value < 0x10 ? "0" : "")\(String(ch.value, radix: 16))"
      } else {
        out.unicodeScalars.append(ch)
      }
    }
  }
  return out + "\""
}
