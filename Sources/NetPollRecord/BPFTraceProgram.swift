#if canImport(Glibc)
  import Glibc
#endif

/// The bpftrace program `netpoll record` runs: one probe pair per system call of interest and the
/// io_uring tracepoints, each printing one compact text line (a ``KernelRecord``) per event.
///
/// Why text and not `bpftrace -f json`: bpftrace 0.17 flushes stdout after every JSON line (one
/// `write(2)` per event, measured with `strace -c` on bpftrace: 73,002 writes for 73,002 events),
/// while its text `printf` output is block-buffered with `-B full` (862 writes for ~130,000
/// events). The lines are ours, so they need no JSON: a letter, then integers.
///
/// With `-B full` bpftrace's stdout is flushed only when its buffer fills, so the marker line `M`
/// (see ``Recorder``) is followed by 8 KiB of blanks: that pushes it, and every record before it,
/// out at once.
///
/// Every probe is filtered by the traced process (`pid` is the thread-group id, so threads created
/// later are covered). Calls that need their arguments at exit keep them in a per-thread map from
/// entry to exit; one line is printed at exit, with the entry time for calls that register or
/// retire an fd (`epoll_ctl`, `close`) and the exit time for calls that observe the kernel.
/// `read`/`write`/`readv`/`writev` are recorded on sockets only: the `@sock` map holds the
/// process's socket fds (seeded from `/proc/PID/fd`, then `socket`/`accept` results, less `close`).
/// io_uring tracepoints are also matched by ring (`@ring`, from `io_uring_create`), so completions
/// posted from another task's context still count.
public struct BPFTraceProgram: Sendable {
  /// At most this many `epoll_wait` ready items are read per call (the rest are counted, not listed).
  public static let maxReadyItems = 256
  /// `sizeof(struct epoll_event)`: packed on x86-64 (12 bytes), padded elsewhere (16).
  #if arch(x86_64)
    public static let epollEventSize = 12
  #else
    public static let epollEventSize = 16
  #endif

  /// The traced process (thread-group id).
  public let pid: Int32
  /// The process whose `getpgid(2)` prints the marker line `M`: the recorder itself.
  public let markerPID: Int32
  /// Socket fds the process had open when recording started.
  public let sockets: [Int32]

  public init(pid: Int32, markerPID: Int32, sockets: [Int32]) {
    self.pid = pid
    self.markerPID = markerPID
    self.sockets = sockets
  }

  /// The program text, for `bpftrace -e`.
  public var text: String {
    let socketSeeds =
      sockets.isEmpty ? "@sock[-1] = 0;" : sockets.map { "@sock[\($0)] = 1;" }.joined(separator: " ")
    return #"""
      BEGIN { \#(socketSeeds) }
      tracepoint:syscalls:sys_enter_epoll_create1 /pid == \#(pid)/ { @cf[tid] = (uint64)args->flags + 1; }
      tracepoint:syscalls:sys_enter_epoll_create /pid == \#(pid)/ { @cf[tid] = 1; }
      tracepoint:syscalls:sys_exit_epoll_create1, tracepoint:syscalls:sys_exit_epoll_create /@cf[tid]/ {
        printf("C %d %llu %lld %llu\n", tid, nsecs, args->ret, @cf[tid] - 1); delete(@cf[tid]);
      }
      tracepoint:syscalls:sys_enter_epoll_ctl /pid == \#(pid)/ {
        $e = (uint64)args->event; $ev = (uint64)0; $d = (uint64)0;
        if ($e != 0) { $ev = *uptr((uint32*)$e); $d = *uptr((uint64*)($e + 4)); }
        @ct[tid] = (nsecs, (int64)args->epfd, (int64)args->op, (int64)args->fd, $ev, $d);
      }
      tracepoint:syscalls:sys_exit_epoll_ctl /@ct[tid].0/ {
        $a = @ct[tid];
        printf("T %d %llu %lld %lld %lld %llu %llu %lld\n", tid, $a.0, $a.1, $a.2, $a.3, $a.4, $a.5, args->ret);
        delete(@ct[tid]);
      }
      tracepoint:syscalls:sys_enter_epoll_wait, tracepoint:syscalls:sys_enter_epoll_pwait /pid == \#(pid)/ {
        @wt[tid] = (nsecs, (int64)args->epfd, (int64)args->maxevents, (int64)args->timeout, (uint64)args->events);
      }
      tracepoint:syscalls:sys_enter_epoll_pwait2 /pid == \#(pid)/ {
        $tp = (uint64)args->timeout; $ms = (int64)-1;
        if ($tp != 0) { $ms = *uptr((int64*)$tp) * 1000 + *uptr((int64*)($tp + 8)) / 1000000; }
        @wt[tid] = (nsecs, (int64)args->epfd, (int64)args->maxevents, $ms, (uint64)args->events);
      }
      tracepoint:syscalls:sys_exit_epoll_wait, tracepoint:syscalls:sys_exit_epoll_pwait, tracepoint:syscalls:sys_exit_epoll_pwait2 /@wt[tid].0/ {
        $a = @wt[tid]; $p = $a.4; $n = args->ret; $i = (int64)0;
        if ($n > \#(Self.maxReadyItems)) { $n = \#(Self.maxReadyItems); }
        while ($i < $n) {
          $q = $p + (uint64)($i * \#(Self.epollEventSize));
          printf("R %d %llu %llu %llu %llu %llu %llu %llu %llu\n", tid,
            *uptr((uint32*)$q), *uptr((uint64*)($q + 4)),
            $i + 1 < $n ? *uptr((uint32*)($q + \#(Self.epollEventSize))) : 0, $i + 1 < $n ? *uptr((uint64*)($q + \#(Self.epollEventSize) + 4)) : 0,
            $i + 2 < $n ? *uptr((uint32*)($q + 2 * \#(Self.epollEventSize))) : 0, $i + 2 < $n ? *uptr((uint64*)($q + 2 * \#(Self.epollEventSize) + 4)) : 0,
            $i + 3 < $n ? *uptr((uint32*)($q + 3 * \#(Self.epollEventSize))) : 0, $i + 3 < $n ? *uptr((uint64*)($q + 3 * \#(Self.epollEventSize) + 4)) : 0);
          $i += 4;
        }
        printf("W %d %llu %lld %lld %lld %lld %llu\n", tid, nsecs, $a.1, $a.2, $a.3, args->ret, nsecs - $a.0);
        delete(@wt[tid]);
      }
      tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write /pid == \#(pid) && @sock[(int64)args->fd]/ {
        @rw[tid] = ((int64)args->fd + 1, (uint64)args->count, 0);
      }
      tracepoint:syscalls:sys_enter_recvfrom /pid == \#(pid)/ { @rw[tid] = ((int64)args->fd + 1, (uint64)args->size, 1); }
      tracepoint:syscalls:sys_enter_sendto /pid == \#(pid)/ { @rw[tid] = ((int64)args->fd + 1, (uint64)args->len, 1); }
      tracepoint:syscalls:sys_enter_readv, tracepoint:syscalls:sys_enter_writev /pid == \#(pid) && @sock[(int64)args->fd]/ {
        $v = (uint64)args->vec; $n = (int64)args->vlen; $i = (int64)0; $len = (uint64)0;
        if ($n > 8) { $n = 8; }
        while ($i < $n) { $len += *uptr((uint64*)($v + (uint64)($i * 16) + 8)); $i++; }
        @rw[tid] = ((int64)args->fd + 1, $len, 2);
      }
      tracepoint:syscalls:sys_exit_read, tracepoint:syscalls:sys_exit_recvfrom, tracepoint:syscalls:sys_exit_readv /@rw[tid].0/ {
        $a = @rw[tid]; printf("I %d %llu %lld %llu %lld %lld\n", tid, nsecs, $a.0 - 1, $a.1, args->ret, $a.2); delete(@rw[tid]);
      }
      tracepoint:syscalls:sys_exit_write, tracepoint:syscalls:sys_exit_sendto, tracepoint:syscalls:sys_exit_writev /@rw[tid].0/ {
        $a = @rw[tid]; printf("O %d %llu %lld %llu %lld %lld\n", tid, nsecs, $a.0 - 1, $a.1, args->ret, $a.2); delete(@rw[tid]);
      }
      tracepoint:syscalls:sys_enter_accept4, tracepoint:syscalls:sys_enter_accept /pid == \#(pid)/ { @af[tid] = (int64)args->fd + 1; }
      tracepoint:syscalls:sys_exit_accept4, tracepoint:syscalls:sys_exit_accept /@af[tid]/ {
        printf("A %d %llu %lld %lld\n", tid, nsecs, @af[tid] - 1, args->ret);
        if (args->ret >= 0) { @sock[args->ret] = 1; }
        delete(@af[tid]);
      }
      tracepoint:syscalls:sys_enter_close /pid == \#(pid)/ {
        @xc[tid] = (nsecs, (int64)args->fd); delete(@sock[(int64)args->fd]);
      }
      tracepoint:syscalls:sys_exit_close /@xc[tid].0/ {
        printf("X %d %llu %lld %lld\n", tid, @xc[tid].0, @xc[tid].1, args->ret); delete(@xc[tid]);
      }
      tracepoint:syscalls:sys_enter_socket /pid == \#(pid)/ { @sd[tid] = (int64)args->family + 1; }
      tracepoint:syscalls:sys_exit_socket /@sd[tid]/ {
        printf("S %d %llu %lld %lld\n", tid, nsecs, args->ret, @sd[tid] - 1);
        if (args->ret >= 0) { @sock[args->ret] = 1; }
        delete(@sd[tid]);
      }
      tracepoint:syscalls:sys_enter_bind /pid == \#(pid)/ {
        $p = (uint64)args->umyaddr; $f = (uint64)0; $port = (uint64)0; $a0 = (uint64)0; $a1 = (uint64)0;
        if ($p != 0) {
          $f = *uptr((uint16*)$p); $port = *uptr((uint16*)($p + 2));
          if ($f == 2) { $a0 = *uptr((uint32*)($p + 4)); }
          if ($f == 10) { $a0 = *uptr((uint64*)($p + 8)); $a1 = *uptr((uint64*)($p + 16)); }
        }
        @bind[tid] = ((int64)args->fd + 1, $f, $port, $a0, $a1);
      }
      tracepoint:syscalls:sys_exit_bind /@bind[tid].0/ {
        $a = @bind[tid];
        printf("B %d %llu %lld %lld %llu %llu %llu %llu\n", tid, nsecs, $a.0 - 1, args->ret, $a.1, $a.2, $a.3, $a.4);
        delete(@bind[tid]);
      }
      tracepoint:syscalls:sys_enter_connect /pid == \#(pid)/ {
        $p = (uint64)args->uservaddr; $f = (uint64)0; $port = (uint64)0; $a0 = (uint64)0; $a1 = (uint64)0;
        if ($p != 0) {
          $f = *uptr((uint16*)$p); $port = *uptr((uint16*)($p + 2));
          if ($f == 2) { $a0 = *uptr((uint32*)($p + 4)); }
          if ($f == 10) { $a0 = *uptr((uint64*)($p + 8)); $a1 = *uptr((uint64*)($p + 16)); }
        }
        @connect[tid] = ((int64)args->fd + 1, $f, $port, $a0, $a1);
      }
      tracepoint:syscalls:sys_exit_connect /@connect[tid].0/ {
        $a = @connect[tid];
        printf("N %d %llu %lld %lld %llu %llu %llu %llu\n", tid, nsecs, $a.0 - 1, args->ret, $a.1, $a.2, $a.3, $a.4);
        delete(@connect[tid]);
      }
      tracepoint:syscalls:sys_enter_listen /pid == \#(pid)/ { @ls[tid] = ((int64)args->fd + 1, (int64)args->backlog); }
      tracepoint:syscalls:sys_exit_listen /@ls[tid].0/ {
        printf("L %d %llu %lld %lld %lld\n", tid, nsecs, @ls[tid].0 - 1, @ls[tid].1, args->ret); delete(@ls[tid]);
      }
      tracepoint:syscalls:sys_enter_io_uring_setup /pid == \#(pid)/ { @us[tid] = ((uint64)args->entries + 1, (uint64)args->params); }
      tracepoint:syscalls:sys_exit_io_uring_setup /@us[tid].0/ {
        $a = @us[tid]; $p = $a.1; $cq = (uint64)0; $fl = (uint64)0; $ft = (uint64)0; $sq = $a.0 - 1;
        if ($p != 0) {
          $fl = *uptr((uint32*)($p + 8));
          if (args->ret >= 0) { $sq = *uptr((uint32*)$p); $cq = *uptr((uint32*)($p + 4)); $ft = *uptr((uint32*)($p + 20)); }
        }
        printf("U %d %llu %lld %llu %llu %llu %llu\n", tid, nsecs, args->ret, $sq, $cq, $fl, $ft); delete(@us[tid]);
      }
      tracepoint:io_uring:io_uring_create /pid == \#(pid)/ { @ring[(uint64)args->ctx] = 1; }
      tracepoint:syscalls:sys_enter_io_uring_enter /pid == \#(pid)/ {
        @ue[tid] = (nsecs, (int64)args->fd, (uint64)args->to_submit, (uint64)args->min_complete, (uint64)args->flags);
      }
      tracepoint:syscalls:sys_exit_io_uring_enter /@ue[tid].0/ {
        $a = @ue[tid];
        printf("E %d %llu %lld %llu %llu %llu %lld %llu\n", tid, nsecs, $a.1, $a.2, $a.3, $a.4, args->ret, nsecs - $a.0);
        delete(@ue[tid]);
      }
      tracepoint:io_uring:io_uring_submit_req /pid == \#(pid) || @ring[(uint64)args->ctx]/ {
        printf("Q %d %llu %llu %lld %llu %llu\n", tid, nsecs, (uint64)args->opcode, (int64)((struct io_kiocb *)args->req)->cqe.fd, args->user_data, args->flags & 0xff);
      }
      tracepoint:io_uring:io_uring_complete /pid == \#(pid) || @ring[(uint64)args->ctx]/ {
        printf("K %d %llu %llu %lld %llu\n", tid, nsecs, args->user_data, (int64)args->res, (uint64)args->cflags);
      }
      tracepoint:io_uring:io_uring_cqe_overflow /pid == \#(pid) || @ring[(uint64)args->ctx]/ {
        printf("V %d %llu %llu %lld %llu %llu\n", tid, nsecs, args->user_data, (int64)args->res, (uint64)args->cflags, (uint64)(args->ocqe != 0));
      }
      tracepoint:syscalls:sys_enter_getpgid /pid == \#(markerPID)/ { printf("M %d\n%8192s\n", tid, ""); }
      END { clear(@cf); clear(@ct); clear(@wt); clear(@rw); clear(@af); clear(@xc); clear(@sd); clear(@bind); clear(@connect); clear(@ls); clear(@us); clear(@ring); clear(@ue); clear(@sock); }
      """#
  }
}
