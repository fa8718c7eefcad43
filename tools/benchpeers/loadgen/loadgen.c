/* The load generator tools/bench drives every echo server with: one thread, one epoll set
 * (level-triggered), N connections each keeping exactly one request of SIZE bytes in flight
 * (closed loop, like `netpoll load`), every echoed byte compared with what was sent.
 *
 * Why C and not `netpoll load`: the generator must not be the bottleneck when it has one core and
 * the server another; per request this does one write, one read (two when the echo arrives in
 * pieces) and a share of one epoll_wait, fewer calls than any server under test. tools/bench
 * measures both generators against the same server and prints the comparison.
 *
 * Usage: loadgen --connect HOST:PORT --connections N --size BYTES
 *                (--duration SECONDS [--warmup SECONDS] | --requests PER_CONNECTION)
 * Prints the JSON object `netpoll load --json` prints:
 * {"requests","bytes","errors","seconds","requests_per_second","latency_us":{p50,p90,p99,p999,max}}
 * plus "all_requests": every request completed, warm-up included (the denominator for the server's
 * CPU time, which is read around the whole run).
 * Exit status 1 if any connection failed or any byte differed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t sent, got;
  uint64_t t0, seq, done;
  unsigned char *out, *in;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t *lat;
static size_t nlat, caplat;
static void add_latency(uint64_t ns) {
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 1 << 16;
    lat = realloc(lat, caplat * sizeof *lat);
    if (!lat) die("realloc");
  }
  lat[nlat++] = ns;
}

static double quantile_us(double q) {
  if (nlat == 0) return 0;
  long i = (long)((double)nlat * q + 0.999999999) - 1;
  if (i < 0) i = 0;
  if ((size_t)i >= nlat) i = (long)nlat - 1;
  return (double)lat[i] / 1000.0;
}

/* Stamps request `seq` into the message so a stale or shifted echo is caught. */
static void stamp(struct conn *c, size_t size) {
  size_t n = size < sizeof c->seq ? size : sizeof c->seq;
  memcpy(c->out, &c->seq, n);
}

static int send_some(struct conn *c, size_t size) {
  while (c->sent < size) {
    ssize_t n = write(c->fd, c->out + c->sent, size - c->sent);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    c->sent += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *target = NULL;
  long connections = 64, size = 1024, per_conn = 0;
  double duration = 0, warmup = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--json")) continue;  /* always JSON; accepted for `netpoll load` parity */
    if (!v) { fprintf(stderr, "loadgen: %s needs a value\n", a); return 2; }
    if (!strcmp(a, "--connect")) target = v;
    else if (!strcmp(a, "--connections")) connections = atol(v);
    else if (!strcmp(a, "--size")) size = atol(v);
    else if (!strcmp(a, "--requests")) per_conn = atol(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else { fprintf(stderr, "loadgen: unknown option %s\n", a); return 2; }
    i++;
  }
  if (!target || connections < 1 || size < 1 || (per_conn <= 0) == (duration <= 0)) {
    fprintf(stderr, "usage: loadgen --connect HOST:PORT --connections N --size BYTES "
                    "(--duration S [--warmup S] | --requests M)\n");
    return 2;
  }
  char host[256];
  const char *colon = strrchr(target, ':');
  if (!colon || (size_t)(colon - target) >= sizeof host) { fprintf(stderr, "loadgen: bad --connect\n"); return 2; }
  memcpy(host, target, (size_t)(colon - target));
  host[colon - target] = 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "loadgen: %s is not IPv4\n", host); return 2; }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct conn *conns = calloc((size_t)connections, sizeof *conns);
  if (!conns) die("calloc");
  for (long i = 0; i < connections; i++) {
    struct conn *c = &conns[i];
    /* A blocking connect (simplest), then non-blocking for the run. */
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    if (ioctl(c->fd, FIONBIO, &one) < 0) die("ioctl FIONBIO");
    c->out = malloc((size_t)size);
    c->in = malloc((size_t)size);
    if (!c->out || !c->in) die("malloc");
    for (long j = 0; j < size; j++) c->out[j] = (unsigned char)(j * 31 + i * 13);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }

  uint64_t start = now_ns();
  uint64_t measure_from = start + (uint64_t)(warmup * 1e9);
  uint64_t stop_at = duration > 0 ? measure_from + (uint64_t)(duration * 1e9) : UINT64_MAX;
  long active = connections, errors = 0;
  uint64_t requests = 0, bytes = 0, all_requests = 0;
  for (long i = 0; i < connections; i++) {
    struct conn *c = &conns[i];
    stamp(c, (size_t)size);
    c->t0 = now_ns();
    if (send_some(c, (size_t)size) < 0) die("write");
  }
  /* A server that stops answering must not hang the suite: no completion for STALL_NS ends the
   * run, with every connection still waiting counted as an error. */
  const uint64_t STALL_NS = 5000000000ull;
  uint64_t last_progress = now_ns();
  struct epoll_event events[512];
  int writers = 0; /* connections waiting for EPOLLOUT to finish a partial write */
  while (active > 0) {
    int n = epoll_wait(ep, events, 512, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    if (n == 0 && now_ns() - last_progress > STALL_NS) {
      fprintf(stderr, "loadgen: no reply for 5 s; %ld connections still waiting\n", active);
      errors += active;
      break;
    }
    for (int k = 0; k < n; k++) {
      struct conn *c = events[k].data.ptr;
      if (c->fd < 0) continue;
      if (c->sent < (size_t)size && (events[k].events & EPOLLOUT)) {
        if (send_some(c, (size_t)size) < 0) { errors++; goto drop; }
        if (c->sent == (size_t)size) {
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          writers--;
        }
      }
      if (!(events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = read(c->fd, c->in + c->got, (size_t)size - c->got);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        fprintf(stderr, "loadgen: connection %ld: %s after %zu of %ld bytes\n", (long)(c - conns),
                r == 0 ? "closed" : strerror(errno), c->got, size);
        errors++;
        goto drop;
      }
      c->got += (size_t)r;
      if (c->got < (size_t)size) continue;
      uint64_t t1 = now_ns();
      if (memcmp(c->in, c->out, (size_t)size) != 0) {
        fprintf(stderr, "loadgen: connection %ld request %llu: echoed bytes differ\n",
                (long)(c - conns), (unsigned long long)c->seq);
        errors++;
        goto drop;
      }
      c->done++;
      all_requests++;
      last_progress = t1;
      if (t1 >= measure_from && c->t0 >= measure_from && t1 <= stop_at) {
        add_latency(t1 - c->t0);
        requests++;
        bytes += (uint64_t)size;
      }
      if ((per_conn > 0 && c->done >= (uint64_t)per_conn) || t1 >= stop_at) goto drop;
      c->seq++;
      c->got = 0;
      c->sent = 0;
      stamp(c, (size_t)size);
      c->t0 = t1;
      if (send_some(c, (size_t)size) < 0) { errors++; goto drop; }
      if (c->sent < (size_t)size) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        writers++;
      }
      continue;
    drop:
      close(c->fd);
      c->fd = -1;
      active--;
    }
  }
  uint64_t end = now_ns();
  (void)writers;
  double seconds;
  if (duration > 0) {
    seconds = (double)((end < stop_at ? end : stop_at) - measure_from) / 1e9;
  } else {
    seconds = (double)(end - start) / 1e9;
  }
  qsort(lat, nlat, sizeof *lat, cmp_u64);
  printf("{\"requests\":%llu,\"bytes\":%llu,\"errors\":%ld,\"seconds\":%.6f,\"requests_per_second\":%.0f,"
         "\"latency_us\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},"
         "\"all_requests\":%llu}\n",
         (unsigned long long)requests, (unsigned long long)bytes, errors, seconds,
         seconds > 0 ? (double)requests / seconds : 0.0, quantile_us(0.5), quantile_us(0.9),
         quantile_us(0.99), quantile_us(0.999), quantile_us(1.0), (unsigned long long)all_requests);
  return errors ? 1 : 0;
}
