#pragma once
// Order matters: Glibc's fd_set must be seen before liburing's headers pull in <linux/...>.
#include <sys/socket.h>
#include <sys/select.h>
#include <poll.h>
#include <sys/mman.h>
#include <string.h>
#include <liburing.h>

// The few ring operations URingPoller needs that liburing 2.3 either hides (queue.c internals) or
// wraps with a system call it may or may not make. These never enter the kernel, so every
// io_uring_enter the runtime makes is one it chose to make and recorded (Syscalls+URing.swift).

/// Publishes the SQEs prepared since the last flush to the kernel's SQ tail (liburing's internal
/// __io_uring_flush_sq; 2.3 does not map SQ slots 1:1, so the index array is filled here).
/// Returns how many SQEs the kernel has not consumed yet: the `to_submit` of the next enter.
static inline unsigned netpoll_uring_flush_sq(struct io_uring *ring) {
  struct io_uring_sq *sq = &ring->sq;
  const unsigned mask = sq->ring_mask;
  unsigned ktail = *sq->ktail;
  unsigned pending = sq->sqe_tail - sq->sqe_head;
  if (pending) {
    do {
      sq->array[ktail & mask] = sq->sqe_head & mask;
      ktail++;
      sq->sqe_head++;
    } while (--pending);
    io_uring_smp_store_release(sq->ktail, ktail);
  }
  return ktail - io_uring_smp_load_acquire(sq->khead);
}

/// Copies up to `max` CQEs out of the CQ and marks them seen; returns how many. Unlike
/// io_uring_peek_batch_cqe it never enters the kernel to flush an overflow backlog.
static inline unsigned netpoll_uring_reap(struct io_uring *ring, struct io_uring_cqe *out, unsigned max) {
  struct io_uring_cq *cq = &ring->cq;
  unsigned head = *cq->khead;
  unsigned tail = io_uring_smp_load_acquire(cq->ktail);
  unsigned n = tail - head;
  if (n > max) n = max;
  for (unsigned i = 0; i < n; i++) out[i] = cq->cqes[(head + i) & cq->ring_mask];
  if (n) io_uring_smp_store_release(cq->khead, head + n);
  return n;
}

/// The SQ ring's flags (IORING_SQ_CQ_OVERFLOW: the kernel holds completions the CQ had no room for).
static inline unsigned netpoll_uring_sq_flags(const struct io_uring *ring) {
  return IO_URING_READ_ONCE(*ring->sq.kflags);
}

/// Completions the kernel dropped because the CQ was full (and it could not keep them).
static inline unsigned netpoll_uring_cq_overflow(const struct io_uring *ring) {
  return IO_URING_READ_ONCE(*ring->cq.koverflow);
}

/// Unmaps the rings mapped by io_uring_queue_mmap without closing the ring fd (io_uring_queue_exit
/// would close it behind the trace's back): the caller closes it through its traced close.
static inline void netpoll_uring_unmap(struct io_uring *ring) {
  munmap(ring->sq.sqes, ring->sq.ring_entries * sizeof(struct io_uring_sqe));
  munmap(ring->sq.ring_ptr, ring->sq.ring_sz);
  if (ring->cq.ring_ptr && ring->cq.ring_ptr != ring->sq.ring_ptr)
    munmap(ring->cq.ring_ptr, ring->cq.ring_sz);
}

/// io_uring_enter(2), the raw system call (one per call, unlike io_uring_submit and friends).
/// With IORING_ENTER_EXT_ARG in `flags`, `timeout_ns` (>= 0) bounds the wait. Returns -errno.
static inline int netpoll_uring_enter(int ring_fd, unsigned to_submit, unsigned min_complete,
                                      unsigned flags, long long timeout_ns) {
  if (flags & IORING_ENTER_EXT_ARG) {
    struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL};
    struct io_uring_getevents_arg arg = {.sigmask = 0, .sigmask_sz = _NSIG / 8, .pad = 0,
                                         .ts = timeout_ns >= 0 ? (__u64)(uintptr_t)&ts : 0};
    return io_uring_enter2(ring_fd, to_submit, min_complete, flags, (sigset_t *)&arg, sizeof(arg));
  }
  return io_uring_enter2(ring_fd, to_submit, min_complete, flags, NULL, _NSIG / 8);
}

/// accept flags for IORING_OP_ACCEPT: the same non-blocking, close-on-exec fds accept4 gives.
/// (Glibc's SOCK_* are an enum in Swift and MSG_* a macro set; spelled here, they are plain ints.)
static const int NETPOLL_ACCEPT_FLAGS = SOCK_NONBLOCK | SOCK_CLOEXEC;
/// send flags for IORING_OP_SEND: a peer that has gone is an EPIPE result, never a SIGPIPE.
static const int NETPOLL_SEND_FLAGS = MSG_NOSIGNAL;

/// io_uring_setup(2), the raw system call. Returns the ring fd or -errno.
static inline int netpoll_uring_setup(unsigned entries, struct io_uring_params *p) {
  return io_uring_setup(entries, p);
}
