#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One line handed out by `LineReader`.
enum LineChunk {
  /// A line of at most `maxLineLength` bytes, without its `\n`; the pointer is valid until the next
  /// call. `terminated` is false for a last line that ends without `\n` (a torn write).
  case line(UnsafeRawBufferPointer, terminated: Bool)
  /// A line longer than `maxLineLength`. Reading stops there (`next()` returns `nil` from then
  /// on): the rest of such a line is never read, so an endless line (`/dev/zero`) costs
  /// `maxLineLength` bytes of reading, not forever.
  case overlong
}

/// Reads `\n`-separated lines from a file descriptor in fixed-size chunks, in constant memory.
///
/// A line that fits in the chunk is handed out in place; one that straddles chunks is copied into a
/// carry buffer that never grows past `maxLineLength`. A longer line ends the reading.
final class LineReader {
  /// Lines longer than this many bytes are reported as `.overlong`.
  let maxLineLength: Int
  private let fd: Int32
  private let ownsDescriptor: Bool
  private let chunk: UnsafeMutableRawBufferPointer
  private var start = 0
  private var end = 0
  private var atEOF = false
  /// Set by an overlong line: nothing more is read.
  private var stopped = false
  /// Holds a line that straddles chunks; allocated on first use, never more than `maxLineLength`.
  private var carry: UnsafeMutableRawBufferPointer?
  private var carryCount = 0
  /// The `errno` of a failed `read(2)`, if any; reading stops there.
  private(set) var readErrno: Int32 = 0
  /// Bytes handed out so far, newlines included.
  private(set) var bytesConsumed = 0

  init(fd: Int32, ownsDescriptor: Bool, chunkSize: Int = 256 * 1024, maxLineLength: Int = 1 << 20) {
    self.fd = fd
    self.ownsDescriptor = ownsDescriptor
    self.maxLineLength = maxLineLength
    self.chunk = .allocate(byteCount: chunkSize, alignment: 16)
  }

  deinit {
    chunk.deallocate()
    carry?.deallocate()
    if ownsDescriptor { _ = close(fd) }
  }

  /// Returns the next line, or `nil` at end of input (or after a read error, see `readErrno`, or
  /// after an overlong line).
  func next() -> LineChunk? {
    guard !stopped else { return nil }
    carryCount = 0
    while true {
      if start < end {
        let base = chunk.baseAddress! + start
        let available = end - start
        if let newline = memchr(base, 0x0A, available) {
          let length = newline - base
          if carryCount + length > maxLineLength { return overlong() }
          start += length + 1
          bytesConsumed += length + 1
          if carryCount == 0 {
            return .line(UnsafeRawBufferPointer(start: base, count: length), terminated: true)
          }
          appendToCarry(base, length)
          return .line(UnsafeRawBufferPointer(start: carry!.baseAddress, count: carryCount), terminated: true)
        }
        if carryCount + available > maxLineLength { return overlong() }
        bytesConsumed += available
        appendToCarry(base, available)
        start = end
      }
      if atEOF || !refill() {
        if carryCount == 0 { return nil }
        return .line(UnsafeRawBufferPointer(start: carry!.baseAddress, count: carryCount), terminated: false)
      }
    }
  }

  private func overlong() -> LineChunk {
    stopped = true
    return .overlong
  }

  private func appendToCarry(_ bytes: UnsafeRawPointer, _ count: Int) {
    if carry == nil { carry = .allocate(byteCount: maxLineLength, alignment: 16) }
    (carry!.baseAddress! + carryCount).copyMemory(from: bytes, byteCount: count)
    carryCount += count
  }

  private func refill() -> Bool {
    start = 0
    end = 0
    while true {
      let n = read(fd, chunk.baseAddress, chunk.count)
      if n > 0 {
        end = n
        return true
      }
      if n == 0 {
        atEOF = true
        return false
      }
      if errno == EINTR { continue }
      readErrno = errno
      atEOF = true
      return false
    }
  }
}
