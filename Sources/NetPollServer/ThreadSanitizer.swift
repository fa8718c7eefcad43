import NetPollTrace

// What ThreadSanitizer builds (`-Xswiftc -DNETPOLL_TSAN`, from `tools/test --sanitizers=thread`)
// change in this module; every other build compiles none of it.

#if NETPOLL_TSAN
  /// `Mutex` in this module is a pthread mutex TSan can see; it shadows `Synchronization.Mutex`
  /// (see ``PthreadMutex`` for why), as in `NetPoll`.
  typealias Mutex<Value: ~Copyable> = PthreadMutex<Value>
#endif
