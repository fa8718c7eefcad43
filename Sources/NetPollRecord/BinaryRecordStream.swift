/// Splits the libbpf loader's stdout into ``KernelRecord``s: records of 8 + 8n bytes (see
/// ``KernelRecord/binarySize(header:)``), arriving in reads that may cut one anywhere.
///
/// Whole records are decoded in place from the read's bytes; only a record cut by the end of a
/// read is copied, and completed from the next read.
struct BinaryRecordStream {
  /// The start of a record the previous read cut short.
  private var carry: [UInt8] = []

  /// Bytes held for a record not complete yet.
  var pendingBytes: Int { carry.count }

  /// Decodes every record `bytes` completes, in order.
  mutating func feed(_ bytes: UnsafeRawBufferPointer, _ record: (KernelRecord) -> Void) {
    let header = KernelRecord.binaryHeaderSize
    var start = 0
    while !carry.isEmpty && start < bytes.count {
      let want = carry.count < header ? header : KernelRecord.binarySize(header: carry[1])
      let take = min(want - carry.count, bytes.count - start)
      carry.append(contentsOf: bytes[start..<start + take])
      start += take
      if carry.count >= header && carry.count == KernelRecord.binarySize(header: carry[1]) {
        carry.withUnsafeBytes { record(KernelRecord.decode(binary: $0)) }
        carry.removeAll(keepingCapacity: true)
      }
    }
    var off = start
    while off + header <= bytes.count {
      let size = KernelRecord.binarySize(header: bytes[off + 1])
      guard off + size <= bytes.count else { break }
      record(KernelRecord.decode(binary: UnsafeRawBufferPointer(rebasing: bytes[off..<off + size])))
      off += size
    }
    if off < bytes.count { carry.append(contentsOf: bytes[off..<bytes.count]) }
  }
}
