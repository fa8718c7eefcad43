#define _GNU_SOURCE
#include "CNetPollShims.h"
#include <sys/syscall.h>
#include <unistd.h>

static NETPOLL_TLS int32_t cached_tid;

int32_t netpoll_cached_tid(void) {
  if (cached_tid == 0) cached_tid = (int32_t)syscall(SYS_gettid);
  return cached_tid;
}

static __thread const void *worker_owner;

const void *netpoll_worker_owner(void) { return worker_owner; }
void netpoll_set_worker_owner(const void *owner) { worker_owner = owner; }

#include <pthread.h>

void netpoll_set_thread_name(const char *name) {
  char buf[16];
  int i = 0;
  for (; i < 15 && name[i]; i++) buf[i] = name[i];
  buf[i] = 0;
  pthread_setname_np(pthread_self(), buf);
}

#include <sys/socket.h>

int netpoll_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }

#include <signal.h>
#include <errno.h>

static int stop_signal_fd = -1;

static void on_stop_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (stop_signal_fd >= 0) (void)!write(stop_signal_fd, &b, 1);
  errno = saved;
}

int netpoll_install_stop_signals(int fd) {
  stop_signal_fd = fd;
  struct sigaction sa;
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &sa, NULL) != 0) return -1;
  if (sigaction(SIGTERM, &sa, NULL) != 0) return -1;
  return 0;
}

static __thread uint32_t job_ops;

uint32_t netpoll_job_ops_increment(void) { return ++job_ops; }
void netpoll_job_ops_reset(void) { job_ops = 0; }

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NETPOLL_HAS_TSAN 1
#endif
#endif

#ifdef NETPOLL_HAS_TSAN
// The TSan runtime's annotation entry points (compiler-rt's tsan_interface.h).
void __tsan_release(void *addr);
void __tsan_acquire(void *addr);
void netpoll_tsan_release(void *addr) { __tsan_release(addr); }
void netpoll_tsan_acquire(void *addr) { __tsan_acquire(addr); }
#else
void netpoll_tsan_release(void *addr) { (void)addr; }
void netpoll_tsan_acquire(void *addr) { (void)addr; }
#endif

#include <linux/futex.h>

NETPOLL_TLS uint64_t netpoll_trace_tls_owner;
NETPOLL_TLS void *netpoll_trace_tls_buffer;

void netpoll_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
}

void netpoll_futex_wake(uint32_t *word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

// An atomic store, not a sig_atomic_t assignment: the flight recorder's thread reads and clears
// it with an atomic exchange, and ThreadSanitizer must see both sides as atomic.
static int dump_requested;

static void on_dump_signal(int sig) {
  (void)sig;
  int saved = errno;
  __atomic_store_n(&dump_requested, 1, __ATOMIC_SEQ_CST);
  errno = saved;
}

void netpoll_install_dump_signal(void) {
  struct sigaction sa;
  sa.sa_handler = on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
}

int netpoll_take_dump_signal(void) {
  return __atomic_exchange_n(&dump_requested, 0, __ATOMIC_SEQ_CST) ? 1 : 0;
}

#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include <string.h>

void netpoll_copy_streaming(void *dst, const void *src, size_t bytes) {
#if defined(__x86_64__)
  if (((uintptr_t)dst & 15) == 0 && (bytes & 15) == 0) {
    __m128i *d = (__m128i *)dst;
    const __m128i *s = (const __m128i *)src;
    for (size_t i = 0; i < bytes / 16; i++) _mm_stream_si128(d + i, _mm_loadu_si128(s + i));
    _mm_sfence();
    return;
  }
#endif
  memcpy(dst, src, bytes);
}
