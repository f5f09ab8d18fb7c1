# Sourced by the benchmarks: builds, a work directory removed on exit with
# every process started through `started`, free loopback ports, the -u
# smtp-sink needs when run as root, and a store for the gateways started one
# after another (a SQLite file takes one gateway at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh bench
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --static-swift-stdlib >/dev/null
ulimit -n 16384

work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
started() { pids+=("$1"); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sink_user=(); [ "$(id -u)" = 0 ] && sink_user=(-u nobody)
export QMAIL_REMOTE_HTTPD_STORE="sqlite:$work/state.db"
