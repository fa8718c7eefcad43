/* The kernel half of `netpoll record --loader`: the same events as NetPollRecord's bpftrace program
 * (BPFTraceProgram.swift), written to a BPF ring buffer with BPF_RB_NO_WAKEUP. The loader
 * (loader.c) reads the ring on a timer, so recording an event costs no wakeup, no interrupt.
 * Each event is one `struct rec` of 8 + 8 * n bytes; loader.c passes it on as it is.
 *
 * System calls are seen by one program pair on the raw `sys_enter`/`sys_exit` tracepoints
 * (tp_btf: typed, no perf record built per call), filtered by tgid first and then switched on the
 * call number. One `syscalls:sys_enter_X`/`sys_exit_X` program per call cost more: each enabled
 * syscall tracepoint builds a perf record per call, for every process on the machine (the load
 * generator's own reads and writes too), and read and write kept their arguments from entry to
 * exit in task storage, where the exit's saved registers still hold them. `BENCH_RECORD_MODES=
 * untraced,record-libbpf tools/bench-record --rounds 3` (Go peer): the traced server's CPU per
 * request went from 12.8 to 9.3 µs (7.5 untraced), its throughput from 0.50 to 0.62 of untraced.
 * Call numbers are x86-64's (tools/record-bpf/build refuses other machines). */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
const volatile __u32 marker_tgid = 0;

struct rec {
  __u8 code;
  __u8 n; /* values used */
  __u16 pad;
  __u32 tid;
  __u64 v[10]; /* v[0] is the time, except for R and M; only v[0..n) are submitted */
};

struct inflight {
  __u64 ts;
  __u64 a[6];
  __u32 nr; /* which call: the exit probe checks it */
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 << 20);
} events SEC(".maps");

/* A thread's call between its enter and exit probes: task-local storage, found from the task
 * without a hash (a hash keyed by tid cost two lookups per call). Reads and writes do not use it:
 * their arguments are still in the saved registers at exit. */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct inflight);
} calls SEC(".maps");

/* Which fds are sockets: indexed by fd (an array lookup is inlined; fds from 65,536 up are not
 * tracked, so their reads and writes are not recorded). */
#define MAX_SOCKET_FD 65536
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, MAX_SOCKET_FD);
  __type(key, __u32);
  __type(value, __u8);
} sockets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u64);
  __type(value, __u8);
} rings SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

/* The saved user registers (x86-64): the syscall's arguments, its number, at exit its result. */
struct pt_regs {
  unsigned long di, si, dx, r10, r8, r9, orig_ax, ax;
} __attribute__((preserve_access_index));

struct io_cqe { __u64 user_data; __s32 res; union { __u32 flags; __s32 fd; }; } __attribute__((preserve_access_index));
struct io_kiocb { struct io_cqe cqe; } __attribute__((preserve_access_index));

/* x86-64 system call numbers. */
enum {
  NR_read = 0, NR_write = 1, NR_close = 3, NR_readv = 19, NR_writev = 20, NR_socket = 41,
  NR_connect = 42, NR_accept = 43, NR_sendto = 44, NR_recvfrom = 45, NR_bind = 49, NR_listen = 50,
  NR_getpgid = 121, NR_epoll_create = 213, NR_epoll_wait = 232, NR_epoll_ctl = 233,
  NR_epoll_pwait = 281, NR_accept4 = 288, NR_epoll_create1 = 291, NR_io_uring_setup = 425,
  NR_io_uring_enter = 426, NR_epoll_pwait2 = 441,
};

static __always_inline int mine(void) {
  return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}
static __always_inline __u32 tid(void) { return (__u32)bpf_get_current_pid_tgid(); }

static __always_inline void count_lost(void) {
  __u32 k = 0;
  __u64 *n = bpf_map_lookup_elem(&lost, &k);
  if (n) *n += 1;
}

/* A record of `n` values: the ring holds 8 + 8n bytes, not the whole struct. */
#define RESERVE(code_, n_) ({                                                             \
  struct rec *r_ = bpf_ringbuf_reserve(&events, 8 + 8 * (n_), 0);                         \
  if (r_) { r_->code = (code_); r_->n = (n_); r_->pad = 0; r_->tid = tid(); }             \
  else count_lost();                                                                      \
  r_; })
#define SUBMIT(r) bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP)

/* A thread's in-flight call is written in place: only a thread's first call inserts. */
static __always_inline void enter(__u32 nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4, __u64 a5) {
  struct inflight *p = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0,
                                            BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!p) return;
  p->ts = bpf_ktime_get_ns(); p->a[0] = a0; p->a[1] = a1; p->a[2] = a2; p->a[3] = a3; p->a[4] = a4;
  p->a[5] = a5; p->nr = nr;
}
static __always_inline struct inflight *leave(__u32 nr) {
  struct inflight *f = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0, 0);
  if (!f || f->nr != nr) return 0;
  f->nr = 0; /* consumed; the entry is reused by the thread's next call (no delete) */
  return f;
}

static __always_inline int is_socket(__u64 fd) {
  __u32 k = (__u32)fd;
  __u8 *v = bpf_map_lookup_elem(&sockets, &k);
  return v && *v;
}
static __always_inline void set_socket(__s64 fd, __u8 on) {
  if (fd < 0) return;
  __u32 k = (__u32)fd;
  __u8 *v = bpf_map_lookup_elem(&sockets, &k);
  if (v) *v = on;
}
static __always_inline __u64 iov_len(__u64 vec, __u64 n) {
  __u64 len = 0;
  for (int i = 0; i < 8; i++) {
    if (i >= n) break;
    __u64 l = 0;
    bpf_probe_read_user(&l, 8, (void *)(vec + i * 16 + 8));
    len += l;
  }
  return len;
}
static __always_inline void addr_enter(struct pt_regs *regs, __u32 nr) {
  __u16 fam = 0, port = 0; __u64 a0 = 0, a1 = 0;
  void *p = (void *)regs->si;
  if (p) {
    bpf_probe_read_user(&fam, 2, p); bpf_probe_read_user(&port, 2, p + 2);
    if (fam == 2) { __u32 a = 0; bpf_probe_read_user(&a, 4, p + 4); a0 = a; }
    if (fam == 10) { bpf_probe_read_user(&a0, 8, p + 8); bpf_probe_read_user(&a1, 8, p + 16); }
  }
  enter(nr, regs->di, fam, port, a0, a1, 0);
}

/* Entry: only calls that need an argument the exit cannot see, or their entry time. */
SEC("tp_btf/sys_enter")
int sys_enter_all(__u64 *ctx) {
  if (!mine()) return 0;
  struct pt_regs *regs = (struct pt_regs *)ctx[0];
  long nr = (long)ctx[1];
  switch (nr) {
  case NR_epoll_create1: enter(NR_epoll_create, regs->di, 0, 0, 0, 0, 0); break;
  case NR_epoll_create: enter(NR_epoll_create, 0, 0, 0, 0, 0, 0); break;
  case NR_epoll_ctl: {
    __u32 ev = 0; __u64 data = 0;
    void *p = (void *)regs->r10;
    if (p) { bpf_probe_read_user(&ev, 4, p); bpf_probe_read_user(&data, 8, p + 4); }
    enter(NR_epoll_ctl, regs->di, regs->si, regs->dx, ev, data, 0);
    break;
  }
  case NR_epoll_wait:
  case NR_epoll_pwait:
    enter(NR_epoll_wait, regs->di, regs->si, regs->dx, (__s64)(__s32)regs->r10, 0, 0);
    break;
  case NR_epoll_pwait2: {
    __s64 ms = -1, ts[2] = {0, 0};
    if (regs->r10 && bpf_probe_read_user(ts, sizeof(ts), (void *)regs->r10) == 0)
      ms = ts[0] * 1000 + (__s64)((__u64)ts[1] / 1000000);
    enter(NR_epoll_wait, regs->di, regs->si, regs->dx, ms, 0, 0);
    break;
  }
  case NR_readv:
  case NR_writev: /* the lengths are read before the call can change the vector */
    if (is_socket(regs->di)) enter(nr, regs->di, iov_len(regs->si, regs->dx), 0, 0, 0, 0);
    break;
  case NR_accept:
  case NR_accept4: enter(NR_accept, regs->di, 0, 0, 0, 0, 0); break;
  case NR_close:
    set_socket((__s64)(__s32)regs->di, 0);
    enter(NR_close, regs->di, 0, 0, 0, 0, 0);
    break;
  case NR_socket: enter(NR_socket, regs->di, 0, 0, 0, 0, 0); break;
  case NR_bind: addr_enter(regs, NR_bind); break;
  case NR_connect: addr_enter(regs, NR_connect); break;
  case NR_listen: enter(NR_listen, regs->di, regs->si, 0, 0, 0, 0); break;
  case NR_io_uring_setup: enter(NR_io_uring_setup, regs->di, regs->si, 0, 0, 0, 0); break;
  case NR_io_uring_enter: enter(NR_io_uring_enter, regs->di, regs->si, regs->dx, regs->r10, 0, 0); break;
  }
  return 0;
}

#define EPOLL_EVENT_SIZE 12
#define MAX_READY 256
static __always_inline void wait_exit(long ret) {
  struct inflight *f = leave(NR_epoll_wait);
  if (!f) return;
  __u64 base = f->a[1];
  __s64 n = ret > MAX_READY ? MAX_READY : ret;
  for (int i = 0; i < MAX_READY / 4; i++) {
    if (i * 4 >= n) break;
    struct rec *r = RESERVE('R', 8);
    if (!r) break;
    /* Four items are one read; a last, shorter group is read item by item (the array may end
     * right after it). Pairs past the end stay zero. */
    __u8 items[4 * EPOLL_EVENT_SIZE] = {};
    void *q = (void *)(base + (__u64)i * 4 * EPOLL_EVENT_SIZE);
    if (i * 4 + 4 <= n) {
      bpf_probe_read_user(items, sizeof(items), q);
    } else {
      for (int k = 0; k < 3; k++)
        if (i * 4 + k < n) bpf_probe_read_user(&items[k * EPOLL_EVENT_SIZE], EPOLL_EVENT_SIZE, q + k * EPOLL_EVENT_SIZE);
    }
    for (int k = 0; k < 4; k++) {
      r->v[2 * k] = *(__u32 *)&items[k * EPOLL_EVENT_SIZE];
      r->v[2 * k + 1] = *(__u64 *)&items[k * EPOLL_EVENT_SIZE + 4];
    }
    SUBMIT(r);
  }
  struct rec *r = RESERVE('W', 6);
  if (!r) return;
  __u64 now = bpf_ktime_get_ns();
  r->v[0] = now; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__s64)(__s32)f->a[2]; r->v[3] = f->a[3];
  r->v[4] = ret; r->v[5] = now - f->ts;
  SUBMIT(r);
}

static __always_inline void io_record(char code, __u64 fd, __u64 len, long ret, __u64 call) {
  struct rec *r = RESERVE(code, 5);
  if (!r) return;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)fd; r->v[2] = len; r->v[3] = ret; r->v[4] = call;
  SUBMIT(r);
}

/* A record of three values: what create, accept, close and socket write at exit. */
static __always_inline void record3(char code, __u64 v0, __u64 v1, __u64 v2) {
  struct rec *r = RESERVE(code, 3);
  if (!r) return;
  r->v[0] = v0; r->v[1] = v1; r->v[2] = v2;
  SUBMIT(r);
}

static __always_inline void addr_exit(long ret, __u32 nr, char code) {
  struct inflight *f = leave(nr);
  if (!f) return;
  struct rec *r = RESERVE(code, 7);
  if (!r) return;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = ret;
  r->v[3] = f->a[1]; r->v[4] = f->a[2]; r->v[5] = f->a[3]; r->v[6] = f->a[4];
  SUBMIT(r);
}

/* Exit: one record per call. Attached last of all programs: it also writes the recorder's marker
 * (its getpgid(2)), which proves every probe is live. */
SEC("tp_btf/sys_exit")
int sys_exit_all(__u64 *ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  struct pt_regs *regs = (struct pt_regs *)ctx[0];
  long ret = (long)ctx[1];
  if (tgid != target_tgid) {
    if (tgid == marker_tgid && regs->orig_ax == NR_getpgid) {
      struct rec *r = RESERVE('M', 0);
      if (r) SUBMIT(r);
    }
    return 0;
  }
  long nr = regs->orig_ax;
  switch (nr) {
  /* The hot calls: no entry state, the fd and length are still in the registers. */
  case NR_read:
    if (is_socket(regs->di)) io_record('I', regs->di, regs->dx, ret, 0);
    return 0;
  case NR_write:
    if (is_socket(regs->di)) io_record('O', regs->di, regs->dx, ret, 0);
    return 0;
  case NR_recvfrom: io_record('I', regs->di, regs->dx, ret, 1); return 0;
  case NR_sendto: io_record('O', regs->di, regs->dx, ret, 1); return 0;
  case NR_readv:
  case NR_writev: {
    struct inflight *f = leave(nr);
    if (f) io_record(nr == NR_readv ? 'I' : 'O', f->a[0], f->a[1], ret, 2);
    return 0;
  }
  case NR_epoll_wait:
  case NR_epoll_pwait:
  case NR_epoll_pwait2:
    wait_exit(ret);
    return 0;
  case NR_epoll_ctl: {
    struct inflight *f = leave(NR_epoll_ctl);
    if (!f) return 0;
    struct rec *r = RESERVE('T', 7);
    if (!r) return 0;
    r->v[0] = f->ts; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__s64)(__s32)f->a[1];
    r->v[3] = (__s64)(__s32)f->a[2]; r->v[4] = f->a[3]; r->v[5] = f->a[4]; r->v[6] = ret;
    SUBMIT(r);
    return 0;
  }
  case NR_epoll_create:
  case NR_epoll_create1: {
    struct inflight *f = leave(NR_epoll_create);
    if (f) record3('C', bpf_ktime_get_ns(), ret, f->a[0]);
    return 0;
  }
  case NR_accept:
  case NR_accept4: {
    struct inflight *f = leave(NR_accept);
    if (!f) return 0;
    set_socket(ret, 1);
    record3('A', bpf_ktime_get_ns(), (__s64)(__s32)f->a[0], ret);
    return 0;
  }
  case NR_close: {
    struct inflight *f = leave(NR_close);
    if (f) record3('X', f->ts, (__s64)(__s32)f->a[0], ret);
    return 0;
  }
  case NR_socket: {
    struct inflight *f = leave(NR_socket);
    if (!f) return 0;
    set_socket(ret, 1);
    record3('S', bpf_ktime_get_ns(), ret, f->a[0]);
    return 0;
  }
  case NR_bind: addr_exit(ret, NR_bind, 'B'); return 0;
  case NR_connect: addr_exit(ret, NR_connect, 'N'); return 0;
  case NR_listen: {
    struct inflight *f = leave(NR_listen);
    if (!f) return 0;
    struct rec *r = RESERVE('L', 4);
    if (!r) return 0;
    r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__s64)(__s32)f->a[1]; r->v[3] = ret;
    SUBMIT(r);
    return 0;
  }
  case NR_io_uring_setup: {
    struct inflight *f = leave(NR_io_uring_setup);
    if (!f) return 0;
    __u32 p[6] = {0, 0, 0, 0, 0, 0};
    if (f->a[1]) bpf_probe_read_user(p, sizeof(p), (void *)f->a[1]);
    struct rec *r = RESERVE('U', 6);
    if (!r) return 0;
    r->v[0] = bpf_ktime_get_ns(); r->v[1] = ret;
    r->v[2] = ret >= 0 ? p[0] : f->a[0]; r->v[3] = ret >= 0 ? p[1] : 0; r->v[4] = p[2];
    r->v[5] = ret >= 0 ? p[5] : 0;
    SUBMIT(r);
    return 0;
  }
  case NR_io_uring_enter: {
    struct inflight *f = leave(NR_io_uring_enter);
    if (!f) return 0;
    struct rec *r = RESERVE('E', 7);
    if (!r) return 0;
    __u64 now = bpf_ktime_get_ns();
    r->v[0] = now; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__u32)f->a[1]; r->v[3] = (__u32)f->a[2];
    r->v[4] = (__u32)f->a[3]; r->v[5] = ret; r->v[6] = now - f->ts;
    SUBMIT(r);
    return 0;
  }
  }
  return 0;
}

/* io_uring */
struct uring_create { __u64 common; __s32 fd; __u32 pad; __u64 ctx; };
SEC("tracepoint/io_uring/io_uring_create")
int ucr(struct uring_create *c) {
  if (!mine()) return 0;
  __u64 k = c->ctx; __u8 one = 1;
  bpf_map_update_elem(&rings, &k, &one, BPF_ANY);
  return 0;
}
static __always_inline int ring_of_interest(__u64 ctx) {
  return mine() || bpf_map_lookup_elem(&rings, &ctx) != 0;
}
struct uring_submit { __u64 common; __u64 ctx; __u64 req; __u64 user_data; __u8 opcode; __u8 pad[7]; __u64 flags; };
SEC("tracepoint/io_uring/io_uring_submit_req")
int usq(struct uring_submit *c) {
  if (!ring_of_interest(c->ctx)) return 0;
  struct io_kiocb *req = (struct io_kiocb *)c->req;
  __s32 fd = BPF_CORE_READ(req, cqe.fd);
  struct rec *r = RESERVE('Q', 5);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->opcode; r->v[2] = (__s64)fd; r->v[3] = c->user_data; r->v[4] = c->flags & 0xff;
  SUBMIT(r);
  return 0;
}
struct uring_complete { __u64 common; __u64 ctx; __u64 req; __u64 user_data; __s32 res; __u32 cflags; };
SEC("tracepoint/io_uring/io_uring_complete")
int ucq(struct uring_complete *c) {
  if (!ring_of_interest(c->ctx)) return 0;
  struct rec *r = RESERVE('K', 4);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->user_data; r->v[2] = (__s64)c->res; r->v[3] = c->cflags;
  SUBMIT(r);
  return 0;
}
struct uring_overflow { __u64 common; __u64 ctx; __u64 user_data; __s32 res; __u32 cflags; __u64 ocqe; };
SEC("tracepoint/io_uring/io_uring_cqe_overflow")
int uov(struct uring_overflow *c) {
  if (!ring_of_interest(c->ctx)) return 0;
  struct rec *r = RESERVE('V', 5);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->user_data; r->v[2] = (__s64)c->res; r->v[3] = c->cflags; r->v[4] = c->ocqe != 0;
  SUBMIT(r);
  return 0;
}
