"""Self-tests of the acceptance checkers: they must pass good traces and catch bad ones.

Run: python3 -m unittest discover -s tools/lib -p 'test_*.py'
"""

import json
import os
import tempfile
import unittest

from stracecount import StraceCount
from tracecheck import TraceCheck

START = {"ev": "trace_start", "format": "netpoll-trace", "version": 1, "backend": "epoll",
         "pid": 100, "wall": "2026-11-26T22:50:01.123456Z", "command": "netpoll serve",
         "backend_note": ""}
SETUP = [
    {"ev": "epoll_create", "epfd": 3, "flags": ["EPOLL_CLOEXEC"], "ret": 3},
    {"ev": "eventfd", "fd": 4, "ret": 4},
    {"ev": "epoll_ctl", "epfd": 3, "op": "ADD", "fd": 4, "events": ["EPOLLIN", "EPOLLET"],
     "tag": 0, "ret": 0},
    {"ev": "epoll_ctl", "epfd": 3, "op": "ADD", "fd": 7,
     "events": ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLET"], "tag": 1, "ret": 0},
]


def wait(*ready, tid=2):
    return {"ev": "epoll_wait", "tid": tid, "epfd": 3, "maxevents": 128, "timeout_ms": -1,
            "ret": len(ready), "dur_ns": 10,
            "ready": [{"fd": fd, "tag": tag, "events": ["EPOLLIN"]} for fd, tag in ready]}


START_V2 = dict(START, version=2, source="runtime")


def trace_text(body, end=True, fix=True, start=START, first_seq=1):
    events = [dict(start)] + [dict(e) for e in body]
    if end:
        count = "lines" if start.get("version") == 2 else "events"
        events.append({"ev": "trace_end", count: len(events) + 1, "dropped": 0})
    lines = []
    seq = first_seq - 1
    for i, e in enumerate(events):
        if fix:
            snapshot = e["ev"].startswith("snapshot_")
            if i > 0 and not snapshot:
                seq += 1
            e = {"seq": 0 if i == 0 or snapshot else seq, "ts": i * 10, "tid": e.pop("tid", 1), **e}
        lines.append(json.dumps(e, separators=(",", ":")) + "\n")
    return "".join(lines)


class TraceCheckTests(unittest.TestCase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(text)
        try:
            return TraceCheck(f.name).run()
        finally:
            os.unlink(f.name)

    def assertViolation(self, check, fragment):
        messages = [m for _, m in check.violations]
        self.assertFalse(check.ok, "expected a violation")
        self.assertTrue(any(fragment in m for m in messages), f"{fragment!r} not in {messages}")

    def test_a_consistent_trace_passes(self):
        body = SETUP + [
            {"ev": "read", "fd": 7, "len": 4096, "ret": -1, "errno": "EAGAIN"},
            {"ev": "park", "task": 1, "fd": 7, "mode": "r"},
            wait((7, 1)),
            {"ev": "wake", "task": 1, "fd": 7, "mode": "r", "reason": "ready", "tid": 2},
            {"ev": "read", "fd": 7, "len": 4096, "ret": 10},
            {"ev": "epoll_ctl", "epfd": 3, "op": "DEL", "fd": 7, "events": [], "tag": 1, "ret": 0},
            {"ev": "close", "fd": 7, "ret": 0},
        ]
        c = self.check(trace_text(body))
        self.assertTrue(c.ok, c.violations)
        self.assertEqual(c.epoll_calls[3]["ADD"], 2)
        self.assertEqual(c.epoll_calls[3]["wait"], 1)
        self.assertEqual(c.io_bytes["read"], 10)

    def test_seq_gap_and_wrong_trace_end(self):
        text = trace_text(SETUP)
        lines = text.splitlines(True)
        del lines[2]
        c = self.check("".join(lines))
        self.assertViolation(c, "seq 3, expected 2")
        self.assertViolation(c, "trace_end.events")

    def test_missing_trace_end(self):
        self.assertViolation(self.check(trace_text(SETUP, end=False)), "not trace_end")

    def test_errno_must_be_a_name(self):
        body = SETUP + [{"ev": "read", "fd": 7, "len": 1, "ret": -1, "errno": 11}]
        c = self.check(trace_text(body))
        self.assertViolation(c, "not an errno name")

    def test_failed_call_needs_errno(self):
        c = self.check(trace_text(SETUP + [{"ev": "read", "fd": 7, "len": 1, "ret": -1}]))
        self.assertViolation(c, "without errno")

    def test_park_without_wake_and_wake_without_park(self):
        c = self.check(trace_text(SETUP + [{"ev": "park", "task": 1, "fd": 7, "mode": "r"}]))
        self.assertViolation(c, "never woken")
        c = self.check(trace_text(SETUP + [
            {"ev": "wake", "task": 1, "fd": 7, "mode": "r", "reason": "ready"}]))
        self.assertViolation(c, "not parked")

    def test_wake_must_match_fd_and_mode(self):
        c = self.check(trace_text(SETUP + [
            {"ev": "park", "task": 1, "fd": 7, "mode": "r"},
            {"ev": "wake", "task": 1, "fd": 7, "mode": "w", "reason": "ready"}]))
        self.assertViolation(c, "but it parked on fd 7 (r)")

    def test_ready_for_a_deleted_fd_needs_a_stale_event(self):
        deleted = SETUP + [
            {"ev": "epoll_ctl", "epfd": 3, "op": "DEL", "fd": 7, "events": [], "tag": 1, "ret": 0},
            wait((7, 1))]
        self.assertViolation(self.check(trace_text(deleted)), "deleted at line")
        dropped = deleted + [{"ev": "stale", "fd": 7, "tag": 1, "current_tag": -1, "mode": "r",
                              "tid": 2}]
        c = self.check(trace_text(dropped))
        self.assertTrue(c.ok, c.violations)

    def test_ready_with_an_old_tag_needs_a_stale_event(self):
        c = self.check(trace_text(SETUP + [wait((7, 9))]))
        self.assertViolation(c, "fd 7 tag 9")

    def test_ready_just_before_the_add_record_of_another_thread_is_a_note(self):
        body = SETUP[:3] + [wait((7, 1), tid=2),
                            dict(SETUP[3], tid=5)]
        c = self.check(trace_text(body))
        self.assertTrue(c.ok, c.violations)
        self.assertEqual(c.raced_adds, 1)

    def test_close_while_registered(self):
        c = self.check(trace_text(SETUP + [{"ev": "close", "fd": 7, "ret": 0}]))
        self.assertViolation(c, "closed while registered")

    def test_field_types_are_fixed(self):
        body = SETUP + [{"ev": "read", "fd": 7, "len": 1, "ret": 1},
                        {"ev": "read", "fd": "7", "len": 1, "ret": 1}]
        self.assertViolation(self.check(trace_text(body)), "read.fd is string")

    def test_a_completion_needs_a_recorded_submission(self):
        ring = [{"ev": "uring_setup", "ring_fd": 5, "entries": 256, "cq_entries": 1024,
                 "flags": [], "features": []}]
        sqe = {"ev": "uring_sqe", "op": "POLL_ADD", "fd": 7, "user_data": 42, "flags": []}
        enter = {"ev": "uring_enter", "ring_fd": 5, "to_submit": 1, "min_complete": 0,
                 "flags": [], "ret": 1, "dur_ns": 5}
        cqe = {"ev": "uring_cqe", "user_data": 42, "res": 1, "flags": ["MORE"], "fd": 7}
        c = self.check(trace_text(ring + [sqe, enter, cqe]))
        self.assertTrue(c.ok, c.violations)
        self.assertViolation(self.check(trace_text(ring + [enter, cqe])), "matches no earlier")

    def test_completion_mode_counts_accept_recv_and_send_completions(self):
        start = dict(START, backend="uring-completion")
        op = lambda slot, gen=0: 2**62 + (gen << 32) + slot  # noqa: E731
        body = [
            {"ev": "uring_setup", "ring_fd": 5, "entries": 256, "cq_entries": 1024,
             "flags": [], "features": []},
            {"ev": "socket", "fd": 6, "domain": "AF_INET", "ret": 6},
            {"ev": "listen", "fd": 6, "backlog": 511, "ret": 0},
            {"ev": "park", "task": 1, "fd": 6, "mode": "r"},
            {"ev": "uring_sqe", "op": "ACCEPT", "fd": 6, "user_data": op(0), "flags": []},
            {"ev": "uring_enter", "ring_fd": 5, "to_submit": 1, "min_complete": 1,
             "flags": ["GETEVENTS"], "ret": 1, "dur_ns": 5},
            {"ev": "uring_cqe", "user_data": op(0), "res": 9, "flags": [], "fd": 6},
            {"ev": "wake", "task": 1, "fd": 6, "mode": "r", "reason": "ready"},
            # The slot is reused with a new generation for a RECV: latest SQE wins.
            {"ev": "park", "task": 2, "fd": 9, "mode": "r"},
            {"ev": "uring_sqe", "op": "RECV", "fd": 9, "user_data": op(0, 1), "flags": []},
            {"ev": "park", "task": 1, "fd": 6, "mode": "r"},
            {"ev": "uring_sqe", "op": "ACCEPT", "fd": 6, "user_data": op(1), "flags": []},
            {"ev": "uring_enter", "ring_fd": 5, "to_submit": 2, "min_complete": 1,
             "flags": ["GETEVENTS"], "ret": 2, "dur_ns": 5},
            {"ev": "uring_cqe", "user_data": op(0, 1), "res": 100, "flags": [], "fd": 9},
            {"ev": "wake", "task": 2, "fd": 9, "mode": "r", "reason": "ready"},
            {"ev": "park", "task": 2, "fd": 9, "mode": "w"},
            {"ev": "uring_sqe", "op": "SEND", "fd": 9, "user_data": op(0, 2), "flags": []},
            {"ev": "uring_enter", "ring_fd": 5, "to_submit": 1, "min_complete": 1,
             "flags": ["GETEVENTS"], "ret": 1, "dur_ns": 5},
            {"ev": "uring_cqe", "user_data": op(0, 2), "res": 60, "flags": [], "fd": 9},
            {"ev": "wake", "task": 2, "fd": 9, "mode": "w", "reason": "ready"},
            # A failed RECV and the end of stream move no bytes and are no request.
            {"ev": "park", "task": 2, "fd": 9, "mode": "r"},
            {"ev": "uring_sqe", "op": "RECV", "fd": 9, "user_data": op(0, 3), "flags": []},
            {"ev": "uring_enter", "ring_fd": 5, "to_submit": 1, "min_complete": 1,
             "flags": ["GETEVENTS"], "ret": 1, "dur_ns": 5},
            {"ev": "uring_cqe", "user_data": op(0, 3), "res": -104, "errno": "ECONNRESET",
             "flags": [], "fd": 9},
            {"ev": "wake", "task": 2, "fd": 9, "mode": "r", "reason": "ready"},
            {"ev": "close", "fd": 9, "ret": 0},
            # Shutdown: the pending ACCEPT is cancelled (tag 0, the socket's fd).
            {"ev": "uring_sqe", "op": "ASYNC_CANCEL", "fd": 6, "user_data": 6, "flags": []},
            {"ev": "uring_enter", "ring_fd": 5, "to_submit": 1, "min_complete": 0,
             "flags": [], "ret": 1, "dur_ns": 5},
            {"ev": "uring_cqe", "user_data": op(1), "res": -125, "errno": "ECANCELED",
             "flags": [], "fd": 6},
            {"ev": "wake", "task": 1, "fd": 6, "mode": "r", "reason": "close"},
            {"ev": "uring_cqe", "user_data": 6, "res": 0, "flags": [], "fd": 6},
        ]
        c = self.check(trace_text(body, start=start))
        self.assertTrue(c.ok, c.violations)
        self.assertEqual(c.backend, "uring-completion")
        self.assertEqual(c.accepts, 1)
        self.assertEqual(c.io_bytes["read"], 100)
        self.assertEqual(c.io_bytes["write"], 60)
        self.assertEqual(c.requests, 1)
        self.assertEqual(dict(c.completions), {"ACCEPT": 1, "RECV": 1, "SEND": 1})
        self.assertEqual((c.sqes, c.submitted), (6, 6))

    def test_unknown_event(self):
        self.assertViolation(self.check(trace_text(SETUP + [{"ev": "mystery"}])), "unknown event")

    # -- version 2 ------------------------------------------------------------------------------
    def test_version_2_passes_with_lines_and_source(self):
        c = self.check(trace_text(SETUP + [wait((7, 1))], start=START_V2))
        self.assertTrue(c.ok, c.violations)

    def test_version_2_trace_end_says_lines_not_events(self):
        text = trace_text(SETUP, start=START_V2).replace('"lines":', '"events":')
        self.assertViolation(self.check(text), "trace_end has no 'lines'")

    def test_version_2_needs_a_known_source(self):
        start = dict(START_V2)
        del start["source"]
        self.assertViolation(self.check(trace_text(SETUP, start=start)), "no 'source'")
        bad = dict(START_V2, source="dtrace")
        self.assertViolation(self.check(trace_text(SETUP, start=bad)), "trace_start.source")

    def test_version_2_has_one_type_per_field_name(self):
        body = SETUP + [{"ev": "read", "fd": 7, "len": 1, "ret": 1, "events": 3}]
        self.assertViolation(self.check(trace_text(body, start=START_V2)), "several JSON types")

    def test_version_2_ready_before_its_add_is_a_violation(self):
        body = SETUP[:3] + [wait((7, 1), tid=2), dict(SETUP[3], tid=5)]
        self.assertViolation(self.check(trace_text(body, start=START_V2)), "before its ADD")

    def test_a_window_starts_from_its_snapshot(self):
        start = dict(START_V2, window=True, window_seq=40, window_ts=10, trigger="SIGUSR1")
        body = [{"ev": "snapshot_fd", "fd": 7, "tag": 1},
                {"ev": "snapshot_park", "task": 2, "fd": 7, "mode": "r"},
                wait((7, 1)),
                {"ev": "wake", "task": 2, "fd": 7, "mode": "r", "reason": "ready"}]
        c = self.check(trace_text(body, start=start, first_seq=40))
        self.assertTrue(c.ok, c.violations)
        late = body[2:3] + body[:1] + body[3:]
        self.assertViolation(self.check(trace_text(late, start=start, first_seq=40)),
                             "after the window's first event")
        self.assertViolation(self.check(trace_text(body[:2], start=START_V2)),
                             "not a flight-recorder window")


STRACE = """\
200 epoll_create1(EPOLL_CLOEXEC)      = 3
201 epoll_create1(EPOLL_CLOEXEC)      = 7
201 epoll_ctl(7, EPOLL_CTL_ADD, 8, {events=EPOLLIN|EPOLLET, data={u32=8, u64=8}}) = 0
202 epoll_wait(7,  <unfinished ...>
201 epoll_ctl(7, EPOLL_CTL_ADD, 9, {events=EPOLLIN, data={u32=9, u64=9}} <unfinished ...>
202 <... epoll_wait resumed>[{events=EPOLLIN, data={u32=9, u64=4294967305}}], 128, -1) = 1
201 <... epoll_ctl resumed>)          = 0
202 epoll_wait(7, 0x7f, 128, 0)       = -1 EINTR (Interrupted system call)
203 epoll_wait(3, [], 16, 0)          = 0
201 epoll_ctl(7, EPOLL_CTL_DEL, 9, 0x7f) = 0
201 close(9)                          = 0
200 --- SIGINT {si_signo=SIGINT, si_code=SI_USER, si_pid=1, si_uid=0} ---
203 epoll_wait(3,  <unfinished ...>
202 epoll_wait(7, [], 128, -1)        = 0
201 close(7)                          = 0
201 epoll_wait(7, 0x7f, 128, 0)       = -1 EBADF (Bad file descriptor)
203 <... epoll_wait resumed> <unfinished ...>) = ?
200 +++ exited with 0 +++
"""


class StraceCountTests(unittest.TestCase):
    def test_counts_split_calls_once_and_only_on_the_live_instance(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(STRACE)
        try:
            s = StraceCount(f.name).run()
        finally:
            os.unlink(f.name)
        (ours,) = s.for_fd(7, "epoll")
        self.assertEqual(dict(ours.ctl), {"ADD": 2, "DEL": 1})
        self.assertEqual(ours.ctl_fds[("DEL", 9)], 1)
        self.assertEqual(ours.waits, 3)  # the one after close(7) is not ours any more
        self.assertEqual(ours.wait_events, 1)
        self.assertEqual(dict(ours.wait_errors), {"EINTR": 1})
        (theirs,) = s.for_fd(3, "epoll")
        self.assertEqual(theirs.waits, 1)
        self.assertEqual(dict(theirs.unreturned), {"epoll_wait": 1})
        self.assertEqual(s.exit_codes[200], 0)
        self.assertEqual(s.unparsed, 0)


if __name__ == "__main__":
    unittest.main()
