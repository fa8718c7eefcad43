import CNetPollShims

#if canImport(Glibc)
  import Glibc
#endif

/// The recorder's clock: raw ticks on the recording path, nanoseconds in the file.
///
/// Recording threads read the CPU's timestamp counter (`rdtsc`, ~8 ns) instead of
/// `clock_gettime` (~24 ns through the vDSO on the 2-vCPU EPYC VM these figures come from;
/// `tools/bench` measures `record()`), and only where the kernel itself keeps time with the TSC
/// (`current_clocksource` is `tsc`), so the counter is invariant and synchronised across CPUs.
/// The consumer converts ticks to nanoseconds since the recorder started with a slope measured
/// against CLOCK_MONOTONIC over the whole run so far, so the error shrinks as the run goes on.
struct TraceClock: Sendable {
  let useTSC: Bool
  let tick0: UInt64
  let ns0: UInt64
  private(set) var nsPerTick: Double

  init() {
    useTSC = Self.tscIsClocksource
    ns0 = netpoll_monotonic_ns()
    tick0 = netpoll_trace_ticks(useTSC ? 1 : 0)
    nsPerTick = 1
    if useTSC {
      // A first slope over 100 µs (error ~2e-4), refined by every later calibrate().
      while netpoll_monotonic_ns() &- ns0 < 100_000 {}
      calibrate(force: true)
    }
  }

  /// Reads ticks now (the recording path's clock read).
  @inline(__always)
  func ticks() -> UInt64 { netpoll_trace_ticks(useTSC ? 1 : 0) }

  /// Re-measures the slope against CLOCK_MONOTONIC (consumer only; cheap, one clock read each).
  mutating func calibrate(force: Bool = false) {
    guard useTSC else { return }
    let t = netpoll_trace_ticks(1)
    let n = netpoll_monotonic_ns()
    guard t > tick0, force || n &- ns0 >= 1_000_000 else { return }
    nsPerTick = Double(n &- ns0) / Double(t &- tick0)
  }

  /// Nanoseconds since the recorder started for a tick reading.
  @inline(__always)
  func nanoseconds(_ ticks: UInt64) -> UInt64 {
    guard ticks > tick0 else { return 0 }
    if !useTSC { return ticks &- tick0 }
    return UInt64(Double(ticks &- tick0) * nsPerTick)
  }

  /// True where the kernel's clocksource is the TSC (read once per process).
  static let tscIsClocksource: Bool = {
    guard netpoll_trace_tsc_supported() != 0 else { return false }
    guard let f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r")
    else { return false }
    defer { fclose(f) }
    var buf = [CChar](repeating: 0, count: 32)
    guard fgets(&buf, Int32(buf.count), f) != nil else { return false }
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.hasPrefix("tsc")
  }()
}
