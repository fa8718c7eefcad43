import NetPoll

/// How faithfully a live replay reproduced its trace: connections and bytes (which must match
/// exactly) and the timing error of request arrivals.
public struct LiveReplayReport: Sendable {
  /// The workload reconstructed from the original trace.
  public var original: RecordedWorkload
  /// The same reconstruction applied to the new server's trace.
  public var replayed: RecordedWorkload
  /// The backend the replay ran on.
  public var backend: Backend
  /// The speed factor; `nil` for as fast as possible.
  public var speed: Double?
  /// Where the new trace was written (`nil`: a temporary file, removed).
  public var tracePath: String?
  /// What went wrong on the client side (a connection closed early, a reset).
  public var clientErrors: [String]
  /// Events the new trace's recorder dropped (its bytes are then incomplete).
  public var droppedEvents: Int
  /// Wall-clock seconds the replay took.
  public var elapsedSeconds: Double

  /// Connection indices (0-based, accept order) whose bytes in or out differ, plus the ones only
  /// one side has.
  public var mismatchedConnections: [Int] {
    let count = max(original.connections.count, replayed.connections.count)
    return (0..<count).filter { i in
      guard i < original.connections.count, i < replayed.connections.count else { return true }
      let a = original.connections[i]
      let b = replayed.connections[i]
      return a.bytesIn != b.bytesIn || a.bytesOut != b.bytesOut
    }
  }

  /// True when the replay accepted as many connections as the original, in the same order, and
  /// each read and wrote exactly the recorded bytes.
  public var isExact: Bool { mismatchedConnections.isEmpty && droppedEvents == 0 }

  /// `replayed − recorded/speed` for every inter-arrival interval both traces have, in
  /// nanoseconds: from each accept to the next (across connections), and within a connection from
  /// the accept to the first request and from each request to the next. With no speed (as fast
  /// as possible) the recorded intervals are taken unscaled.
  public var timingErrors: [Int] {
    let scale = speed ?? 1
    var errors: [Int] = []
    func compare(_ a: [Int], _ b: [Int]) {
      guard a.count > 1, b.count > 1 else { return }
      for k in 1..<min(a.count, b.count) {
        errors.append((b[k] - b[k - 1]) - Int(Double(a[k] - a[k - 1]) / scale))
      }
    }
    compare(original.connections.map(\.acceptNs), replayed.connections.map(\.acceptNs))
    for (a, b) in zip(original.connections, replayed.connections) {
      compare([a.acceptNs] + a.exchanges.map(\.arrivalNs), [b.acceptNs] + b.exchanges.map(\.arrivalNs))
    }
    return errors.sorted()
  }

  /// The timing error at quantile `q` (0...1) in nanoseconds; `nil` with no intervals.
  public func timingError(quantile q: Double) -> Int? {
    let sorted = timingErrors
    guard !sorted.isEmpty else { return nil }
    let i = min(sorted.count - 1, max(0, Int((Double(sorted.count) * q).rounded(.up)) - 1))
    return sorted[i]
  }

  /// The report as text, one finding per line.
  public func text(file: String) -> String {
    let verdict = isExact ? "exact" : "NOT reproduced"
    var out = "live replay of \(file) (\(original.backend), \(original.settings.proto?.rawValue ?? "echo"))"
    out += " on \(backend), \(speed.map { "speed \(format($0))x" } ?? "as fast as possible"): \(verdict)\n"
    out += "connections: \(replayed.connections.count) replayed of \(original.connections.count) recorded\n"
    out += "bytes in:    \(replayed.bytesIn) replayed of \(original.bytesIn) recorded\n"
    out += "bytes out:   \(replayed.bytesOut) replayed of \(original.bytesOut) recorded\n"
    let requestsA = original.connections.reduce(0) { $0 + $1.exchanges.count }
    let requestsB = replayed.connections.reduce(0) { $0 + $1.exchanges.count }
    out += "requests:    \(requestsB) replayed of \(requestsA) recorded (reads between writes)\n"
    let mismatched = mismatchedConnections
    if mismatched.isEmpty {
      out += "per connection: all \(original.connections.count) match in accept order (bytes in and out)\n"
    } else {
      for i in mismatched.prefix(10) {
        let a = i < original.connections.count ? original.connections[i] : nil
        let b = i < replayed.connections.count ? replayed.connections[i] : nil
        out += "connection \(i + 1): recorded \(a.map { "\($0.bytesIn) in / \($0.bytesOut) out" } ?? "none"),"
        out += " replayed \(b.map { "\($0.bytesIn) in / \($0.bytesOut) out" } ?? "none")\n"
      }
    }
    if droppedEvents > 0 { out += "the new trace dropped \(droppedEvents) events\n" }
    let intervals = timingErrors.count
    if let p50 = timingError(quantile: 0.5), let p99 = timingError(quantile: 0.99) {
      let reference = speed == nil ? "recorded" : "recorded/speed"
      out += "timing error (replayed − \(reference) inter-arrival, \(intervals) intervals):"
      out += " p50 \(micros(p50)), p99 \(micros(p99))\n"
    }
    for error in clientErrors.prefix(10) { out += "client: \(error)\n" }
    if clientErrors.count > 10 { out += "client: … \(clientErrors.count - 10) more\n" }
    out += "replay took \(format(elapsedSeconds)) s"
    out += tracePath.map { "; new trace: \($0)\n" } ?? "\n"
    return out
  }

  private func micros(_ ns: Int) -> String { "\(format(Double(ns) / 1000))µs" }

  private func format(_ x: Double) -> String {
    let scaled = (x * 1000).rounded()
    let sign = scaled < 0 ? "-" : ""
    let magnitude = Int(abs(scaled))
    let frac = String(magnitude % 1000)
    return "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
  }
}
