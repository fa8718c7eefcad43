import CNetPollShims
import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// The one place the runtime makes system calls.
///
/// Each wrapper makes exactly one call per attempt, records it in the trace (when a recorder is
/// set) with what the kernel returned, and throws a typed ``Errno`` on failure. Retrying on EINTR
/// is an explicit parameter, never applied to `close` (Linux releases the fd even when close
/// reports EINTR; a retry could close someone else's). Every attempt is its own trace event, so
/// the trace agrees one-to-one with `strace`.
public struct Syscalls: Sendable {
  /// Where calls are recorded; nil when tracing is off.
  public let recorder: TraceRecorder?
  /// The same recorder, reached without a retain/release pair: `recorder` keeps it alive as long
  /// as this value. The pair, on every event, was about 2% of a traced echo request's CPU.
  private let unretained: Unmanaged<TraceRecorder>?

  public init(recorder: TraceRecorder?) {
    self.recorder = recorder
    unretained = recorder.map { Unmanaged.passUnretained($0) }
  }

  /// Runs `body` with the recorder when tracing is on (nil when it is off).
  @inline(__always)
  func withRecorder<R>(_ body: (TraceRecorder) -> R) -> R? {
    unretained?._withUnsafeGuaranteedRef(body)
  }

  /// Records `event` when tracing is on; `event` is not built when it is off.
  @inline(__always)
  func record(_ event: @autoclosure () -> TraceRecord) {
    unretained?._withUnsafeGuaranteedRef { $0.record(event()) }
  }

  /// Runs `call` (which returns -1 and sets errno on failure), records it, and retries on EINTR
  /// when asked.
  ///
  /// `stampBefore`: the event takes its place in the trace when the call is made, not when it
  /// returns. Calls that register, deregister or retire an fd (`epoll_ctl`, `close`) do, so that
  /// another thread's readiness report or `accept` of the reused number, which the kernel can
  /// only produce once this call has begun, always comes after it in the file (causal order,
  /// docs/trace-format.md "Order"). Everything else is stamped on return.
  @inline(__always)
  func traced(
    _ kind: TraceEventKind, retryOnInterrupt: Bool, stampBefore: Bool = false, a: Int64,
    b: Int64 = 0, c: Int64 = 0, d: Int64 = 0, e: Int64 = 0, _ call: () -> Int
  ) throws(Errno) -> Int {
    while true {
      let stamp = stampBefore ? withRecorder { $0.stamp() } : nil
      let result = call()
      let err: Int32 = result < 0 ? Glibc.errno : 0
      withRecorder { recorder in
        let r = TraceRecord(kind, ret: Int64(result), errno: err, a: a, b: b, c: c, d: d, e: e)
        if let stamp { recorder.record(r, at: stamp) } else { recorder.record(r) }
      }
      if result >= 0 { return result }
      if err == EINTR && retryOnInterrupt { continue }
      throw Errno(err)
    }
  }

  // MARK: epoll

  /// epoll_create1(EPOLL_CLOEXEC).
  func epollCreate() throws(Errno) -> Int32 {
    let flags = Int32(EPOLL_CLOEXEC)
    return try Int32(
      traced(.epollCreate, retryOnInterrupt: false, a: -1, b: Int64(flags)) {
        Int(epoll_create1(flags))
      })
  }

  /// epoll_ctl(2). `data` is the 64-bit user data the kernel hands back with each event.
  func epollCtl(epfd: Int32, op: Int32, fd: Int32, events: UInt32, data: UInt64, tag: UInt32)
    throws(Errno)
  {
    var ev = epoll_event()
    ev.events = events
    ev.data.u64 = data
    // ADD and MOD are stamped when made: the kernel can report readiness as soon as the call has
    // begun. A DEL is stamped on return: until then the kernel may still hand out a readiness it
    // collected before the DEL took its lock, and that report belongs before the DEL.
    _ = try traced(
      .epollCtl, retryOnInterrupt: true, stampBefore: op != EPOLL_CTL_DEL, a: Int64(epfd), b: Int64(op),
      c: Int64(fd),
      d: op == EPOLL_CTL_DEL ? 0 : Int64(events), e: Int64(tag)
    ) {
      Int(epoll_ctl(epfd, op, fd, &ev))
    }
  }

  /// epoll_wait(2) into `events`. Records the call with its ready list; does not retry EINTR
  /// (the poller returns to its caller, which re-evaluates its timeout).
  func epollWait(
    epfd: Int32, events: UnsafeMutableBufferPointer<epoll_event>, timeoutMs: Int32,
    describe: (epoll_event) -> (fd: Int32, tag: UInt32)
  ) throws(Errno) -> Int {
    let start = recorder == nil ? 0 : netpoll_monotonic_ns()
    let n = Int(epoll_wait(epfd, events.baseAddress, Int32(events.count), timeoutMs))
    let err: Int32 = n < 0 ? Glibc.errno : 0
    withRecorder { recorder in
      let dur = Int64(netpoll_monotonic_ns() &- start)
      let header = TraceRecord(
        .epollWait, ret: Int64(n), errno: err, a: Int64(epfd), b: Int64(events.count),
        c: Int64(timeoutMs), d: dur)
      withUnsafeTemporaryAllocation(of: TraceRecord.self, capacity: max(n, 0)) { items in
        for i in 0..<max(n, 0) {
          let (fd, tag) = describe(events[i])
          items[i] = TraceRecord(.readyItem, a: Int64(fd), b: Int64(tag), c: Int64(events[i].events))
        }
        recorder.record(header, items: UnsafeBufferPointer(items))
      }
    }
    if n < 0 { throw Errno(err) }
    return n
  }

  /// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): the poller's wake-up channel.
  func eventfd() throws(Errno) -> Int32 {
    try Int32(
      traced(.eventfd, retryOnInterrupt: false, a: -1) {
        Int(CNetPollShims.eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)))
      })
  }

  // MARK: sockets

  /// socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
  func socket(domain: Int32) throws(Errno) -> Int32 {
    let type = Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
    return try Int32(
      traced(.socket, retryOnInterrupt: false, a: -1, b: Int64(domain)) {
        Int(Glibc.socket(domain, type, 0))
      })
  }

  /// setsockopt(2) of an integer option.
  func setsockopt(fd: Int32, option: TraceSocketOption, value: Int32) throws(Errno) {
    let (level, name): (Int32, Int32) =
      switch option {
      case .reuseAddress: (SOL_SOCKET, SO_REUSEADDR)
      case .reusePort: (SOL_SOCKET, SO_REUSEPORT)
      case .noDelay: (Int32(IPPROTO_TCP), TCP_NODELAY)
      case .ipv6Only: (Int32(IPPROTO_IPV6), IPV6_V6ONLY)
      case .error: (SOL_SOCKET, SO_ERROR)
      }
    var v = value
    _ = try traced(.setsockopt, retryOnInterrupt: false, a: Int64(fd), b: option.rawValue) {
      Int(Glibc.setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)))
    }
  }

  /// getsockopt(fd, SOL_SOCKET, SO_ERROR): the outcome of a non-blocking connect.
  func socketError(fd: Int32) throws(Errno) -> Int32 {
    var value: Int32 = 0
    var len = socklen_t(MemoryLayout<Int32>.size)
    let r = Int(Glibc.getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len))
    let err: Int32 = r < 0 ? Glibc.errno : 0
    record(
      TraceRecord(
        .getsockopt, ret: Int64(r), errno: err, a: Int64(fd),
        b: TraceSocketOption.error.rawValue, c: Int64(value)))
    if r < 0 { throw Errno(err) }
    return value
  }

  /// bind(2).
  func bind(fd: Int32, address: SocketAddress) throws(Errno) {
    let (b, c, d) = address.tracePacked
    _ = try traced(.bind, retryOnInterrupt: false, a: Int64(fd), b: b, c: c, d: d) {
      address.withSockAddr { Int(Glibc.bind(fd, $0, $1)) }
    }
  }

  /// listen(2).
  func listen(fd: Int32, backlog: Int32) throws(Errno) {
    _ = try traced(.listen, retryOnInterrupt: false, a: Int64(fd), b: Int64(backlog)) {
      Int(Glibc.listen(fd, backlog))
    }
  }

  /// getsockname(2): the address a socket is bound to (after binding port 0, say).
  func getsockname(fd: Int32) throws(Errno) -> SocketAddress {
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let r = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(Glibc.getsockname(fd, $0, &len)) }
    }
    let err: Int32 = r < 0 ? Glibc.errno : 0
    let address = SocketAddress(storage: storage, length: len)
    let (b, c, d) = address.tracePacked
    record(TraceRecord(.getsockname, ret: Int64(r), errno: err, a: Int64(fd), b: b, c: c, d: d))
    if r < 0 { throw Errno(err) }
    return address
  }

  /// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC).
  func accept(fd: Int32) throws(Errno) -> Int32 {
    let flags = Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
    return try Int32(
      traced(.accept, retryOnInterrupt: true, a: Int64(fd)) {
        Int(netpoll_accept4(fd, flags))
      })
  }

  /// connect(2). EINPROGRESS is thrown like any errno; the caller waits for writability.
  func connect(fd: Int32, address: SocketAddress) throws(Errno) {
    let (b, c, d) = address.tracePacked
    _ = try traced(.connect, retryOnInterrupt: false, a: Int64(fd), b: b, c: c, d: d) {
      address.withSockAddr { Int(Glibc.connect(fd, $0, $1)) }
    }
  }

  /// read(2). Returns 0 at end of stream.
  func read(fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    try traced(.read, retryOnInterrupt: true, a: Int64(fd), b: Int64(buffer.count)) {
      Glibc.read(fd, buffer.baseAddress, buffer.count)
    }
  }

  /// write(2). May write fewer bytes than offered.
  func write(fd: Int32, from buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
    try traced(.write, retryOnInterrupt: true, a: Int64(fd), b: Int64(buffer.count)) {
      Glibc.write(fd, buffer.baseAddress, buffer.count)
    }
  }

  /// poll(2) on one fd with a zero timeout: the fd's readiness right now (level-triggered), as
  /// the `revents` mask. Retries EINTR.
  func pollNow(fd: Int32, events: Int16) throws(Errno) -> Int16 {
    while true {
      var entry = pollfd(fd: fd, events: events, revents: 0)
      let r = Int(Glibc.poll(&entry, 1, 0))
      let err: Int32 = r < 0 ? Glibc.errno : 0
      record(
        TraceRecord(
          .poll, ret: Int64(r), errno: err, a: Int64(fd), b: Int64(UInt16(bitPattern: events)),
          c: Int64(UInt16(bitPattern: entry.revents))))
      if r >= 0 { return entry.revents }
      if err != EINTR { throw Errno(err) }
    }
  }

  /// shutdown(2); `how` is SHUT_RD, SHUT_WR or SHUT_RDWR.
  func shutdown(fd: Int32, how: Int32) throws(Errno) {
    _ = try traced(.shutdown, retryOnInterrupt: false, a: Int64(fd), b: Int64(how)) {
      Int(Glibc.shutdown(fd, how))
    }
  }

  /// close(2), never retried.
  func close(fd: Int32) throws(Errno) {
    _ = try traced(.close, retryOnInterrupt: false, stampBefore: true, a: Int64(fd)) { Int(Glibc.close(fd)) }
  }
}
