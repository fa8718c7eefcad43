import NetPollTrace

#if canImport(Glibc)
  import Glibc
#endif

/// What to record and where.
public struct RecordOptions: Sendable {
  /// A running process to attach to, or nil to start ``command``.
  public var pid: Int32?
  /// The command to start (and record from its first instruction) when ``pid`` is nil.
  public var command: [String]
  public var tracePath: String
  /// Stop after this many seconds (nil: when the process exits or on SIGINT/SIGTERM).
  public var duration: Double?
  public var overwrite: Bool
  /// Record with the libbpf loader instead of bpftrace.
  public var loader: RecordLoader?

  public init(
    pid: Int32?, command: [String], tracePath: String, duration: Double?, overwrite: Bool,
    loader: RecordLoader? = nil
  ) {
    self.loader = loader
    self.pid = pid
    self.command = command
    self.tracePath = tracePath
    self.duration = duration
    self.overwrite = overwrite
  }
}

/// The libbpf recorder built by `tools/record-bpf/build`: the same events as the bpftrace program,
/// through a ring buffer that is polled instead of waking the reader per event.
public struct RecordLoader: Sendable {
  /// The directory holding the loader.
  public var directory: String
  /// `netpoll-record-bpf`.
  public var binary: String
  /// `record.bpf.o`.
  public var object: String

  /// The loader and object in `directory`, or nil if either is missing.
  public init?(directory: String) {
    self.directory = directory
    binary = directory + "/netpoll-record-bpf"
    object = directory + "/record.bpf.o"
    guard access(binary, X_OK) == 0, access(object, R_OK) == 0 else { return nil }
  }

  /// The loader `tools/record-bpf/build` left in `.build-peers/record-bpf` of the checkout that
  /// holds `executable` (netpoll's own path: `.build/<triple>/<config>/netpoll`), looked for in
  /// the directories above it; nil if it was not built.
  public static func built(near executable: String) -> RecordLoader? {
    var dir = executable
    for _ in 0..<5 {
      guard let slash = dir.lastIndex(of: "/"), slash != dir.startIndex else { return nil }
      dir = String(dir[..<slash])
      if let found = RecordLoader(directory: dir + "/.build-peers/record-bpf") { return found }
    }
    return nil
  }

  /// ``built(near:)`` for this process's executable (`/proc/self/exe`).
  public static func builtForThisExecutable() -> RecordLoader? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { readlink("/proc/self/exe", $0.baseAddress!, 4095) }
    guard n > 0 else { return nil }
    return built(near: String(decoding: buffer[..<n], as: UTF8.self))
  }
}

/// What a recording produced.
public struct RecordSummary: Sendable {
  public var pid: Int32
  public var lines: Int64
  public var dropped: Int64
  public var late: Int64
  public var incompleteReadyLists: Int64
  public var backend: String
  public var seconds: Double
  /// Why recording stopped: "process exited", "duration", "SIGINT", ...
  public var stoppedBy: String
  /// With a command: its wait status, when it was collected.
  public var exitStatus: Int32?
}

/// `netpoll record`: runs bpftrace with a ``BPFTraceProgram`` filtered on one process, converts
/// its output (``KernelTraceConverter``) and writes a trace (``RecordedTraceFile``).
///
/// Attaching is confirmed, not assumed: bpftrace prints "Attaching N probes" before it attaches,
/// so the recorder calls `getpgid(2)` until the program's last probe prints the marker line `M`.
/// Only then is a command released to `exec` (it waits in `sh` on a pipe until then). Stopping
/// likewise calls `getpgid` and waits for its marker before interrupting bpftrace, so what the
/// per-CPU buffers held is read; the losses bpftrace reports (`Lost N events`) become
/// `trace_end.dropped`.
public enum Recorder {
  /// bpftrace 0.17 reads perf buffers opened with one wakeup per event, and left running it wakes
  /// and reads a handful of events at a time. So bpftrace is kept stopped (SIGSTOP) except for
  /// `on` out of every `period` nanoseconds; the kernel keeps filling the 4 MiB per-CPU buffers
  /// meanwhile (about 50,000 events each) and bpftrace drains them in one batch when continued.
  /// Losses, if the buffers ever fill, are still counted in `dropped`. Measured with
  /// `tools/bench-record` on the Go peer (2-vCPU Firecracker VM): bpftrace's and the recorder's
  /// CPU per request fell from 27.2 to 10.6 µs with no event dropped; the traced server's own CPU
  /// per request (about 48 µs against 10 untraced) did not change: that cost is the kernel's,
  /// one perf-buffer wakeup (an irq_work self-interrupt) per event, which bpftrace 0.17 does not
  /// let us batch.
  public static let dutyCycle = (on: UInt64(20_000_000), period: UInt64(100_000_000))

  /// Checks what recording needs, before anything is started or created.
  public static func preflight(_ options: RecordOptions) throws(RecordError) -> String {
    guard geteuid() == 0 else { throw .notRoot }
    if let pid = options.pid { try TracedProcess.check(pid) }
    try ensureTracefs()
    if let loader = options.loader { return loader.binary }
    guard let bpftrace = findExecutable("bpftrace") else { throw .noBPFTrace }
    return bpftrace
  }

  public static func run(_ options: RecordOptions, bpftrace: String, log: (String) -> Void)
    throws(RecordError)
    -> RecordSummary
  {
    let t0 = monotonicNanos()
    let wall = TraceWriter.rfc3339Now()
    var release: Int32 = -1
    var child: pid_t = 0
    let pid: Int32
    let commandText: String
    if let p = options.pid {
      pid = p
      commandText = TracedProcess.commandLine(p)
    } else {
      (child, release) = try spawnHeld(options.command)
      pid = child
      commandText = options.command.joined(separator: " ")
    }
    let file: RecordedTraceFile
    do {
      file = try RecordedTraceFile(
        path: options.tracePath, header: .init(pid: pid, command: commandText, wall: wall),
        overwrite: options.overwrite)
    } catch {
      if child > 0 {
        kill(child, SIGKILL)
        var s: Int32 = 0
        waitpid(child, &s, 0)
      }
      throw error
    }
    // Paused bpftrace hands over up to a period's worth of one CPU's events after another CPU's
    // newer ones; a 250 ms window left 1,700 of 22,000 records late in tools/check-record.
    let converter = KernelTraceConverter(
      startNanos: t0, reorderWindowNanos: options.loader == nil ? 1_000_000_000 : 250_000_000)
    let open = TracedProcess.openFDs(pid)
    for epfd in open.epolls {
      for reg in TracedProcess.epollRegistrations(pid, epfd: epfd) {
        converter.seedRegistration(epfd: epfd, fd: reg.fd, data: reg.data)
      }
    }
    let program = BPFTraceProgram(pid: pid, markerPID: getpid(), sockets: open.sockets)
    let bt: BPFTraceProcess
    if let loader = options.loader {
      bt = try BPFTraceProcess(loader: loader, program: program)
    } else {
      bt = try BPFTraceProcess(path: bpftrace, program: program.text)
    }
    installStopSignals()

    var lost: Int64 = 0
    var markers = 0
    var writeError: RecordError?
    func take(_ r: KernelRecord) {
      switch r.code {
      case UInt8(ascii: "M"): markers += 1
      case UInt8(ascii: "!"): lost += r[1]  // the loader's count of events its ring had no room for
      default: converter.consume(r)
      }
    }
    func feed(_ line: UnsafeRawBufferPointer) {
      if let r = KernelRecord.parse(line) {
        take(r)
      } else if let n = KernelRecord.lostEvents(line) {
        lost += n
      }
    }
    func flushOutput() {
      // Lines are counted from the converter's total, not per chunk.
      let lines = converter.eventsWritten - (file.linesWritten - 1)
      converter.takeBytes { bytes in
        guard writeError == nil, !bytes.isEmpty else { return }
        do throws(RecordError) { try file.append(bytes, lines: lines) } catch { writeError = error }
      }
    }
    /// Reads bpftrace's output until `until()` or bpftrace ends; returns false when it ended.
    func pump(timeoutMs: Int32, until: () -> Bool) -> Bool {
      let deadline = monotonicNanos() + UInt64(timeoutMs) * 1_000_000
      while !until() {
        let now = monotonicNanos()
        if now >= deadline { return true }
        if !bt.readAvailable(waitMs: Int32(min(50, (deadline - now) / 1_000_000 + 1)), feed, take) {
          return false
        }
        flushOutput()
      }
      return true
    }

    // Attach: poke the marker until it comes back.
    var attached = false
    let attachDeadline = monotonicNanos() + 120_000_000_000
    while !attached && monotonicNanos() < attachDeadline {
      _ = getpgid(0)
      guard pump(timeoutMs: 100, until: { markers > 0 }) else { break }
      attached = markers > 0
      if stopRequested() != 0 && !attached { break }
    }
    guard attached else {
      let why = bt.errorText()
      bt.stop()
      if child > 0 {
        kill(child, SIGKILL)
        var s: Int32 = 0
        waitpid(child, &s, 0)
      }
      unlink(options.tracePath)
      throw .bpftraceFailed(why.isEmpty ? "it did not attach within 120 s" : why)
    }
    if release >= 0 {
      var go: UInt8 = 1
      _ = write(release, &go, 1)
      close(release)
    }
    let with = options.loader.map { "the libbpf loader in \($0.directory)" } ?? "bpftrace"
    log("recording pid \(pid) (\(commandText)) into \(options.tracePath) with \(with)")

    // Record until the process exits, the duration ends or a signal comes.
    let endAt = options.duration.map { monotonicNanos() + UInt64($0 * 1e9) }
    var stoppedBy = ""
    var exitStatus: Int32?
    var forwardedAt: UInt64?
    var bpftraceAlive = true
    var period = monotonicNanos()
    while stoppedBy.isEmpty {
      // Batching (see ``dutyCycle``): bpftrace runs for `on` of every `period`.
      let now = monotonicNanos()
      if now >= period + dutyCycle.period {
        period = now
        bt.resume()
      } else if now >= period + dutyCycle.on {
        bt.pause()
      }
      if !bt.readAvailable(waitMs: 10, feed, take) {
        bpftraceAlive = false
        stoppedBy = "bpftrace exited: \(bt.errorText())"
        break
      }
      flushOutput()
      if let writeError { throw writeError }
      if child > 0 {
        var status: Int32 = 0
        if waitpid(child, &status, WNOHANG) == child {
          exitStatus = status
          stoppedBy = "process exited"
        }
      } else if TracedProcess.hasExited(pid) {
        stoppedBy = "process exited"
      }
      let sig = stopRequested()
      if sig != 0 {
        if child > 0 && exitStatus == nil {
          // Our own command: pass the signal on and record until it has exited (10 s at most).
          if forwardedAt == nil {
            kill(child, sig)
            forwardedAt = monotonicNanos()
          } else if monotonicNanos() > forwardedAt! + 10_000_000_000 {
            stoppedBy = sig == SIGINT ? "SIGINT" : "SIGTERM"
          }
        } else if stoppedBy.isEmpty {
          stoppedBy = sig == SIGINT ? "SIGINT" : "SIGTERM"
        }
      }
      if let endAt, monotonicNanos() >= endAt, stoppedBy.isEmpty { stoppedBy = "duration" }
    }

    // Drain: what the kernel buffered before the marker is read before bpftrace is stopped.
    bt.resume()
    if bpftraceAlive {
      let before = markers
      for _ in 0..<20 where markers == before {
        _ = getpgid(0)
        guard pump(timeoutMs: 100, until: { markers > before }) else { break }
      }
      _ = pump(timeoutMs: 100, until: { false })
      bt.interrupt()
      let giveUp = monotonicNanos() + 30_000_000_000
      while monotonicNanos() < giveUp && bt.readAvailable(waitMs: 1000, feed, take) { flushOutput() }
      bt.stop()
    }
    lost += bt.lostReportedOnStderr
    if child > 0 && exitStatus == nil {
      kill(child, SIGTERM)
      var status: Int32 = 0
      for _ in 0..<100 {
        if waitpid(child, &status, WNOHANG) == child {
          exitStatus = status
          break
        }
        usleep(50_000)
      }
      if exitStatus == nil {
        kill(child, SIGKILL)
        waitpid(child, &status, 0)
        exitStatus = status
      }
    }
    converter.drain()
    flushOutput()
    if let writeError { throw writeError }
    let backend: String
    if converter.uringCalls > 0 && converter.uringCalls >= converter.epollCalls {
      backend = "uring"
    } else if converter.epollCalls > 0 {
      backend = "epoll"
    } else {
      backend = "unknown"
    }
    let note =
      "seen by eBPF: \(converter.epollCalls) epoll calls, \(converter.uringCalls) io_uring calls"
    try file.finish(
      lastSeq: converter.eventsWritten, lastTS: converter.lastTS, dropped: lost, backend: backend,
      note: note)
    return RecordSummary(
      pid: pid, lines: file.linesWritten, dropped: lost, late: converter.lateRecords,
      incompleteReadyLists: converter.incompleteReadyLists, backend: backend,
      seconds: Double(monotonicNanos() - t0) / 1e9, stoppedBy: stoppedBy, exitStatus: exitStatus)
  }

  // MARK: Helpers

  static func findExecutable(_ name: String) -> String? {
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(name)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
  }

  /// Mounts tracefs at /sys/kernel/tracing when neither it nor debugfs's copy is there.
  static func ensureTracefs() throws(RecordError) {
    let probe = "/events/syscalls/sys_enter_epoll_wait"
    if access("/sys/kernel/tracing" + probe, F_OK) == 0 { return }
    if access("/sys/kernel/debug/tracing" + probe, F_OK) == 0 { return }
    if mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil) == 0,
      access("/sys/kernel/tracing" + probe, F_OK) == 0
    {
      return
    }
    throw .noTracefs("mounting it failed: \(String(cString: strerror(errno)))")
  }

  /// Starts `command` held in `sh` until the returned pipe is written: the pid is the command's
  /// (sh `exec`s it), known before it runs, so the probes can be attached first.
  static func spawnHeld(_ command: [String]) throws(RecordError) -> (pid_t, Int32) {
    var fds: [Int32] = [-1, -1]
    guard closeOnExecPipe(&fds) else { throw .spawn("pipe", errno: errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[0], 3)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    setDefaultSignals(&attr, extraFlags: 0)
    let argv = ["sh", "-c", "read -r _ <&3; exec 3<&-; exec \"$@\"", "netpoll-record"] + command
    var pid: pid_t = 0
    let rc = withCStrings(argv) { posix_spawn(&pid, "/bin/sh", &actions, &attr, $0, environ) }
    close(fds[0])
    guard rc == 0 else {
      close(fds[1])
      throw .spawn(command.first ?? "command", errno: rc)
    }
    return (pid, fds[1])
  }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `bpf_ktime_get_ns()` reads.
func monotonicNanos() -> UInt64 {
  var t = timespec()
  clock_gettime(CLOCK_MONOTONIC, &t)
  return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// A spawned process starts with no signal blocked and SIGINT, SIGTERM, SIGPIPE at their default
/// action: the thread that spawns it (a Swift concurrency thread) blocks most signals, and a
/// recorder started in the background of a shell ignores SIGINT; neither may leak into bpftrace
/// (which must stop on SIGINT) or into the recorded command.
func setDefaultSignals(_ attr: inout posix_spawnattr_t, extraFlags: Int32) {
  var none = sigset_t()
  sigemptyset(&none)
  posix_spawnattr_setsigmask(&attr, &none)
  var defaults = sigset_t()
  sigemptyset(&defaults)
  for s in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT] { sigaddset(&defaults, s) }
  posix_spawnattr_setsigdefault(&attr, &defaults)
  posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | extraFlags))
}

/// `pipe(2)` with both ends close-on-exec (`pipe2` is not in Swift's Glibc module); the
/// recorder is single-threaded while it spawns, so nothing can fork between the two calls.
func closeOnExecPipe(_ fds: inout [Int32], nonBlocking: Bool = false) -> Bool {
  guard pipe(&fds) == 0 else { return false }
  for fd in fds {
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    if nonBlocking { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
  }
  return true
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  pointers.append(nil)
  defer { for p in pointers { free(p) } }
  return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

// MARK: Stop signals

/// The write end of the self-pipe the SIGINT/SIGTERM handler writes to (set once, before the
/// handlers are installed).
nonisolated(unsafe) private var stopPipe: (read: Int32, write: Int32) = (-1, -1)

private func installStopSignals() {
  var fds: [Int32] = [-1, -1]
  guard closeOnExecPipe(&fds, nonBlocking: true) else { return }
  stopPipe = (fds[0], fds[1])
  let handler: @convention(c) (Int32) -> Void = { sig in
    var b = UInt8(truncatingIfNeeded: sig)
    _ = write(stopPipe.write, &b, 1)
  }
  var action = sigaction()
  action.__sigaction_handler.sa_handler = handler
  action.sa_flags = SA_RESTART
  sigemptyset(&action.sa_mask)
  sigaction(SIGINT, &action, nil)
  sigaction(SIGTERM, &action, nil)
  signal(SIGPIPE, SIG_IGN)
}

/// The last stop signal received since the previous call (0: none).
nonisolated(unsafe) private var lastStopSignal: Int32 = 0
private func stopRequested() -> Int32 {
  var b: UInt8 = 0
  while stopPipe.read >= 0 && read(stopPipe.read, &b, 1) == 1 { lastStopSignal = Int32(b) }
  return lastStopSignal
}
