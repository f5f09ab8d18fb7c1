#!/usr/bin/env bash
# The cost of STARTTLS per message: qmail-remote delivering a 1 KB message to
# the same TLS-capable sink (aiosmtpd with STARTTLS; smtp-sink has no TLS)
# in plain text (tlspolicy none), with STARTTLS (encrypt), and with STARTTLS
# and the certificate verified (verify), side by side in one hyperfine run;
# plus the same three through the gateway (wrk, 20 connections).
# Usage: bench/tls.sh [runs] [seconds]   (default 100 runs, 6 s)
set -euo pipefail
runs=${1:-100}; seconds=${2:-6}
source "$(dirname "$0")/common.sh"
bin="$PWD/.build/release/qmail-remote"; httpd="$PWD/.build/release/qmail-remote-httpd"

port=$(free_port)
python3 bench/tls_sink.py "$port" "$work/ca.pem" > "$work/sink.out" & started $!
for _ in $(seq 100); do grep -q ready "$work/sink.out" 2>/dev/null && break; sleep 0.1; done
for level in none encrypt verify; do
    mkdir -p "$work/$level/control" "$work/$level/queue/lock"
    echo bench.localhost > "$work/$level/control/me"
    echo ":127.0.0.1:$port" > "$work/$level/control/smtproutes"
    echo ":$level:$work/ca.pem" > "$work/$level/control/tlspolicy"
done
{ printf 'Subject: bench\n\n'; for _ in $(seq 13); do printf '%075d\n' 0; done; } > "$work/1k.eml"
one() { echo "QMAILHOME=$work/$1 $bin x.test b@localhost r@x.test < $work/1k.eml > /dev/null"; }
out=$(eval "QMAILHOME=$work/verify $bin x.test b@localhost r@x.test < $work/1k.eml" | tr '\0' '|')
case "$out" in r\|K*) ;; *) echo "delivery under verify failed: $out" >&2; exit 1 ;; esac

hyperfine --warmup 5 --runs "$runs" --export-json "$work/cli.json" \
    -n plain "$(one none)" -n starttls "$(one encrypt)" -n "starttls+verify" "$(one verify)" > /dev/null 2>&1

rate() {
    local gport; gport=$(free_port)
    QMAILHOME="$work/$1" "$httpd" --listen 127.0.0.1:"$gport" 2>/dev/null & local gw=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gport/healthz" >/dev/null && break; sleep 0.05; done
    wrk -t 2 -c 20 -d "${seconds}s" -s bench/gateway.lua "http://127.0.0.1:$gport/v1/deliveries" \
        | awk '$1 == "WRK_REQUESTS" { n = $2 } $1 == "WRK_SECONDS" { s = $2 } END { printf "%.0f\n", n / s }'
    kill -TERM "$gw"; wait "$gw" || true
}
plain_rate=$(rate none); tls_rate=$(rate encrypt); verify_rate=$(rate verify)

python3 - "$work" "$plain_rate" "$tls_rate" "$verify_rate" <<'PY'
import json, sys
work, plain, tls, verify = sys.argv[1], *map(int, sys.argv[2:])
rows = {r["command"]: r for r in json.load(open(f"{work}/cli.json"))["results"]}
base = rows["plain"]["median"]
print("| qmail-remote, 1 KB to aiosmtpd | wall median (ms) | vs plain | CPU mean (ms) |")
print("|---|---|---|---|")
for name in ["plain", "starttls", "starttls+verify"]:
    r = rows[name]
    print(f"| {name} | {r['median'] * 1000:.2f} | {r['median'] / base:.2f}x | {(r['user'] + r['system']) * 1000:.2f} |")
print()
print("| gateway, wrk -c 20 | messages/s | vs plain |")
print("|---|---|---|")
for name, value in [("plain", plain), ("starttls", tls), ("starttls+verify", verify)]:
    print(f"| {name} | {value} | {value / plain:.2f} |")
PY
