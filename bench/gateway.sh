#!/usr/bin/env bash
# The gateway under load, against Postfix's smtp-sink on loopback:
# 1. Throughput, interleaved rounds in one run against the same sink: wrk with
#    20 connections POSTing a 1 KB JSON message to the gateway with SMTP
#    connection reuse (the default) and without (--smtp-reuse-idle 0), next
#    to Postfix's C client smtp-source -s 20 (a connection per message) and
#    smtp-source -s 20 -d (connections reused): median messages/s and ratios,
#    the gateway's p50/p99 and peak RSS (last round).
# 2. Peak RSS growth while one 100 MB raw message is delivered.
# 3. 1000 concurrent requests from one address against a slow sink (smtp-sink -w 2): no error,
#    and the gateway's peak RSS.
# 4. STARTTLS to a TLS-capable sink (aiosmtpd, bench/tls_sink.py): reuse on
#    against --smtp-reuse-idle 0, interleaved rounds, median messages/s.
# Usage: bench/gateway.sh [seconds] [rounds]   (default 5 s per load run, 3 rounds)
seconds=${1:-5}; rounds=${2:-3}
source "$(dirname "$0")/common.sh"
httpd="$PWD/.build/release/qmail-remote-httpd"
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # kB
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.05; done; echo "gateway did not start" >&2; exit 1; }
field() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

sink_port=$(free_port); slow_port=$(free_port); tls_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$sink_port" 1024 & started $!
/usr/sbin/smtp-sink "${sink_user[@]}" -w 2 127.0.0.1:"$slow_port" 2048 & started $!
python3 bench/tls_sink.py "$tls_port" "$work/ca.pem" > "$work/tls-sink.out" & started $!
for home in qmail slow tls; do mkdir -p "$work/$home/control" "$work/$home/queue/lock"; echo bench.localhost > "$work/$home/control/me"; done
echo ":127.0.0.1:$sink_port" > "$work/qmail/control/smtproutes"
echo ":127.0.0.1:$slow_port" > "$work/slow/control/smtproutes"
echo ":127.0.0.1:$tls_port" > "$work/tls/control/smtproutes"
echo ":encrypt" > "$work/tls/control/tlspolicy"
for _ in $(seq 100); do grep -q ready "$work/tls-sink.out" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

# One wrk run against a fresh gateway: $1 the qmail home, $2 the output file, more: gateway flags.
gateway_run() {
    local home=$1 out=$2; shift 2
    local port; port=$(free_port)
    QMAILHOME="$work/$home" "$httpd" --listen 127.0.0.1:"$port" "$@" 2>/dev/null & local gw=$!; started $gw
    wait_up "$port"
    wrk -t 2 -c 20 -d 1s -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" >/dev/null   # warm-up
    wrk -t 2 -c 20 -d "${seconds}s" --latency -s bench/gateway.lua "http://127.0.0.1:$port/v1/deliveries" > "$out"
    echo "WRK_PEAK_KB $(rss "$gw" VmHWM)" >> "$out"
    kill -TERM "$gw"; wait "$gw" || true
}

# smtp-source: $1 the output file, more: its flags; messages/s into the file.
source_run() {
    local out=$1; shift
    local start end
    start=$(date +%s.%N)
    /usr/sbin/smtp-source "$@" -l 1024 -f bench@localhost -t rcpt@sink.test 127.0.0.1:"$sink_port"
    end=$(date +%s.%N)
    echo "SOURCE_SECONDS $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" > "$out"
}

# 1. Throughput, interleaved.
for round in $(seq "$rounds"); do
    gateway_run qmail "$work/reuse.$round"
    gateway_run qmail "$work/noreuse.$round" --smtp-reuse-idle 0
    n=$(field "$work/reuse.$round" WRK_REQUESTS); n=$(( n > 5000 ? n : 5000 ))
    echo "$n" > "$work/source-n.$round"
    source_run "$work/source.$round" -s 20 -m "$n"
    source_run "$work/sourced.$round" -s 20 -m $(( n * 2 )) -d
done

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

# 4. STARTTLS, reuse on and off, interleaved.
for round in $(seq "$rounds"); do
    gateway_run tls "$work/tlsreuse.$round"
    gateway_run tls "$work/tlsnoreuse.$round" --smtp-reuse-idle 0
done

python3 - "$work" "$rounds" "$idle" "$big_peak" "$big_status" "$burst_peak" <<'PY'
import statistics, sys
work, rounds, idle, big_peak, big_status, burst_peak = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
def fields(path):
    return dict(l.split(None, 1) for l in open(path) if l.strip())
def gateway(name):
    runs = [fields(f"{work}/{name}.{r}") for r in range(1, rounds + 1)]
    return statistics.median(int(w["WRK_REQUESTS"]) / float(w["WRK_SECONDS"]) for w in runs), runs[-1]
def source(name):
    return statistics.median(
        int(open(f"{work}/source-n.{r}").read()) * (2 if name == "sourced" else 1)
        / float(fields(f"{work}/{name}.{r}")["SOURCE_SECONDS"]) for r in range(1, rounds + 1))
reuse, last = gateway("reuse")
noreuse, last_off = gateway("noreuse")
src, srcd = source("source"), source("sourced")
print(f"| client ({rounds} interleaved rounds, medians) | messages/s | vs smtp-source -s 20 | vs smtp-source -s 20 -d | p50 (ms) | p99 (ms) | peak RSS (MB) |")
print("|---|---|---|---|---|---|---|")
for name, rate, w in [("gateway, reuse (wrk -c 20, JSON 1 KB)", reuse, last), ("gateway, --smtp-reuse-idle 0", noreuse, last_off)]:
    print(f"| {name} | {rate:.0f} | {rate / src:.2f} | {rate / srcd:.2f} | {float(w['WRK_P50_MS']):.2f} | "
          f"{float(w['WRK_P99_MS']):.2f} | {int(w['WRK_PEAK_KB']) / 1024:.1f} |")
print(f"| smtp-source -s 20 (a connection per message) | {src:.0f} | 1.00 | {src / srcd:.2f} | | | |")
print(f"| smtp-source -s 20 -d (connections reused) | {srcd:.0f} | {srcd / src:.2f} | 1.00 | | | |")
errors = [fields(f"{work}/{n}.{r}")["WRK_ERRORS"].strip() for n in ("reuse", "noreuse", "tlsreuse", "tlsnoreuse") for r in range(1, rounds + 1)]
print(f"\nwrk errors (connect/read/write/status/timeout), every run: {', '.join(errors)}")
burst = fields(f"{work}/burst.txt")
print(f"100 MB raw message: HTTP {big_status}, idle RSS {int(idle) / 1024:.1f} MB, peak {int(big_peak) / 1024:.1f} MB, growth {(int(big_peak) - int(idle)) / 1024:.1f} MB")
print(f"1000 concurrent requests, slow sink (-w 2), --concurrency 250: {burst['BURST_OK'].strip()} answered 200, "
      f"others {burst['BURST_OTHER'].strip()}, {burst['BURST_SECONDS'].strip()} s, gateway peak RSS {int(burst_peak) / 1024:.1f} MB")
tls_on, _ = gateway("tlsreuse")
tls_off, _ = gateway("tlsnoreuse")
print("\n| gateway, STARTTLS (encrypt) to aiosmtpd, wrk -c 20 | messages/s | vs reuse off |")
print("|---|---|---|")
print(f"| reuse (one handshake per connection) | {tls_on:.0f} | {tls_on / tls_off:.2f} |")
print(f"| --smtp-reuse-idle 0 (a handshake per message) | {tls_off:.0f} | 1.00 |")
PY
