#!/usr/bin/env bash
# POST /v1/messages against POST /v1/deliveries with the same message
# prebuilt: a transactional message (text and HTML of about 1 KB each, an
# inline 4 KB image, a non-ASCII subject and names) built and delivered by
# the gateway, next to the very bytes it built (captured once from a real
# SMTP server) posted as "message"; both to Postfix's smtp-sink on
# loopback, wrk with 20 connections, rounds interleaved in one run, a fresh
# gateway each run. Prints median messages/s, the ratio, p50/p99, peak RSS,
# and the gateway's CPU time per message (steadier than rates on a busy machine).
# Usage: bench/compose.sh [seconds] [rounds]   (default 5 s per run, 5 rounds)
seconds=${1:-5}; rounds=${2:-5}
source "$(dirname "$0")/common.sh"
httpd="$PWD/.build/release/qmail-remote-httpd"
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # kB
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # user + system, in clock ticks
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.05; done; echo "gateway did not start" >&2; exit 1; }

sink_port=$(free_port); capture_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$sink_port" 1024 & started $!
for home in qmail capture; do mkdir -p "$work/$home/control" "$work/$home/queue/lock"; echo bench.localhost > "$work/$home/control/me"; done
echo ":127.0.0.1:$sink_port" > "$work/qmail/control/smtproutes"
echo ":127.0.0.1:$capture_port" > "$work/capture/control/smtproutes"

# The compose request.
python3 - "$work/compose.json" <<'PY'
import base64, json, sys
line = "Your order has shipped and will arrive on Thursday; track it with the link below.\n"
image = bytes((k * 37 + (k >> 7)) & 255 for k in range(4096))
request = {
    "from": "Bücherladen <shop@example.org>", "to": ["Zoë Ångström <rcpt@sink.test>"],
    "reply_to": "help@example.org", "subject": "Ihre Bestellung №42 ist unterwegs",
    "text": line * 13,
    "html": "<html><body><p><img src=\"cid:logo\"></p>" + "<p>" + line.strip() + "</p>\n" * 11 + "</body></html>\n",
    "attachments": [{"filename": "logo.png", "content_type": "image/png", "content_id": "logo",
                     "content_base64": base64.b64encode(image).decode()}],
    "headers": {"List-Unsubscribe": "<https://example.org/u/42>"},
}
json.dump(request, open(sys.argv[1], "w"))
PY

# The same message prebuilt: what the gateway builds for it, captured once.
python3 - "$capture_port" "$work/built.eml" > "$work/capture.out" <<'PY' & started $!
import asyncio, sys
from aiosmtpd.controller import Controller
class Capture:
    async def handle_DATA(self, server, session, envelope):
        open(sys.argv[2], "wb").write(envelope.original_content)
        return "250 2.0.0 ok"
controller = Controller(Capture(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
asyncio.run(asyncio.Event().wait())
PY
for _ in $(seq 100); do grep -q ready "$work/capture.out" 2>/dev/null && break; sleep 0.1; done
port=$(free_port)
QMAILHOME="$work/capture" "$httpd" --listen 127.0.0.1:"$port" 2>/dev/null & gw=$!; started $gw
wait_up "$port"
curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$work/compose.json" "http://127.0.0.1:$port/v1/messages"
kill -TERM "$gw"; wait "$gw" || true
python3 - "$work/built.eml" "$work/deliveries.json" <<'PY'
import base64, json, sys
message = open(sys.argv[1], "rb").read()
# The built message is ASCII (encoded words, quoted-printable, base64): as
# "message" text, the cheaper of the two JSON forms for /v1/deliveries.
json.dump({"sender": "shop@example.org", "recipients": ["rcpt@sink.test"], "message": message.decode("ascii")},
          open(sys.argv[2], "w"))
PY

# One wrk run against a fresh gateway: $1 the route, $2 the body, $3 the output file.
gateway_run() {
    local route=$1 body=$2 out=$3
    local port; port=$(free_port)
    QMAILHOME="$work/qmail" "$httpd" --listen 127.0.0.1:"$port" 2>/dev/null & local gw=$!; started $gw
    wait_up "$port"
    BODY_FILE="$body" wrk -t 2 -c 20 -d 1s -s bench/compose.lua "http://127.0.0.1:$port$route" >/dev/null   # warm-up
    local before; before=$(cpu_ticks "$gw")
    BODY_FILE="$body" wrk -t 2 -c 20 -d "${seconds}s" --latency -s bench/compose.lua "http://127.0.0.1:$port$route" > "$out"
    echo "GATEWAY_CPU_TICKS $(( $(cpu_ticks "$gw") - before ))" >> "$out"
    echo "WRK_PEAK_KB $(rss "$gw" VmHWM)" >> "$out"
    kill -TERM "$gw"; wait "$gw" || true
}

for round in $(seq "$rounds"); do
    gateway_run /v1/messages "$work/compose.json" "$work/compose.$round"
    gateway_run /v1/deliveries "$work/deliveries.json" "$work/deliveries.$round"
done

python3 - "$work" "$rounds" <<'PY'
import os, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def fields(path):
    return dict(l.split(None, 1) for l in open(path) if l.strip())
def rates(name):
    return [int(f["WRK_REQUESTS"]) / float(f["WRK_SECONDS"]) for f in (fields(f"{work}/{name}.{r}") for r in range(1, rounds + 1))]
compose, deliveries = rates("compose"), rates("deliveries")
size = os.path.getsize(f"{work}/built.eml")
print(f"message: {size} bytes built (text, HTML, a 4 KB inline image); bodies: compose "
      f"{os.path.getsize(work + '/compose.json')} B, deliveries {os.path.getsize(work + '/deliveries.json')} B")
print(f"| route, wrk -c 20 ({rounds} interleaved rounds) | messages/s (median) | every round | p50 (ms) | p99 (ms) | peak RSS (MB) |")
print("|---|---|---|---|---|---|")
for name, file, values in (("POST /v1/messages (built by the gateway)", "compose", compose),
                           ("POST /v1/deliveries (prebuilt)", "deliveries", deliveries)):
    last = fields(f"{work}/{file}.{rounds}")
    print(f"| {name} | {statistics.median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} | "
          f"{float(last['WRK_P50_MS']):.2f} | {float(last['WRK_P99_MS']):.2f} | {int(last['WRK_PEAK_KB']) / 1024:.1f} |")
print(f"\nratio messages/deliveries (medians): {statistics.median(compose) / statistics.median(deliveries):.2f}; "
      f"per round: {', '.join(f'{c / d:.2f}' for c, d in zip(compose, deliveries))}")
tick = os.sysconf("SC_CLK_TCK")
def cpu(name):
    runs = [fields(f"{work}/{name}.{r}") for r in range(1, rounds + 1)]
    return statistics.median(1000 * 1000 * int(f["GATEWAY_CPU_TICKS"]) / tick / int(f["WRK_REQUESTS"]) for f in runs)
print(f"gateway CPU per 1000 messages (median): /v1/messages {cpu('compose'):.0f} ms, "
      f"/v1/deliveries {cpu('deliveries'):.0f} ms, ratio {cpu('compose') / cpu('deliveries'):.2f}")
errors = [fields(f"{work}/{n}.{r}")["WRK_ERRORS"].strip() for n in ("compose", "deliveries") for r in range(1, rounds + 1)]
print(f"wrk errors, every run: {', '.join(errors)}")
PY
