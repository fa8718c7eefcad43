/// Per-fd state, sparse: a dictionary holding only the fds that have an entry, so memory follows
/// the number of fds in use, never the size of an fd number (a trace naming fd 1048575 or
/// 1000000000000 costs one entry). Reading an fd without an entry gives `empty` and stores nothing.
/// (The array it replaced grew to the largest fd number below 2^20: a 235-byte trace naming fd
/// 1048575 made `netpoll replay` take 448 MB.)
struct FDTable<Value> {
  private var storage: [Int: Value] = [:]
  private let empty: Value

  /// A table in which every fd starts as `empty`.
  init(empty: Value) { self.empty = empty }

  /// The state of `fd`; writing it (or modifying it in place) stores an entry.
  subscript(fd: Int) -> Value {
    get { storage[fd] ?? empty }
    _modify {
      let fallback = empty
      yield &storage[fd, default: fallback]
    }
    set { storage[fd] = newValue }
  }

  /// Whether `fd` has an entry.
  func contains(_ fd: Int) -> Bool { storage[fd] != nil }

  /// Drops `fd`'s entry (it reads as `empty` again).
  mutating func remove(_ fd: Int) { storage[fd] = nil }

  /// How many fds have an entry.
  var count: Int { storage.count }

  /// Every fd that has an entry, in increasing order, with its state.
  var entries: [(fd: Int, value: Value)] {
    storage.sorted { $0.key < $1.key }.map { (fd: $0.key, value: $0.value) }
  }
}

/// A poll descriptor: an fd and a direction, as a dictionary key.
struct FDDirection: Hashable {
  var fd: Int
  var mode: PollMode
}
