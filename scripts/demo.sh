#!/usr/bin/env bash
# The main job until the gateway lands: builds qmail-remote, starts Postfix's
# smtp-sink on 127.0.0.1:2525, delivers a message through qmail-remote with a
# throw-away qmail home, and shows the report bytes and what the sink received.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --static-swift-stdlib --product qmail-remote

work=$(mktemp -d)
trap 'kill "$sink" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/qmail/control" "$work/qmail/queue/lock" "$work/sink"
chmod 777 "$work" "$work/sink"
echo demo.localhost > "$work/qmail/control/me"
echo "example.test:127.0.0.1:2525" > "$work/qmail/control/smtproutes"
head -c 1024 /dev/zero > "$work/qmail/queue/lock/tcpto"

user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
/usr/sbin/smtp-sink "${user[@]}" -d "$work/sink/%Y" 127.0.0.1:2525 16 & sink=$!
sleep 0.5

printf 'From: demo@localhost\nTo: bob@example.test\nSubject: hello\n\nHello from qmail-remote.\n.a line that starts with a dot\n' \
    | QMAILHOME="$work/qmail" .build/release/qmail-remote example.test demo@localhost bob@example.test \
    > "$work/report"
echo "== report bytes (NUL shown as \\0):"
od -An -c "$work/report"
sleep 0.2
echo "== what smtp-sink received:"
cat "$work"/sink/*
