#!/usr/bin/env python3
"""A short summary of a netpoll trace, stdlib only: the fallback tools/demo prints when
`netpoll stats` is not there. Usage: tracesummary.py TRACE"""

import json
import sys
from collections import Counter


def summarize(path):
    events = Counter()
    wakes = Counter()
    errnos = Counter()
    waits = {"block": 0, "poll": 0, "timed": 0}
    ready = 0
    wait_ns = 0
    io = Counter()
    eventfds = set()
    first_ts = last_ts = None
    backend = "?"
    enters = 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            ev = e.get("ev")
            events[ev] += 1
            ts = e.get("ts")
            if isinstance(ts, int):
                first_ts = ts if first_ts is None else first_ts
                last_ts = ts
            if "errno" in e:
                errnos[e["errno"]] += 1
            if ev == "trace_start":
                backend = e.get("backend", "?")
            elif ev == "wake":
                wakes[e.get("reason")] += 1
            elif ev == "eventfd":
                eventfds.add(e.get("fd"))
            elif ev == "epoll_wait":
                t = e.get("timeout_ms", -1)
                waits["block" if t < 0 else "poll" if t == 0 else "timed"] += 1
                ready += max(e.get("ret", 0), 0)
                wait_ns += e.get("dur_ns", 0)
            elif ev == "uring_enter":
                enters += 1
                wait_ns += e.get("dur_ns", 0)
            elif ev in ("read", "write") and e.get("fd") not in eventfds:
                if e.get("ret", 0) > 0:
                    io[ev] += e["ret"]
    secs = ((last_ts or 0) - (first_ts or 0)) / 1e9
    out = [f"{sum(events.values())} events over {secs:.2f} s, backend {backend}"]
    top = ", ".join(f"{k} {v}" for k, v in events.most_common(12))
    out.append(f"by event: {top}")
    calls = waits["block"] + waits["poll"] + waits["timed"]
    if calls:
        out.append(f"epoll_wait: {calls} calls (blocking {waits['block']}, non-blocking "
                   f"{waits['poll']}, timed {waits['timed']}), {ready / calls:.2f} fds per call, "
                   f"{wait_ns / 1e9:.2f} s inside")
    if enters:
        out.append(f"io_uring_enter: {enters} calls, {wait_ns / 1e9:.2f} s inside")
    out.append(f"park {events['park']}, wake {events['wake']} ("
               + ", ".join(f"{k} {v}" for k, v in sorted(wakes.items())) + ")")
    out.append(f"bytes read {io['read']}, written {io['write']}; failed calls: "
               + (", ".join(f"{k} {v}" for k, v in errnos.most_common(5)) or "none"))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for line in summarize(sys.argv[1]):
        print(line)
