#!/usr/bin/env bash
# Per-message cost of the qmail-remote command delivering a 1 KB message to
# Postfix's smtp-sink on loopback, side by side in one run with smtp-source
# -m 1 (Postfix's C client) and msmtp: wall time (hyperfine medians), CPU and
# peak RSS (GNU time, medians), then peak RSS delivering a 100 MB message.
# The same message DKIM-signed (control/dkimdomains: RSA-2048, then RSA-2048
# and Ed25519) is timed beside the plain one, with hyperfine and interleaved
# round by round, and signed from a pipe at 100 MiB.
# Usage: bench/cli.sh [runs]   (default 200)
runs=${1:-200}
source "$(dirname "$0")/common.sh"
bin="$PWD/.build/release/qmail-remote"
port=$(free_port)
mkdir -p "$work/qmail/control" "$work/qmail/queue/lock"
echo bench.localhost > "$work/qmail/control/me"
echo "sink.test:127.0.0.1:$port" > "$work/qmail/control/smtproutes"
export QMAILHOME="$work/qmail"
# The same installation with signing: one RSA-2048 key, or it and an Ed25519 key.
for home in rsa dual; do
    mkdir -p "$work/$home/control/dkimkeys/bench.example" "$work/$home/queue/lock"
    cp "$work/qmail/control/me" "$work/qmail/control/smtproutes" "$work/$home/control/"
done
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa/control/dkimkeys/bench.example/r" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$work/dual/control/dkimkeys/bench.example/e"
cp "$work/rsa/control/dkimkeys/bench.example/r" "$work/dual/control/dkimkeys/bench.example/r"
echo "bench.example:r" > "$work/rsa/control/dkimdomains"
echo "bench.example:r,e" > "$work/dual/control/dkimdomains"
/usr/sbin/smtp-sink "${sink_user[@]}" 127.0.0.1:"$port" 256 & started $!
sleep 0.5

python3 - "$work/1k.eml" <<'PY'
import sys
body = b"From: bench@bench.example\nTo: rcpt@sink.test\nSubject: bench\n\n"
line = b"The quick brown fox jumps over the lazy dog, again and again.\n"
while len(body) + len(line) <= 1024:
    body += line
open(sys.argv[1], "wb").write(body + b"x" * (1023 - len(body)) + b"\n")
PY

qmr="$bin sink.test bench@localhost rcpt@sink.test < $work/1k.eml > /dev/null"
rsa="QMAILHOME=$work/rsa $bin sink.test bench@bench.example rcpt@sink.test < $work/1k.eml > /dev/null"
dual="QMAILHOME=$work/dual $bin sink.test bench@bench.example rcpt@sink.test < $work/1k.eml > /dev/null"
src="/usr/sbin/smtp-source -m 1 -s 1 -l 1024 -f bench@localhost -t rcpt@sink.test 127.0.0.1:$port"
msm="msmtp -C /dev/null --host=127.0.0.1 --port=$port --auth=off --tls=off --from=bench@localhost rcpt@sink.test < $work/1k.eml"

# Each must deliver before it is timed.
out=$(eval "$bin sink.test bench@localhost rcpt@sink.test < $work/1k.eml" | tr '\0' '|')
case "$out" in r\|K*) ;; *) echo "qmail-remote did not deliver: $out" >&2; exit 1 ;; esac
for home in rsa dual; do
    out=$(QMAILHOME="$work/$home" "$bin" sink.test bench@bench.example rcpt@sink.test < "$work/1k.eml" | tr '\0' '|')
    case "$out" in r\|K*) ;; *) echo "qmail-remote ($home) did not deliver: $out" >&2; exit 1 ;; esac
done
eval "$src" && eval "$msm"

hyperfine --warmup 20 --runs "$runs" --export-json "$work/wall.json" \
    -n qmail-remote "$qmr" -n "qmail-remote, DKIM RSA-2048" "$rsa" -n "qmail-remote, DKIM RSA-2048 + Ed25519" "$dual" \
    -n "smtp-source -m 1" "$src" -n msmtp "$msm" > "$work/hyperfine.txt" 2>&1

# What signing adds, measured interleaved (plain, RSA, RSA + Ed25519 in turn,
# round after round) so that a busy machine weighs on all three alike: each
# run's wall time and CPU (wait4's rusage), medians, and the median of the
# per-round differences from the plain run of the same round.
python3 - "$work" "$bin" "$runs" > "$work/interleaved.txt" <<'PY'
import os, statistics, sys, time
work, binary, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
homes = {"plain": f"{work}/qmail", "rsa": f"{work}/rsa", "dual": f"{work}/dual"}
senders = {"plain": "bench@localhost", "rsa": "bench@bench.example", "dual": "bench@bench.example"}
def run(name):
    env = dict(os.environ, QMAILHOME=homes[name])
    with open(f"{work}/1k.eml", "rb") as stdin, open(os.devnull, "wb") as null:
        started = time.perf_counter()
        pid = os.posix_spawn(binary, [binary, "sink.test", senders[name], "rcpt@sink.test"], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, stdin.fileno(), 0),
                                           (os.POSIX_SPAWN_DUP2, null.fileno(), 1)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
    assert status == 0
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000
results = {name: [] for name in homes}
for round in range(runs + 20):
    for name in homes:
        results[name].append(run(name))
for name in homes:
    results[name] = results[name][20:]  # the first rounds warm the caches
for name in homes:
    walls, cpus = zip(*results[name])
    line = f"{name} {statistics.median(walls):.2f} {statistics.median(cpus):.2f}"
    if name != "plain":
        line += " %.2f %.2f" % (
            statistics.median(w - p for (w, _), (p, _) in zip(results[name], results["plain"])),
            statistics.median(c - p for (_, c), (_, p) in zip(results[name], results["plain"])))
    print(line)
PY

# Peak RSS per run (GNU time, each client run directly, no shell in between),
# medians over a tenth of the runs; CPU comes from hyperfine's user+system.
measure() {
    local name=$1; shift
    for _ in $(seq 1 $(( runs / 10 > 10 ? runs / 10 : 10 ))); do
        /usr/bin/time -f "%M" -o "$work/t" "$@" < "$work/1k.eml" >/dev/null
        cat "$work/t" >> "$work/$name.rss"
    done
}
measure qmr "$bin" sink.test bench@localhost rcpt@sink.test
measure rsa env QMAILHOME="$work/rsa" "$bin" sink.test bench@bench.example rcpt@sink.test
measure dual env QMAILHOME="$work/dual" "$bin" sink.test bench@bench.example rcpt@sink.test
measure src /usr/sbin/smtp-source -m 1 -s 1 -l 1024 -f bench@localhost -t rcpt@sink.test 127.0.0.1:"$port"
measure msm msmtp -C /dev/null --host=127.0.0.1 --port="$port" --auth=off --tls=off --from=bench@localhost rcpt@sink.test

# 100 MiB of text lines (76 columns), streamed from a pipe as qmail-spawn does.
python3 -c '
import base64, os, sys
out = open(sys.argv[1], "wb"); left = 100 * 1024 * 1024
while left > 0:
    chunk = base64.encodebytes(os.urandom(57 * 1024))[:left]
    if len(chunk) == left: chunk = chunk[:-1] + b"\n"
    out.write(chunk); left -= len(chunk)
' "$work/100m.eml"
cat "$work/100m.eml" | /usr/bin/time -f "%e %M" -o "$work/big" "$bin" sink.test bench@localhost rcpt@sink.test > "$work/big.out"
tr '\0' '|' < "$work/big.out" | grep -q '^r|K' || { echo "100 MB delivery failed" >&2; exit 1; }
# Signed, it needs a header: the same lines after the 1 KB message's.
{ sed '/^$/q' "$work/1k.eml"; cat "$work/100m.eml"; } > "$work/100m-signed.eml"
for home in rsa dual; do
    cat "$work/100m-signed.eml" | QMAILHOME="$work/$home" /usr/bin/time -f "%e %M" -o "$work/big-$home" \
        "$bin" sink.test bench@bench.example rcpt@sink.test > "$work/big.out"
    tr '\0' '|' < "$work/big.out" | grep -q '^r|K' || { echo "100 MB signed delivery failed" >&2; exit 1; }
done

python3 - "$work" <<'PY'
import json, statistics, sys
work = sys.argv[1]
wall = {r["command"]: r for r in json.load(open(f"{work}/wall.json"))["results"]}
def rss(name):
    return statistics.median(int(l) for l in open(f"{work}/{name}.rss")) / 1024
base = wall["smtp-source -m 1"]["median"]
print("| client | wall median (ms) | vs smtp-source | CPU mean, user+sys (ms) | peak RSS median (MB) |")
print("|---|---|---|---|---|")
for label, name in [("qmail-remote", "qmr"), ("qmail-remote, DKIM RSA-2048", "rsa"),
                    ("qmail-remote, DKIM RSA-2048 + Ed25519", "dual"), ("smtp-source -m 1", "src"), ("msmtp", "msm")]:
    w = wall[label]["median"] * 1000
    cpu = (wall[label]["user"] + wall[label]["system"]) * 1000
    print(f"| {label} | {w:.2f} | {w / (base * 1000):.2f}x | {cpu:.2f} | {rss(name):.1f} |")
seconds, peak = open(f"{work}/big").read().split()
print(f"\nqmail-remote, 100 MiB message from a pipe: {float(seconds):.2f} s wall, peak RSS {int(peak) / 1024:.1f} MB")
for label, name in [("DKIM RSA-2048", "rsa"), ("DKIM RSA-2048 + Ed25519", "dual")]:
    seconds, peak = open(f"{work}/big-{name}").read().split()
    print(f"qmail-remote, 100 MiB message from a pipe, {label}: {float(seconds):.2f} s wall, "
          f"peak RSS {int(peak) / 1024:.1f} MB")
print("\n| qmail-remote, 1 KB, interleaved | wall median (ms) | CPU median (ms) | added wall, median (ms) | added CPU, median (ms) |")
print("|---|---|---|---|---|")
labels = {"plain": "unsigned", "rsa": "DKIM RSA-2048", "dual": "DKIM RSA-2048 + Ed25519"}
for line in open(f"{work}/interleaved.txt"):
    name, *figures = line.split()
    print(f"| {labels[name]} | " + " | ".join(figures + [""] * (4 - len(figures))) + " |")
PY
