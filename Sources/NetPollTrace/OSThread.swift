import CNetPollShims

#if canImport(Glibc)
  import Glibc
#endif

/// A joinable OS thread running a closure: the recorder's writer and the runtime's workers.
/// (Dispatch or Foundation threads would hide the thread's lifetime from us and bring their own
/// epoll instances into the process, which `strace` would then mix with ours.)
package final class OSThread: @unchecked Sendable {  // handle is set once in init, read in join
  private var handle = pthread_t()

  private final class Box {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
  }

  package init(name: String, _ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(
      Box {
        netpoll_set_thread_name(name)
        body()
      }
    ).toOpaque()
    let rc = pthread_create(
      &handle, nil,
      { arg in
        let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
        box.body()
        return nil
      }, box)
    precondition(rc == 0, "OSThread: pthread_create failed (\(rc))")
  }

  package func join() {
    pthread_join(handle, nil)
  }
}
