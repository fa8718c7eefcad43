#if canImport(Glibc)
  import Glibc
#endif

/// A `pthread_mutex_t` guarding a value, with `Synchronization.Mutex`'s `withLock` shape. It
/// exists for ThreadSanitizer alone: on Linux, TSan does not see `Mutex` (its futex lock lives in
/// the uninstrumented standard library), so a TSan run reports every access inside a `withLock`
/// as a race, while it intercepts `pthread_mutex_lock`. TSan builds (`-Xswiftc -DNETPOLL_TSAN`,
/// as `tools/test --sanitizers=thread` passes) make `Mutex` an alias of this type in each module
/// that uses one; every other build keeps `Synchronization.Mutex`.
///
/// The mutex and the value live behind pointers this struct owns, so their addresses stay put
/// while the struct itself is moved (a `pthread_mutex_t` must not move once initialised).
package struct PthreadMutex<Value: ~Copyable>: ~Copyable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let value: UnsafeMutablePointer<Value>

  /// A mutex guarding `initialValue` (`pthread_mutex_init`, default attributes).
  package init(_ initialValue: consuming sending Value) {
    mutex = .allocate(capacity: 1)
    precondition(pthread_mutex_init(mutex, nil) == 0, "PthreadMutex: pthread_mutex_init failed")
    value = .allocate(capacity: 1)
    value.initialize(to: initialValue)
  }

  deinit {
    value.deinitialize(count: 1)
    value.deallocate()
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  /// Runs `body` with the lock held (`pthread_mutex_lock`/`pthread_mutex_unlock`), giving it
  /// the guarded value.
  package borrowing func withLock<Result: ~Copyable, E: Error>(
    _ body: (inout sending Value) throws(E) -> sending Result
  ) throws(E) -> sending Result {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value.pointee)
  }
}

// As `Mutex`: the value is only reached with the lock held, and `withLock` takes and returns it
// as `sending`, so no non-Sendable state escapes to another thread through it.
extension PthreadMutex: @unchecked Sendable where Value: ~Copyable {}

#if NETPOLL_TSAN
  /// TSan builds: `Mutex` in this module is a ``PthreadMutex`` (it shadows the import).
  typealias Mutex<Value: ~Copyable> = PthreadMutex<Value>
#endif
