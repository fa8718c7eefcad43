/// The io_uring requests in flight, by `user_data`: the operation, how many submissions are
/// outstanding (the wake-up `NOP` and cancels reuse theirs) and, for a short while, the line where
/// a request completed (to tell "completed twice" from "never submitted"). Bounded by the requests
/// in flight plus a fixed number of recent completions.
struct RingRequests {
  private struct Request {
    var op: UringOperation
    var outstanding: Int
  }
  private var inFlight: [UInt64: Request] = [:]
  private var recentlyFinished: [UInt64: Int] = [:]
  private var finishedOrder = BoundedQueue(capacity: 256)

  mutating func submitted(op: UringOperation, userData: UInt64, fd: Int, line: Int) {
    if var request = inFlight[userData], request.op == op, op != .pollAdd {
      request.outstanding = saturatingAdd(request.outstanding, 1)
      inFlight[userData] = request
    } else {
      // The latest submission with a user_data owns its completions.
      inFlight[userData] = Request(op: op, outstanding: 1)
    }
  }

  /// The operation a completion belongs to, or `nil` when none is in flight; a final completion
  /// (without `MORE`) ends one outstanding submission.
  mutating func completed(userData: UInt64, more: Bool, line: Int) -> UringOperation? {
    guard var request = inFlight[userData] else { return nil }
    if more { return request.op }
    request.outstanding -= 1
    if request.outstanding > 0 {
      inFlight[userData] = request
    } else {
      inFlight[userData] = nil
      finished(userData, line: line)
    }
    return request.op
  }

  /// Remembers where a request's final completion was (for a later duplicate).
  private mutating func finished(_ userData: UInt64, line: Int) {
    recentlyFinished[userData] = line
    if let oldest = finishedOrder.push(Int(bitPattern: UInt(userData))) {
      let key = UInt64(UInt(bitPattern: oldest))
      if recentlyFinished[key] != nil, key != userData { recentlyFinished[key] = nil }
    }
  }

  /// The line of the recent final completion of `userData`, if remembered.
  func finishedLine(_ userData: UInt64) -> Int? { recentlyFinished[userData] }
}

/// A fixed-capacity FIFO of integers; pushing into a full queue drops (and returns) the oldest.
struct BoundedQueue {
  private var items: [Int] = []
  private var head = 0
  let capacity: Int

  init(capacity: Int) { self.capacity = capacity }

  mutating func push(_ value: Int) -> Int? {
    if items.count < capacity {
      items.append(value)
      return nil
    }
    let oldest = items[head]
    items[head] = value
    head = (head + 1) % capacity
    return oldest
  }
}
