#!/usr/bin/env bash
# Records the sample traces in this directory with the project's own CLI (see README.md).
#
#   swift build -c release && traces/record.sh            # all of them
#   NETPOLL=/path/to/netpoll traces/record.sh echo-uring  # one of them
#
# Each server listens on 127.0.0.1:0, gets a fixed load, and is stopped with SIGINT so its trace
# ends with trace_end. The binary is run as plain `netpoll` (through a symlink on PATH) so the
# traces' `command` field carries no build path.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
netpoll=$(realpath "${NETPOLL:-$here/../.build/release/netpoll}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
ln -s "$netpoll" "$work/bin/netpoll"
export PATH="$work/bin:$PATH"

server_pid=
address=

# start NAME SERVE-ARGS...: starts `netpoll serve` tracing to NAME.jsonl and sets $address.
start() {
  local name=$1
  shift
  rm -f "$here/$name.jsonl"
  (cd "$here" && exec netpoll serve "$@" --trace "$name.jsonl" --listen 127.0.0.1:0) >"$work/serve.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    address=$(sed -n 's/^listening on //p' "$work/serve.out")
    [ -n "$address" ] && return 0
    sleep 0.05
  done
  cat "$work/serve.out" >&2
  return 1
}

# stop: SIGINT, the documented clean stop (every parked task woken with reason "close").
stop() {
  kill -INT "$server_pid"
  wait "$server_pid"
}

# 8 connections x 50 requests x 512 bytes, every byte checked by `netpoll load`.
echo_load() { netpoll load --connect "$address" --connections 8 --requests 50 --size 512 >/dev/null; }

# 4 keep-alive connections x 25 GET requests (curl reuses its connection across a URL range).
http_load() {
  local pids=()
  for _ in 1 2 3 4; do
    curl -sf "http://$address/[1-25]" >/dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

# 3 clients that connect and never send, 1 that sends one request and then idles: with
# --idle-timeout-ms 200 the server's read deadlines fire and it closes all four.
idle_clients() {
  python3 - "$address" <<'EOF'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
idle = [socket.create_connection((host, int(port))) for _ in range(3)]
chatty = socket.create_connection((host, int(port)))
chatty.sendall(b"x" * 64)
assert chatty.recv(64)
time.sleep(0.6)
for s in idle + [chatty]:
    s.settimeout(1)
    assert s.recv(1) == b"", "the server should have closed the idle connection"
EOF
}

# NAME is KIND-BACKEND: echo, http or deadline on epoll, uring or uring-completion.
record() {
  local kind=${1%%-*} backend=${1#*-}
  case $backend in
  epoll | uring | uring-completion) ;;
  *)
    echo "unknown sample trace: $1" >&2
    return 2
    ;;
  esac
  case $kind in
  echo) start "$1" --backend "$backend" --protocol echo --workers 1 && echo_load && stop ;;
  http) start "$1" --backend "$backend" --protocol http --workers 1 && http_load && stop ;;
  deadline)
    start "$1" --backend "$backend" --protocol echo --workers 1 --idle-timeout-ms 200 && idle_clients && stop
    ;;
  *)
    echo "unknown sample trace: $1" >&2
    return 2
    ;;
  esac
  printf '%-26s %6d lines %8d bytes\n' "$1" "$(wc -l <"$here/$1.jsonl")" "$(wc -c <"$here/$1.jsonl")"
  # A sample trace must replay clean (exit 0); anything else is a runtime or checker bug to report.
  netpoll replay "$here/$1.jsonl" >/dev/null
}

if [ $# -eq 0 ]; then
  set -- echo-epoll echo-uring echo-uring-completion http-epoll http-uring http-uring-completion \
    deadline-epoll deadline-uring deadline-uring-completion
fi
for name in "$@"; do record "$name"; done
