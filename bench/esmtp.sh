#!/usr/bin/env bash
# ESMTP with PIPELINING against the classic conversation, side by side in one
# run with Postfix's smtp-source, all against smtp-sink on loopback:
# 1. per-message wall time of one 1 KB delivery (hyperfine medians), direct;
# 2. the same through a proxy that holds each chunk 5 ms each way, so every
#    round trip costs 10 ms and the round trips show on the clock;
# 3. throughput: the gateway with 20 wrk connections in each mode, next to
#    smtp-source -s 20.
# Usage: bench/esmtp.sh [runs] [seconds]   (default 100 runs, 8 s per load run)
runs=${1:-100}; seconds=${2:-8}
source "$(dirname "$0")/common.sh"
bin="$PWD/.build/release/qmail-remote"; httpd="$PWD/.build/release/qmail-remote-httpd"
sink=$(free_port); slow=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$sink" 1024 & started $!
python3 bench/latency_proxy.py "$slow" "$sink" 5 & started $!
for mode in esmtp classic; do
    mkdir -p "$work/$mode/control" "$work/$mode/queue/lock"
    echo bench.localhost > "$work/$mode/control/me"
    printf 'sink.test:127.0.0.1:%s\nslow.test:127.0.0.1:%s\n' "$sink" "$slow" > "$work/$mode/control/smtproutes"
done
echo 1 > "$work/esmtp/control/esmtp"; echo 0 > "$work/classic/control/esmtp"
{ printf 'Subject: bench\n\n'; for _ in $(seq 13); do printf '%075d\n' 0; done; } > "$work/1k.eml"
sleep 0.5

one() { echo "QMAILHOME=$work/$1 $bin $2 b@localhost r@$2 < $work/1k.eml > /dev/null"; }
source_one() { echo "/usr/sbin/smtp-source -m 1 -s 1 -l 1024 -f b@localhost -t r@sink.test 127.0.0.1:$1"; }
hyperfine --warmup 5 --runs "$runs" --export-json "$work/direct.json" \
    -n esmtp "$(one esmtp sink.test)" -n classic "$(one classic sink.test)" -n smtp-source "$(source_one "$sink")" > /dev/null 2>&1
hyperfine --warmup 2 --runs $(( runs / 4 > 10 ? runs / 4 : 10 )) --export-json "$work/delayed.json" \
    -n esmtp "$(one esmtp slow.test)" -n classic "$(one classic slow.test)" -n smtp-source "$(source_one "$slow")" > /dev/null 2>&1

rate() {   # mode -> messages/s through the gateway
    local port; port=$(free_port)
    QMAILHOME="$work/$1" "$httpd" --listen 127.0.0.1:"$port" 2>/dev/null & local gw=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
    wrk -t 2 -c 20 -d 2s -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" >/dev/null
    wrk -t 2 -c 20 -d "${seconds}s" -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" \
        | awk '$1 == "WRK_REQUESTS" { n = $2 } $1 == "WRK_SECONDS" { s = $2 } END { printf "%.0f\n", n / s }'
    kill -TERM "$gw"; wait "$gw" || true
}
esmtp_rate=$(rate esmtp); classic_rate=$(rate classic)
start=$(date +%s.%N)
/usr/sbin/smtp-source -s 20 -m 20000 -l 1024 -f b@localhost -t r@sink.test 127.0.0.1:"$sink"
source_rate=$(python3 -c "import sys; print(round(20000 / ($(date +%s.%N) - $start)))")

python3 - "$work" "$esmtp_rate" "$classic_rate" "$source_rate" <<'PY'
import json, sys
work, esmtp, classic, source = sys.argv[1], *map(int, sys.argv[2:])
def medians(name):
    return {r["command"]: r["median"] * 1000 for r in json.load(open(f"{work}/{name}.json"))["results"]}
direct, delayed = medians("direct"), medians("delayed")
print("| one 1 KB message | direct, median (ms) | 10 ms round trips, median (ms) | round trips (delayed / 10 ms) |")
print("|---|---|---|---|")
for name, label in [("esmtp", "qmail-remote, ESMTP + PIPELINING"), ("classic", "qmail-remote, classic (esmtp 0)"),
                    ("smtp-source", "smtp-source -m 1")]:
    print(f"| {label} | {direct[name]:.2f} | {delayed[name]:.1f} | {delayed[name] / 10:.1f} |")
print(f"\nESMTP / classic, one message with 10 ms round trips: {delayed['esmtp'] / delayed['classic']:.2f}")
print("\n| throughput (gateway, wrk -c 20; smtp-source -s 20) | messages/s | vs smtp-source |")
print("|---|---|---|")
for label, value in [("gateway, ESMTP + PIPELINING", esmtp), ("gateway, classic", classic), ("smtp-source -s 20", source)]:
    print(f"| {label} | {value} | {value / source:.2f} |")
PY
