"""Checks a netpoll trace (JSON lines) against docs/trace-format.md, line by line.

Independent of the Swift analysis library on purpose: the acceptance checks must not trust the
code they check. Stdlib only.

What it verifies (each failure names FILE:LINE):
  - every line is one JSON object ending in "\\n"; seq 0, 1, 2, ... with no gap; ts integer and
    non-decreasing; tid integer; ev a known event name with its documented fields and types;
  - the first line is trace_start (format, version 1 or 2, backend; version 2: source "runtime" or
    "ebpf"), the last trace_end whose `lines` (version 1: `events`) equals the number of lines and
    whose `dropped` is 0;
  - version 2: a field name has one JSON type across all event kinds; a flight-recorder window
    (trace_start.window true) starts with snapshot_fd/snapshot_park/snapshot_op lines (seq 0),
    then its events from seq window_seq; a ready fd whose ADD is recorded later is a violation
    (the order is causal), where version 1 allowed it from another thread (a note);
  - errno is always a name ("EAGAIN"), present exactly when the call failed (ret < 0);
  - a field has one JSON type within an event kind;
  - every park is followed by exactly one wake of the same task, fd and mode, and no wake comes
    without a park;
  - epoll: ADD only of an unregistered fd, DEL only of a registered one, and every fd in
    epoll_wait.ready is registered on that epfd with that tag at that moment, unless a `stale`
    event for it follows from the same thread before its next epoll_wait (the registration may
    also be an ADD from another thread whose record landed just after: reported as a note);
  - the number of epoll_ctl / epoll_wait / uring_enter events per epfd or ring fd (the figures
    compared with strace by tools/check-acceptance);
  - io_uring completion mode: each uring_cqe is paired with the latest uring_sqe of the same
    user_data to learn its operation; an ACCEPT CQE with res >= 0 counts as an accept (res is the
    new connection fd), RECV and SEND CQEs with res > 0 add to the bytes read and written, and a
    RECV CQE with res > 0 on a connection fd is a request (as a read with ret > 0).
"""

import json
import re
from collections import Counter, defaultdict

INT, STR, LIST, OBJ = "integer", "string", "array", "object"

# Required fields per event, after the four common ones (docs/trace-format.md).
SCHEMA = {
    "trace_start": {"format": STR, "version": INT, "backend": STR, "pid": INT, "wall": STR,
                    "command": STR, "backend_note": STR},
    "trace_end": {"lines": INT, "dropped": INT},
    "snapshot_fd": {"fd": INT, "tag": INT},
    "snapshot_park": {"task": INT, "fd": INT, "mode": STR},
    "snapshot_op": {"user_data": INT, "op": STR, "fd": INT},
    "epoll_create": {"epfd": INT, "flags": LIST, "ret": INT},
    "epoll_ctl": {"epfd": INT, "op": STR, "fd": INT, "events": LIST, "tag": INT, "ret": INT},
    "epoll_wait": {"epfd": INT, "maxevents": INT, "timeout_ms": INT, "ret": INT, "dur_ns": INT,
                   "ready": LIST},
    "park": {"task": INT, "fd": INT, "mode": STR},
    "wake": {"task": INT, "fd": INT, "mode": STR, "reason": STR},
    "stale": {"fd": INT, "tag": INT, "current_tag": INT, "mode": STR},
    "deadline": {"fd": INT, "mode": STR, "timeout_ns": INT},
    "socket": {"fd": INT, "domain": STR, "ret": INT},
    "setsockopt": {"fd": INT, "opt": STR, "ret": INT},
    "bind": {"fd": INT, "addr": STR, "ret": INT},
    "listen": {"fd": INT, "backlog": INT, "ret": INT},
    "accept": {"fd": INT, "ret": INT},
    "connect": {"fd": INT, "addr": STR, "ret": INT},
    "getsockname": {"fd": INT, "addr": STR, "ret": INT},
    "getsockopt": {"fd": INT, "opt": STR, "ret": INT, "value": INT},
    "read": {"fd": INT, "len": INT, "ret": INT},
    "write": {"fd": INT, "len": INT, "ret": INT},
    "poll": {"fd": INT, "events": LIST, "revents": LIST, "ret": INT},
    "shutdown": {"fd": INT, "how": STR, "ret": INT},
    "close": {"fd": INT, "ret": INT},
    "eventfd": {"fd": INT, "ret": INT},
    "uring_setup": {"ring_fd": INT, "entries": INT, "cq_entries": INT, "flags": LIST,
                    "features": LIST},
    "uring_sqe": {"op": STR, "fd": INT, "user_data": INT, "flags": LIST},
    "uring_enter": {"ring_fd": INT, "to_submit": INT, "min_complete": INT, "flags": LIST,
                    "ret": INT, "dur_ns": INT},
    "uring_cqe": {"user_data": INT, "res": INT, "flags": LIST, "fd": INT},
    "uring_overflow": {"count": INT},
}
# Version 1 differs only here (docs/trace-format.md, "Changes from version 1").
SCHEMA_V1_CHANGES = {
    "trace_end": {"events": INT, "dropped": INT},
}
# Optional trace_start fields of version 2, with their types when present.
START_V2_OPTIONAL = {"source": STR, "window": "boolean", "window_seq": INT, "window_ts": INT,
                     "trigger": STR}
SNAPSHOTS = {"snapshot_fd", "snapshot_park", "snapshot_op"}
SOURCES = {"runtime", "ebpf"}
BACKENDS = {"epoll", "uring", "uring-completion"}
EPOLL_EVENT_NAMES = {"EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLPRI", "EPOLLERR", "EPOLLHUP",
                     "EPOLLET", "EPOLLONESHOT", "EPOLLEXCLUSIVE", "EPOLLWAKEUP"}
ENUMS = {
    ("epoll_ctl", "op"): {"ADD", "MOD", "DEL"},
    ("park", "mode"): {"r", "w"},
    ("snapshot_park", "mode"): {"r", "w"},
    ("wake", "mode"): {"r", "w"},
    ("wake", "reason"): {"ready", "deadline", "close", "cancel"},
    ("stale", "mode"): {"r", "w", "rw"},
    ("deadline", "mode"): {"r", "w"},
    ("socket", "domain"): {"AF_INET", "AF_INET6", "AF_UNIX"},
    ("shutdown", "how"): {"SHUT_RD", "SHUT_WR", "SHUT_RDWR"},
}
ERRNO_NAME = re.compile(r"^E[A-Z0-9]+$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# Version 1 only: kinds that share a field name with different types in the contract itself
# (trace_end.events is a count, epoll_ctl.events a list of names): reported once, as a note.
# Version 2 has one type per field name: any mix is a violation.
KNOWN_CROSS_KIND_TYPES_V1 = {"events"}


def json_type(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return INT
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return STR
    if isinstance(v, list):
        return LIST
    if isinstance(v, dict):
        return OBJ
    return "null"


class TraceCheck:
    """Reads one trace and collects violations (failures) and notes (worth knowing, not wrong)."""

    def __init__(self, path, max_reports=20):
        self.path = path
        self.max_reports = max_reports
        self.violations = []  # (line, message)
        self.violation_count = 0
        self.notes = []
        self.lines = 0
        self.events = Counter()
        self.backend = None
        self.start = None
        self.end = None
        # per epfd: {"ctl": Counter(op), "ctl_total", "wait"}; per ring fd: enters
        self.epoll_calls = defaultdict(lambda: {"ADD": 0, "MOD": 0, "DEL": 0, "other": 0, "wait": 0})
        self.ctl_fds = defaultdict(Counter)  # epfd -> (op, fd) -> calls
        self.wait_events = Counter()  # epfd -> sum of positive epoll_wait results
        self.wait_errors = defaultdict(Counter)  # epfd -> errno -> calls
        self.uring_enters = Counter()
        self.enter_sum = Counter()  # ring fd -> sum of positive io_uring_enter results
        self.enter_errors = defaultdict(Counter)
        self.io_bytes = Counter()  # "read"/"write" -> bytes moved on sockets (not eventfds)
        self.accepts = 0
        self.requests = 0  # reads (or RECV completions) with data on connection fds
        self.connections = set()  # open connection fds: accepted (or ACCEPT CQE res)
        self.completions = Counter()  # completion mode: op -> CQEs with res >= 0 (ACCEPT/RECV/SEND)
        self.sqes = 0
        self.submitted = 0  # sum of uring_enter.to_submit
        self.cqes = 0
        self.epoll_events = 0  # epoll_* events of any kind
        self.epfds = set()
        self.ring_fds = set()
        self.eventfds = set()
        self.parks = 0
        self.wakes = Counter()
        self.stale_events = 0
        self.raced_adds = 0
        self.ready_items = 0

    # -- reporting --------------------------------------------------------------------------
    def fail(self, line, message):
        self.violation_count += 1
        if len(self.violations) < self.max_reports:
            self.violations.append((line, message))

    def note(self, message):
        if message not in self.notes:
            self.notes.append(message)

    @property
    def ok(self):
        return self.violation_count == 0

    # -- the check --------------------------------------------------------------------------
    def run(self):
        with open(self.path, "rb") as f:
            data = f.read()
        if not data:
            self.fail(0, "the trace is empty")
            return self
        if not data.endswith(b"\n"):
            self.fail(data.count(b"\n") + 1, "the last line does not end in \\n (cut short?)")
        raw_lines = data.split(b"\n")
        if raw_lines and raw_lines[-1] == b"":
            raw_lines.pop()
        self.lines = len(raw_lines)

        records = []
        field_types = {}  # (ev, field) -> (type, first line)
        cross_types = defaultdict(set)  # field -> {types}
        prev_ts = None
        expected_seq = 0
        self.version = 1
        self.window = False
        seen_event = False  # an event after trace_start (snapshots excluded)
        for i, raw in enumerate(raw_lines):
            n = i + 1
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self.fail(n, f"not valid UTF-8 JSON: {e}")
                records.append(None)
                continue
            if not isinstance(obj, dict):
                self.fail(n, "not a JSON object")
                records.append(None)
                continue
            records.append(obj)
            for key, want in (("seq", INT), ("ts", INT), ("tid", INT), ("ev", STR)):
                if json_type(obj.get(key)) != want:
                    self.fail(n, f"'{key}' is {json_type(obj.get(key))}, not {want}")
            seq, ts, ev = obj.get("seq"), obj.get("ts"), obj.get("ev")
            if n == 1 and ev == "trace_start" and obj.get("version") == 2:
                self.version = 2
                self.window = obj.get("window") is True
                if self.window and json_type(obj.get("window_seq")) == INT:
                    expected_seq = obj["window_seq"] - 1  # the window's events start there
            if ev in SNAPSHOTS:
                if not self.window:
                    self.fail(n, f"{ev} in a trace that is not a flight-recorder window")
                elif seen_event:
                    self.fail(n, f"{ev} after the window's first event")
                elif seq != 0:
                    self.fail(n, f"{ev} has seq {seq!r}, expected 0")
            elif n > 1:
                seen_event = True
            if ev in SNAPSHOTS:
                pass
            elif n == 1 and self.window:
                expected_seq += 1
            elif json_type(seq) == INT:
                if seq != expected_seq:
                    self.fail(n, f"seq {seq}, expected {expected_seq} (a gap or reordering)")
                expected_seq = seq + 1
            else:
                expected_seq += 1
            if json_type(ts) == INT:
                if ts < 0:
                    self.fail(n, f"ts {ts} is negative")
                if prev_ts is not None and ts < prev_ts:
                    self.fail(n, f"ts {ts} is before the previous line's {prev_ts}")
                prev_ts = ts
            if not isinstance(ev, str):
                continue
            self.events[ev] += 1
            schema = SCHEMA.get(ev)
            if self.version == 1:
                if ev in SNAPSHOTS:
                    schema = None
                schema = SCHEMA_V1_CHANGES.get(ev, schema)
            if ev == "trace_start" and self.version == 2:
                for key, want in START_V2_OPTIONAL.items():
                    if key in obj and json_type(obj[key]) != want:
                        self.fail(n, f"trace_start.{key} is {json_type(obj[key])}, not {want}")
                if "source" not in obj:
                    self.fail(n, "trace_start has no 'source' (version 2)")
                elif obj["source"] not in SOURCES:
                    self.fail(n, f"trace_start.source = {obj['source']!r}, not one of {sorted(SOURCES)}")
                if obj.get("window") is True:
                    for key in ("window_seq", "window_ts"):
                        if key not in obj:
                            self.fail(n, f"trace_start has window true but no '{key}'")
            if schema is None:
                self.fail(n, f"unknown event '{ev}'")
                continue
            for key, want in schema.items():
                if key not in obj:
                    self.fail(n, f"{ev} has no '{key}'")
                elif json_type(obj[key]) != want:
                    self.fail(n, f"{ev}.{key} is {json_type(obj[key])}, not {want}")
            for key, value in obj.items():
                t = json_type(value)
                cross_types[key].add(t)
                first = field_types.setdefault((ev, key), (t, n))
                if first[0] != t:
                    self.fail(n, f"{ev}.{key} is {t} here but {first[0]} at line {first[1]}")
            for (kind, key), allowed in ENUMS.items():
                if kind == ev and isinstance(obj.get(key), str) and obj[key] not in allowed:
                    self.fail(n, f"{ev}.{key} = {obj[key]!r}, not one of {sorted(allowed)}")
            self.check_errno(n, ev, obj)

        for key, types in cross_types.items():
            if len(types) > 1:
                msg = f"field '{key}' has several JSON types across event kinds: {sorted(types)}"
                if self.version == 1 and key in KNOWN_CROSS_KIND_TYPES_V1:
                    self.note(msg + " (as the contract defines it)")
                else:
                    self.fail(0, msg)

        self.check_lifecycle(records)
        self.check_semantics(records)
        return self

    def check_errno(self, n, ev, obj):
        if "errno" in obj:
            e = obj["errno"]
            if not isinstance(e, str) or not ERRNO_NAME.match(e):
                self.fail(n, f"{ev}.errno = {e!r}: not an errno name")
        result_key = "res" if ev == "uring_cqe" else "ret"
        if ev in ("trace_start", "trace_end") or ev in SNAPSHOTS \
                or result_key not in SCHEMA.get(ev, {}):
            if "errno" in obj:
                self.fail(n, f"{ev} carries errno but is not a system call")
            return
        ret = obj.get(result_key)
        if not isinstance(ret, int) or isinstance(ret, bool):
            return
        if ret < 0 and "errno" not in obj:
            self.fail(n, f"{ev} failed ({result_key} {ret}) without errno")
        if ret >= 0 and "errno" in obj:
            self.fail(n, f"{ev} succeeded ({result_key} {ret}) but carries errno {obj['errno']}")
        if ev != "uring_cqe" and ret < -1:
            self.fail(n, f"{ev}.ret = {ret}: a failed call returns -1 (the errno is a name)")

    def check_lifecycle(self, records):
        first = records[0] if records else None
        if not first or first.get("ev") != "trace_start":
            self.fail(1, "the first line is not trace_start")
        else:
            self.start = first
            self.backend = first.get("backend")
            if first.get("format") != "netpoll-trace":
                self.fail(1, f"trace_start.format = {first.get('format')!r}")
            if first.get("version") not in (1, 2):
                self.fail(1, f"trace_start.version = {first.get('version')!r}, expected 1 or 2")
            if self.backend not in BACKENDS and not (
                    first.get("source") == "ebpf" and self.backend == "unknown"):
                self.fail(1, f"trace_start.backend = {self.backend!r}")
            if isinstance(first.get("wall"), str) and not RFC3339.match(first["wall"]):
                self.fail(1, f"trace_start.wall = {first['wall']!r} is not RFC 3339")
        last = records[-1] if records else None
        if not last or last.get("ev") != "trace_end":
            self.fail(self.lines, "the last line is not trace_end (the run was not stopped cleanly)")
        else:
            self.end = last
            count = "lines" if self.version == 2 else "events"
            if last.get(count) != self.lines:
                self.fail(self.lines, f"trace_end.{count} = {last.get(count)}, "
                                      f"but the file has {self.lines} lines")
            if last.get("dropped") != 0:
                self.fail(self.lines, f"trace_end.dropped = {last.get('dropped')}, expected 0")
        for i, r in enumerate(records[1:-1], start=2):
            if r and r.get("ev") in ("trace_start", "trace_end"):
                self.fail(i, f"{r['ev']} in the middle of the trace")

    def check_semantics(self, records):
        parked = {}  # task -> (fd, mode, line)
        registered = defaultdict(dict)  # epfd -> {fd: (tag, line)}
        last_del = defaultdict(dict)  # epfd -> {fd: line}
        ctl_history = defaultdict(list)  # (epfd, fd) -> [(index, op, tag, ret, tid)]
        pending_stale = defaultdict(list)  # tid -> [(fd, tag, line, index, epfd)]
        sqe_user_data = set()
        sqe_op = {}  # user_data -> op of the latest uring_sqe with it (latest wins)
        snapshot_registered = {}  # fd -> (tag, line), from a window's snapshot_fd lines
        unresolved = []

        for idx, r in enumerate(records):
            if r and r.get("ev") == "epoll_ctl":
                ctl_history[(r.get("epfd"), r.get("fd"))].append(
                    (idx, r.get("op"), r.get("tag"), r.get("ret"), r.get("tid")))

        def flush_pending(tid):
            for item in pending_stale.pop(tid, []):
                unresolved.append(item)

        for idx, r in enumerate(records):
            if not r:
                continue
            n = idx + 1
            ev = r.get("ev")
            if isinstance(ev, str) and ev.startswith("epoll_"):
                self.epoll_events += 1
            if ev == "snapshot_park":
                parked[r.get("task")] = (r.get("fd"), r.get("mode"), n)
            elif ev == "snapshot_fd":
                # Registered on the window's epoll instance (or armed on its ring), whichever
                # that is: record it for every instance the window uses.
                snapshot_registered[r.get("fd")] = (r.get("tag"), n)
            elif ev == "snapshot_op":
                sqe_user_data.add(r.get("user_data"))
                sqe_op[r.get("user_data")] = r.get("op")
            elif ev == "park":
                self.parks += 1
                task = r.get("task")
                if task in parked:
                    fd, mode, pl = parked[task]
                    self.fail(n, f"task {task} parks on fd {r.get('fd')} while still parked on "
                                 f"fd {fd} ({mode}) since line {pl}")
                parked[task] = (r.get("fd"), r.get("mode"), n)
            elif ev == "wake":
                self.wakes[r.get("reason")] += 1
                task = r.get("task")
                p = parked.pop(task, None)
                if p is None:
                    self.fail(n, f"wake of task {task} (fd {r.get('fd')}, {r.get('mode')}) "
                                 "which is not parked")
                elif (p[0], p[1]) != (r.get("fd"), r.get("mode")):
                    self.fail(n, f"wake of task {task} on fd {r.get('fd')} ({r.get('mode')}) but "
                                 f"it parked on fd {p[0]} ({p[1]}) at line {p[2]}")
            elif ev == "epoll_create":
                if r.get("ret", -1) >= 0:
                    self.epfds.add(r.get("epfd"))
                    registered[r.get("epfd")] = dict(snapshot_registered)
            elif ev == "eventfd":
                if r.get("ret", -1) >= 0:
                    self.eventfds.add(r.get("fd"))
            elif ev == "uring_setup":
                self.ring_fds.add(r.get("ring_fd"))
            elif ev == "uring_sqe":
                self.sqes += 1
                sqe_user_data.add(r.get("user_data"))
                sqe_op[r.get("user_data")] = r.get("op")
            elif ev == "uring_cqe":
                self.cqes += 1
                ud = r.get("user_data")
                from_snapshot = isinstance(ud, int) and (ud & 0xFFFFFFFF) in snapshot_registered \
                    and snapshot_registered[ud & 0xFFFFFFFF][0] == ud >> 32
                if ud not in sqe_user_data and not from_snapshot and not (
                        self.window and isinstance(ud, int) and (ud >> 32 == 0 or r.get("res", 0) < 0)):
                    self.fail(n, f"uring_cqe user_data {r.get('user_data')} matches no earlier "
                                 "uring_sqe (a submission missing from the trace?)")
                self.count_completion(sqe_op.get(r.get("user_data")), r)
            elif ev == "uring_enter":
                if isinstance(r.get("to_submit"), int):
                    self.submitted += r["to_submit"]
                ring = r.get("ring_fd")
                self.uring_enters[ring] += 1
                if isinstance(r.get("ret"), int) and r["ret"] >= 0:
                    self.enter_sum[ring] += r["ret"]
                else:
                    self.enter_errors[ring][r.get("errno")] += 1
            elif ev in ("read", "write"):
                if r.get("fd") not in self.eventfds and isinstance(r.get("ret"), int) \
                        and r["ret"] > 0:
                    self.io_bytes[ev] += r["ret"]
                    if ev == "read" and r.get("fd") in self.connections:
                        self.requests += 1
            elif ev == "accept":
                if isinstance(r.get("ret"), int) and r["ret"] >= 0:
                    self.accepts += 1
                    self.connections.add(r["ret"])
            elif ev == "connect":
                self.connections.add(r.get("fd"))
            elif ev == "epoll_ctl":
                epfd, fd, op, tag = r.get("epfd"), r.get("fd"), r.get("op"), r.get("tag")
                calls = self.epoll_calls[epfd]
                calls[op if op in ("ADD", "MOD", "DEL") else "other"] += 1
                self.ctl_fds[epfd][(op, fd)] += 1
                if epfd not in self.epfds and self.window and epfd not in registered:
                    # A window may start after the epoll_create: its snapshot is the state.
                    self.epfds.add(epfd)
                    registered[epfd] = dict(snapshot_registered)
                if epfd not in self.epfds:
                    self.fail(n, f"epoll_ctl on epfd {epfd}, which no epoll_create made")
                if r.get("ret") != 0:
                    continue  # a failed call changes nothing
                regs = registered[epfd]
                if op == "ADD":
                    if fd in regs:
                        self.fail(n, f"ADD of fd {fd}, already registered since line {regs[fd][1]}")
                    regs[fd] = (tag, n)
                    for bad in set(r.get("events", [])) - EPOLL_EVENT_NAMES:
                        self.fail(n, f"epoll_ctl.events has unknown name {bad!r}")
                elif op == "DEL":
                    if fd not in regs:
                        self.fail(n, f"DEL of fd {fd}, which is not registered")
                    regs.pop(fd, None)
                    last_del[epfd][fd] = n
                elif op == "MOD":
                    if fd not in regs:
                        self.fail(n, f"MOD of fd {fd}, which is not registered")
            elif ev == "epoll_wait":
                epfd, tid = r.get("epfd"), r.get("tid")
                self.epoll_calls[epfd]["wait"] += 1
                flush_pending(tid)
                ready = r.get("ready") if isinstance(r.get("ready"), list) else []
                ret = r.get("ret")
                if isinstance(ret, int) and ret >= 0:
                    self.wait_events[epfd] += ret
                else:
                    self.wait_errors[epfd][r.get("errno")] += 1
                if isinstance(ret, int) and ret >= 0 and ret != len(ready):
                    self.fail(n, f"epoll_wait.ret = {ret} but ready has {len(ready)} entries")
                if isinstance(ret, int) and ret < 0 and ready:
                    self.fail(n, "a failed epoll_wait lists ready fds")
                if isinstance(r.get("maxevents"), int) and len(ready) > r["maxevents"]:
                    self.fail(n, f"ready has {len(ready)} entries, more than maxevents")
                if self.window and epfd not in registered:
                    registered[epfd] = dict(snapshot_registered)
                regs = registered[epfd]
                for item in ready:
                    self.ready_items += 1
                    if not isinstance(item, dict) or json_type(item.get("fd")) != INT \
                            or json_type(item.get("tag")) != INT \
                            or json_type(item.get("events")) != LIST:
                        self.fail(n, f"ready entry {item!r} is not {{fd, tag, events}}")
                        continue
                    for bad in set(item["events"]) - EPOLL_EVENT_NAMES:
                        self.fail(n, f"ready fd {item['fd']} has unknown event name {bad!r}")
                    reg = regs.get(item["fd"])
                    if reg is None or reg[0] != item["tag"]:
                        pending_stale[tid].append((item["fd"], item["tag"], n, idx, epfd))
            elif ev == "stale":
                self.stale_events += 1
                tid = r.get("tid")
                key = (r.get("fd"), r.get("tag"))
                for owner in [tid] + [t for t in pending_stale if t != tid]:
                    items = pending_stale.get(owner, [])
                    hit = next((it for it in items if (it[0], it[1]) == key), None)
                    if hit:
                        items.remove(hit)
                        break
            elif ev == "close":
                fd = r.get("fd")
                if r.get("ret") == 0:
                    self.connections.discard(fd)
                    if fd in registered:  # the epoll instance itself
                        registered.pop(fd)
                    for epfd, regs in registered.items():
                        if fd in regs:
                            if fd in self.eventfds:
                                # The poller's own wake-up eventfd, closed at shutdown just before
                                # the epoll fd itself.
                                self.note(f"eventfd {fd} closed while registered on epfd {epfd} "
                                          "(poller shutdown)")
                            else:
                                self.fail(n, f"fd {fd} closed while registered on epfd {epfd} "
                                             f"(ADD at line {regs[fd][1]}; no DEL before close)")
                            regs.pop(fd)
        for tid in list(pending_stale):
            flush_pending(tid)

        # Ready fds with no registration and no stale event: accept only an ADD of the same
        # fd and tag, from another thread, recorded after this epoll_wait (the kernel saw the
        # registration before the ADD's record was taken).
        for fd, tag, n, idx, epfd in unresolved:
            later = [h for h in ctl_history[(epfd, fd)] if h[0] > idx]
            if later and later[0][1] == "ADD" and later[0][2] == tag and later[0][3] == 0:
                if self.version >= 2:
                    self.fail(n, f"epoll_wait.ready names fd {fd} tag {tag} before its ADD at line "
                                 f"{later[0][0] + 1} (version 2 orders causally)")
                    continue
                self.raced_adds += 1
                continue
            where = last_del[epfd].get(fd)
            why = f"deleted at line {where}" if where and where < n else "not registered"
            reg = registered.get(epfd, {}).get(fd)
            self.fail(n, f"epoll_wait.ready names fd {fd} tag {tag}, {why} on epfd {epfd}, "
                         "and no stale event for it follows")
        if self.submitted > self.sqes:
            self.fail(0, f"uring_enter submitted {self.submitted} SQEs in all but only "
                         f"{self.sqes} uring_sqe events were recorded")
        elif self.submitted < self.sqes:
            self.note(f"{self.sqes - self.submitted} recorded SQE(s) never submitted "
                      "(pending at shutdown?)")
        if self.raced_adds:
            self.note(f"{self.raced_adds} ready fd(s) reported before their ADD's record "
                      "(ADD recorded just after by another thread)")
        for task, (fd, mode, pl) in parked.items():
            self.fail(pl, f"task {task} parked on fd {fd} ({mode}) and never woken")

    def count_completion(self, op, r):
        """Completion mode: a CQE of an ACCEPT, RECV or SEND is that call's result (docs/trace-format.md,
        "Counting in completion mode"), counted as the accept, read or write it replaces."""
        res = r.get("res")
        if op not in ("ACCEPT", "RECV", "SEND") or not isinstance(res, int) or isinstance(res, bool) \
                or res < 0:
            return
        self.completions[op] += 1
        if op == "ACCEPT":
            self.accepts += 1
            self.connections.add(res)
        elif res > 0:
            self.io_bytes["read" if op == "RECV" else "write"] += res
            if op == "RECV" and r.get("fd") in self.connections:
                self.requests += 1

    # -- output -----------------------------------------------------------------------------
    def summary_lines(self):
        out = []
        out.append(f"{self.lines} lines, backend {self.backend}, "
                   f"{self.parks} parks, {sum(self.wakes.values())} wakes "
                   f"({', '.join(f'{k} {v}' for k, v in sorted(self.wakes.items()))}), "
                   + (f"{self.ready_items} ready fds, " if self.epfds else "")
                   + (f"{self.sqes} SQEs, {self.cqes} CQEs, " if self.ring_fds else "")
                   + ("completed " + ", ".join(f"{op} {n}" for op, n in sorted(self.completions.items()))
                      + ", " if self.completions else "")
                   + f"{self.stale_events} stale")
        return out

    def report(self, out):
        for line in self.summary_lines():
            print(f"  {line}", file=out)
        for note in self.notes:
            print(f"  note: {note}", file=out)
        for line, msg in self.violations:
            print(f"  {self.path}:{line}: {msg}", file=out)
        if self.violation_count > len(self.violations):
            print(f"  ... and {self.violation_count - len(self.violations)} more", file=out)
