"""Self-tests of keep_traces: what tools/test hands tools/check-sql must be every trace a check
wrote, the ones cut short marked with their reason, and nothing else.

Run: python3 -m unittest discover -s tools/lib -p 'test_*.py'
"""

import os
import shutil
import tempfile
import unittest
from unittest import mock

from keeptraces import keep_traces


class KeepTracesTests(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="keeptraces-work-")
        self.kept = os.path.join(tempfile.mkdtemp(prefix="keeptraces-kept-"), "traces")
        os.makedirs(os.path.join(self.work, "sub"))
        for name in ("a.jsonl", os.path.join("sub", "a.jsonl"), "kill9.jsonl", "notes.txt"):
            with open(os.path.join(self.work, name), "w") as f:
                f.write(f"{name}\n")
        os.symlink(os.path.join(self.work, "a.jsonl"), os.path.join(self.work, "link.jsonl"))

    def tearDown(self):
        shutil.rmtree(self.work)
        shutil.rmtree(os.path.dirname(self.kept))

    def test_unset_keeps_nothing(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual(keep_traces(self.work, "x"), 0)
        self.assertFalse(os.path.exists(self.kept))

    def test_every_trace_once_links_and_other_files_left_out(self):
        with mock.patch.dict(os.environ, {"NETPOLL_KEEP_TRACES": self.kept}):
            n = keep_traces(self.work, "faults-epoll", {"kill9.jsonl": "torn on purpose"})
        self.assertEqual(n, 3)
        self.assertEqual(sorted(os.listdir(self.kept)), [
            "faults-epoll-a-2.jsonl", "faults-epoll-a.jsonl", "faults-epoll-kill9.jsonl",
            "faults-epoll-kill9.jsonl.invalid"])
        with open(os.path.join(self.kept, "faults-epoll-kill9.jsonl.invalid")) as f:
            self.assertEqual(f.read(), "torn on purpose\n")

    def test_a_second_run_does_not_overwrite_the_first(self):
        with mock.patch.dict(os.environ, {"NETPOLL_KEEP_TRACES": self.kept}):
            keep_traces(self.work, "same")
            keep_traces(self.work, "same")
        self.assertEqual(len([n for n in os.listdir(self.kept) if n.endswith(".jsonl")]), 6)


if __name__ == "__main__":
    unittest.main()
