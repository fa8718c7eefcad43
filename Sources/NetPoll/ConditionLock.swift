#if canImport(Glibc)
  import Glibc
#endif

/// A pthread mutex with a condition variable, guarding a value: what the scheduler's idle workers
/// sleep on. (`Synchronization.Mutex` has no condition variable.)
///
/// The value lives behind a pointer the lock owns, and `withLock` hands out that pointer rather
/// than an `inout` access: an `inout` access spanning `pthread_cond_wait` lets the optimizer keep
/// fields in registers across the wait, so a count changed by another thread while this one slept
/// is never seen (a release build lost wake-ups that way).
final class ConditionLock<Value>: @unchecked Sendable {  // `state` is only touched with `mutex` held
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private let state = UnsafeMutablePointer<Value>.allocate(capacity: 1)

  init(_ value: Value) {
    state.initialize(to: value)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(cond, nil)
  }

  deinit {
    pthread_cond_destroy(cond)
    pthread_mutex_destroy(mutex)
    state.deinitialize(count: 1)
    state.deallocate()
    mutex.deallocate()
    cond.deallocate()
  }

  /// Runs `body` with the lock held, giving it the guarded value. `body` may call `wait` on the
  /// handle it gets; it must read the value through the pointer again after waiting.
  func withLock<R>(_ body: (UnsafeMutablePointer<Value>, Waiting) -> R) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return body(state, Waiting(mutex: mutex, cond: cond))
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
