/* The user half of `netpoll record --loader`: loads record.bpf.o with libbpf, attaches every
 * program (the syscall exit program, which writes the marker, last), and every 10 ms drains the
 * ring buffer to stdout, one binary record per event as the ring holds it: 8 bytes of header and
 * `n` 8-byte values (the fields of NetPollRecord's KernelRecord; text cost 3x the CPU). The BPF side
 * submits with BPF_RB_NO_WAKEUP, so nothing wakes this process: it polls. On SIGINT/SIGTERM it
 * drains the ring once more, writes the count of reservations that failed (full ring) as a '!'
 * record, and exits.
 *
 * Usage: netpoll-record-bpf OBJECT PID MARKER_PID [SOCKET_FD,...] */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rec {
  uint8_t code, n;
  uint16_t pad;
  uint32_t tid;
  uint64_t v[10];
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

/* Each event is copied to stdout as it is: the header and its `n` values, 8 + 8n bytes
 * (NetPollRecord's BPFTraceProcess decodes it), block-buffered; the marker flushes. */
static int write_rec(void *ctx, void *data, size_t size) {
  (void)ctx;
  const struct rec *r = data;
  if (size < 8 || size < 8 + 8 * (size_t)r->n) return 0;
  fwrite(r, 8 + 8 * (size_t)r->n, 1, stdout);
  if (r->code == 'M') fflush(stdout);
  return 0;
}

/* Sets a `const volatile` global of the object's .rodata before load, found by name through BTF. */
static int set_rodata_u32(struct bpf_object *obj, const char *name, uint32_t value) {
  struct bpf_map *map;
  bpf_object__for_each_map(map, obj) {
    const char *mname = bpf_map__name(map);
    if (!strstr(mname, ".rodata")) continue;
    size_t size;
    char *init = (char *)bpf_map__initial_value(map, &size);
    struct btf *btf = bpf_object__btf(obj);
    if (!init || !btf) return -1;
    int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    if (id < 0) return -1;
    const struct btf_type *sec = btf__type_by_id(btf, id);
    const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, vs++) {
      const struct btf_type *var = btf__type_by_id(btf, vs->type);
      if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0 && vs->offset + 4 <= size) {
        memcpy(init + vs->offset, &value, 4);
        return 0;
      }
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s OBJECT PID MARKER_PID [SOCKET_FD,...]\n", argv[0]);
    return 2;
  }
  static char outbuf[1 << 20];
  setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) {
    fprintf(stderr, "ERROR: cannot open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  if (set_rodata_u32(obj, "target_tgid", (uint32_t)atoi(argv[2])) ||
      set_rodata_u32(obj, "marker_tgid", (uint32_t)atoi(argv[3]))) {
    fprintf(stderr, "ERROR: %s has no target_tgid/marker_tgid\n", argv[1]);
    return 1;
  }
  if (bpf_object__load(obj)) {
    fprintf(stderr, "ERROR: loading %s failed: %s\n", argv[1], strerror(errno));
    return 1;
  }
  if (argc > 4) {
    int fd = bpf_object__find_map_fd_by_name(obj, "sockets");
    char *list = strdup(argv[4]);
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
      uint32_t k = (uint32_t)atoi(t);
      uint8_t one = 1;
      bpf_map_update_elem(fd, &k, &one, BPF_ANY);
    }
    free(list);
  }
  struct bpf_program *prog, *marker = NULL;
  bpf_object__for_each_program(prog, obj) {
    if (strcmp(bpf_program__name(prog), "sys_exit_all") == 0) {
      marker = prog;
      continue;
    }
    if (!bpf_program__attach(prog)) {
      fprintf(stderr, "ERROR: attaching %s failed: %s\n", bpf_program__name(prog), strerror(errno));
      return 1;
    }
  }
  if (!marker || !bpf_program__attach(marker)) {
    fprintf(stderr, "ERROR: attaching the marker failed\n");
    return 1;
  }
  struct ring_buffer *rb =
      ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), write_rec, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "ERROR: ring buffer: %s\n", strerror(errno));
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  fprintf(stderr, "Attached\n");
  while (!stopping) {
    ring_buffer__consume(rb);
    fflush(stdout);
    usleep(10000);
  }
  ring_buffer__consume(rb);
  uint64_t lost = 0;
  int ncpu = libbpf_num_possible_cpus();
  uint64_t *per = calloc(ncpu > 0 ? ncpu : 1, sizeof(uint64_t));
  uint32_t zero = 0;
  if (per && bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "lost"), &zero, per) == 0)
    for (int i = 0; i < ncpu; i++) lost += per[i];
  /* The count of events the ring had no room for, as a record of its own: code '!', v[0]. */
  struct rec end = {.code = '!', .n = 1, .v = {lost}};
  fwrite(&end, 16, 1, stdout);
  fflush(stdout);
  return 0;
}
