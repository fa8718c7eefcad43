#pragma once
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
