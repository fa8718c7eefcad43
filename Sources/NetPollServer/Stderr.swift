import NetPoll

#if canImport(Glibc)
  import Glibc
#endif

/// Writes to fd 2 directly, without stdio buffering.
func writeStderr(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
  Glibc.write(2, bytes.baseAddress, bytes.count)
}
