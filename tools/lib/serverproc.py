"""Starting and stopping `netpoll serve` (optionally under strace) for the checks."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

LISTENING = re.compile(r"^listening on (\S+)\s*$")


def ensure_tool(command, package):
    """Installs `package` with apt-get when `command` is missing (sudo only when not root)."""
    if shutil.which(command):
        return True
    print(f"  installing {package} (for {command})", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (sudo + ["apt-get", "update", "-qq"],
                sudo + ["apt-get", "install", "-y", "-qq", package]):
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
        if proc.returncode != 0:
            print(f"  {' '.join(cmd)} failed: {proc.stderr.strip()[-400:]}", flush=True)
            return False
    return shutil.which(command) is not None


def split_address(address):
    """'127.0.0.1:8080' or '[::1]:8080' -> (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class Server:
    """A `netpoll serve` process; `wrapper` (e.g. strace ...) goes in front of it."""

    def __init__(self, binary, args, wrapper=(), log_path=None):
        self.argv = list(wrapper) + [binary, "serve"] + list(args)
        self.log_path = log_path
        self.proc = None
        self.address = None
        self.stdout_lines = []
        self.stderr_lines = []
        self._threads = []

    def start(self, timeout=60):
        """Starts the process and waits for its "listening on" line; returns the address or
        None (the reason is in `stderr_text()`)."""
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        found = threading.Event()

        def pump(stream, sink, look):
            for line in stream:
                sink.append(line.rstrip("\n"))
                if look:
                    m = LISTENING.match(line)
                    if m and not found.is_set():
                        self.address = m.group(1)
                        found.set()
            if look:
                found.set()  # EOF: it will not listen any more

        for stream, sink, look in ((self.proc.stdout, self.stdout_lines, True),
                                   (self.proc.stderr, self.stderr_lines, False)):
            t = threading.Thread(target=pump, args=(stream, sink, look), daemon=True)
            t.start()
            self._threads.append(t)
        found.wait(timeout)
        return self.address

    def server_pid(self):
        """The pid of `netpoll serve` itself: the process, or the wrapper's child."""
        if len(self.argv) and self.argv[0].endswith("strace"):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                kids = children(self.proc.pid)
                if kids:
                    return kids[0]
                time.sleep(0.05)
            return None
        return self.proc.pid

    def stop(self, sig=signal.SIGINT, timeout=60):
        """Sends `sig` to the server (not to a wrapper) and returns the exit status, or None if
        it did not exit in time (it is then killed)."""
        pid = self.server_pid()
        if pid is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        for t in self._threads:
            t.join(5)
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def stderr_text(self, last=5):
        return "\n".join(self.stderr_lines[-last:])


def children(pid):
    """The pids whose parent is `pid`."""
    path = f"/proc/{pid}/task/{pid}/children"
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        pass
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def probe_backend(binary, backend, timeout=20):
    """Whether `netpoll serve --backend BACKEND` starts here: (True, "") or (False, reason)."""
    s = Server(binary, ["--backend", backend, "--listen", "127.0.0.1:0"])
    address = s.start(timeout)
    if address:
        s.stop(signal.SIGTERM, timeout=20)
        return True, ""
    s.kill()
    for t in s._threads:
        t.join(2)
    reason = s.stderr_text(3).strip() or f"exited with {s.proc.returncode} without listening"
    return False, reason
