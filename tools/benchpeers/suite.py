"""The benchmark suite behind tools/bench: runs every measurement and prints the ratio table.

tools/bench builds the binaries and calls `python3 suite.py --bins DIR-LIST ...`; this file only
measures. Every server runs pinned to core 0 (`taskset -c 0`, one thread running code: netpoll
`--workers 1`, Go `GOMAXPROCS=1`, SwiftNIO one event loop) and every load generator to core 1,
except in `two_cores`. Runs are interleaved (for each cell, round after round of every server in
the same order) and the medians over rounds are what the tables and the goals use.

Sections (each in the JSON under its name):
  echo        loadgen (C, one epoll thread) against every echo server, per size x connections
  two_cores   the same at 1 KiB x 64c with two threads per server (netpoll `--workers 2`,
              GOMAXPROCS=2, two NIO event loops) and nothing pinned: server and load share both
              cores, so the ratios show how each scheduler shares the machine
  loadgen     `netpoll load` and loadgen against the same server: is the generator the limit?
  tracing     netpoll's own trace vs `strace -f` and `strace -f --seccomp-bpf -e trace=...`
  http        wrk -t1 against the HTTP servers
  kernel      system calls per request, from the trace and from `strace -c -f` (separate runs)
  recorder    netpoll-bench recorder (ns/event) and valgrind's allocation count per event
  park_wake   netpoll-bench park-wake, round trips per second per backend
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SERVER_CORE = "0"
LOAD_CORE = "1"
NICE = []  # ["nice", "-n", "-10"] when --nice asks for it: other work on the machine gets less


def pinned(core, argv):
    """`argv` on `core` (None: on any core), at the suite's priority."""
    return NICE + (["taskset", "-c", core] if core is not None else []) + argv


TRACED_SYSCALLS = "epoll_wait,epoll_pwait,epoll_ctl,read,write,accept4,io_uring_enter"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Servers


class ServerSpec:
    """How to start one server variant; `argv(proto, trace_path)` builds its command line."""

    def __init__(self, name, kind, backend=None, traced=False, wrapper=None, flight=False,
                 threads=1):
        self.name = name
        self.kind = kind  # netpoll | go | nio
        self.backend = backend
        self.traced = traced or flight
        self.flight = flight  # flight-recorder mode: 8 MiB in memory, nothing written
        self.wrapper = wrapper  # None, or the argv of a tracer to run the server under
        # Threads running code: netpoll --workers, GOMAXPROCS, NIO event loops. One thread is
        # pinned to SERVER_CORE; more run unpinned, sharing both cores with the load generator.
        self.threads = threads

    def cores(self):
        """(server core, load generator core); None where nothing is pinned."""
        return (SERVER_CORE, LOAD_CORE) if self.threads == 1 else (None, None)

    def argv(self, bins, proto, trace_path=None):
        if self.kind == "netpoll":
            cmd = [bins["netpoll"], "serve", "--backend", self.backend, "--listen", "127.0.0.1:0",
                   "--protocol", proto, "--workers", str(self.threads)]
            if self.flight:
                cmd += ["--trace", trace_path, "--flight-recorder", "8M"]
            elif self.traced:
                cmd += ["--trace", trace_path, "--force"]
        elif self.kind == "go":
            cmd = [bins["goserver"], "-listen", "127.0.0.1:0", "-protocol", proto]
        elif self.kind == "nio":
            cmd = [bins["nio"], "--listen", "127.0.0.1:0", "--protocol", proto, "--threads",
                   str(self.threads)]
        else:
            raise ValueError(self.kind)
        if self.wrapper:
            cmd = self.wrapper + cmd
        return pinned(self.cores()[0], cmd)


STRACE = ["strace", "-f", "-qq", "-o", "/dev/null"]
STRACE_BPF = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=" + TRACED_SYSCALLS, "-o",
              "/dev/null"]


class Running:
    """A started server: its pid(s), address and CPU accounting."""

    def __init__(self, spec, bins, proto, workdir):
        self.spec = spec
        self.trace_path = None
        if spec.traced:
            self.trace_path = os.path.join(workdir, f"{spec.name}.jsonl")
        argv = spec.argv(bins, proto, self.trace_path)
        env = dict(os.environ)
        if spec.kind == "go":
            env["GOMAXPROCS"] = str(spec.threads)
        self.stderr_path = os.path.join(workdir, f"{spec.name}.stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     env=env)
        self.address = self._wait_listening()
        self.pids = self._all_pids()

    def _wait_listening(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"^listening on (\S+)", line)
            if m:
                return m.group(1)
        self.kill()
        with open(self.stderr_path) as f:
            err = f.read().strip()
        raise RuntimeError(f"{self.spec.name} did not start: {err[-400:]}")

    def _all_pids(self):
        """The process and, under strace, the traced child (both count as the server's CPU)."""
        pids = [self.proc.pid]
        if self.spec.wrapper:
            for _ in range(50):
                kids = children(self.proc.pid)
                if kids:
                    pids += kids
                    break
                time.sleep(0.02)
        return pids

    def target_pid(self):
        """The server itself (under strace, strace's child)."""
        return self.pids[-1]

    def cpu_seconds(self):
        return sum(cpu_seconds(p) for p in self.pids)

    def stop(self):
        """SIGINT to the server (not to strace, which would detach and leave it running)."""
        try:
            os.kill(self.target_pid(), signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        self.stderr.close()

    def kill(self):
        for p in reversed(getattr(self, "pids", [self.proc.pid])):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stderr_text(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except OSError:
            return ""


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of every thread of `pid`, from /proc/PID/stat (fields 14 and 15)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError):
        return 0.0


# ---------------------------------------------------------------------------------------------
# Load


def run_loadgen(bins, address, connections, size, duration=None, warmup=0.0, requests=None,
                core=LOAD_CORE):
    cmd = pinned(core, [bins["loadgen"], "--connect", address, "--connections",
                             str(connections), "--size", str(size)])
    if requests:
        cmd += ["--requests", str(requests)]
    else:
        cmd += ["--duration", str(duration), "--warmup", str(warmup)]
    out, client_cpu = run_timed(cmd)
    if out.returncode != 0 and not out.stdout.strip():
        raise RuntimeError(f"loadgen failed: {out.stderr.strip()[-400:]}")
    r = json.loads(out.stdout)
    r["client_cpu_seconds"] = round(client_cpu, 3)
    if r["errors"]:
        r["stderr"] = out.stderr.strip()[-400:]
    return r


def run_netpoll_load(bins, address, connections, size, requests):
    cmd = pinned(LOAD_CORE, [bins["netpoll"], "load", "--backend", "epoll", "--workers", "1",
                             "--connect", address, "--connections", str(connections),
                             "--requests", str(requests), "--size", str(size), "--json"])
    out, client_cpu = run_timed(cmd)
    if not out.stdout.strip():
        raise RuntimeError(f"netpoll load failed: {out.stderr.strip()[-400:]}")
    r = json.loads(out.stdout)
    r["client_cpu_seconds"] = round(client_cpu, 3)
    return r


def run_timed(cmd):
    """Runs `cmd`; returns its result and the CPU seconds it used (user + system, from the
    children's rusage: nice and taskset exec the generator, so it is the same process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu


def one_echo_run(bins, spec, workdir, connections, size, duration, warmup):
    server = Running(spec, bins, "echo", workdir)
    try:
        cpu0 = server.cpu_seconds()
        r = run_loadgen(bins, server.address, connections, size, duration, warmup,
                        core=spec.cores()[1])
        cpu1 = server.cpu_seconds()
        if "no reply" in r.get("stderr", ""):
            r["stall_evidence"] = stall_evidence(server, workdir)
    finally:
        server.stop()
    note = server.stderr_text().strip()
    if server.trace_path and os.path.exists(server.trace_path):
        r["trace_bytes"] = os.path.getsize(server.trace_path)
        os.unlink(server.trace_path)
    r["server_cpu_seconds"] = round(cpu1 - cpu0, 3)
    done = r.get("all_requests") or r["requests"]
    r["cpu_us_per_request"] = round((cpu1 - cpu0) / done * 1e6, 3) if done else None
    if note:
        r["server_stderr"] = note[-300:]
    return r


def stall_evidence(server, workdir):
    """A server stopped answering: its threads' states and, with gdb, their stacks, saved to a
    file (named in the JSON) before the server is stopped."""
    pid = server.target_pid()
    lines = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task")):
        t = f"/proc/{pid}/task/{tid}"
        try:
            comm = open(f"{t}/comm").read().strip()
            state = open(f"{t}/stat").read().rsplit(")", 1)[1].split()[0]
            wchan = open(f"{t}/wchan").read().strip()
        except OSError:
            continue
        lines.append(f"{tid} {comm} state={state} wchan={wchan}")
    path = os.path.join(workdir, f"stall-{server.spec.name}-{pid}.txt")
    stacks = ""
    if subprocess.run(["which", "gdb"], capture_output=True).returncode == 0:
        g = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 20"],
                           capture_output=True, text=True, timeout=120)
        stacks = g.stdout
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n\n" + stacks)
    log(f"  server {server.spec.name} stalled; threads and stacks in {path}")
    return {"threads": lines, "stacks_file": path}


def median_of(runs, key):
    vals = [k for k in (get(r, key) for r in runs) if k is not None]
    return statistics.median(vals) if vals else None


def get(r, key):
    for part in key.split("."):
        if r is None:
            return None
        r = r.get(part)
    return r


def summarize(runs):
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0].get("error") if runs else "no runs"}
    return {
        "requests_per_second": median_of(ok, "requests_per_second"),
        "p50_us": median_of(ok, "latency_us.p50"),
        "p99_us": median_of(ok, "latency_us.p99"),
        "p999_us": median_of(ok, "latency_us.p999"),
        "cpu_us_per_request": median_of(ok, "cpu_us_per_request"),
        "runs": len(ok),
        "errors": sum(r.get("errors", 0) for r in ok),
    }


def interleaved(cells, specs, rounds, run):
    """For each cell, `rounds` rounds of every spec in order (A B C A B C ...)."""
    results = {}
    for cell in cells:
        key = cell_key(cell)
        results[key] = {s.name: [] for s in specs}
        for rnd in range(rounds):
            for s in specs:
                try:
                    r = run(s, cell)
                except Exception as e:  # a server that cannot start is reported, not fatal
                    r = {"error": str(e)}
                results[key][s.name].append(r)
                rps = r.get("requests_per_second", r.get("error", "?"))
                log(f"  {key} round {rnd + 1}/{rounds} {s.name:<22} {rps}")
    return results


def cell_key(cell):
    size, conns = cell
    return f"{size}B x {conns}c"


# ---------------------------------------------------------------------------------------------
# Kernel entries per request


TRACE_SYSCALLS = ["epoll_wait", "epoll_ctl", "read", "write", "accept", "uring_enter", "close",
                  "shutdown", "socket", "setsockopt", "getsockopt", "eventfd", "connect"]
STRACE_NAMES = {"epoll_wait": "epoll_wait", "epoll_pwait": "epoll_wait", "epoll_ctl": "epoll_ctl",
                "read": "read", "write": "write", "accept4": "accept", "accept": "accept",
                "io_uring_enter": "uring_enter"}


def count_trace(path):
    counts = {}
    ev = re.compile(rb'"ev":"([a-z_]+)"')
    with open(path, "rb") as f:
        for line in f:
            m = ev.search(line)
            if m:
                k = m.group(1).decode()
                counts[k] = counts.get(k, 0) + 1
    return counts


def parse_strace_c(path):
    """`strace -c` summary -> {syscall: calls}."""
    calls = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and re.match(r"^\d+\.\d+$", parts[0]) and parts[-1] != "total":
                try:
                    calls[parts[-1]] = int(parts[3])
                except ValueError:
                    pass
    return calls


def kernel_entries(bins, backend, workdir, connections, size, per_conn):
    """One traced run and one `strace -c -f` run, both with a fixed number of requests."""
    out = {"backend": backend, "connections": connections, "size": size}
    requests = connections * per_conn
    # From the trace.
    spec = ServerSpec(f"kernel-{backend}", "netpoll", backend, traced=True)
    server = Running(spec, bins, "echo", workdir)
    try:
        r = run_loadgen(bins, server.address, connections, size, requests=per_conn)
    finally:
        server.stop()
    counts = count_trace(server.trace_path)
    os.unlink(server.trace_path)
    listed = {k: counts.get(k, 0) for k in
              ["epoll_wait", "epoll_ctl", "read", "write", "accept", "uring_enter"]}
    all_sys = sum(counts.get(k, 0) for k in TRACE_SYSCALLS)
    out["requests"] = r["all_requests"]
    out["trace_counts"] = counts
    out["trace_per_request"] = {k: round(v / requests, 3) for k, v in listed.items()}
    out["trace_listed_per_request"] = round(sum(listed.values()) / requests, 3)
    out["trace_all_syscalls_per_request"] = round(all_sys / requests, 3)
    # From strace -c -f, a separate run.
    summary = os.path.join(workdir, f"strace-c-{backend}.txt")
    spec = ServerSpec(f"strace-{backend}", "netpoll", backend,
                      wrapper=["strace", "-c", "-f", "-o", summary])
    server = Running(spec, bins, "echo", workdir)
    try:
        run_loadgen(bins, server.address, connections, size, requests=per_conn)
    finally:
        server.stop()
    calls = parse_strace_c(summary)
    mapped = {}
    for name, n in calls.items():
        if name in STRACE_NAMES:
            k = STRACE_NAMES[name]
            mapped[k] = mapped.get(k, 0) + n
    out["strace_calls"] = calls
    out["strace_per_request"] = {k: round(mapped.get(k, 0) / requests, 3) for k in listed}
    out["strace_listed_per_request"] = round(sum(mapped.values()) / requests, 3)
    out["strace_all_syscalls_per_request"] = round(sum(calls.values()) / requests, 3)
    return out


# ---------------------------------------------------------------------------------------------
# HTTP (wrk)


WRK_LAT = re.compile(r"^\s+(50|90|99|99\.900|99\.9)%\s+([\d.]+)(us|ms|s)\s*$")


def parse_wrk(text):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    r["requests_per_second"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", text)
    r["all_requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    if m:
        r["socket_errors"] = m.group(1).strip()
    lat = {}
    for line in text.splitlines():
        m = WRK_LAT.match(line)
        if m:
            scale = {"us": 1, "ms": 1e3, "s": 1e6}[m.group(3)]
            lat["p" + m.group(1).replace(".900", "9").replace(".", "")] = float(m.group(2)) * scale
    r["latency_us"] = {"p50": lat.get("p50"), "p99": lat.get("p99"), "p999": lat.get("p999")}
    return r


def one_http_run(bins, spec, workdir, connections, duration):
    server = Running(spec, bins, "http", workdir)
    try:
        cpu0 = server.cpu_seconds()
        host = server.address
        out = subprocess.run(
            pinned(LOAD_CORE, ["wrk", "-t1", f"-c{connections}",
                               f"-d{max(1, round(duration))}s", "--latency",
                               f"http://{host}/"]), capture_output=True, text=True, timeout=600)
        cpu1 = server.cpu_seconds()
    finally:
        server.stop()
    if server.trace_path and os.path.exists(server.trace_path):
        os.unlink(server.trace_path)
    r = parse_wrk(out.stdout)
    if r["requests_per_second"] is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-300:]} {out.stderr[-300:]}")
    done = r.get("all_requests")
    r["cpu_us_per_request"] = round((cpu1 - cpu0) / done * 1e6, 3) if done else None
    return r


# ---------------------------------------------------------------------------------------------
# Micro-benchmarks


def micro(bins, seconds, backends):
    out = {}
    rec = subprocess.run(pinned(SERVER_CORE, [bins["bench"], "recorder", "--seconds", str(seconds)]),
                         capture_output=True, text=True, timeout=600)
    single = json.loads(rec.stdout)["recorder"] if rec.returncode == 0 else {"error": rec.stderr}
    # Two threads need both cores, so this one runs unpinned.
    rec2 = subprocess.run(NICE + [bins["bench"], "recorder", "--seconds", str(seconds)],
                          capture_output=True, text=True, timeout=600)
    both = json.loads(rec2.stdout)["recorder"] if rec2.returncode == 0 else {"error": rec2.stderr}
    out["recorder"] = {
        "ns_per_event_single": single.get("ns_per_event_single"),
        "ns_per_event_two_threads": both.get("ns_per_event_two_threads"),
        "two_thread_events_per_second": both.get("two_thread_events_per_second"),
        "ns_per_event_with_writer": both.get("ns_per_event_with_writer"),
        "encode": single.get("encode"),
        "allocations_per_event": valgrind_allocations(bins),
    }
    pw = {}
    for workers, pin in ((1, NICE + ["taskset", "-c", SERVER_CORE]), (2, NICE)):
        p = subprocess.run(pin + [bins["bench"], "park-wake", "--workers", str(workers),
                                  "--seconds", str(seconds), "--backends", ",".join(backends)],
                           capture_output=True, text=True, timeout=600)
        pw[f"workers_{workers}"] = (json.loads(p.stdout)["park_wake"] if p.returncode == 0
                                    else {"error": p.stderr.strip()[-300:]})
    out["park_wake"] = pw
    return out


def valgrind_allocations(bins):
    """Allocations per recorded event: valgrind's heap total at two event counts, differenced."""
    if subprocess.run(["which", "valgrind"], capture_output=True).returncode != 0:
        return {"error": "valgrind not installed"}
    res = {}
    for threads in (1, 2):
        totals = []
        for events in (1000, 51000):
            p = subprocess.run(["valgrind", "--tool=memcheck", bins["bench"], "record-only",
                                "--events", str(events), "--threads", str(threads)],
                               capture_output=True, text=True, timeout=600)
            m = re.search(r"total heap usage: ([\d,]+) allocs", p.stderr)
            if not m:
                return {"error": p.stderr[-300:]}
            totals.append(int(m.group(1).replace(",", "")))
        res[f"threads_{threads}"] = (totals[1] - totals[0]) / (50000 * threads)
    res["method"] = ("valgrind memcheck 'total heap usage' for 1000 and 51000 events per thread, "
                     "difference / 50000 events")
    return res


# ---------------------------------------------------------------------------------------------
# Report


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt(x, nd=0):
    if x is None:
        return "-"
    if nd == 0:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def print_echo_table(echo, baseline="netpoll-epoll"):
    print("\n## Echo: loadgen -> server (server on core 0, load on core 1); medians over rounds")
    print(f"{'cell':<14} {'server':<24} {'req/s':>10} {'vs epoll':>8} {'p50 us':>8} {'p99 us':>8} "
          f"{'p99.9 us':>9} {'CPU us/req':>10} {'epoll CPU/this':>14}")
    for cell, servers in echo.items():
        for_each_server(cell, servers, baseline, lambda name, s, vs_epoll, cpu_ratio: (
            f"{fmt(s['requests_per_second']):>10} {vs_epoll:>8} {fmt(s['p50_us'], 1):>8} "
            f"{fmt(s['p99_us'], 1):>8} {fmt(s['p999_us'], 1):>9} "
            f"{fmt(s['cpu_us_per_request'], 2):>10} {cpu_ratio:>14}"))


def for_each_server(cell, servers, baseline, columns):
    """Prints one row per server of `cell`: `columns(name, s, vs_epoll, cpu_ratio)` gives what follows
    the cell and server names (the two ratios to `baseline` come formatted)."""
    base = servers.get(baseline, {}).get("requests_per_second")
    base_cpu = servers.get(baseline, {}).get("cpu_us_per_request")
    for name, s in servers.items():
        if "error" in s:
            print(f"{cell:<14} {name:<24} {'skipped: ' + s['error'][:60]}")
            continue
        vs_epoll = fmt(ratio(s["requests_per_second"], base), 3)
        cpu_ratio = fmt(ratio(base_cpu, s["cpu_us_per_request"]), 3)
        print(f"{cell:<14} {name:<24} {columns(name, s, vs_epoll, cpu_ratio)}"
              f"{'  ' + str(s['errors']) + ' errors' if s.get('errors') else ''}")


def goals(report):
    g = []
    echo = report.get("echo", {})
    c64 = echo.get("1024B x 64c", {})
    c1024 = echo.get("1024B x 1024c", {})

    def rps(cell, name):
        return cell.get(name, {}).get("requests_per_second")

    def cpu(cell, name):
        return cell.get(name, {}).get("cpu_us_per_request")

    def rounded(v):
        return None if v is None else round(v, 3)

    def cpu_note(cell, a, b):
        """How the two compare on server CPU per request, which other load on the machine
        disturbs far less than throughput."""
        v = ratio(cell.get(b, {}).get("cpu_us_per_request"), cell.get(a, {}).get("cpu_us_per_request"))
        return "" if v is None else f"CPU/request: {b} / {a} = {v:.3f} (>1: {a} cheaper)"

    def add(goal, value, target, ok, note=""):
        g.append({"goal": goal, "value": value, "target": target,
                  "met": ok if value is not None and ok != "info" else None, "note": note})

    for b in ("epoll", "uring", "uring-completion"):
        v = ratio(rps(c64, f"netpoll-{b}+trace"), rps(c64, f"netpoll-{b}"))
        if v is not None:
            add(f"traced/untraced {b}, 64c 1KiB", round(v, 3), ">= 0.95", v >= 0.95,
                cpu_note(c64, f"netpoll-{b}+trace", f"netpoll-{b}"))
        v = ratio(rps(c64, f"netpoll-{b}+flight"), rps(c64, f"netpoll-{b}"))
        if v is not None:
            add(f"flight-recorder/untraced {b}, 64c 1KiB", round(v, 3), ">= 0.98", v >= 0.98,
                cpu_note(c64, f"netpoll-{b}+flight", f"netpoll-{b}"))
    tr = report.get("tracing", {}).get("1024B x 64c", {})
    base = rps(tr, "netpoll-epoll")
    for name in ("netpoll-epoll+strace", "netpoll-epoll+strace-bpf"):
        v = ratio(rps(tr, name), base)
        if v is not None:
            add(f"{name.split('+')[1]}/untraced epoll, 64c 1KiB (for comparison)", round(v, 3),
                "-", "info")
    # Issue 13's goals against the peers, at both connection counts it names.
    for label, cell in (("64c", c64), ("1,024c", c1024)):
        for peer, peer_name in (("nio", "SwiftNIO"), ("go", "Go")):
            v = ratio(rps(cell, "netpoll-epoll"), rps(cell, peer))
            add(f"epoll / {peer_name} req/s, {label} 1KiB", rounded(v), ">= 1.0",
                v is not None and v >= 1.0)
            v = ratio(cpu(cell, "netpoll-epoll"), cpu(cell, peer))
            add(f"epoll / {peer_name} server CPU per request, {label} 1KiB", rounded(v), "<= 1.0",
                v is not None and v <= 1.0)
        if label == "64c":
            v = ratio(rps(cell, "netpoll-uring"), rps(cell, "netpoll-epoll"))
            add("uring readiness / epoll req/s, 64c 1KiB", rounded(v), ">= 0.95",
                v is not None and v >= 0.95, cpu_note(cell, "netpoll-uring", "netpoll-epoll"))
        v = ratio(rps(cell, "netpoll-uring-completion"), rps(cell, "netpoll-epoll"))
        add(f"uring-completion / epoll req/s, {label} 1KiB", rounded(v), ">= 1.2",
            v is not None and v >= 1.2,
            cpu_note(cell, "netpoll-uring-completion", "netpoll-epoll") if v is not None
            else "uring-completion not runnable here yet")
    k = {e["backend"]: e for e in report.get("kernel", []) if "error" not in e}
    if "uring-completion" in k and "epoll" in k:
        v = ratio(k["uring-completion"]["trace_all_syscalls_per_request"],
                  k["epoll"]["trace_all_syscalls_per_request"])
        add("uring-completion / epoll kernel entries per request", round(v, 3), "<= 0.5", v <= 0.5)
    else:
        add("uring-completion / epoll kernel entries per request", None, "<= 0.5", None,
            "uring-completion not runnable here yet")
    rec = report.get("micro", {}).get("recorder", {})
    med = get(rec, "ns_per_event_single.median")
    add("record(): median ns per event (1 thread)", med, "<= 25", med is not None and med <= 25)
    med2 = get(rec, "ns_per_event_two_threads.median")
    add("record(): median ns per event (2 threads at once)", med2, "<= 40",
        med2 is not None and med2 <= 40)
    allocs = get(rec, "allocations_per_event.threads_1")
    add("record(): allocations per event", allocs, "0", allocs == 0)
    enc = get(rec, "encode.echo.mb_per_s")
    add("writer: JSON encoding MB/s (echo mix)", enc, ">= 1000", enc is not None and enc >= 1000)
    return g


def print_two_cores_table(two_cores, echo, baseline="netpoll-epoll"):
    """Two threads per server, server and load on both cores; `vs 1 core` divides by the same
    server's pinned one-thread median in the echo table."""
    print("\n## Two cores: 2 threads per server (netpoll --workers 2, GOMAXPROCS=2, 2 NIO event "
          "loops),\n## server and loadgen unpinned on both cores; medians over rounds")
    print(f"{'cell':<14} {'server':<24} {'req/s':>10} {'vs epoll':>8} {'vs 1 core':>9} "
          f"{'p50 us':>8} {'p99 us':>8} {'CPU us/req':>10} {'epoll CPU/this':>14}")
    for cell, servers in two_cores.items():
        one_core = echo.get(cell, {})

        def columns(name, s, vs_epoll, cpu_ratio):
            one = one_core.get(name, {}).get("requests_per_second")
            return (f"{fmt(s['requests_per_second']):>10} {vs_epoll:>8} "
                    f"{fmt(ratio(s['requests_per_second'], one), 3):>9} {fmt(s['p50_us'], 1):>8} "
                    f"{fmt(s['p99_us'], 1):>8} {fmt(s['cpu_us_per_request'], 2):>10} {cpu_ratio:>14}")
        for_each_server(cell, servers, baseline, columns)


def print_report(report):
    print_echo_table(report["echo"])
    if report.get("two_cores"):
        print_two_cores_table(report["two_cores"], report["echo"])
    if report.get("loadgen"):
        lg = report["loadgen"]
        print("\n## Load generator check (same epoll server, 64c 1KiB)")
        print(f"  loadgen (C)   {fmt(lg['loadgen_rps'])} req/s, {lg['loadgen_cpu_us_per_request']} us "
              f"CPU per request, its core busy {lg['loadgen_core_busy_fraction']:.0%}")
        print(f"  netpoll load  {fmt(lg['netpoll_load_rps'])} req/s, "
              f"{lg['netpoll_load_cpu_us_per_request']} us CPU per request"
              f"  (req/s ratio {fmt(ratio(lg['netpoll_load_rps'], lg['loadgen_rps']), 3)})")
    if report.get("tracing"):
        print("\n## Tracing cost (1KiB x 64c; ratio to untraced epoll in the same rounds)")
        for cell, servers in report["tracing"].items():
            base = servers.get("netpoll-epoll", {}).get("requests_per_second")
            for name, s in servers.items():
                if "error" in s:
                    print(f"  {name:<26} skipped: {s['error'][:70]}")
                    continue
                print(f"  {name:<26} {fmt(s['requests_per_second']):>10} req/s  ratio "
                      f"{fmt(ratio(s['requests_per_second'], base), 3)}  CPU us/req "
                      f"{fmt(s['cpu_us_per_request'], 2)}")
    if report.get("http"):
        print("\n## HTTP: wrk -t1 (keep-alive, GET /)")
        for cell, servers in report["http"].items():
            base = servers.get("netpoll-epoll", {}).get("requests_per_second")
            for name, s in servers.items():
                if "error" in s:
                    print(f"  {cell:<6} {name:<22} skipped: {s['error'][:70]}")
                    continue
                print(f"  {cell:<6} {name:<22} {fmt(s['requests_per_second']):>10} req/s  vs epoll "
                      f"{fmt(ratio(s['requests_per_second'], base), 3)}  p50 {fmt(s['p50_us'], 1)} "
                      f"p99 {fmt(s['p99_us'], 1)} us  CPU us/req {fmt(s['cpu_us_per_request'], 2)}")
    if report.get("kernel"):
        print("\n## System calls per request (trace run / separate `strace -c -f` run)")
        print(f"  {'backend':<18} {'listed(trace)':>13} {'listed(strace)':>14} "
              f"{'all(trace)':>10} {'all(strace)':>11}  breakdown (trace)")
        for e in report["kernel"]:
            if "error" in e:
                print(f"  {e['backend']:<18} skipped: {e['error'][:70]}")
                continue
            br = " ".join(f"{k}={v}" for k, v in e["trace_per_request"].items() if v)
            print(f"  {e['backend']:<18} {e['trace_listed_per_request']:>13} "
                  f"{e['strace_listed_per_request']:>14} {e['trace_all_syscalls_per_request']:>10} "
                  f"{e['strace_all_syscalls_per_request']:>11}  {br}")
    m = report.get("micro", {})
    if m:
        rec = m["recorder"]
        print("\n## Recorder: TraceRecorder.record(_:)")
        s1 = rec.get("ns_per_event_single") or {}
        s2 = rec.get("ns_per_event_two_threads") or {}
        print(f"  1 thread:   median {s1.get('median')} ns, p99 {s1.get('p99')} ns (blocks of 256)")
        print(f"  2 threads:  median {s2.get('median')} ns, p99 {s2.get('p99')} ns per event per "
              f"thread; {fmt(rec.get('two_thread_events_per_second'))} events/s together")
        print(f"  with TraceWriter to /dev/null: {rec.get('ns_per_event_with_writer')} ns per event "
              f"sustained")
        print(f"  allocations per event: {rec.get('allocations_per_event')}")
        for mix, e in (rec.get("encode") or {}).items():
            print(f"  JSON encoding, {mix} mix: {e.get('mb_per_s')} MB/s, {e.get('ns_per_line')} ns per line")
        print("\n## Park/wake round trips per second (1-byte ping-pong over loopback TCP)")
        for w, res in m["park_wake"].items():
            print(f"  {w}: " + ", ".join(
                f"{b} {fmt(v.get('round_trips_per_second')) if 'round_trips_per_second' in v else 'skipped'}"
                for b, v in res.items() if isinstance(v, dict)))
    print("\n## Goals")
    for x in report["goals"]:
        mark = "info" if x["target"] == "-" else {True: "MET ", False: "MISS", None: "n/a "}[x["met"]]
        print(f"  [{mark}] {x['goal']:<58} {str(x['value']):>10}  (target {x['target']})"
              f"{'  ' + x['note'] if x['note'] else ''}")


# ---------------------------------------------------------------------------------------------


def raise_fd_limit(wanted):
    """Raises the soft RLIMIT_NOFILE (inherited by every server and load generator) to `wanted`:
    1,024 connections need more than the usual soft limit of 1,024 fds on both sides."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            log(f"RLIMIT_NOFILE hard limit is {hard}; the 1,024-connection cells may fail")


def backend_works(bins, backend, workdir):
    try:
        s = Running(ServerSpec(f"probe-{backend}", "netpoll", backend), bins, "echo", workdir)
        s.stop()
        return True, ""
    except Exception as e:
        return False, str(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netpoll", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--goserver", required=True)
    ap.add_argument("--nio", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="/tmp/netpoll-bench.json")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--only", default="echo,two_cores,loadgen,tracing,http,kernel,micro")
    ap.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else 0,
                    help="run servers and load at this nice value (default -10 as root)")
    a = ap.parse_args()
    if a.nice:
        NICE.extend(["nice", "-n", str(a.nice)])
    bins = {"netpoll": a.netpoll, "bench": a.bench, "goserver": a.goserver, "nio": a.nio,
            "loadgen": a.loadgen}
    quick = a.quick
    rounds = a.rounds or (2 if quick else 3)
    duration = a.duration or (2.0 if quick else 4.0)
    warmup = 0.5
    only = set(a.only.split(","))
    workdir = tempfile.mkdtemp(prefix="netpoll-bench.")
    raise_fd_limit(2 * 1024 + 200)

    backends = []
    skipped = {}
    for b in ("epoll", "uring", "uring-completion"):
        ok, why = backend_works(bins, b, workdir)
        if ok:
            backends.append(b)
        else:
            skipped[b] = why
            log(f"backend {b} skipped: {why}")

    netpoll_specs = []
    for b in backends:
        netpoll_specs.append(ServerSpec(f"netpoll-{b}", "netpoll", b))
        netpoll_specs.append(ServerSpec(f"netpoll-{b}+trace", "netpoll", b, traced=True))
        netpoll_specs.append(ServerSpec(f"netpoll-{b}+flight", "netpoll", b, flight=True))
    peers = [ServerSpec("nio", "nio"), ServerSpec("go", "go")]
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    report = {
        "machine": machine(),
        "load_average_before": load_before,
        "mode": "quick" if quick else "full",
        "rounds": rounds,
        "duration_seconds": duration,
        "warmup_seconds": warmup,
        "pinning": (f"servers on core {SERVER_CORE} (netpoll --workers 1, GOMAXPROCS=1, NIO 1 event "
                    f"loop), load generators on core {LOAD_CORE}; two_cores: 2 threads per server, "
                    f"nothing pinned"),
        "backends_skipped": skipped,
        "nice": a.nice,
    }
    t_start = time.time()

    def echo_run(spec, cell):
        return one_echo_run(bins, spec, workdir, cell[1], cell[0], duration, warmup)

    untraced = [s for s in netpoll_specs if not s.traced] + peers
    if "echo" in only:
        log("== echo")
        sizes, conns = ([1024], [64]) if quick else ([64, 1024, 16384], [1, 64, 1024])
        cells = [(s, c) for s in sizes for c in conns]
        raw = interleaved(cells, netpoll_specs + peers, rounds, echo_run)
        if quick:  # the 1,024-connection goals, untraced servers only
            raw.update(interleaved([(1024, 1024)], untraced, rounds, echo_run))
        report["echo_runs"] = raw
        report["echo"] = {c: {n: summarize(rs) for n, rs in v.items()} for c, v in raw.items()}

    if "two_cores" in only:
        log("== two cores (nothing pinned)")
        specs = [ServerSpec(s.name, s.kind, s.backend, threads=2) for s in untraced]
        raw = interleaved([(1024, 64)], specs, rounds, echo_run)
        report["two_cores_runs"] = raw
        report["two_cores"] = {c: {n: summarize(rs) for n, rs in v.items()}
                               for c, v in raw.items()}

    if "loadgen" in only:
        log("== load generator check")
        spec = ServerSpec("netpoll-epoll", "netpoll", "epoll")
        lg_rps, nl_rps, lg_cpu, nl_cpu, lg_busy = [], [], [], [], []
        for _ in range(rounds):
            server = Running(spec, bins, "echo", workdir)
            try:
                r1 = run_loadgen(bins, server.address, 64, 1024, duration, warmup)
                per_conn = max(50, int(r1["requests_per_second"] * duration / 64))
                r2 = run_netpoll_load(bins, server.address, 64, 1024, per_conn)
            finally:
                server.stop()
            lg_rps.append(r1["requests_per_second"])
            nl_rps.append(r2["requests_per_second"])
            lg_cpu.append(r1["client_cpu_seconds"] / max(1, r1["all_requests"]) * 1e6)
            nl_cpu.append(r2["client_cpu_seconds"] / max(1, r2["requests"]) * 1e6)
            lg_busy.append(r1["client_cpu_seconds"] / (duration + warmup))
            log(f"  loadgen {r1['requests_per_second']}  netpoll load {r2['requests_per_second']}")
        report["loadgen"] = {"loadgen_rps": statistics.median(lg_rps),
                             "netpoll_load_rps": statistics.median(nl_rps),
                             "loadgen_cpu_us_per_request": round(statistics.median(lg_cpu), 2),
                             "netpoll_load_cpu_us_per_request": round(statistics.median(nl_cpu), 2),
                             "loadgen_core_busy_fraction": round(statistics.median(lg_busy), 3),
                             "runs": {"loadgen": lg_rps, "netpoll_load": nl_rps}}

    if "tracing" in only:
        log("== tracing cost")
        specs = [ServerSpec("netpoll-epoll", "netpoll", "epoll"),
                 ServerSpec("netpoll-epoll+trace", "netpoll", "epoll", traced=True),
                 ServerSpec("netpoll-epoll+strace", "netpoll", "epoll", wrapper=STRACE),
                 ServerSpec("netpoll-epoll+strace-bpf", "netpoll", "epoll", wrapper=STRACE_BPF)]
        raw = interleaved([(1024, 64)], specs, rounds, lambda s, cell: one_echo_run(
            bins, s, workdir, cell[1], cell[0], duration, warmup))
        report["tracing_runs"] = raw
        report["tracing"] = {c: {n: summarize(rs) for n, rs in v.items()} for c, v in raw.items()}

    if "http" in only:
        log("== http (wrk)")
        specs = [ServerSpec(f"netpoll-{b}", "netpoll", b) for b in backends] + peers
        conns = [64] if quick else [64, 512]
        raw = interleaved([(0, c) for c in conns], specs, rounds,
                          lambda s, cell: one_http_run(bins, s, workdir, cell[1], duration))
        report["http_runs"] = raw
        report["http"] = {f"{k.split(' x ')[1]}": {n: summarize(rs) for n, rs in v.items()}
                          for k, v in raw.items()}

    if "kernel" in only:
        log("== kernel entries per request")
        report["kernel"] = []
        per_conn = 200 if quick else 500
        for b in backends:
            try:
                report["kernel"].append(kernel_entries(bins, b, workdir, 64, 1024, per_conn))
            except Exception as e:
                report["kernel"].append({"backend": b, "error": str(e)})
        for b, why in skipped.items():
            report["kernel"].append({"backend": b, "error": why})

    if "micro" in only:
        log("== micro-benchmarks")
        report["micro"] = micro(bins, 0.5 if quick else 2.0, backends)

    with open("/proc/loadavg") as f:
        report["load_average_after"] = f.read().split()[:3]
    report["elapsed_seconds"] = round(time.time() - t_start, 1)
    report.setdefault("echo", {})
    report["goals"] = goals(report)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"# netpoll benchmark ({report['mode']}, {rounds} rounds x {duration}s, "
          f"{report['elapsed_seconds']} s) on {report['machine']['cpu']}, "
          f"kernel {report['machine']['kernel']}")
    print(f"# {report['pinning']}; nice {a.nice}")
    print(f"# load average before/after: {' '.join(load_before)} / "
          f"{' '.join(report['load_average_after'])}")
    print_report(report)
    print(f"\nJSON: {a.out}")
    # The work folder holds server logs and strace summaries; kept only when a stall left evidence.
    if any(n.startswith("stall-") for n in os.listdir(workdir)):
        print(f"stall evidence kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": os.uname().release}


if __name__ == "__main__":
    main()
