#if canImport(Glibc)
  import Glibc
#endif

/// A running `bpftrace -B full -e PROGRAM`, its stdout read line by line and its stderr kept for
/// the error message. It runs in a process group of its own, so a terminal's ^C reaches the
/// recorder (which drains first) and not bpftrace.
final class BPFTraceProcess {
  let pid: pid_t
  private let out: Int32
  private let err: Int32
  private var carry: [UInt8] = []
  private var records = BinaryRecordStream()
  private var buffer = [UInt8](repeating: 0, count: 1 << 20)
  private var stderrText: [UInt8] = []
  private var outOpen = true

  /// `bpftrace -B full -e PROGRAM`.
  convenience init(path: String, program: String) throws(RecordError) {
    try self.init(path: path, arguments: ["bpftrace", "-B", "full", "-e", program], usesPauses: true)
  }

  /// The libbpf loader (tools/record-bpf): `netpoll-record-bpf OBJECT PID MARKER SOCKETS`. It
  /// polls a ring buffer that never wakes it, so it is never paused.
  convenience init(loader: RecordLoader, program: BPFTraceProgram) throws(RecordError) {
    let sockets = program.sockets.map(String.init).joined(separator: ",")
    try self.init(
      path: loader.binary,
      arguments: [loader.binary, loader.object, "\(program.pid)", "\(program.markerPID)", sockets],
      usesPauses: false)
  }

  /// Whether ``pause()`` applies (bpftrace) or is a no-op (the loader).
  let usesPauses: Bool

  private init(path: String, arguments: [String], usesPauses: Bool) throws(RecordError) {
    self.usesPauses = usesPauses
    var o: [Int32] = [-1, -1]
    var e: [Int32] = [-1, -1]
    guard closeOnExecPipe(&o), closeOnExecPipe(&e) else { throw .spawn("pipe", errno: errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, o[1], 1)
    posix_spawn_file_actions_adddup2(&actions, e[1], 2)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    posix_spawnattr_setpgroup(&attr, 0)
    setDefaultSignals(&attr, extraFlags: POSIX_SPAWN_SETPGROUP)
    // 4 MiB of perf buffer per CPU (bpftrace's default is 256 KiB); maps sized for busy servers.
    var env = ["BPFTRACE_PERF_RB_PAGES=1024", "BPFTRACE_MAP_KEYS_MAX=65536"]
    var i = 0
    while let p = environ[i] {
      let s = String(cString: p)
      if !s.hasPrefix("BPFTRACE_") { env.append(s) }
      i += 1
    }
    var pid: pid_t = 0
    let rc = withCStrings(arguments) { argv in
      withCStrings(env) { envp in posix_spawn(&pid, path, &actions, &attr, argv, envp) }
    }
    close(o[1])
    close(e[1])
    guard rc == 0 else {
      close(o[0])
      close(e[0])
      throw .spawn(path, errno: rc)
    }
    self.pid = pid
    out = o[0]
    err = e[0]
    _ = fcntl(err, F_SETFL, O_NONBLOCK)
  }

  /// Waits up to `waitMs` for output and hands over what came: each complete text line to `line`
  /// (bpftrace), or each binary record to `record` (the loader). False once stdout is at its end.
  func readAvailable(
    waitMs: Int32, _ line: (UnsafeRawBufferPointer) -> Void, _ record: (KernelRecord) -> Void
  ) -> Bool {
    guard outOpen else { return false }
    var fds = [
      pollfd(fd: out, events: Int16(POLLIN), revents: 0), pollfd(fd: err, events: Int16(POLLIN), revents: 0),
    ]
    let ready = poll(&fds, 2, waitMs)
    if ready <= 0 { return true }
    if fds[1].revents != 0 { drainStderr() }
    guard fds[0].revents != 0 else { return true }
    let n = buffer.withUnsafeMutableBytes { read(out, $0.baseAddress, $0.count) }
    if n < 0 { return errno == EINTR || errno == EAGAIN }
    if n == 0 {
      outOpen = false
      return false
    }
    if !usesPauses {  // the loader: binary records of 8 + 8n bytes
      buffer.withUnsafeBytes { records.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]), record) }
      return true
    }
    buffer.withUnsafeBytes { chunk in
      var start = 0
      for i in 0..<n where chunk[i] == UInt8(ascii: "\n") {
        if carry.isEmpty {
          line(UnsafeRawBufferPointer(rebasing: chunk[start..<i]))
        } else {
          carry.append(contentsOf: chunk[start..<i])
          carry.withUnsafeBytes { line($0) }
          carry.removeAll(keepingCapacity: true)
        }
        start = i + 1
      }
      if start < n { carry.append(contentsOf: chunk[start..<n]) }
    }
    return true
  }

  private func drainStderr() {
    var b = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = read(err, &b, b.count)
      if n <= 0 { return }
      if stderrText.count < 1 << 20 { stderrText.append(contentsOf: b[0..<n]) }
    }
  }

  /// The first error bpftrace printed, without the harmless RLIMIT_MEMLOCK one.
  func errorText() -> String {
    drainStderr()
    let lines = String(decoding: stderrText, as: UTF8.self).split(separator: "\n")
    let errors = lines.filter { $0.contains("ERROR") && !$0.contains("RLIMIT_MEMLOCK") }
    return String(errors.first ?? lines.last(where: { !$0.contains("RLIMIT_MEMLOCK") && !$0.isEmpty }) ?? "")
  }

  /// Losses bpftrace reported on stderr rather than stdout (versions differ).
  var lostReportedOnStderr: Int64 {
    drainStderr()
    var total: Int64 = 0
    for line in String(decoding: stderrText, as: UTF8.self).split(separator: "\n") {
      var bytes = Array(line.utf8)
      if let n = bytes.withUnsafeMutableBytes({ KernelRecord.lostEvents(UnsafeRawBufferPointer($0)) }) {
        total += n
      }
    }
    return total
  }

  private var paused = false

  /// SIGSTOP: bpftrace stops reading its buffers (the kernel keeps filling them).
  func pause() {
    guard usesPauses, !paused else { return }
    paused = true
    kill(pid, SIGSTOP)
  }

  /// SIGCONT after ``pause()``.
  func resume() {
    guard paused else { return }
    paused = false
    kill(pid, SIGCONT)
  }

  func interrupt() {
    resume()
    kill(pid, SIGINT)
  }

  /// Interrupts bpftrace if still running and reaps it.
  func stop() {
    var status: Int32 = 0
    if waitpid(pid, &status, WNOHANG) == 0 {
      resume()
      kill(pid, SIGINT)
      for _ in 0..<100 {
        if waitpid(pid, &status, WNOHANG) != 0 { break }
        usleep(50_000)
      }
      if waitpid(pid, &status, WNOHANG) == 0 {
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
      }
    }
    close(out)
    close(err)
  }
}
