#!/usr/bin/env bash
# The gateway under load, against Postfix's smtp-sink on loopback:
# 1. wrk, 20 connections POSTing a 1 KB JSON message, side by side in the same
#    run with smtp-source -s 20 (Postfix's C client, one message per
#    connection) against the same sink: messages/s of both and their ratio,
#    the gateway's p50/p99 and peak RSS.
# 2. Peak RSS growth while one 100 MB raw message is delivered.
# 3. 1000 concurrent requests from one address against a slow sink (smtp-sink -w 2): no error,
#    and the gateway's peak RSS.
# Usage: bench/gateway.sh [seconds]   (default 10 per load run)
seconds=${1:-10}
source "$(dirname "$0")/common.sh"
httpd="$PWD/.build/release/qmail-remote-httpd"
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # kB
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.05; done; echo "gateway did not start" >&2; exit 1; }

sink_port=$(free_port); slow_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$sink_port" 1024 & started $!
/usr/sbin/smtp-sink "${sink_user[@]}" -w 2 127.0.0.1:"$slow_port" 2048 & started $!
mkdir -p "$work/qmail/control" "$work/qmail/queue/lock" "$work/slow/control" "$work/slow/queue/lock"
echo bench.localhost > "$work/qmail/control/me"; echo ":127.0.0.1:$sink_port" > "$work/qmail/control/smtproutes"
echo bench.localhost > "$work/slow/control/me"; echo ":127.0.0.1:$slow_port" > "$work/slow/control/smtproutes"
sleep 0.5

# 1. Throughput, gateway and smtp-source in one run.
port=$(free_port)
QMAILHOME="$work/qmail" "$httpd" --listen 127.0.0.1:"$port" 2>/dev/null & gw=$!; started $gw
wait_up "$port"
wrk -t 2 -c 20 -d 2s -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" >/dev/null   # warm-up
wrk -t 2 -c 20 -d "${seconds}s" --latency -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" > "$work/wrk.txt"
gw_peak=$(rss "$gw" VmHWM)
kill -TERM "$gw"; wait "$gw" || true
messages=$(awk '$1 == "WRK_REQUESTS" { print $2 }' "$work/wrk.txt")
src_messages=$(( messages > 2000 ? messages : 2000 ))
start=$(date +%s.%N)
/usr/sbin/smtp-source -s 20 -m "$src_messages" -l 1024 -f bench@localhost -t rcpt@sink.test 127.0.0.1:"$sink_port"
end=$(date +%s.%N)

# 2. One 100 MB raw message: growth of the gateway's peak RSS over its idle RSS.
python3 -c '
import base64, os, sys
out = open(sys.argv[1], "wb"); left = 100 * 1000 * 1000
while left > 0:
    chunk = base64.encodebytes(os.urandom(57 * 1024))[:left]
    if len(chunk) == left: chunk = chunk[:-1] + b"\n"
    out.write(chunk); left -= len(chunk)
' "$work/100m.eml"
port=$(free_port)
QMAILHOME="$work/qmail" "$httpd" --listen 127.0.0.1:"$port" --max-message-bytes 200000000 2>/dev/null & gw=$!; started $gw
wait_up "$port"
curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d '{"sender":"b@localhost","recipients":["r@sink.test"],"message":"Subject: warm\n\nup\n"}' "http://127.0.0.1:$port/v1/deliveries"
idle=$(rss "$gw" VmRSS)
big_status=$(curl -s -o "$work/big.json" -w '%{http_code}' -H 'Content-Type: message/rfc822' --data-binary @"$work/100m.eml" \
    "http://127.0.0.1:$port/v1/deliveries?sender=b%40localhost&recipient=r%40sink.test")
big_peak=$(rss "$gw" VmHWM)
kill -TERM "$gw"; wait "$gw" || true

# 3. 1000 concurrent requests against the slow sink.
port=$(free_port)
QMAILHOME="$work/slow" "$httpd" --listen 127.0.0.1:"$port" --concurrency 250 --queue-length 1000 --max-connections-per-ip 1200 \
    --max-connections 1200 2>/dev/null & gw=$!; started $gw
wait_up "$port"
python3 - "$port" > "$work/burst.txt" <<'PY'
import concurrent.futures, http.client, json, sys, time
port = int(sys.argv[1])
body = json.dumps({"sender": "b@localhost", "recipients": ["r@sink.test"], "message": "Subject: slow\n\nx\n"})
def one(_):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        c.request("POST", "/v1/deliveries", body=body, headers={"Content-Type": "application/json"})
        return c.getresponse().status
    except Exception as error:
        return repr(error)
    finally:
        c.close()
started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(1000) as pool:
    statuses = list(pool.map(one, range(1000)))
elapsed = time.monotonic() - started
print("BURST_OK", sum(1 for s in statuses if s == 200))
print("BURST_OTHER", sorted(set(str(s) for s in statuses if s != 200)))
print("BURST_SECONDS %.1f" % elapsed)
PY
burst_peak=$(rss "$gw" VmHWM)
kill -TERM "$gw"; wait "$gw" || true

python3 - "$work" "$src_messages" "$start" "$end" "$gw_peak" "$idle" "$big_peak" "$big_status" "$burst_peak" <<'PY'
import sys
work, src_n, start, end, gw_peak, idle, big_peak, big_status, burst_peak = sys.argv[1:]
wrk = dict(l.split(None, 1) for l in open(f"{work}/wrk.txt") if l.startswith("WRK_"))
burst = dict(l.split(None, 1) for l in open(f"{work}/burst.txt"))
gw_rate = int(wrk["WRK_REQUESTS"]) / float(wrk["WRK_SECONDS"])
src_rate = int(src_n) / (float(end) - float(start))
print("| client | messages/s | ratio to smtp-source | p50 (ms) | p99 (ms) | peak RSS (MB) |")
print("|---|---|---|---|---|---|")
print(f"| gateway (wrk -c 20, JSON 1 KB) | {gw_rate:.0f} | {gw_rate / src_rate:.2f} | {float(wrk['WRK_P50_MS']):.2f} | {float(wrk['WRK_P99_MS']):.2f} | {int(gw_peak) / 1024:.1f} |")
print(f"| smtp-source -s 20 | {src_rate:.0f} | 1.00 | | | |")
print(f"\nwrk errors (connect/read/write/status/timeout): {wrk['WRK_ERRORS'].strip()}")
print(f"100 MB raw message: HTTP {big_status}, idle RSS {int(idle) / 1024:.1f} MB, peak {int(big_peak) / 1024:.1f} MB, growth {(int(big_peak) - int(idle)) / 1024:.1f} MB")
print(f"1000 concurrent requests, slow sink (-w 2), --concurrency 250: {burst['BURST_OK'].strip()} answered 200, "
      f"others {burst['BURST_OTHER'].strip()}, {burst['BURST_SECONDS'].strip()} s, gateway peak RSS {int(burst_peak) / 1024:.1f} MB")
PY
