/// The writer's output buffer: raw memory with a cursor, grown by doubling.
///
/// `Array.append` cost ~3,000 instructions per encoded event (uniqueness and capacity checks on
/// every byte); the encoder instead reserves room for a whole line (``reserve(_:)``), writes it
/// through a pointer and counts it (``commit(_:)``): one capacity check per line. Used by the
/// writer thread only.
package final class OutputBytes {
  // Unchecked: one thread owns the buffer, and the runtime's dynamic exclusivity check on these
  // (swift_beginAccess, a thread-local access set) was 8% of encoding time under `perf`.
  @exclusivity(unchecked) private var base: UnsafeMutablePointer<UInt8>
  @exclusivity(unchecked) private var capacity: Int
  /// Bytes written so far.
  @exclusivity(unchecked) package private(set) var count = 0

  package init(capacity: Int = 1 << 20) {
    self.capacity = capacity
    base = .allocate(capacity: capacity)
  }

  deinit { base.deallocate() }

  @inline(never)
  private func grow(toAtLeast needed: Int) {
    var newCapacity = capacity * 2
    while newCapacity < needed { newCapacity *= 2 }
    let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    bigger.update(from: base, count: count)
    base.deallocate()
    base = bigger
    capacity = newCapacity
  }

  @inline(__always)
  package func append(_ byte: UInt8) {
    if count == capacity { grow(toAtLeast: count + 1) }
    base[count] = byte
    count += 1
  }

  @inline(__always)
  package func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
    if count + bytes.count > capacity { grow(toAtLeast: count + bytes.count) }
    if let src = bytes.baseAddress { (base + count).update(from: src, count: bytes.count) }
    count += bytes.count
  }

  /// Makes room for `n` more bytes and returns where they go; ``commit(_:)`` then counts what was
  /// written. The pointer is valid until the next call that may grow the buffer.
  @inline(__always)
  package func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
    if count + n > capacity { grow(toAtLeast: count + n) }
    return base + count
  }

  /// Counts `n` bytes written at the pointer the last ``reserve(_:)`` returned.
  @inline(__always)
  package func commit(_ n: Int) {
    count += n
  }

  /// Forgets the bytes written, keeping the memory for the next batch.
  package func removeAll(keepingCapacity: Bool = true) { count = 0 }

  /// Calls `body` with the bytes written so far (valid only inside `body`).
  package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try body(UnsafeRawBufferPointer(start: base, count: count))
  }
}
