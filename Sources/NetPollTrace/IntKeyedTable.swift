/// A hash table from `Int64` keys to small values, for the flight recorder's state, which it
/// updates for every event that leaves its window (a park, a wake, a registration).
///
/// `Dictionary<Int64, V>` hashes each key with SipHash and checks uniqueness on every write: in
/// a profile of a flight-recorder server that was a third of the recorder thread's time. This is
/// open addressing with linear probing, a multiplicative hash, and backward-shift deletion (no
/// tombstones, so a table that sees millions of short-lived keys stays as fast as a fresh one).
/// It grows at half full and never shrinks: its memory is bounded by the most keys ever live at
/// once, not by the number of events.
struct IntKeyedTable<Value> {
  private var keys: [Int64]
  private var values: [Value?]
  private var mask: Int
  private(set) var count = 0
  /// Slots allocated (for tests of the memory bound).
  var capacity: Int { keys.count }
  /// A key no caller uses: fds, tags, task ids and user_data are never `Int64.min`.
  private static var empty: Int64 { .min }

  init() {
    keys = Array(repeating: Self.empty, count: 16)
    values = Array(repeating: nil, count: 16)
    mask = 15
  }

  @inline(__always)
  private func home(_ key: Int64) -> Int {
    // Fibonacci hashing: the high bits of key * 2^64/φ, so sequential keys spread out.
    Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
  }

  subscript(key: Int64) -> Value? {
    get {
      guard key != Self.empty else { return nil }
      var i = home(key)
      while true {
        let k = keys[i]
        if k == key { return values[i] }
        if k == Self.empty { return nil }
        i = (i + 1) & mask
      }
    }
    set {
      guard key != Self.empty else { return }
      if let newValue { insert(key, newValue) } else { remove(key) }
    }
  }

  private mutating func insert(_ key: Int64, _ value: Value) {
    var i = home(key)
    while true {
      let k = keys[i]
      if k == key {
        values[i] = value
        return
      }
      if k == Self.empty { break }
      i = (i + 1) & mask
    }
    keys[i] = key
    values[i] = value
    count += 1
    if count * 2 > keys.count { grow() }
  }

  private mutating func remove(_ key: Int64) {
    var i = home(key)
    while true {
      let k = keys[i]
      if k == Self.empty { return }
      if k == key { break }
      i = (i + 1) & mask
    }
    // Backward shift: move later members of the probe run into the hole when their home allows.
    var hole = i
    var j = i
    while true {
      j = (j + 1) & mask
      let k = keys[j]
      if k == Self.empty { break }
      let h = home(k)
      // `k` may move into the hole unless its home lies cyclically in (hole, j].
      let stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
      if !stays {
        keys[hole] = k
        values[hole] = values[j]
        hole = j
      }
    }
    keys[hole] = Self.empty
    values[hole] = nil
    count -= 1
  }

  private mutating func grow() {
    let oldKeys = keys
    let oldValues = values
    let size = keys.count * 2
    keys = Array(repeating: Self.empty, count: size)
    values = Array(repeating: nil, count: size)
    mask = size - 1
    count = 0
    for (k, v) in zip(oldKeys, oldValues) where k != Self.empty {
      if let v { insert(k, v) }
    }
  }

  /// The entries, sorted by key (for snapshots, whose order must be stable).
  func sorted() -> [(key: Int64, value: Value)] {
    var out: [(key: Int64, value: Value)] = []
    out.reserveCapacity(count)
    for (k, v) in zip(keys, values) where k != Self.empty {
      if let v { out.append((k, v)) }
    }
    return out.sorted { $0.key < $1.key }
  }
}
