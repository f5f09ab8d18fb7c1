#!/usr/bin/env bash
# The gateway under hostile HTTP, default flags, against Postfix's smtp-sink:
# 1. 5000 slow connections from 127.0.0.2-51 (a header byte every 5 s,
#    reopened when closed) while /healthz and a 1 KB delivery are probed
#    every second: successes, p50/p99/max, peak RSS and threads.
# 2. Throughput (wrk -c 20, 1 KB JSON) without and with 1000 idle kept-alive
#    connections open, interleaved, three rounds each: medians and ratio,
#    peak RSS and threads with them open.
# 3. 20 concurrent 26 MB JSON requests (a 25 MB message each): statuses,
#    seconds, peak RSS.
# Usage: bench/hostile.sh [probe seconds] [wrk seconds]   (default 30 and 10)
probe_seconds=${1:-30}
wrk_seconds=${2:-10}
source "$(dirname "$0")/common.sh"
httpd="$PWD/.build/release/qmail-remote-httpd"
status_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.05; done; echo "gateway did not start" >&2; exit 1; }
# Peak thread count of a process, sampled every 0.2 s until the file $2 exists.
sample_threads() { local max=0; while [ ! -e "$2" ]; do t=$(status_of "$1" Threads 2>/dev/null || echo 0); [ "${t:-0}" -gt "$max" ] && max=$t; sleep 0.2; done; echo "$max"; }

sink_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$sink_port" 1024 & started $!
mkdir -p "$work/qmail/control" "$work/qmail/queue/lock" "$work/spool"
echo bench.localhost > "$work/qmail/control/me"
echo ":127.0.0.1:$sink_port" > "$work/qmail/control/smtproutes"
sleep 0.5
start_gateway() {
    port=$(free_port)
    QMAILHOME="$work/qmail" TMPDIR="$work/spool" "$httpd" --listen 127.0.0.1:"$port" 2>/dev/null & gw=$!
    started "$gw"
    wait_up "$port"
}
stop_gateway() { kill -TERM "$gw"; wait "$gw" || true; }

# 1. Slow connections and probes.
start_gateway
rm -f "$work/done1"
sample_threads "$gw" "$work/done1" > "$work/threads1" &
sampler=$!
python3 bench/hostile_clients.py slow "$port" "$((probe_seconds + 2))" 5000 > "$work/slow.txt" & slow=$!
sleep 4
python3 bench/hostile_clients.py probe "$port" "$probe_seconds" > "$work/probe.txt"
wait "$slow"
touch "$work/done1"; wait "$sampler"
slow_rss=$(status_of "$gw" VmHWM)
stop_gateway

# 2. Throughput without and with 1000 idle kept-alive connections.
start_gateway
wrk -t 2 -c 20 -d 2s -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" >/dev/null   # warm-up
for round in 1 2 3; do
    wrk -t 2 -c 20 -d "${wrk_seconds}s" -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" > "$work/plain$round.txt"
    mkfifo "$work/hold$round"
    python3 bench/hostile_clients.py idle "$port" 1000 < "$work/hold$round" > "$work/idle$round.txt" & holder=$!
    exec 7> "$work/hold$round"
    while ! grep -q IDLE_OPEN "$work/idle$round.txt" 2>/dev/null; do sleep 0.1; done
    rm -f "$work/done2"
    sample_threads "$gw" "$work/done2" > "$work/threads2.$round" &
    sampler=$!
    wrk -t 2 -c 20 -d "${wrk_seconds}s" -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" > "$work/idle_wrk$round.txt"
    touch "$work/done2"; wait "$sampler"
    exec 7>&-
    wait "$holder" || true
done
idle_rss=$(status_of "$gw" VmHWM)
stop_gateway

# 3. 20 concurrent 26 MB JSON requests.
python3 - "$work/big.json" <<'PY'
import json, sys
line = "The quick brown fox jumps over the lazy dog, again and again and again.\n"
text = "Subject: big\n\n" + line * (25_000_000 // len(line))
with open(sys.argv[1], "w") as out:
    json.dump({"sender": "b@localhost", "recipients": ["r@sink.test"], "host": "sink.test", "message": text}, out)
PY
start_gateway
big_start=$(date +%s.%N)
curls=()
for i in $(seq 20); do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' --data-binary @"$work/big.json" \
        "http://127.0.0.1:$port/v1/deliveries" > "$work/big$i.txt" & curls+=($!)
done
wait "${curls[@]}"
big_end=$(date +%s.%N)
big_rss=$(status_of "$gw" VmHWM)
stop_gateway

python3 - "$work" "$slow_rss" "$idle_rss" "$big_rss" "$big_start" "$big_end" <<'PY'
import glob, os, statistics, sys
work, slow_rss, idle_rss, big_rss, big_start, big_end = sys.argv[1:]
def kv(path):
    return dict(l.split(None, 1) for l in open(path) if l.strip() and l.split()[0].isupper())
slow = kv(f"{work}/slow.txt") | kv(f"{work}/probe.txt")
threads1 = open(f"{work}/threads1").read().strip()
print("1. 5000 slow connections from 127.0.0.2-51, probes from 127.0.0.1 once a second")
print("| probe | succeeded | p50 (ms) | p99 (ms) | max (ms) |")
print("|---|---|---|---|---|")
for name, label in (("HEALTH", "GET /healthz"), ("DELIVERY", "POST 1 KB delivery")):
    print(f"| {label} | {slow[name + '_OK'].strip()} | {float(slow[name + '_P50_MS']):.2f} | "
          f"{float(slow[name + '_P99_MS']):.2f} | {float(slow[name + '_MAX_MS']):.2f} |")
print(f"slow connections open: median {slow['SLOW_OPEN_MEDIAN'].strip()}, min {slow['SLOW_OPEN_MIN'].strip()}; "
      f"gateway peak RSS {int(slow_rss) / 1024:.1f} MB, peak threads {threads1}")
def rate(path):
    w = kv(path)
    return int(w["WRK_REQUESTS"]) / float(w["WRK_SECONDS"]), int(w["WRK_ERRORS"])
plain = [rate(f"{work}/plain{r}.txt") for r in (1, 2, 3)]
idle = [rate(f"{work}/idle_wrk{r}.txt") for r in (1, 2, 3)]
threads2 = max(int(open(p).read().strip() or 0) for p in glob.glob(f"{work}/threads2.*"))
p, i = statistics.median(x for x, _ in plain), statistics.median(x for x, _ in idle)
print("\n2. Throughput, wrk -c 20, 1 KB JSON, three rounds each, interleaved")
print("| run | messages/s (median) | rounds | wrk errors | ratio |")
print("|---|---|---|---|---|")
print(f"| no idle connections | {p:.0f} | {', '.join(f'{x:.0f}' for x, _ in plain)} | {sum(e for _, e in plain)} | 1.00 |")
print(f"| 1000 idle kept-alive connections | {i:.0f} | {', '.join(f'{x:.0f}' for x, _ in idle)} | "
      f"{sum(e for _, e in idle)} | {i / p:.2f} |")
print(f"gateway peak RSS {int(idle_rss) / 1024:.1f} MB, peak threads with the idle connections open {threads2}")
statuses = [open(f"{work}/big{n}.txt").read().strip() for n in range(1, 21)]
print("\n3. 20 concurrent 26 MB JSON requests (25 MB message each)")
print(f"statuses {sorted(set(statuses))} x{len(statuses)}, {float(big_end) - float(big_start):.1f} s, "
      f"gateway peak RSS {int(big_rss) / 1024:.1f} MB")
PY
