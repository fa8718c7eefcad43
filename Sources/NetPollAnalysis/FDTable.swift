/// Per-fd state indexed by fd number: an array for the fds a real process has (below
/// `denseLimit`), a dictionary for any larger number a damaged or hostile trace names, so a line
/// saying `"fd":1000000000000` costs one entry, not a terabyte.
struct FDTable<Value> {
  /// fds below this live in the array (RLIMIT_NOFILE is rarely above it).
  static var denseLimit: Int { 1 << 20 }

  private var dense: [Value] = []
  private var sparse: [Int: Value] = [:]
  private let empty: Value

  /// A table in which every fd starts as `empty`.
  init(empty: Value) { self.empty = empty }

  /// The state of `fd` (which must not be negative).
  subscript(fd: Int) -> Value {
    get {
      if fd < dense.count { return dense[fd] }
      return fd < Self.denseLimit ? empty : sparse[fd] ?? empty
    }
    _modify {
      if fd < Self.denseLimit {
        if fd >= dense.count {
          dense.append(contentsOf: repeatElement(empty, count: max(fd + 1 - dense.count, dense.count)))
        }
        yield &dense[fd]
      } else {
        let fallback = empty
        yield &sparse[fd, default: fallback]
      }
    }
    set {
      if fd < Self.denseLimit {
        if fd >= dense.count {
          dense.append(contentsOf: repeatElement(empty, count: max(fd + 1 - dense.count, dense.count)))
        }
        dense[fd] = newValue
      } else {
        sparse[fd] = newValue
      }
    }
  }

  /// Every fd that has an entry, in increasing order, with its state.
  var entries: [(fd: Int, value: Value)] {
    Array(zip(dense.indices, dense)).map { (fd: $0.0, value: $0.1) }
      + sparse.sorted { $0.key < $1.key }.map { (fd: $0.key, value: $0.value) }
  }
}

/// A poll descriptor: an fd and a direction, as a dictionary key.
struct FDDirection: Hashable {
  var fd: Int
  var mode: PollMode
}
