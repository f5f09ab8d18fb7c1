#!/usr/bin/env bash
# The gateway over HTTPS next to itself over plain HTTP, one run, rounds
# interleaved (HTTP, HTTPS, HTTP, ...), medians and the HTTPS/HTTP ratio:
# 1. GET /healthz on 20 kept-alive connections (wrk -c 20).
# 2. GET /healthz with a new connection each (Connection: close): a TLS
#    handshake a request, the certificate picked by the callback each time.
# 3. 1 KB JSON deliveries to Postfix's smtp-sink on 20 kept-alive connections.
# 4. RSS with 1000 idle connections open (plain, then TLS after the handshake).
# Usage: bench/https.sh [seconds per round] [rounds]   (default 5 and 3)
seconds=${1:-5}
rounds=${2:-3}
source "$(dirname "$0")/common.sh"
httpd="$PWD/.build/release/qmail-remote-httpd"
status_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

sink_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$sink_port" 1024 & started $!
mkdir -p "$work/qmail/control" "$work/qmail/queue/lock"
echo bench.localhost > "$work/qmail/control/me"
echo ":127.0.0.1:$sink_port" > "$work/qmail/control/smtproutes"
python3 - "$work" <<'PY'
import sys, trustme
ca = trustme.CA()
cert = ca.issue_cert("localhost", "127.0.0.1")
open(f"{sys.argv[1]}/cert.pem", "wb").write(b"".join(p.bytes() for p in cert.cert_chain_pems))
cert.private_key_pem.write_to_path(f"{sys.argv[1]}/key.pem")
PY

plain_port=$(free_port)
QMAILHOME="$work/qmail" "$httpd" --listen 127.0.0.1:"$plain_port" --smtp-reuse-idle 5 2>/dev/null & plain=$!
started "$plain"
tls_port=$(free_port)
QMAILHOME="$work/qmail" "$httpd" --listen 127.0.0.1:"$tls_port" --smtp-reuse-idle 5 \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 2>/dev/null & tls=$!
started "$tls"
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$plain_port/healthz" >/dev/null && curl -sfk "https://127.0.0.1:$tls_port/healthz" >/dev/null && break
    sleep 0.05
done

rate() { awk '/Requests\/sec/ { print $2 }' "$1"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
run() { # name url extra-args...
    local name=$1 url=$2; shift 2
    wrk -t 2 -c 20 -d "${seconds}s" "$@" "$url" > "$work/$name.$round.txt"
    rate "$work/$name.$round.txt" >> "$work/$name.rates"
}
for scheme in http https; do
    port=$plain_port; [ "$scheme" = https ] && port=$tls_port
    wrk -t 2 -c 20 -d 1s "$scheme://127.0.0.1:$port/healthz" >/dev/null   # warm-up
done
for round in $(seq "$rounds"); do
    run keepalive.http "http://127.0.0.1:$plain_port/healthz"
    run keepalive.https "https://127.0.0.1:$tls_port/healthz"
    run close.http "http://127.0.0.1:$plain_port/healthz" -H "Connection: close"
    run close.https "https://127.0.0.1:$tls_port/healthz" -H "Connection: close"
    run deliver.http "http://127.0.0.1:$plain_port/v1/deliveries" -s bench/gateway.lua
    run deliver.https "https://127.0.0.1:$tls_port/v1/deliveries" -s bench/gateway.lua
done

idle_rss() { # port tls -> KiB of RSS with 1000 idle connections
    python3 - "$1" "$2" "$3" <<'PY'
import socket, ssl, sys, time
port, use_tls, pid = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
held = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    if use_tls:
        s = context.wrap_socket(s, server_hostname="localhost")
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    held.append(s)
time.sleep(0.5)
print([l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0])
for s in held:
    s.close()
PY
}
plain_rss_before=$(status_of "$plain" VmRSS)
plain_rss=$(idle_rss "$plain_port" 0 "$plain")
tls_rss_before=$(status_of "$tls" VmRSS)
tls_rss=$(idle_rss "$tls_port" 1 "$tls")

printf '%-34s %12s %12s %8s\n' "requests/s (median of $rounds)" HTTP HTTPS ratio
for test in keepalive close deliver; do
    h=$(median < "$work/$test.http.rates"); s=$(median < "$work/$test.https.rates")
    printf '%-34s %12s %12s %8s\n' "$test" "$h" "$s" "$(awk -v a="$s" -v b="$h" 'BEGIN { printf "%.2f", a / b }')"
done
printf '%-34s %12s %12s\n' "RSS KiB, 1000 idle (before)" "$plain_rss ($plain_rss_before)" "$tls_rss ($tls_rss_before)"
