#if canImport(Glibc)
  import Glibc
#endif

/// A pthread mutex with a condition variable, guarding a value: what the scheduler's idle workers
/// sleep on. (`Synchronization.Mutex` has no condition variable.)
final class ConditionLock<Value>: @unchecked Sendable {  // `value` is only touched with `mutex` held
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var value: Value

  init(_ value: Value) {
    self.value = value
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(cond, nil)
  }

  deinit {
    pthread_cond_destroy(cond)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    cond.deallocate()
  }

  /// Runs `body` with the lock held. `body` may call `wait` on the handle it gets.
  func withLock<R>(_ body: (inout Value, Waiting) -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body(&value, Waiting(mutex: mutex, cond: cond))
  }

  /// Wakes one thread waiting on the condition.
  func signal() { pthread_cond_signal(cond) }
  /// Wakes every thread waiting on the condition.
  func broadcast() { pthread_cond_broadcast(cond) }

  struct Waiting {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let cond: UnsafeMutablePointer<pthread_cond_t>
    /// Releases the lock until signalled, then takes it again.
    func wait() { pthread_cond_wait(cond, mutex) }
  }
}
