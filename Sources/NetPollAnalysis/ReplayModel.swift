// The per-fd state of `TraceReplay`'s model.

/// The model's view of one fd number. Kept small (24 bytes) because there is one per open fd: line
/// numbers are stored in 32 bits (saturating; only messages use them); the epoll tag and the io_uring
/// poll's `user_data` share a word (an fd is registered one way or the other); the registration's
/// line and the line of the DEL or close that removed it share another.
struct FDState {
  private var registrationKey: UInt64 = 0
  private var registrationLine: UInt32 = 0
  private var openedOrClosedLine: UInt32 = 0
  var flags: FDFlags = []

  /// The epoll registration's tag (`nil`: the `epoll_ctl` had none, any tag matches).
  var tag: Int? {
    get { flags.contains(.anyTag) ? nil : Int(bitPattern: UInt(registrationKey)) }
    set {
      if let newValue {
        registrationKey = UInt64(UInt(bitPattern: newValue))
        flags.remove(.anyTag)
      } else {
        flags.insert(.anyTag)
      }
    }
  }
  /// The `user_data` of the fd's io_uring poll request (armed while `flags` has `.pollArmed`).
  var uringPoll: UInt64 {
    get { registrationKey }
    set { registrationKey = newValue }
  }
  /// The line of the registration (ADD, POLL_ADD or snapshot).
  var registeredLine: Int {
    get { Int(registrationLine) }
    set { registrationLine = UInt32(clamping: newValue) }
  }
  /// The line of the DEL (or close) that removed the registration; 0 if none.
  var deletedLine: Int {
    get { flags.contains(.deregistered) ? Int(registrationLine) : 0 }
    set {
      if newValue == 0 {
        flags.remove(.deregistered)
      } else {
        registrationLine = UInt32(clamping: newValue)
        flags.insert(.deregistered)
      }
    }
  }
  /// The line that opened the fd (while `.open`; 0: not opened in the trace).
  var openedLine: Int {
    get { Int(openedOrClosedLine) }
    set { openedOrClosedLine = UInt32(clamping: newValue) }
  }
  /// The line of the `close` that ended it (while `.closed`).
  var closedLine: Int {
    get { Int(openedOrClosedLine) }
    set { openedOrClosedLine = UInt32(clamping: newValue) }
  }

  var tagText: String { tag.map(String.init) ?? "(none)" }
}

/// What is true of an fd in the model.
struct FDFlags: OptionSet {
  let rawValue: UInt16
  /// Created in the trace and not closed since.
  static let open = FDFlags(rawValue: 1 << 0)
  /// Closed, and the number not handed out again since.
  static let closed = FDFlags(rawValue: 1 << 1)
  /// Registered with epoll (ADD done, no DEL or close since).
  static let registered = FDFlags(rawValue: 1 << 2)
  /// Its io_uring multishot poll is armed.
  static let pollArmed = FDFlags(rawValue: 1 << 3)
  /// A task is parked on it for reading.
  static let parkedRead = FDFlags(rawValue: 1 << 4)
  /// A task is parked on it for writing.
  static let parkedWrite = FDFlags(rawValue: 1 << 5)
  /// Made by `eventfd` (the poller's wake-up: drained to EAGAIN, never parked on).
  static let eventfd = FDFlags(rawValue: 1 << 6)
  /// The registration had no tag: any tag matches it.
  static let anyTag = FDFlags(rawValue: 1 << 7)
  /// Its epoll registration was removed (`deletedLine` holds the DEL's or close's line).
  static let deregistered = FDFlags(rawValue: 1 << 8)

  /// Whether the fd has anything worth an entry (a tag or an old registration alone is not).
  var holdsState: Bool { !subtracting([.anyTag, .deregistered]).isEmpty }
}

/// One value per poll descriptor direction, stored inline (no array, no allocation).
struct PerMode<Value> {
  var read: Value
  var write: Value

  init(_ value: Value) {
    read = value
    write = value
  }

  subscript(mode: PollMode) -> Value {
    get { mode == .read ? read : write }
    set {
      if mode == .read { read = newValue } else { write = newValue }
    }
  }
}

/// An EAGAIN whose task has not parked or retried yet.
struct PendingEAGAIN {
  var line: Int
  var call: Syscall
  var fd: Int
  var mode: PollMode
}
