#!/usr/bin/env python3
# Runs each client directly (posix_spawn, no shell), round robin and in a
# rotating order, so that every client meets the same machine load. Per run:
# the wall time from spawn to reap, and the child's rusage from wait4 (user
# plus system CPU, minor page faults). Peak RSS comes from extra runs under
# GNU time: a child spawned from this (large) Python process would count the
# parent's memory in its ru_maxrss. Only times clients; is none itself.
# Usage: bench/spawn.py --runs N [--warmup N] [--rss-every N] OUT.json < SPEC.json
# SPEC: [{"name", "argv", "stdin", "env", "expect"}], "expect" a prefix of stdout.
import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def spawn(client, argv, output):
    stdin = os.open(client.get("stdin") or os.devnull, os.O_RDONLY)
    stdout = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    started = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, client.get("env", {}),
                         file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1)])
    _, status, usage = os.wait4(pid, 0)
    ended = time.perf_counter_ns()
    os.close(stdin)
    os.close(stdout)
    if status != 0:
        sys.exit(f"spawn: {client['name']} exited with status {status:#x}")
    expect = client.get("expect")
    if expect is not None:
        with open(output, "rb") as written:
            got = written.read(len(expect.encode()))
        if got != expect.encode():
            sys.exit(f"spawn: {client['name']} wrote {got!r}, not {expect!r}")
    return (ended - started) / 1e6, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_minflt


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rss-every", type=int, default=5, help="a GNU time run every N rounds")
    parser.add_argument("out")
    options = parser.parse_args()
    clients = json.load(sys.stdin)
    samples = {client["name"]: {"wall_ms": [], "cpu_ms": [], "minflt": [], "rss_kb": []} for client in clients}
    scratch = tempfile.mkdtemp()
    output, rss = f"{scratch}/stdout", f"{scratch}/rss"
    for round_number in range(options.warmup + options.runs):
        shift = round_number % len(clients)
        for client in clients[shift:] + clients[:shift]:
            wall, cpu, faults = spawn(client, client["argv"], output)
            if round_number < options.warmup:
                continue
            for key, value in (("wall_ms", wall), ("cpu_ms", cpu), ("minflt", faults)):
                samples[client["name"]][key].append(value)
            if (round_number - options.warmup) % options.rss_every == 0:
                spawn(client, ["/usr/bin/time", "-f", "%M", "-o", rss, *client["argv"]], output)
                samples[client["name"]]["rss_kb"].append(int(open(rss).read().split()[-1]))
    for path in (output, rss):
        if os.path.exists(path):
            os.unlink(path)
    os.rmdir(scratch)
    summary = {
        name: {
            "runs": len(values["wall_ms"]),
            "wall_ms": statistics.median(values["wall_ms"]),
            "cpu_mean_ms": statistics.fmean(values["cpu_ms"]),
            "minflt": statistics.median(values["minflt"]),
            "rss_kb": statistics.median(values["rss_kb"]),
        }
        for name, values in samples.items()
    }
    with open(options.out, "w") as out:
        json.dump({"summary": summary, "samples": samples}, out)


main()
