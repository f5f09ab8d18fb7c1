#!/usr/bin/env bash
# bench/queue.sh [seconds] [rounds] [postfix messages]: durable relaying,
# side by side in one run, interleaved rounds, against the same smtp-sink
# (which counts what it receives):
#   - the gateway queuing (Prefer: respond-async) into a new SQLite file and
#     into a new database on a throw-away PostgreSQL server: wrk with 20
#     connections POSTing a 1 KB JSON message for `seconds`; acceptance is
#     202s per second (each one answered after its commit), end to end is
#     every accepted message at the sink, counted from the first request;
#   - Postfix as the relay: a throw-away instance of its own (temporary
#     config and queue directories, default settings: queue on disk with
#     fsync), smtp-source -s 20 sending `postfix messages` of 1 KB into its
#     smtpd, relayhost = the same sink: acceptance is smtp-source's rate,
#     end to end the same from its first message until the sink has all;
#   - smtp-source -s 20 straight into the sink, for scale.
# Medians over the rounds, ratios to Postfix, the gateway's CPU per 1000
# messages, and the whole machine's busy CPU per 1000 messages (clients
# included: wrk for the gateway, smtp-source for Postfix).
if [ -z "${QMAIL_REMOTE_TEST_POSTGRES_URL:-}" ]; then
    cd "$(dirname "$0")/.." && scripts/setup.sh bench
    exec scripts/with-postgres.sh bash bench/queue.sh "$@"
fi
source "$(dirname "$0")/common.sh"
seconds=${1:-10}; rounds=${2:-3}; postfix_messages=${3:-10000}
httpd="$PWD/.build/release/qmail-remote-httpd"
base=${QMAIL_REMOTE_TEST_POSTGRES_URL%/*}

sink_port=$(free_port); relay_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" -c 127.0.0.1:"$sink_port" 1024 > "$work/sink.count" 2>&1 & started $!
mkdir -p "$work/qmail/control" "$work/qmail/queue/lock"
echo bench.localhost > "$work/qmail/control/me"
echo ":127.0.0.1:$sink_port" > "$work/qmail/control/smtproutes"
head -c 1024 /dev/zero > "$work/qmail/queue/lock/tcpto"

# What the sink has received so far (its -c counter, rewritten in place with CR).
sink_count() { tail -c 200 "$work/sink.count" | tr '\r' '\n' | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1; }
wait_sink() {  # target -> prints the time it was reached (gives up after 10 minutes)
    local deadline=$(( $(date +%s) + 600 ))
    while [ "$(sink_count)" -lt "$1" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "the sink never got $1 messages" >&2; exit 1; }
        sleep 0.02
    done
    date +%s.%N
}
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
wait_up() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.05; done; echo "gateway did not start" >&2; exit 1; }

# The gateway queuing into $2 (a store URL); results into $1.
gateway_run() {
    local out=$1 store=$2 port; port=$(free_port)
    QMAILHOME="$work/qmail" "$httpd" --listen 127.0.0.1:"$port" --store "$store" 2>"$out.log" & local gw=$!; started $gw
    wait_up "$port"
    curl -sf -o /dev/null -H 'Content-Type: application/json' \
        -d '{"sender":"b@localhost","recipients":["r@sink.test"],"message":"Subject: warm\n\nup\n"}' "http://127.0.0.1:$port/v1/deliveries"
    local before; before=$(sink_count)
    local cpu0 busy0 start; cpu0=$(cpu_of "$gw"); busy0=$(busy); start=$(date +%s.%N)
    wrk -t 2 -c 20 -d "${seconds}s" --latency -s bench/queue.lua "http://127.0.0.1:$port/v1/deliveries" > "$out"
    local accepted; accepted=$(curl -s "http://127.0.0.1:$port/metrics" | awk -F' ' '/^qmail_remote_httpd_http_requests_total\{status="202"\}/ { print $2 }')
    local reached; reached=$(wait_sink $(( before + accepted )))
    { echo "ACCEPTED $accepted"; echo "E2E_SECONDS $(awk -v a="$start" -v b="$reached" 'BEGIN { print b - a }')"
      echo "CPU_MS $(( ($(cpu_of "$gw") - cpu0) * 1000 / hz ))"; echo "BUSY_MS $(( ($(busy) - busy0) * 1000 / hz ))"; } >> "$out"
    kill -TERM "$gw"; wait "$gw" || true
}

# Postfix as the relay, a throw-away instance; results into $1.
postfix_run() {
    local out=$1 dir; dir=$(mktemp -d "$work/postfix.XXXX")
    # Postfix's own users must reach the queue through the work directory.
    chmod 755 "$work" "$dir"; mkdir -p "$dir/conf" "$dir/queue" "$dir/data"; chown postfix "$dir/data"
    cat > "$dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.bench.localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink_port
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = /dev/stdout
CF
    # Debian's master.cf services, without chroot (the instance has no jail);
    # its log goes to the start command's output ($dir/log).
    cat > "$dir/conf/master.cf" <<CF
127.0.0.1:$relay_port inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
showq unix n - n - - showq
postlog unix-dgram n - n - 1 postlogd
CF
    postfix -c "$dir/conf" start > "$dir/log" 2>&1 || { cat "$dir/log" >&2; exit 1; }
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$relay_port") 2>/dev/null && break; sleep 0.05; done
    local before; before=$(sink_count)
    local busy0 start end; busy0=$(busy); start=$(date +%s.%N)
    /usr/sbin/smtp-source -s 20 -m "$postfix_messages" -l 1024 -f bench@localhost -t rcpt@sink.test 127.0.0.1:"$relay_port"
    end=$(date +%s.%N)
    local reached; reached=$(wait_sink $(( before + postfix_messages )))
    { echo "ACCEPTED $postfix_messages"; echo "ACCEPT_SECONDS $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
      echo "E2E_SECONDS $(awk -v a="$start" -v b="$reached" 'BEGIN { print b - a }')"
      echo "BUSY_MS $(( ($(busy) - busy0) * 1000 / hz ))"; } > "$out"
    postfix -c "$dir/conf" stop >> "$dir/log" 2>&1
}

source_run() {  # smtp-source straight into the sink; results into $1.
    local before start reached; before=$(sink_count); start=$(date +%s.%N)
    /usr/sbin/smtp-source -s 20 -m "$postfix_messages" -l 1024 -f bench@localhost -t rcpt@sink.test 127.0.0.1:"$sink_port"
    reached=$(wait_sink $(( before + postfix_messages )))
    echo "E2E_SECONDS $(awk -v a="$start" -v b="$reached" 'BEGIN { print b - a }')" > "$1"
}

for round in $(seq "$rounds"); do
    gateway_run "$work/sqlite.$round" "sqlite:$work/state-$round.db"
    psql -X -q "$QMAIL_REMOTE_TEST_POSTGRES_URL" -c "CREATE DATABASE queue_$round"
    gateway_run "$work/postgresql.$round" "$base/queue_$round"
    postfix_run "$work/postfix.$round"
    source_run "$work/source.$round"
done

python3 - "$work" "$rounds" "$postfix_messages" <<'PY'
import statistics, sys
work, rounds, messages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def fields(path):
    return {k: v.strip() for k, v in (l.split(None, 1) for l in open(path) if l.strip() and " " in l.strip())}
def runs(name):
    return [fields(f"{work}/{name}.{r}") for r in range(1, rounds + 1)]
def median(values):
    return statistics.median(values)
rows = {}
for name in ("sqlite", "postgresql"):
    rs = runs(name)
    rows[name] = dict(
        accept=median(int(r["ACCEPTED"]) / float(r["WRK_SECONDS"]) for r in rs),
        e2e=median(int(r["ACCEPTED"]) / float(r["E2E_SECONDS"]) for r in rs),
        cpu=median(int(r["CPU_MS"]) * 1000 / int(r["ACCEPTED"]) for r in rs),
        busy=median(int(r["BUSY_MS"]) * 1000 / int(r["ACCEPTED"]) for r in rs),
        p50=median(float(r["WRK_P50_MS"]) for r in rs), p99=median(float(r["WRK_P99_MS"]) for r in rs),
        errors=",".join(r["WRK_ERRORS"] for r in rs), accepted=",".join(r["ACCEPTED"] for r in rs))
pf = runs("postfix")
postfix = dict(accept=median(messages / float(r["ACCEPT_SECONDS"]) for r in pf),
               e2e=median(messages / float(r["E2E_SECONDS"]) for r in pf),
               busy=median(int(r["BUSY_MS"]) * 1000 / messages for r in pf))
source = median(messages / float(r["E2E_SECONDS"]) for r in runs("source"))
print(f"| relay ({rounds} interleaved rounds, medians) | accepted/s | vs Postfix | end to end/s | vs Postfix | "
      "202 p50 / p99 (ms) | relay CPU ms per 1000 | machine CPU ms per 1000 |")
print("|---|---|---|---|---|---|---|---|")
for name, label in (("sqlite", "gateway, SQLite (wrk -c 20, JSON 1 KB)"), ("postgresql", "gateway, PostgreSQL")):
    r = rows[name]
    print(f"| {label} | {r['accept']:.0f} | {r['accept'] / postfix['accept']:.2f} | {r['e2e']:.0f} | "
          f"{r['e2e'] / postfix['e2e']:.2f} | {r['p50']:.1f} / {r['p99']:.1f} | {r['cpu']:.0f} | {r['busy']:.0f} |")
print(f"| Postfix 3.7 relay (smtp-source -s 20, 1 KB) | {postfix['accept']:.0f} | 1.00 | {postfix['e2e']:.0f} | 1.00 | "
      f"| | {postfix['busy']:.0f} |")
print(f"| smtp-source -s 20 straight into the sink | | | {source:.0f} | {source / postfix['e2e']:.2f} | | | |")
print(f"\nwrk errors per run: SQLite {rows['sqlite']['errors']}, PostgreSQL {rows['postgresql']['errors']}; "
      f"messages accepted per run: SQLite {rows['sqlite']['accepted']}, PostgreSQL {rows['postgresql']['accepted']}, "
      f"Postfix {messages} each")
PY
