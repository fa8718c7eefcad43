import CNetPollShims
import NetPollTrace

// What ThreadSanitizer builds (`-Xswiftc -DNETPOLL_TSAN`, from `tools/test --sanitizers=thread`)
// change in this module; every other build compiles none of it.

#if NETPOLL_TSAN
  /// `Mutex` in this module is a pthread mutex TSan can see; it shadows `Synchronization.Mutex`
  /// (see ``PthreadMutex`` for why).
  typealias Mutex<Value: ~Copyable> = PthreadMutex<Value>
#endif

/// Happens-before edges TSan cannot see, declared by hand (`__tsan_release`/`__tsan_acquire`).
///
/// The one in use: a continuation resumed before its task reached the await. The Swift runtime's
/// `swift_continuation_resume` announces a release on the task, and a task that suspended
/// acquires it when its job runs, but one that finds its continuation already resumed goes on
/// without an acquire (`swift_continuation_await`'s fast path; seen with Swift 6.3.1). TSan then
/// reports what the resumer wrote before resuming as racing with what the task reads after,
/// though the runtime's own acquire/release atomics order them (`CompletionOp`'s fields, written
/// under the poller's lock by whoever resumes the task, were reported that way).
enum ThreadSanitizer {
  /// What this thread did so far happens before whatever follows a later ``happensAfter(_:)``
  /// on `object`.
  @inline(__always)
  static func happensBefore(_ object: AnyObject) {
    #if NETPOLL_TSAN
      netpoll_tsan_release(Unmanaged.passUnretained(object).toOpaque())
    #endif
  }

  /// Orders what follows after every earlier ``happensBefore(_:)`` on `object`.
  @inline(__always)
  static func happensAfter(_ object: AnyObject) {
    #if NETPOLL_TSAN
      netpoll_tsan_acquire(Unmanaged.passUnretained(object).toOpaque())
    #endif
  }
}
