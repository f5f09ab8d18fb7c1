#!/usr/bin/env bash
# Writes Sources/qmail-remote/startup-order.txt, the order in which lld lays
# out qmail-remote's functions (Package.swift): every function a delivery
# runs, as callgrind lists them, a plain delivery to smtp-sink first, then
# what a STARTTLS delivery adds, then what DKIM signing (RSA and Ed25519)
# adds. Together they fill a few hundred KB instead of being spread over the
# binary's megabytes, so a run maps fewer pages.
# Run it after changing what a delivery runs; it links the command again
# (SwiftPM does not see the file change). Names that no longer exist are
# ignored by the linker. Usage: bench/startup-order.sh
source "$(dirname "$0")/common.sh"
bin="$PWD/.build/release/qmail-remote"
out="$PWD/Sources/qmail-remote/startup-order.txt"
# Debian 12's valgrind cannot read the DWARF 5 Swift's clang writes: callgrind
# runs a copy without debug sections (same code, same symbols).
strip --strip-debug -o "$work/qmail-remote" "$bin"

port=$(free_port); tls_port=$(free_port)
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$port" 64 & started $!
python3 bench/tls_sink.py "$tls_port" "$work/ca.pem" > "$work/tls.out" & started $!
for _ in $(seq 100); do grep -q ready "$work/tls.out" 2>/dev/null && break; sleep 0.1; done
for kind in plain tls signed; do
    mkdir -p "$work/$kind/control" "$work/$kind/queue/lock"
    echo order.localhost > "$work/$kind/control/me"
done
echo "x.test:127.0.0.1:$port" > "$work/plain/control/smtproutes"
echo "x.test:127.0.0.1:$tls_port" > "$work/tls/control/smtproutes"
echo "x.test:verify:$work/ca.pem" > "$work/tls/control/tlspolicy"
echo "x.test:127.0.0.1:$port" > "$work/signed/control/smtproutes"
echo "order.example:rsa,ed" > "$work/signed/control/dkimdomains"
mkdir -p "$work/signed/control/dkimkeys/order.example"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/signed/control/dkimkeys/order.example/rsa" \
    2> /dev/null
openssl genpkey -algorithm ED25519 -out "$work/signed/control/dkimkeys/order.example/ed"
printf 'From: a@order.example\nSubject: order\n\nA line.\n' > "$work/message"

for kind in plain tls signed; do
    QMAILHOME="$work/$kind" valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$work/$kind.out" \
        "$work/qmail-remote" x.test a@order.localhost u@x.test < "$work/message" > "$work/$kind.report" \
        2> "$work/$kind.valgrind"
    tr '\0' '|' < "$work/$kind.report" | grep -q '^r|K' || {
        echo "the $kind delivery failed:" >&2; cat "$work/$kind.report" "$work/$kind.valgrind" >&2; exit 1
    }
done

python3 - "$out" "$work/plain.out" "$work/tls.out" "$work/signed.out" <<'PY'
import re, sys
seen, names = set(), []
for path in sys.argv[2:]:
    for line in open(path):
        match = re.match(r"c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if match:
            name = match.group(1).split("'")[0]
            if not name.startswith("0x") and name not in seen:
                seen.add(name)
                names.append(name)
open(sys.argv[1], "w").write("\n".join(names) + "\n")
print(f"{len(names)} functions in {sys.argv[1]}")
PY
rm -f "$bin"
swift build -c release --static-swift-stdlib --product qmail-remote > /dev/null
