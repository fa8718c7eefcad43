# Shared by tools/test and tools/demo: sourced, not run.
# Installs what a fresh machine lacks (Debian packages, through apt-get) and finds the toolchain.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# Root runs apt-get as is; anyone else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=""
apt_install() {
  say "installing $* (apt-get)"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# liburing's headers and pkg-config file: the CURing module needs them to build at all.
ensure_liburing() {
  command -v pkg-config >/dev/null || apt_install pkg-config
  pkg-config --exists liburing || apt_install liburing-dev
  pkg-config --exists liburing || die "liburing-dev installed but pkg-config cannot find liburing"
}

# ensure_command COMMAND [PACKAGE]: installs PACKAGE (default: COMMAND) when COMMAND is missing.
ensure_command() {
  command -v "$1" >/dev/null || apt_install "${2:-$1}"
  command -v "$1" >/dev/null || die "$1 is still missing after installing ${2:-$1}"
}

# The Swift toolchain: on PATH, or at /opt/swift where this project's machines keep it.
ensure_swift() {
  if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  fi
  command -v swift >/dev/null || die "no swift on PATH (nor at /opt/swift/usr/bin)"
}

# Seconds since $1 (a `date +%s` value), for step timings.
since() { echo $(($(date +%s) - $1)); }
