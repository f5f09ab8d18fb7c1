#!/usr/bin/env bash
# Per-message cost of the qmail-remote command: one message of 1,000 bytes as
# sent to Postfix's smtp-sink on loopback, side by side in one run with
# qmail's own C qmail-remote (when QMAIL_C_REMOTE names one), smtp-source
# -m 1 (Postfix's C client) and msmtp. Each client is spawned directly,
# round robin (bench/spawn.py): wall median, CPU mean, minor page faults,
# peak RSS median (GNU time), and user-space instructions (callgrind, when
# valgrind is installed; one run, repeatable). qmail-remote also runs signing
# the message with DKIM (an RSA-2048 key; RSA-2048 and Ed25519), and what that
# adds is the median of the per-round differences. Then peak RSS delivering a
# 100 MiB message from a pipe, unsigned and signed.
# Every binary is copied into a scratch directory first, as installing it
# would: a file just written by the linker sits in the page cache in small
# pieces and maps measurably slower.
# qmail's C command reads its control files from its compile-time home:
# build it with conf-qmail naming a scratch directory and set QMAIL_C_HOME to
# it (README, "Benchmarks"); this script writes control/me and smtproutes there.
# Usage: [QMAIL_C_REMOTE=path QMAIL_C_HOME=dir] bench/cli.sh [runs]   (default 300)
runs=${1:-300}
source "$(dirname "$0")/common.sh"
port=$(free_port)
mkdir -p "$work/bin" "$work/qmail/control" "$work/qmail/queue/lock"
cp .build/release/qmail-remote "$work/bin/qmail-remote"
echo bench.localhost > "$work/qmail/control/me"
echo "sink.test:127.0.0.1:$port" > "$work/qmail/control/smtproutes"
# The same installation, signing as bench.example (the message's From:).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.pem" 2> /dev/null
openssl genpkey -algorithm ED25519 -out "$work/ed.pem"
for signing in rsa:rsa rsa-ed:rsa,ed; do
    home="$work/qmail-${signing%%:*}"
    mkdir -p "$home/control/dkimkeys/bench.example" "$home/queue/lock"
    cp "$work/qmail/control/me" "$work/qmail/control/smtproutes" "$home/control/"
    echo "bench.example:${signing#*:}" > "$home/control/dkimdomains"
    cp "$work/rsa.pem" "$home/control/dkimkeys/bench.example/rsa"
    cp "$work/ed.pem" "$home/control/dkimkeys/bench.example/ed"
done
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$port" 256 & started $!
sleep 0.5

c_remote=""
if [ -n "${QMAIL_C_REMOTE:-}" ]; then
    home=${QMAIL_C_HOME:?QMAIL_C_HOME must name the compile-time home (conf-qmail) of $QMAIL_C_REMOTE}
    if [ -e "$home/control/me" ] && [ "$(cat "$home/control/me")" != bench.localhost ]; then
        echo "$home/control/me is not the benchmark's: refusing to write control files there" >&2; exit 1
    fi
    mkdir -p "$home/control"
    echo bench.localhost > "$home/control/me"
    echo "sink.test:127.0.0.1:$port" > "$home/control/smtproutes"
    cp "$QMAIL_C_REMOTE" "$work/bin/qmail-remote-c"
    c_remote="$work/bin/qmail-remote-c"
fi

# 1,000 bytes on the wire with CRLF line ends; qmail's C client writes
# through a 1,024-byte buffer, so the final dot leaves with the text.
python3 - "$work/1k.eml" "$work/1100.eml" <<'PY'
import sys
head = b"From: bench@bench.example\nTo: rcpt@sink.test\nSubject: bench\n\n"
line = b"The quick brown fox jumps over the lazy dog, again and again.\n"
for path, wire in ((sys.argv[1], 1000), (sys.argv[2], 1100)):
    body = head
    while len(body) + body.count(b"\n") + 2 * len(line) <= wire:
        body += line
    body += b"x" * (wire - len(body) - body.count(b"\n") - 2) + b"\n"
    open(path, "wb").write(body)
PY

python3 - "$work" "$port" "$c_remote" > "$work/spec.json" <<'PY'
import json, sys
work, port, c_remote = sys.argv[1], sys.argv[2], sys.argv[3]
envelope = ["sink.test", "bench@localhost", "rcpt@sink.test"]
report = "r\u0000K127.0.0.1 accepted message."
clients = [{"name": name, "argv": [f"{work}/bin/qmail-remote", *envelope], "stdin": f"{work}/1k.eml",
            "env": {"QMAILHOME": f"{work}/{home}"}, "expect": report}
           for name, home in [("qmail-remote", "qmail"), ("qmail-remote, DKIM RSA-2048", "qmail-rsa"),
                              ("qmail-remote, DKIM RSA-2048 + Ed25519", "qmail-rsa-ed")]]
if c_remote:
    clients.append({"name": "qmail-remote (qmail's C)", "argv": [c_remote, *envelope], "stdin": f"{work}/1k.eml",
                    "expect": report})
clients.append({"name": "smtp-source -m 1", "argv": ["/usr/sbin/smtp-source", "-m", "1", "-s", "1", "-l", "1000",
                "-f", "bench@localhost", "-t", "rcpt@sink.test", f"127.0.0.1:{port}"]})
clients.append({"name": "msmtp", "argv": ["/usr/bin/msmtp", "-C", "/dev/null", "--host=127.0.0.1", f"--port={port}",
                "--auth=off", "--tls=off", "--from=bench@localhost", "rcpt@sink.test"], "stdin": f"{work}/1k.eml"})
print(json.dumps(clients))
PY

python3 bench/spawn.py --runs "$runs" --warmup 20 "$work/runs.json" < "$work/spec.json"

# Instructions: callgrind counts every user-space instruction, the dynamic
# loader's included, the same on every run. Debian 12's valgrind cannot read
# the DWARF 5 that Swift's clang writes: it runs a copy without debug sections
# (the same code at the same addresses).
if command -v valgrind > /dev/null; then
    strip --strip-debug -o "$work/bin/qmail-remote-nodebug" "$work/bin/qmail-remote"
    python3 - "$work/spec.json" "$work/bin/qmail-remote" > "$work/instructions.txt" <<'PY'
import json, re, subprocess, sys
for client in json.load(open(sys.argv[1])):
    argv = [arg + "-nodebug" if arg == sys.argv[2] else arg for arg in client["argv"]]
    with open(client.get("stdin") or "/dev/null", "rb") as stdin:
        run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
                             stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=client.get("env", {}) | {"PATH": "/usr/bin:/bin"})
    counted = re.search(rb"Collected : (\d+)", run.stderr)
    print(f"{client['name']}\t{counted.group(1).decode() if counted else ''}")
PY
fi

# The C client with a message past its buffer: the final dot then leaves
# in a write of its own and waits for the sink's delayed ACK.
if [ -n "$c_remote" ]; then
    python3 - "$work/spec.json" "$work/1100.eml" > "$work/spec-c.json" <<'PY2'
import json, sys
c = [client for client in json.load(open(sys.argv[1])) if client["name"] == "qmail-remote (qmail's C)"]
print(json.dumps([c[0] | {"stdin": sys.argv[2]}]))
PY2
    python3 bench/spawn.py --runs 20 --warmup 2 --rss-every 100 "$work/runs-c.json" < "$work/spec-c.json"
fi

# 100 MiB of text lines (76 columns) after a header, streamed from a pipe as
# qmail-spawn does: unsigned, then signed.
python3 -c '
import base64, os, sys
out = open(sys.argv[1], "wb"); left = 100 * 1024 * 1024
out.write(b"From: bench@bench.example\nTo: rcpt@sink.test\nSubject: big\n\n")
while left > 0:
    chunk = base64.encodebytes(os.urandom(57 * 1024))[:left]
    if len(chunk) == left: chunk = chunk[:-1] + b"\n"
    out.write(chunk); left -= len(chunk)
' "$work/100m.eml"
for home in qmail qmail-rsa qmail-rsa-ed; do
    cat "$work/100m.eml" | QMAILHOME="$work/$home" /usr/bin/time -f "%e %M" -o "$work/big-$home" \
        "$work/bin/qmail-remote" sink.test bench@localhost rcpt@sink.test > "$work/big.out"
    tr '\0' '|' < "$work/big.out" | grep -q '^r|K' || { echo "100 MB delivery ($home) failed" >&2; exit 1; }
done

python3 - "$work" <<'PY'
import json, os, statistics, sys
work = sys.argv[1]
runs = json.load(open(f"{work}/runs.json"))
summary, samples = runs["summary"], runs["samples"]
instructions = {}
try:
    for line in open(f"{work}/instructions.txt"):
        name, count = line.rstrip("\n").split("\t")
        instructions[name] = int(count) if count else None
except FileNotFoundError:
    pass
base_name = "qmail-remote (qmail's C)" if "qmail-remote (qmail's C)" in summary else "smtp-source -m 1"
base = summary[base_name]["wall_ms"]
print(f"| client | wall median (ms) | vs {base_name} | CPU mean (ms) | page faults | peak RSS median (MB) | instructions |")
print("|---|---|---|---|---|---|---|")
for name, row in summary.items():
    count = instructions.get(name)
    print(f"| {name} | {row['wall_ms']:.2f} | {row['wall_ms'] / base:.2f}x | {row['cpu_mean_ms']:.2f} | "
          f"{row['minflt']:.0f} | {row['rss_kb'] / 1024:.1f} | {f'{count:,}' if count else ''} |")
print(f"\n{summary[base_name]['runs']} runs each, interleaved.")
if os.path.exists(f"{work}/runs-c.json"):
    stalled = json.load(open(f"{work}/runs-c.json"))["summary"]["qmail-remote (qmail's C)"]["wall_ms"]
    print(f"qmail's C qmail-remote with 1,100 bytes (past its 1,024-byte buffer, so the final dot waits for "
          f"a delayed ACK): {stalled:.1f} ms (median of 20).")
print("\n| qmail-remote, 1 KB | added wall median (ms) | added CPU median (ms) |")
print("|---|---|---|")
for name in ("qmail-remote, DKIM RSA-2048", "qmail-remote, DKIM RSA-2048 + Ed25519"):
    # Round by round: both ran in the same round, under the same load.
    added = {key: statistics.median(a - b for a, b in zip(samples[name][key], samples["qmail-remote"][key]))
             for key in ("wall_ms", "cpu_ms")}
    print(f"| {name.split(', ')[1]} | {added['wall_ms']:.2f} | {added['cpu_ms']:.2f} |")
print()
for home, name in (("qmail", "unsigned"), ("qmail-rsa", "DKIM RSA-2048"), ("qmail-rsa-ed", "DKIM RSA-2048 + Ed25519")):
    seconds, peak = open(f"{work}/big-{home}").read().split()
    print(f"qmail-remote, 100 MiB message from a pipe, {name}: {float(seconds):.2f} s wall, "
          f"peak RSS {int(peak) / 1024:.1f} MB")
PY
