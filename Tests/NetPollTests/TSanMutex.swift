import NetPollTrace

#if NETPOLL_TSAN
  /// ThreadSanitizer builds (`-Xswiftc -DNETPOLL_TSAN`): `Mutex` in this module is a pthread mutex
  /// TSan can see; it shadows `Synchronization.Mutex` (see ``PthreadMutex`` for why).
  typealias Mutex<Value: ~Copyable> = PthreadMutex<Value>
#endif
