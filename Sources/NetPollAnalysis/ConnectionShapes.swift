/// The normalised event sequences of a trace's connections, counted by shape.
///
/// A connection is an fd from its `accept` (or `connect`) to its `close`. Its sequence keeps the
/// kind of each event and its outcome class (`read>0`, `read=0`, `read EAGAIN`, `park r`, `ready`,
/// `wake r ready`, `sqe POLL_ADD`, ...), with fds and tasks dropped, so connections that behaved
/// alike have equal sequences. Sequences are capped at `maxLength` steps; identical shapes share one
/// counter, so memory grows with the number of distinct shapes, not connections.
public struct ConnectionShapes: Sendable {
  /// Steps kept per connection.
  public static let maxLength = 48
  /// Distinct shapes still counted; rarer new shapes beyond this are dropped.
  public static let maxShapes = 10_000

  /// How many connections had each shape.
  public private(set) var counts: [[String]: Int] = [:]
  private var open: [Int: [String]] = [:]
  private var uringOperations = UringOperations()

  /// Creates an empty collection.
  public init() {}

  /// Feeds one event.
  public mutating func consume(_ e: TraceEvent) {
    switch e.body {
    case .socketCall(let call):
      switch call.syscall {
      case .accept:
        if call.ret >= 0 { open[call.ret] = ["accept"] }
        return
      case .connect:
        if open[call.fd] == nil { open[call.fd] = [] }
      case .close:
        if var steps = open.removeValue(forKey: call.fd) {
          steps.append("close")
          finishConnection(steps)
        }
        return
      default: break
      }
      let outcome =
        e.errno.map { " \($0)" }
        ?? (call.syscall == .read || call.syscall == .write ? (call.ret > 0 ? ">0" : "=0") : "")
      append(call.fd, call.syscall.rawValue + outcome)
    case .epollCtl(let ctl): append(ctl.fd, "epoll_ctl \(ctl.op.rawValue)")
    case .epollWait(let wait):
      for entry in wait.ready { append(entry.fd, "ready") }
    case .park(_, let fd, let mode): append(fd, "park \(mode.rawValue)")
    case .wake(_, let fd, let mode, let reason): append(fd, "wake \(mode.rawValue) \(reason.rawValue)")
    case .stale(let fd, _, _, _): append(fd, "stale")
    case .deadline(let fd, let mode, _): append(fd, "deadline \(mode.rawValue)")
    case .uringSubmission(let op, let fd, let userData):
      uringOperations.submitted(op: op, userData: userData)
      append(fd, "sqe \(op)")
    case .uringCompletion(let userData, let res, let fd, let more):
      // Completion mode: an ACCEPT's result opens a connection as `accept` does; a RECV or SEND
      // result is a step with its outcome, like `read>0`.
      switch uringOperations.completed(userData: userData, more: more) {
      case .accept? where res >= 0:
        open[res] = ["accept"]
      case let operation? where operation.isCallResult:
        let outcome = e.errno.map { " \($0)" } ?? (res > 0 ? ">0" : "=0")
        append(fd, "cqe \(operation.callName)" + outcome)
      default:
        if res > 0 { append(fd, "ready") }
      }
    default: break
    }
  }

  /// The most common shape and its count; among equally common ones the shortest, then the
  /// first in lexicographic order (a dictionary's order differs from run to run: the choice must
  /// not, or `diff` would print different findings for the same two files).
  public var typical: (steps: [String], count: Int)? {
    counts.max { a, b in
      if a.value != b.value { return a.value < b.value }
      if a.key.count != b.key.count { return a.key.count > b.key.count }
      return b.key.lexicographicallyPrecedes(a.key)
    }.map { ($0.key, $0.value) }
  }

  /// Connections seen to their close.
  public var connectionCount: Int { counts.values.reduce(0, +) }

  private mutating func append(_ fd: Int, _ step: String) {
    guard let count = open[fd]?.count, count <= Self.maxLength else { return }
    // The step past the cap becomes a marker, so a cut sequence never looks like a whole one.
    open[fd]!.append(count == Self.maxLength ? Self.elided : step)
  }

  /// The step that stands for everything past `maxLength`.
  public static let elided = "…"

  private mutating func finishConnection(_ steps: [String]) {
    if counts[steps] != nil || counts.count < Self.maxShapes { counts[steps, default: 0] += 1 }
  }
}

/// Where two traces' typical connections part ways, compared request by request.
///
/// Each typical shape is cut into segments: segment 0 is everything before the first request,
/// segment n begins with request n's data arriving (`read>0`, or `cqe RECV>0` in completion mode)
/// and runs to the next request, so it holds the response and the wait for the next request.
/// Segment n of A is aligned with segment n of B (longest common subsequence within it), so a
/// backend that reads its first request without waiting is never matched one request off.
public struct ConnectionComparison: Sendable {
  /// A's most common connection shape.
  public var typicalA: [String]
  /// B's most common connection shape.
  public var typicalB: [String]
  /// Connections in A and B.
  public var connectionsA: Int
  /// Connections in B.
  public var connectionsB: Int
  /// The aligned steps: (A's step or nil, B's step or nil), gaps where one side has no counterpart.
  public var alignment: [(String?, String?)]
  /// The index in `alignment` of each segment's first row (segment 0: before the first request).
  public var segmentStarts: [Int]
  /// The index in `alignment` of the first difference, or `nil` when the shapes are equal.
  public var firstDifference: Int?

  /// Aligns the typical shapes of `a` and `b`, request by request. With `leavingOutRuntimeSteps`
  /// (one side is an `"ebpf"` trace), the steps only the runtime's recorder sees are left out of
  /// both, so they never show as differences.
  public init(a: ConnectionShapes, b: ConnectionShapes, leavingOutRuntimeSteps: Bool = false) {
    typicalA = a.typical?.steps ?? []
    typicalB = b.typical?.steps ?? []
    if leavingOutRuntimeSteps {
      typicalA.removeAll(where: Self.isRuntimeOnly)
      typicalB.removeAll(where: Self.isRuntimeOnly)
    }
    connectionsA = a.connectionCount
    connectionsB = b.connectionCount
    let segmentsA = requestSegments(typicalA)
    let segmentsB = requestSegments(typicalB)
    alignment = []
    segmentStarts = []
    for k in 0..<max(segmentsA.count, segmentsB.count) {
      segmentStarts.append(alignment.count)
      alignment += align(k < segmentsA.count ? segmentsA[k] : [], k < segmentsB.count ? segmentsB[k] : [])
    }
    firstDifference = alignment.firstIndex { $0.0 != $0.1 }
  }

  /// Whether `step` is one that only the runtime's own recorder logs (docs/trace-format.md, "Sources"):
  /// a park, wake, stale drop or deadline, or a call `netpoll record` does not trace.
  public static func isRuntimeOnly(_ step: String) -> Bool {
    let kind = step.prefix { $0 != " " && $0 != ">" && $0 != "=" }
    return [
      "park", "wake", "stale", "deadline", "poll", "shutdown", "setsockopt", "getsockopt", "getsockname",
    ]
    .contains(kind)
  }

  /// Whether `step` is a request's data arriving: a `read` with data, or a RECV completion with data.
  public static func isRequest(_ step: String) -> Bool { step == "read>0" || step == "cqe RECV>0" }

  /// The segment of row `row` of `alignment` (0: before the first request, n: request n).
  public func segment(ofRow row: Int) -> Int {
    segmentStarts.lastIndex { $0 <= row } ?? 0
  }

  /// `before the first request`, `request 3`.
  public static func segmentName(_ segment: Int) -> String {
    segment == 0 ? "before the first request" : "request \(segment)"
  }

  /// The divergence in words, or `nil` when there is nothing to compare or no difference.
  public var divergence: String? {
    guard !typicalA.isEmpty, !typicalB.isEmpty else { return nil }
    guard let i = firstDifference else {
      return "The typical connection has the same event sequence in A and B."
    }
    // What each side does from the difference to the end of the segment (the next request).
    let segment = segment(ofRow: i)
    let end = segment + 1 < segmentStarts.count ? segmentStarts[segment + 1] : alignment.count
    let rows = alignment[i..<end]
    let name = Self.segmentName(segment)
    func steps(_ side: String, _ taken: [String]) -> String {
      guard !taken.isEmpty else {
        return segment + 1 < segmentStarts.count
          ? "\(side) goes on to \(Self.segmentName(segment + 1))" : "\(side)'s connection ends there"
      }
      return "\(side) does " + taken.map { "'\($0)'" }.joined(separator: ", ")
    }
    let before = i > 0 ? "after '\(alignment[i - 1].0 ?? alignment[i - 1].1 ?? "")'" : "at the start"
    return
      "The typical connection first diverges at step \(i + 1) (\(name)), \(before): \(steps("A", rows.compactMap(\.0))); \(steps("B", rows.compactMap(\.1)))."
  }
}

/// `steps` cut before each request (see `ConnectionComparison`); the first segment may be empty.
func requestSegments(_ steps: [String]) -> [[String]] {
  var segments: [[String]] = [[]]
  for step in steps {
    if ConnectionComparison.isRequest(step) { segments.append([]) }
    segments[segments.count - 1].append(step)
  }
  return segments
}

/// Longest-common-subsequence alignment of two short sequences.
func align(_ a: [String], _ b: [String]) -> [(String?, String?)] {
  let n = a.count
  let m = b.count
  var table = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
  for i in stride(from: n - 1, through: 0, by: -1) {
    for j in stride(from: m - 1, through: 0, by: -1) {
      table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
    }
  }
  var out: [(String?, String?)] = []
  var i = 0
  var j = 0
  while i < n || j < m {
    if i < n, j < m, a[i] == b[j] {
      out.append((a[i], b[j]))
      i += 1
      j += 1
    } else if j >= m || (i < n && table[i + 1][j] >= table[i][j + 1]) {
      out.append((a[i], nil))
      i += 1
    } else {
      out.append((nil, b[j]))
      j += 1
    }
  }
  return out
}
