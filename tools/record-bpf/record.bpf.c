/* The kernel half of `netpoll record --loader`: the same events as NetPollRecord's bpftrace program
 * (BPFTraceProgram.swift), written to a BPF ring buffer with BPF_RB_NO_WAKEUP. The loader
 * (loader.c) reads the ring on a timer, so recording an event costs no wakeup, no interrupt.
 * Each event is one `struct rec`; loader.c prints it as the text line KernelRecord parses. */
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
  __u64 v[10]; /* v[0] is the time, except for R and M */
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
 * without a hash (a hash keyed by tid cost two lookups per call). */
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

struct sys_enter { __u64 common; __s32 nr; __u32 pad; __u64 args[6]; };
struct sys_exit { __u64 common; __s32 nr; __u32 pad; __s64 ret; };

struct io_cqe { __u64 user_data; __s32 res; union { __u32 flags; __s32 fd; }; } __attribute__((preserve_access_index));
struct io_kiocb { struct io_cqe cqe; } __attribute__((preserve_access_index));

enum { C_CREATE = 1, C_CTL, C_WAIT, C_WAIT2, C_READ, C_WRITE, C_RECV, C_SEND, C_READV, C_WRITEV,
       C_ACCEPT, C_CLOSE, C_SOCKET, C_BIND, C_CONNECT, C_LISTEN, C_USETUP, C_UENTER };

static __always_inline int mine(void) {
  return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}
static __always_inline __u32 tid(void) { return (__u32)bpf_get_current_pid_tgid(); }

static __always_inline void count_lost(void) {
  __u32 k = 0;
  __u64 *n = bpf_map_lookup_elem(&lost, &k);
  if (n) *n += 1;
}

static __always_inline struct rec *reserve(__u8 code, __u8 n) {
  struct rec *r = bpf_ringbuf_reserve(&events, sizeof(struct rec), 0);
  if (!r) { count_lost(); return 0; }
  r->code = code; r->n = n; r->pad = 0; r->tid = tid();
  return r;
}
#define SUBMIT(r) bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP)

/* A thread's in-flight call is written in place: only a thread's first call inserts (a hash update
 * takes a fresh element and swaps it in, under the bucket lock, on every call). */
static __always_inline void enter(__u32 nr, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4, __u64 a5) {
  struct inflight *p = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0,
                                            BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!p) return;
  p->ts = bpf_ktime_get_ns(); p->a[0] = a0; p->a[1] = a1; p->a[2] = a2; p->a[3] = a3; p->a[4] = a4;
  p->a[5] = a5; p->nr = nr;
}
/* The exit probes fire for every process's calls (read and write above all): the tgid test comes
 * before any map lookup. */
static __always_inline struct inflight *leave(__u32 nr) {
  if (!mine()) return 0;
  struct inflight *f = bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0, 0);
  if (!f || f->nr != nr) return 0;
  f->nr = 0; /* consumed; the entry is reused by the thread's next call (no delete) */
  return f;
}

/* epoll */
SEC("tracepoint/syscalls/sys_enter_epoll_create1")
int ec1(struct sys_enter *c) { if (mine()) enter(C_CREATE, c->args[0], 0, 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_enter_epoll_create")
int ec0(struct sys_enter *c) { if (mine()) enter(C_CREATE, 0, 0, 0, 0, 0, 0); return 0; }
static __always_inline int create_exit(struct sys_exit *c) {
  struct inflight *f = leave(C_CREATE);
  if (!f) return 0;
  struct rec *r = reserve('C', 3);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->ret; r->v[2] = f->a[0];
  SUBMIT(r);
  return 0;
}
SEC("tracepoint/syscalls/sys_exit_epoll_create1") int ec1x(struct sys_exit *c) { return create_exit(c); }
SEC("tracepoint/syscalls/sys_exit_epoll_create") int ec0x(struct sys_exit *c) { return create_exit(c); }

SEC("tracepoint/syscalls/sys_enter_epoll_ctl")
int ctl(struct sys_enter *c) {
  if (!mine()) return 0;
  __u32 ev = 0; __u64 data = 0;
  void *p = (void *)c->args[3];
  if (p) { bpf_probe_read_user(&ev, 4, p); bpf_probe_read_user(&data, 8, p + 4); }
  enter(C_CTL, c->args[0], c->args[1], c->args[2], ev, data, 0);
  return 0;
}
SEC("tracepoint/syscalls/sys_exit_epoll_ctl")
int ctlx(struct sys_exit *c) {
  struct inflight *f = leave(C_CTL);
  if (!f) return 0;
  struct rec *r = reserve('T', 7);
  if (!r) return 0;
  r->v[0] = f->ts; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__s64)(__s32)f->a[1];
  r->v[3] = (__s64)(__s32)f->a[2]; r->v[4] = f->a[3]; r->v[5] = f->a[4]; r->v[6] = c->ret;
  SUBMIT(r);
  return 0;
}

static __always_inline void wait_enter(struct sys_enter *c, __s64 timeout_ms) {
  enter(C_WAIT, c->args[0], c->args[1], c->args[2], timeout_ms, 0, 0);
}
SEC("tracepoint/syscalls/sys_enter_epoll_wait")
int ew(struct sys_enter *c) { if (mine()) wait_enter(c, (__s64)(__s32)c->args[3]); return 0; }
SEC("tracepoint/syscalls/sys_enter_epoll_pwait")
int epw(struct sys_enter *c) { if (mine()) wait_enter(c, (__s64)(__s32)c->args[3]); return 0; }
SEC("tracepoint/syscalls/sys_enter_epoll_pwait2")
int epw2(struct sys_enter *c) {
  if (!mine()) return 0;
  __s64 ms = -1, ts[2] = {0, 0};
  if (c->args[3] && bpf_probe_read_user(ts, sizeof(ts), (void *)c->args[3]) == 0)
    ms = ts[0] * 1000 + (__s64)((__u64)ts[1] / 1000000);
  wait_enter(c, ms);
  return 0;
}
#define EPOLL_EVENT_SIZE 12
#define MAX_READY 256
static __always_inline int wait_exit(struct sys_exit *c) {
  struct inflight *f = leave(C_WAIT);
  if (!f) return 0;
  __u64 base = f->a[1];
  __s64 n = c->ret > MAX_READY ? MAX_READY : c->ret;
  for (int i = 0; i < MAX_READY / 4; i++) {
    if (i * 4 >= n) break;
    struct rec *r = reserve('R', 8);
    if (!r) break;
    for (int k = 0; k < 4; k++) {
      __u32 ev = 0; __u64 data = 0;
      if (i * 4 + k < n) {
        void *q = (void *)(base + (__u64)(i * 4 + k) * EPOLL_EVENT_SIZE);
        bpf_probe_read_user(&ev, 4, q);
        bpf_probe_read_user(&data, 8, q + 4);
      }
      r->v[2 * k] = ev; r->v[2 * k + 1] = data;
    }
    SUBMIT(r);
  }
  struct rec *r = reserve('W', 6);
  if (!r) return 0;
  __u64 now = bpf_ktime_get_ns();
  r->v[0] = now; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__s64)(__s32)f->a[2]; r->v[3] = f->a[3];
  r->v[4] = c->ret; r->v[5] = now - f->ts;
  SUBMIT(r);
  return 0;
}
SEC("tracepoint/syscalls/sys_exit_epoll_wait") int ewx(struct sys_exit *c) { return wait_exit(c); }
SEC("tracepoint/syscalls/sys_exit_epoll_pwait") int epwx(struct sys_exit *c) { return wait_exit(c); }
SEC("tracepoint/syscalls/sys_exit_epoll_pwait2") int epw2x(struct sys_exit *c) { return wait_exit(c); }

/* reads and writes */
static __always_inline int is_socket(__u64 fd) {
  __u32 k = (__u32)fd;
  __u8 *v = bpf_map_lookup_elem(&sockets, &k);
  return v && *v;
}
static __always_inline int io_exit(struct sys_exit *c, __u32 nr, char code, __u64 call) {
  struct inflight *f = leave(nr);
  if (!f) return 0;
  struct rec *r = reserve(code, 5);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = f->a[1]; r->v[3] = c->ret; r->v[4] = call;
  SUBMIT(r);
  return 0;
}
SEC("tracepoint/syscalls/sys_enter_read")
int rd(struct sys_enter *c) { if (mine() && is_socket(c->args[0])) enter(C_READ, c->args[0], c->args[2], 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_read") int rdx(struct sys_exit *c) { return io_exit(c, C_READ, 'I', 0); }
SEC("tracepoint/syscalls/sys_enter_write")
int wr(struct sys_enter *c) { if (mine() && is_socket(c->args[0])) enter(C_WRITE, c->args[0], c->args[2], 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_write") int wrx(struct sys_exit *c) { return io_exit(c, C_WRITE, 'O', 0); }
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int rf(struct sys_enter *c) { if (mine()) enter(C_RECV, c->args[0], c->args[2], 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_recvfrom") int rfx(struct sys_exit *c) { return io_exit(c, C_RECV, 'I', 1); }
SEC("tracepoint/syscalls/sys_enter_sendto")
int st(struct sys_enter *c) { if (mine()) enter(C_SEND, c->args[0], c->args[2], 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_sendto") int stx(struct sys_exit *c) { return io_exit(c, C_SEND, 'O', 1); }
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
SEC("tracepoint/syscalls/sys_enter_readv")
int rv(struct sys_enter *c) { if (mine() && is_socket(c->args[0])) enter(C_READV, c->args[0], iov_len(c->args[1], c->args[2]), 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_readv") int rvx(struct sys_exit *c) { return io_exit(c, C_READV, 'I', 2); }
SEC("tracepoint/syscalls/sys_enter_writev")
int wv(struct sys_enter *c) { if (mine() && is_socket(c->args[0])) enter(C_WRITEV, c->args[0], iov_len(c->args[1], c->args[2]), 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_writev") int wvx(struct sys_exit *c) { return io_exit(c, C_WRITEV, 'O', 2); }

/* sockets and close */
static __always_inline void add_socket(__s64 fd) {
  if (fd < 0) return;
  __u32 k = (__u32)fd;
  __u8 *v = bpf_map_lookup_elem(&sockets, &k);
  if (v) *v = 1;
}
SEC("tracepoint/syscalls/sys_enter_accept4")
int ac4(struct sys_enter *c) { if (mine()) enter(C_ACCEPT, c->args[0], 0, 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_enter_accept")
int ac(struct sys_enter *c) { if (mine()) enter(C_ACCEPT, c->args[0], 0, 0, 0, 0, 0); return 0; }
static __always_inline int accept_exit(struct sys_exit *c) {
  struct inflight *f = leave(C_ACCEPT);
  if (!f) return 0;
  add_socket(c->ret);
  struct rec *r = reserve('A', 3);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = c->ret;
  SUBMIT(r);
  return 0;
}
SEC("tracepoint/syscalls/sys_exit_accept4") int ac4x(struct sys_exit *c) { return accept_exit(c); }
SEC("tracepoint/syscalls/sys_exit_accept") int acx(struct sys_exit *c) { return accept_exit(c); }
SEC("tracepoint/syscalls/sys_enter_close")
int cl(struct sys_enter *c) {
  if (!mine()) return 0;
  __u32 k = (__u32)c->args[0];
  __u8 *v = bpf_map_lookup_elem(&sockets, &k);
  if (v) *v = 0;
  enter(C_CLOSE, c->args[0], 0, 0, 0, 0, 0);
  return 0;
}
SEC("tracepoint/syscalls/sys_exit_close")
int clx(struct sys_exit *c) {
  struct inflight *f = leave(C_CLOSE);
  if (!f) return 0;
  struct rec *r = reserve('X', 3);
  if (!r) return 0;
  r->v[0] = f->ts; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = c->ret;
  SUBMIT(r);
  return 0;
}
SEC("tracepoint/syscalls/sys_enter_socket")
int so(struct sys_enter *c) { if (mine()) enter(C_SOCKET, c->args[0], 0, 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_socket")
int sox(struct sys_exit *c) {
  struct inflight *f = leave(C_SOCKET);
  if (!f) return 0;
  add_socket(c->ret);
  struct rec *r = reserve('S', 3);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->ret; r->v[2] = f->a[0];
  SUBMIT(r);
  return 0;
}
static __always_inline void addr_enter(struct sys_enter *c, __u32 nr) {
  __u16 fam = 0, port = 0; __u64 a0 = 0, a1 = 0;
  void *p = (void *)c->args[1];
  if (p) {
    bpf_probe_read_user(&fam, 2, p); bpf_probe_read_user(&port, 2, p + 2);
    if (fam == 2) { __u32 a = 0; bpf_probe_read_user(&a, 4, p + 4); a0 = a; }
    if (fam == 10) { bpf_probe_read_user(&a0, 8, p + 8); bpf_probe_read_user(&a1, 8, p + 16); }
  }
  enter(nr, c->args[0], fam, port, a0, a1, 0);
}
static __always_inline int addr_exit(struct sys_exit *c, __u32 nr, char code) {
  struct inflight *f = leave(nr);
  if (!f) return 0;
  struct rec *r = reserve(code, 7);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = c->ret;
  r->v[3] = f->a[1]; r->v[4] = f->a[2]; r->v[5] = f->a[3]; r->v[6] = f->a[4];
  SUBMIT(r);
  return 0;
}
SEC("tracepoint/syscalls/sys_enter_bind") int bi(struct sys_enter *c) { if (mine()) addr_enter(c, C_BIND); return 0; }
SEC("tracepoint/syscalls/sys_exit_bind") int bix(struct sys_exit *c) { return addr_exit(c, C_BIND, 'B'); }
SEC("tracepoint/syscalls/sys_enter_connect") int co(struct sys_enter *c) { if (mine()) addr_enter(c, C_CONNECT); return 0; }
SEC("tracepoint/syscalls/sys_exit_connect") int cox(struct sys_exit *c) { return addr_exit(c, C_CONNECT, 'N'); }
SEC("tracepoint/syscalls/sys_enter_listen")
int li(struct sys_enter *c) { if (mine()) enter(C_LISTEN, c->args[0], c->args[1], 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_listen")
int lix(struct sys_exit *c) {
  struct inflight *f = leave(C_LISTEN);
  if (!f) return 0;
  struct rec *r = reserve('L', 4);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__s64)(__s32)f->a[1]; r->v[3] = c->ret;
  SUBMIT(r);
  return 0;
}

/* io_uring */
SEC("tracepoint/syscalls/sys_enter_io_uring_setup")
int us(struct sys_enter *c) { if (mine()) enter(C_USETUP, c->args[0], c->args[1], 0, 0, 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_io_uring_setup")
int usx(struct sys_exit *c) {
  struct inflight *f = leave(C_USETUP);
  if (!f) return 0;
  __u32 p[6] = {0, 0, 0, 0, 0, 0};
  if (f->a[1]) bpf_probe_read_user(p, sizeof(p), (void *)f->a[1]);
  struct rec *r = reserve('U', 6);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->ret;
  r->v[2] = c->ret >= 0 ? p[0] : f->a[0]; r->v[3] = c->ret >= 0 ? p[1] : 0; r->v[4] = p[2];
  r->v[5] = c->ret >= 0 ? p[5] : 0;
  SUBMIT(r);
  return 0;
}
struct uring_create { __u64 common; __s32 fd; __u32 pad; __u64 ctx; };
SEC("tracepoint/io_uring/io_uring_create")
int ucr(struct uring_create *c) {
  if (!mine()) return 0;
  __u64 k = c->ctx; __u8 one = 1;
  bpf_map_update_elem(&rings, &k, &one, BPF_ANY);
  return 0;
}
SEC("tracepoint/syscalls/sys_enter_io_uring_enter")
int ue(struct sys_enter *c) { if (mine()) enter(C_UENTER, c->args[0], c->args[1], c->args[2], c->args[3], 0, 0); return 0; }
SEC("tracepoint/syscalls/sys_exit_io_uring_enter")
int uex(struct sys_exit *c) {
  struct inflight *f = leave(C_UENTER);
  if (!f) return 0;
  struct rec *r = reserve('E', 7);
  if (!r) return 0;
  __u64 now = bpf_ktime_get_ns();
  r->v[0] = now; r->v[1] = (__s64)(__s32)f->a[0]; r->v[2] = (__u32)f->a[1]; r->v[3] = (__u32)f->a[2];
  r->v[4] = (__u32)f->a[3]; r->v[5] = c->ret; r->v[6] = now - f->ts;
  SUBMIT(r);
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
  struct rec *r = reserve('Q', 5);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->opcode; r->v[2] = (__s64)fd; r->v[3] = c->user_data; r->v[4] = c->flags & 0xff;
  SUBMIT(r);
  return 0;
}
struct uring_complete { __u64 common; __u64 ctx; __u64 req; __u64 user_data; __s32 res; __u32 cflags; };
SEC("tracepoint/io_uring/io_uring_complete")
int ucq(struct uring_complete *c) {
  if (!ring_of_interest(c->ctx)) return 0;
  struct rec *r = reserve('K', 4);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->user_data; r->v[2] = (__s64)c->res; r->v[3] = c->cflags;
  SUBMIT(r);
  return 0;
}
struct uring_overflow { __u64 common; __u64 ctx; __u64 user_data; __s32 res; __u32 cflags; __u64 ocqe; };
SEC("tracepoint/io_uring/io_uring_cqe_overflow")
int uov(struct uring_overflow *c) {
  if (!ring_of_interest(c->ctx)) return 0;
  struct rec *r = reserve('V', 5);
  if (!r) return 0;
  r->v[0] = bpf_ktime_get_ns(); r->v[1] = c->user_data; r->v[2] = (__s64)c->res; r->v[3] = c->cflags; r->v[4] = c->ocqe != 0;
  SUBMIT(r);
  return 0;
}

/* The recorder's marker: attached last; its getpgid(2) proves every probe before it is live. */
SEC("tracepoint/syscalls/sys_enter_getpgid")
int mark(struct sys_enter *c) {
  if ((bpf_get_current_pid_tgid() >> 32) != marker_tgid) return 0;
  struct rec *r = reserve('M', 0);
  if (r) SUBMIT(r);
  return 0;
}
