import CNetPollShims
import CURing
import NetPollTrace

/// The io_uring system calls, made and recorded here like every other call (see ``Syscalls``).
///
/// Only `io_uring_setup` and `io_uring_enter` are system calls; preparing an SQE and reading a CQE
/// are memory operations on the shared rings, recorded as `uring_sqe` / `uring_cqe` so the trace
/// shows what each enter carried and what came back. The raw calls return `-errno` rather than
/// setting `errno`, so they do not go through ``traced(_:retryOnInterrupt:a:b:c:d:e:_:)``.
extension Syscalls {
  /// io_uring_setup(2) with `params` (flags, cq_entries) filled in by the caller; the kernel
  /// writes back the ring's geometry and features. Recorded as `uring_setup`, also on failure
  /// (a refused flag while probing shows as `ring_fd` -1 with its errno).
  func uringSetup(entries: UInt32, params: inout io_uring_params) throws(Errno) -> Int32 {
    let requestedFlags = params.flags
    let fd = netpoll_uring_setup(entries, &params)
    record(
      TraceRecord(
        .uringSetup, ret: Int64(fd), errno: fd < 0 ? -fd : 0, a: Int64(fd),
        b: Int64(fd < 0 ? entries : params.sq_entries),
        c: Int64(fd < 0 ? params.cq_entries : params.cq_entries),
        d: Int64(fd < 0 ? requestedFlags : params.flags), e: Int64(params.features)))
    if fd < 0 { throw Errno(-fd) }
    return fd
  }

  /// io_uring_enter(2): submits `toSubmit` SQEs and, with `IORING_ENTER_GETEVENTS`, waits for
  /// `minComplete` completions, at most `timeoutNs` when `flags` has `IORING_ENTER_EXT_ARG`.
  ///
  /// Exactly one system call, recorded as `uring_enter` with what the kernel returned; never
  /// retried (the poller decides what EINTR, ETIME, EBUSY mean). Returns the kernel's result:
  /// SQEs consumed (or 0 after a wait), or `-errno`.
  func uringEnter(ringFD: Int32, toSubmit: UInt32, minComplete: UInt32, flags: UInt32, timeoutNs: Int64)
    -> Int32
  {
    let start = recorder == nil ? 0 : netpoll_monotonic_ns()
    let r = netpoll_uring_enter(ringFD, toSubmit, minComplete, flags, timeoutNs)
    withRecorder { recorder in
      let dur = Int64(netpoll_monotonic_ns() &- start)
      // The contract writes a failed call as ret -1 with the errno's name, as for every other
      // system call (docs/trace-format.md); the wrapper hands back -errno.
      recorder.record(
        TraceRecord(
          .uringEnter, ret: r < 0 ? -1 : Int64(r), errno: r < 0 ? -r : 0, a: Int64(ringFD),
          b: Int64(toSubmit),
          c: Int64(minComplete), d: Int64(flags), e: dur))
    }
    return r
  }

  /// Records one prepared SQE (`uring_sqe`).
  @inline(__always)
  func recordSQE(op: UInt8, fd: Int32, userData: UInt64, flags: UInt8) {
    record(
      TraceRecord(
        .uringSQE, a: Int64(op), b: Int64(fd), c: Int64(bitPattern: userData), d: Int64(flags)))
  }

  /// Records one reaped CQE (`uring_cqe`), with the fd the operation was for (-1: none).
  @inline(__always)
  func recordCQE(_ cqe: io_uring_cqe, fd: Int32) {
    record(
      TraceRecord(
        .uringCQE, ret: Int64(cqe.res), a: Int64(bitPattern: cqe.user_data), b: Int64(fd),
        c: Int64(cqe.flags)))
  }

  /// Records completions the kernel dropped (`dropped`) or is holding back for a full CQ
  /// (`backlog`), as `uring_overflow`.
  func recordOverflow(dropped: UInt32, backlog: Bool) {
    record(TraceRecord(.uringOverflow, a: Int64(dropped), b: backlog ? 1 : 0))
  }
}
