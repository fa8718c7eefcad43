"""Counts epoll and io_uring system calls per fd in `strace -f -o FILE` output.

Handles the `-f` pid prefix and calls split across lines by another thread
(`epoll_wait(7,  <unfinished ...>` then `<... epoll_wait resumed>[...], 128, -1) = 1`): each call
is counted once, when its result is seen. A call that never returned (`= ?`: the thread was still
blocked in it when the process exited) is counted apart, because the trace records a call only
after it returns.

Calls are counted only on fds that an `epoll_create1`/`io_uring_setup` in the same strace
returned, between that return and the fd's `close` (the process may hold other epoll instances:
libdispatch has its own, which the runtime's trace rightly does not show).
"""

import re
from collections import Counter, defaultdict

LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s+(E[A-Z0-9]+))?")
FIRST_ARG = re.compile(r"^\s*(-?\d+)")

CREATORS = {"epoll_create1": "epoll", "epoll_create": "epoll", "io_uring_setup": "uring"}
WAITS = {"epoll_wait", "epoll_pwait", "epoll_pwait2"}
CTL_OPS = {"EPOLL_CTL_ADD": "ADD", "EPOLL_CTL_MOD": "MOD", "EPOLL_CTL_DEL": "DEL"}


class Instance:
    """One epoll instance or io_uring ring, from its creation to its close."""

    def __init__(self, kind, fd):
        self.kind = kind
        self.fd = fd
        self.ctl = Counter()  # op -> calls
        self.ctl_fds = Counter()  # (op, fd) -> calls
        self.waits = 0
        self.wait_events = 0  # sum of positive results
        self.wait_errors = Counter()
        self.enters = 0
        self.enter_sum = 0
        self.enter_errors = Counter()
        self.unreturned = Counter()  # name -> calls that never returned
        self.closed = False


class StraceCount:
    def __init__(self, path):
        self.path = path
        self.instances = defaultdict(list)  # fd -> [Instance]
        self.exit_codes = {}  # pid -> status ("exited with N" / "killed by SIG")
        self.unparsed = 0
        self.signals = Counter()

    def live(self, fd):
        insts = self.instances.get(fd)
        if insts and not insts[-1].closed:
            return insts[-1]
        return None

    def run(self):
        pending = {}  # pid -> (name, args so far)
        with open(self.path, errors="replace") as f:
            for raw in f:
                m = LINE.match(raw.rstrip("\n"))
                if not m:
                    self.unparsed += 1
                    continue
                pid, rest = int(m.group(1)), m.group(2)
                if rest.startswith("+++"):
                    ex = re.search(r"exited with (\d+)|killed by (\w+)", rest)
                    if ex:
                        self.exit_codes[pid] = int(ex.group(1)) if ex.group(1) else ex.group(2)
                    continue
                if rest.startswith("---"):
                    sig = re.search(r"--- (SIG\w+)", rest)
                    if sig:
                        self.signals[sig.group(1)] += 1
                    continue
                r = RESUMED.match(rest)
                if r:
                    name, tail = r.group(1), r.group(2)
                    start = pending.pop(pid, None)
                    if start is None or start[0] != name:
                        self.unparsed += 1
                        continue
                    self.complete(name, start[1] + tail)
                    continue
                c = CALL.match(rest)
                if not c:
                    self.unparsed += 1
                    continue
                name, args = c.group(1), c.group(2)
                if args.endswith("<unfinished ...>"):
                    pending[pid] = (name, args[: -len("<unfinished ...>")])
                    continue
                self.complete(name, args)
        # Calls still pending at the end never returned either.
        for name, args in pending.values():
            self.complete(name, args + ") = ?")
        return self

    def complete(self, name, args):
        res = RESULT.search(args)
        if not res:
            self.unparsed += 1
            return
        value, errname = res.group(1), res.group(2)
        first = FIRST_ARG.match(args)
        fd = int(first.group(1)) if first else None
        if name in CREATORS:
            if value not in ("?",) and int(value) >= 0:
                self.instances[int(value)].append(Instance(CREATORS[name], int(value)))
            return
        if name == "close":
            if value == "0" and fd is not None:
                inst = self.live(fd)
                if inst:
                    inst.closed = True
            return
        inst = self.live(fd) if fd is not None else None
        if inst is None:
            return
        if value == "?":
            inst.unreturned[name] += 1
            return
        ret = int(value)
        if name == "epoll_ctl":
            op_m = re.match(r"^\s*-?\d+,\s*(\w+),\s*(-?\d+)", args)
            op = CTL_OPS.get(op_m.group(1), op_m.group(1)) if op_m else "?"
            target = int(op_m.group(2)) if op_m else None
            inst.ctl[op] += 1
            inst.ctl_fds[(op, target)] += 1
        elif name in WAITS:
            inst.waits += 1
            if ret >= 0:
                inst.wait_events += ret
            else:
                inst.wait_errors[errname or "?"] += 1
        elif name == "io_uring_enter":
            inst.enters += 1
            if ret >= 0:
                inst.enter_sum += ret
            else:
                inst.enter_errors[errname or "?"] += 1

    def for_fd(self, fd, kind):
        """The instances of `kind` that strace saw numbered `fd` (usually exactly one)."""
        return [i for i in self.instances.get(fd, []) if i.kind == kind]
