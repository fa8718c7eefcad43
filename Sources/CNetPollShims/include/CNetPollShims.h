#pragma once
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/// gettid(2), cached per thread so the trace recorder's hot path makes no system call.
int32_t netpoll_cached_tid(void);

/// clock_gettime(CLOCK_MONOTONIC) in nanoseconds (vDSO: no system call).
static inline uint64_t netpoll_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// The scheduler whose worker the calling thread is, NULL on any other thread (a per-thread
/// value: a process may run several runtimes, and a worker of one is a stranger to the others).
const void *netpoll_worker_owner(void);
void netpoll_set_worker_owner(const void *owner);

/// Names the calling thread (pthread_setname_np needs _GNU_SOURCE, which Swift does not set).
void netpoll_set_thread_name(const char *name);

/// accept4(fd, NULL, NULL, flags) (declared by glibc only under _GNU_SOURCE).
int netpoll_accept4(int fd, int flags);

/// Installs SIGINT and SIGTERM handlers that write the signal number (one byte) to `fd` and
/// nothing else (async-signal-safe). Returns 0, or -1 with errno set.
int netpoll_install_stop_signals(int fd);

/// Operations completed by the job running on this thread without suspending (see
/// Scheduler: a task that never has to wait yields after a batch of them).
uint32_t netpoll_job_ops_increment(void);
void netpoll_job_ops_reset(void);

/// ThreadSanitizer's `__tsan_release(addr)` / `__tsan_acquire(addr)` when this file is compiled
/// with -fsanitize=thread, nothing otherwise: a release on `addr` happens before every later
/// acquire on it. For synchronization TSan cannot see (see NetPoll's ThreadSanitizer.swift).
void netpoll_tsan_release(void *addr);
void netpoll_tsan_acquire(void *addr);

// ---- Trace recorder hot path (Sources/NetPollTrace) ----------------------------------------

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/// The recorder's clock: the CPU's timestamp counter when `use_tsc` (x86-64 with an invariant TSC
/// that the kernel itself uses as clocksource; ~8 ns against ~24 ns for the vDSO clock_gettime on
/// the 2-vCPU EPYC VM this was measured on), otherwise CLOCK_MONOTONIC nanoseconds. The writer
/// converts ticks to nanoseconds (TraceClock.swift).
static inline uint64_t netpoll_trace_ticks(int use_tsc) {
#if defined(__x86_64__)
  if (use_tsc) return __rdtsc();
#endif
  (void)use_tsc;
  return netpoll_monotonic_ns();
}

/// 1 when this build can read the TSC (x86-64), 0 otherwise.
static inline int netpoll_trace_tsc_supported(void) {
#if defined(__x86_64__)
  return 1;
#else
  return 0;
#endif
}

/// The calling thread's trace buffer for the recorder `owner` (a unique recorder id), or NULL
/// when the thread last recorded into another recorder or never recorded. One slot per thread:
/// a thread that alternates between recorders takes the slow path on every switch.
/// Initial-exec: a load relative to the thread pointer, where the default model for position-
/// independent code calls __tls_get_addr on every access (seen in profiles of the record path).
/// Safe because these objects are linked into the program, never dlopen'ed.
#define NETPOLL_TLS __thread __attribute__((tls_model("initial-exec")))
extern NETPOLL_TLS uint64_t netpoll_trace_tls_owner;
extern NETPOLL_TLS void *netpoll_trace_tls_buffer;
static inline void *netpoll_trace_thread_buffer(uint64_t owner) {
  return netpoll_trace_tls_owner == owner ? netpoll_trace_tls_buffer : (void *)0;
}
static inline void netpoll_trace_set_thread_buffer(uint64_t owner, void *buffer) {
  netpoll_trace_tls_owner = owner;
  netpoll_trace_tls_buffer = buffer;
}

/// futex(FUTEX_WAIT_PRIVATE) on `word` while it equals `expected`, for at most `timeout_ns`
/// (EINTR, EAGAIN and ETIMEDOUT all just return). The recorder's writer sleeps here between
/// drains, and a recording thread whose buffer is full waits here for the writer.
void netpoll_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
/// futex(FUTEX_WAKE_PRIVATE) of every waiter on `word`.
void netpoll_futex_wake(uint32_t *word);
/// Atomic access to a futex word (sequentially consistent: these are the sleep/wake handshakes,
/// never on a per-event path).
static inline uint32_t netpoll_word_load(uint32_t *word) {
  return __atomic_load_n(word, __ATOMIC_SEQ_CST);
}
static inline void netpoll_word_store(uint32_t *word, uint32_t value) {
  __atomic_store_n(word, value, __ATOMIC_SEQ_CST);
}
static inline uint32_t netpoll_word_add(uint32_t *word, uint32_t delta) {
  return __atomic_fetch_add(word, delta, __ATOMIC_SEQ_CST);
}

/// Installs a SIGUSR1 handler that only sets a flag (async-signal-safe): the flight recorder's
/// thread polls it with netpoll_take_dump_signal(), which returns 1 once per signal burst.
void netpoll_install_dump_signal(void);
int netpoll_take_dump_signal(void);

/// Copies `bytes` bytes to `dst` with non-temporal stores where the CPU has them (x86-64, `dst`
/// 16-byte aligned and `bytes` a multiple of 16; otherwise memcpy), then fences. The flight
/// recorder's ring is megabytes written once and read only by a dump: written through the
/// cache, it pushed the server's own working set out (in one paired run, worker CPU per request
/// was 7% above untraced with an 8 MiB ring and 3% with 256 KiB).
void netpoll_copy_streaming(void *dst, const void *src, size_t bytes);
