import NetPollAnalysis

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Generates consistent version-2 traces of an echo server, for the analysis tests and the
/// trace benchmark among them (test support: it is not part of the NetPollAnalysis library).
///
/// One listener task accepts connections one after another; each connection's task reads a request,
/// parks on EAGAIN until `epoll_wait` (or an io_uring poll completion) reports it ready, echoes it,
/// and finally reads end-of-stream, deregisters and closes. Every third request finds its readiness
/// already latched and reads without parking. Times advance by a fixed pseudo-random sequence, so
/// the same options give the same bytes.
struct SyntheticTrace: Sendable {
  /// The poller the trace pretends to use.
  enum Backend: String, Sendable {
    /// `epoll_ctl` registration, `epoll_wait` readiness.
    case epoll
    /// A `POLL_ADD` submission per park, `uring_enter` + `uring_cqe` readiness.
    case uring
  }

  /// Which backend.
  var backend: Backend
  /// Connections accepted, one after another.
  var connections: Int
  /// Requests echoed per connection.
  var requestsPerConnection: Int
  /// Bytes per request.
  var requestBytes: Int

  /// Creates a description of a synthetic trace.
  init(backend: Backend = .epoll, connections: Int, requestsPerConnection: Int, requestBytes: Int = 64) {
    self.backend = backend
    self.connections = connections
    self.requestsPerConnection = requestsPerConnection
    self.requestBytes = requestBytes
  }

  /// The number of lines `generate` emits.
  var lineCount: Int {
    var count = 0
    generate { _ in count += 1 }
    return count
  }

  /// The whole trace as one string (for small traces in tests).
  func text() -> String {
    var out = ""
    generate { out += $0 + "\n" }
    return out
  }

  /// Writes the trace to `path`; returns the number of events written.
  @discardableResult
  func write(to path: String) throws(TraceError) -> Int {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw TraceError(file: path, line: nil, message: "cannot create: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var buffer: [UInt8] = []
    buffer.reserveCapacity(1 << 20)
    var count = 0
    var failed = false
    func flush() {
      buffer.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count && !failed {
          let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
          if n <= 0 { failed = true }
          offset += max(n, 0)
        }
      }
      buffer.removeAll(keepingCapacity: true)
    }
    generate { line in
      buffer.append(contentsOf: line.utf8)
      buffer.append(0x0A)
      count += 1
      if buffer.count > (1 << 20) - 4096 { flush() }
    }
    flush()
    if failed {
      throw TraceError(file: path, line: nil, message: "write failed: \(String(cString: strerror(errno)))")
    }
    return count
  }

  /// Calls `emit` with each line, without its newline.
  func generate(_ emit: (String) -> Void) {
    var seq = 0
    var ts = 0
    var random: UInt64 = 0x9E37_79B9_7F4A_7C15
    let loop = 4712
    let worker = 4713
    func advance(_ base: Int) -> Int {
      random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      let jitter = Int(truncatingIfNeeded: (random >> 33) % UInt64(base))
      ts += base + jitter
      return base + jitter
    }
    func line(_ tid: Int, _ ev: String, _ fields: String) {
      emit("{\"seq\":\(seq),\"ts\":\(ts),\"tid\":\(tid),\"ev\":\"\(ev)\",\(fields)}")
      seq += 1
      _ = advance(300)
    }
    let uring = backend == .uring
    line(
      loop, "trace_start",
      "\"format\":\"netpoll-trace\",\"version\":2,\"source\":\"runtime\",\"backend\":\"\(backend.rawValue)\",\"pid\":\(loop),\"wall\":\"2026-11-26T22:50:01.000000Z\",\"command\":\"synthetic \(backend.rawValue) echo\",\"backend_note\":\"\""
    )
    var userData: UInt64 = 1
    var tag = 0
    let socketEvents = #""EPOLLIN","EPOLLOUT","EPOLLRDHUP","EPOLLET""#
    // An epoll_ctl on the one epoll fd (3).
    func epollCtl(_ tid: Int, _ op: String, fd: Int, events: String, tag: Int) {
      line(
        tid, "epoll_ctl",
        "\"epfd\":3,\"op\":\"\(op)\",\"fd\":\(fd),\"events\":[\(events)],\"tag\":\(tag),\"ret\":0")
    }
    // Registers `fd` under the next tag and returns it.
    func register(_ tid: Int, fd: Int, events: String) -> Int {
      defer { tag += 1 }
      epollCtl(tid, "ADD", fd: fd, events: events, tag: tag)
      return tag
    }
    // An epoll_wait that waited `waited` ns and reported `fd` readable.
    func epollWait(waited: Int, fd: Int, fdTag: Int) {
      line(
        loop, "epoll_wait",
        "\"epfd\":3,\"maxevents\":128,\"timeout_ms\":-1,\"ret\":1,\"dur_ns\":\(waited),\"ready\":[{\"fd\":\(fd),\"tag\":\(fdTag),\"events\":[\"EPOLLIN\"]}]"
      )
    }
    if uring {
      line(
        loop, "uring_setup",
        "\"ring_fd\":3,\"entries\":256,\"cq_entries\":512,\"flags\":[\"IORING_SETUP_COOP_TASKRUN\"],\"features\":[\"IORING_FEAT_NODROP\"]"
      )
    } else {
      line(loop, "epoll_create", "\"epfd\":3,\"flags\":[\"EPOLL_CLOEXEC\"],\"ret\":3")
    }
    line(loop, "eventfd", "\"fd\":4,\"ret\":4")
    if !uring { _ = register(loop, fd: 4, events: #""EPOLLIN","EPOLLET""#) }
    line(worker, "socket", "\"fd\":5,\"domain\":\"AF_INET\",\"ret\":5")
    line(worker, "setsockopt", "\"fd\":5,\"opt\":\"SO_REUSEADDR\",\"ret\":0")
    line(worker, "bind", "\"fd\":5,\"addr\":\"127.0.0.1:8080\",\"ret\":0")
    line(worker, "listen", "\"fd\":5,\"backlog\":128,\"ret\":0")
    let listenerTag = uring ? 0 : register(worker, fd: 5, events: socketEvents)

    // Parks `task` on `fd` for reading until the poller reports it ready.
    func parkUntilReadable(task: Int, fd: Int, fdTag: Int) {
      line(worker, "park", "\"task\":\(task),\"fd\":\(fd),\"mode\":\"r\"")
      if uring {
        line(worker, "uring_sqe", "\"op\":\"POLL_ADD\",\"fd\":\(fd),\"user_data\":\(userData),\"flags\":[]")
        let waited = advance(20_000)
        line(
          loop, "uring_enter",
          "\"ring_fd\":3,\"to_submit\":1,\"min_complete\":1,\"flags\":[\"IORING_ENTER_GETEVENTS\"],\"ret\":1,\"dur_ns\":\(waited)"
        )
        line(loop, "uring_cqe", "\"user_data\":\(userData),\"res\":1,\"flags\":[],\"fd\":\(fd)")
        userData += 1
      } else {
        epollWait(waited: advance(20_000), fd: fd, fdTag: fdTag)
      }
      line(loop, "wake", "\"task\":\(task),\"fd\":\(fd),\"mode\":\"r\",\"reason\":\"ready\"")
    }

    let n = requestBytes
    for connection in 0..<connections {
      let fd = 6
      let task = 100 + connection
      line(worker, "accept", "\"fd\":5,\"ret\":-1,\"errno\":\"EAGAIN\"")
      parkUntilReadable(task: 1, fd: 5, fdTag: listenerTag)
      line(worker, "accept", "\"fd\":5,\"ret\":\(fd)")
      let fdTag = uring ? 0 : register(worker, fd: fd, events: socketEvents)
      for request in 0..<requestsPerConnection {
        if request % 3 == 2 && !uring {
          epollWait(waited: advance(5_000), fd: fd, fdTag: fdTag)
        } else {
          line(worker, "read", "\"fd\":\(fd),\"len\":4096,\"ret\":-1,\"errno\":\"EAGAIN\"")
          parkUntilReadable(task: task, fd: fd, fdTag: fdTag)
        }
        line(worker, "read", "\"fd\":\(fd),\"len\":4096,\"ret\":\(n)")
        line(worker, "write", "\"fd\":\(fd),\"len\":\(n),\"ret\":\(n)")
      }
      line(worker, "read", "\"fd\":\(fd),\"len\":4096,\"ret\":0")
      if !uring { epollCtl(worker, "DEL", fd: fd, events: "", tag: fdTag) }
      line(worker, "close", "\"fd\":\(fd),\"ret\":0")
    }
    line(loop, "trace_end", "\"lines\":\(seq + 1),\"dropped\":0")
  }
}
