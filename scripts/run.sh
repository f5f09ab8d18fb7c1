#!/usr/bin/env bash
# The main job: builds and runs qmail-remote-httpd on 127.0.0.1:8025 in the
# foreground (Ctrl-C or SIGTERM drains it). With a qmail installation
# (QMAILHOME, or /var/qmail/control) it uses that. Without one it runs in
# demo mode: a throw-away qmail home in .run/ whose default route sends all
# mail to Postfix's smtp-sink on 127.0.0.1:2525, started here too. The store
# (idempotency keys, the queue) is .run/state.db unless QMAIL_REMOTE_HTTPD_STORE
# or --store says otherwise. Extra arguments go to qmail-remote-httpd (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --static-swift-stdlib --product qmail-remote-httpd

mkdir -p .run
export QMAIL_REMOTE_HTTPD_STORE="${QMAIL_REMOTE_HTTPD_STORE:-sqlite:$PWD/.run/state.db}"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ -z "${QMAILHOME:-}" ] && [ ! -d /var/qmail/control ]; then
    scripts/setup.sh test >/dev/null
    export QMAILHOME="$PWD/.run/qmail"
    mkdir -p "$QMAILHOME/control" "$QMAILHOME/queue/lock" .run/sink
    chmod 777 .run/sink
    echo localhost > "$QMAILHOME/control/me"
    echo ":127.0.0.1:2525" > "$QMAILHOME/control/smtproutes"
    [ -f "$QMAILHOME/queue/lock/tcpto" ] || head -c 1024 /dev/zero > "$QMAILHOME/queue/lock/tcpto"
    user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
    /usr/sbin/smtp-sink "${user[@]}" -d "$PWD/.run/sink/%Y%m%d%H%M%S." 127.0.0.1:2525 64 & pids+=($!)
    echo "run: demo mode: no qmail installation, so all mail goes to smtp-sink on 127.0.0.1:2525;" \
         "messages land in .run/sink/ (set QMAILHOME to use a real installation)" >&2
fi

.build/release/qmail-remote-httpd "$@" & gateway=$!
pids+=("$gateway")
trap 'kill -TERM "$gateway" 2>/dev/null || true' TERM INT
# A signal interrupts wait; wait again until the gateway has drained and exited.
set +e
while :; do
    wait "$gateway"; status=$?
    kill -0 "$gateway" 2>/dev/null || break
done
exit "$status"
