/// Counts heap allocations in this process, without LD_PRELOAD: this executable defines `malloc`,
/// `calloc`, `realloc`, `posix_memalign` and `aligned_alloc` itself, so the dynamic linker binds
/// every library's calls (the Swift runtime's `swift_slowAlloc` included) to these, which count
/// and forward to glibc's exported `__libc_*` entry points (or, for the aligned ones, to
/// `__libc_memalign`). ``MallocCounter/selfTest()`` proves the counter sees allocations before any
/// "0 allocations" is believed.
///
/// The counter is a plain global (an `Atomic` global would be initialised lazily, and the first
/// `malloc` of the process comes before Swift could initialise anything): increments from two
/// threads at once can be lost, so a two-thread count is a lower bound; the single-thread count
/// is exact.
enum MallocCounter {
  /// Allocation calls so far.
  static var count: Int { mallocCalls }

  /// Allocates `n` class instances and checks that the counter moved by at least `n`.
  static func selfTest(_ n: Int = 1000) -> Bool {
    final class Probe { var x = 0 }
    let before = mallocCalls
    var keep: [Probe] = []
    keep.reserveCapacity(n)
    for _ in 0..<n { keep.append(Probe()) }
    let moved = mallocCalls - before
    return moved >= n && keep.count == n
  }
}

nonisolated(unsafe) var mallocCalls = 0

@_silgen_name("__libc_malloc") func libcMalloc(_ size: Int) -> UnsafeMutableRawPointer?
@_silgen_name("__libc_calloc") func libcCalloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer?
@_silgen_name("__libc_realloc")
func libcRealloc(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer?
@_silgen_name("__libc_memalign") func libcMemalign(_ alignment: Int, _ size: Int) -> UnsafeMutableRawPointer?

@_cdecl("malloc") public func countingMalloc(_ size: Int) -> UnsafeMutableRawPointer? {
  mallocCalls &+= 1
  return libcMalloc(size)
}

@_cdecl("calloc") public func countingCalloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
  mallocCalls &+= 1
  return libcCalloc(count, size)
}

@_cdecl("realloc")
public func countingRealloc(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
  mallocCalls &+= 1
  return libcRealloc(pointer, size)
}

@_cdecl("aligned_alloc") public func countingAlignedAlloc(_ alignment: Int, _ size: Int) -> UnsafeMutableRawPointer? {
  mallocCalls &+= 1
  return libcMemalign(alignment, size)
}

@_cdecl("posix_memalign")
public func countingPosixMemalign(
  _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int
) -> Int32 {
  mallocCalls &+= 1
  guard let p = libcMemalign(alignment, size) else { return 12 }  // ENOMEM
  out.pointee = p
  return 0
}
