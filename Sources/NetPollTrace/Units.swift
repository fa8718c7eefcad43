/// Sizes and durations as a person types them on a command line.
public enum Units {
  /// `"65536"`, `"512K"`, `"8M"`, `"1G"`, `"64KiB"`, `"8MB"`: bytes (powers of 1024; `B` and `iB`
  /// suffixes allowed). Nil for anything else, zero, or a value past Int.max.
  public static func bytes(_ text: String) -> Int? {
    var s = text.uppercased()
    for suffix in ["IB", "B"] where s.hasSuffix(suffix) && s.count > suffix.count {
      s.removeLast(suffix.count)
      break
    }
    var shift = 0
    if let last = s.last, let i = ["K", "M", "G", "T"].firstIndex(of: String(last)) {
      shift = 10 * (i + 1)
      s.removeLast()
    }
    guard let n = Int(s), n > 0 else { return nil }
    let (v, overflow) = n.multipliedReportingOverflow(by: 1 << shift)
    return overflow ? nil : v
  }

  /// `"10ms"`, `"1.5s"`, `"250us"`, `"2000ns"`, `"1m"`: nanoseconds. Nil for anything else, a
  /// negative value, or one past UInt64.max.
  public static func nanoseconds(_ text: String) -> UInt64? {
    let units: [(String, Double)] = [
      ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9),
    ]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
      let number = text.dropLast(suffix.count)
      guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }),
        let v = Double(number), v.isFinite, v >= 0
      else { return nil }
      let ns = v * scale
      guard ns < 1.8e19 else { return nil }
      return UInt64(ns.rounded())
    }
    return nil
  }
}
