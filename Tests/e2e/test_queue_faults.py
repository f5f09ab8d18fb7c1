"""The queue under faults, through the real gateway and real engines: kill -9
in the middle of 600 queued messages to a slow smtp-sink, then a restart;
two replicas on one PostgreSQL server with one killed; PostgreSQL crashing
mid-run and coming back; a full disk under the store and the spool; a
corrupt, read-only or too new SQLite file. After each, every delivery that got its
202 is at the sink, and a message is there twice only when its status says
it may be (the final dot went out and the answer was lost)."""
import os
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import HTTPD, Client, free_port
from queuing import MESSAGE, metrics, post, queue, queue_empty, status, subjects_at, wait_for_status, wait_until

PAYLOAD = {"sender": "app@b.test", "recipients": ["u@x.test"], "message": MESSAGE}
IN_CI = os.environ.get("CI") == "true"


def flood(g, count, prefix, threads=20, gateways=None):
    """Queues `count` messages from `threads` clients (round robin over
    `gateways`); returns {subject: id} for those answered 202. A client whose
    gateway goes away stops."""
    targets = gateways or [g]
    accepted = {}
    lock = threading.Lock()

    def client(worker):
        for n in range(worker, count, threads):
            subject = f"{prefix}{n}"
            try:
                answer = post(targets[n % len(targets)], dict(PAYLOAD, message=f"Subject: {subject}\n\nx\n"),
                              queued=True, timeout=20)
            except OSError:
                return
            if answer.status == 202:
                with lock:
                    accepted[subject] = answer.json["id"]

    workers = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(threads)]
    for worker in workers:
        worker.start()
    return accepted, workers


def check_sink(g, accepted, dump, most_duplicates):
    """Every accepted message arrived; each one that arrived twice says so."""
    at_sink = subjects_at(dump)
    missing = [subject for subject in accepted if at_sink[subject] == 0]
    assert not missing, f"{len(missing)} accepted messages never arrived: {missing[:10]}"
    twice = [subject for subject in accepted if at_sink[subject] > 1]
    assert len(twice) <= most_duplicates, twice
    for subject in twice:
        answer = status(g, accepted[subject]).json
        assert answer["possible_duplicate"] is True, answer
    assert all(count <= 2 for count in at_sink.values())
    return at_sink, twice


def test_kill_9_during_600_queued_messages_loses_none(home, sinks, gateway):
    port, dump = sinks("-W", ".:1")
    home.control("smtproutes", f":127.0.0.1:{port}\n")
    store = f"sqlite:{home.path}/crash.db"
    g = gateway("--concurrency", "40", store=store)
    accepted, workers = flood(g, 600, "k")
    wait_until(lambda: len(accepted) >= 500 and len(subjects_at(dump)) >= 40, timeout=60,
               message="500 accepted and deliveries under way")
    g.process.kill()
    g.process.wait()
    for worker in workers:
        worker.join(30)
    before = sum(subjects_at(dump).values())
    assert before < len(accepted), "everything was delivered before the kill"
    again = gateway("--concurrency", "40", store=store)
    wait_until(lambda: queue_empty(again), timeout=120, step=0.5, message="the queue to empty after the restart")
    # At most the deliveries that were waiting for their answers at the kill come twice.
    at_sink, twice = check_sink(again, accepted, dump, most_duplicates=40)
    for subject in list(accepted)[:50]:
        assert status(again, accepted[subject]).json["status"] == "delivered"
    assert sum(at_sink.values()) > before


def test_two_replicas_on_postgresql_one_killed_the_other_finishes(home, sinks, gateway, postgres_url):
    port, dump = sinks("-W", ".:1")
    home.control("smtproutes", f":127.0.0.1:{port}\n")
    flags = ("--concurrency", "10", "--lease-seconds", "3")
    first = gateway(*flags, store=postgres_url)
    second = gateway(*flags, store=postgres_url)
    accepted, workers = flood(first, 240, "p", threads=10, gateways=[first, second])
    for worker in workers:
        worker.join(60)
    assert len(accepted) == 240
    wait_until(lambda: len(subjects_at(dump)) >= 30, timeout=60, message="deliveries under way")
    first.process.kill()
    first.process.wait()
    wait_until(lambda: queue_empty(second), timeout=120, step=0.5, message="the survivor to empty the queue")
    check_sink(second, accepted, dump, most_duplicates=20)
    # The survivor took over work the killed replica had claimed or accepted.
    taken = {line["delivery_id"] for line in second.log_lines() if line.get("message") == "attempt"}
    first_ids = {accepted[f"p{n}"] for n in range(0, 240, 2)}
    assert taken & first_ids


def test_postgresql_going_away_is_503_and_the_queue_recovers(home, sinks, gateway, postgres):
    port, dump = sinks("-W", ".:1")
    home.control("smtproutes", f":127.0.0.1:{port}\n")
    g = gateway("--concurrency", "5", "--lease-seconds", "5", store=postgres.url)
    accepted = {f"g{n}": queue(g, dict(PAYLOAD, message=f"Subject: g{n}\n\nx\n")) for n in range(30)}
    wait_until(lambda: len(subjects_at(dump)) >= 5, timeout=30, message="deliveries under way")
    postgres.kill()
    refused = post(g, dict(PAYLOAD, message="Subject: refused\n\nx\n"), queued=True)
    assert refused.status == 503 and refused.json["error"]["code"] == "store_unavailable"
    assert refused.header("Retry-After")
    keyed = post(g, PAYLOAD, key="while-down")
    assert keyed.status == 503 and keyed.json["error"]["code"] == "store_unavailable"
    assert status(g, accepted["g0"]).status == 503
    # Without a key nothing needs the store: delivered as ever.
    assert post(g, dict(PAYLOAD, message="Subject: sync\n\nx\n")).status == 200
    wait_until(lambda: metrics(g)["qmail_remote_httpd_store_up"] == 0, timeout=10, message="store_up 0")
    postgres.start()
    later = {}

    def queued_again():
        answer = post(g, dict(PAYLOAD, message="Subject: later\n\nx\n"), queued=True)
        if answer.status == 202:
            later["later"] = answer.json["id"]
        return answer.status == 202

    wait_until(queued_again, timeout=30, step=0.5, message="a 202 once PostgreSQL is back")
    wait_until(lambda: queue_empty(g), timeout=120, step=0.5, message="the queue to empty")
    at_sink, _ = check_sink(g, dict(accepted, **later), dump, most_duplicates=5)
    assert at_sink["refused"] == 0 and at_sink["sync"] == 1
    assert metrics(g)["qmail_remote_httpd_store_up"] == 1


def private_namespace(script, tmp_path, env):
    """Runs `script` in a mount namespace of its own (root, or a user namespace)."""
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-euc", script]
    if os.geteuid() != 0:
        command[1:1] = ["--map-root-user"]
    probe = subprocess.run(command[:-3] + ["true"], capture_output=True)
    if probe.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot make a mount namespace: {probe.stderr}")
        pytest.skip("cannot make a mount namespace here")
    return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_full_disk_is_503_and_nothing_is_half_written(home, smtp_sink, tmp_path):
    sink_port, dump = smtp_sink
    home.control("smtproutes", f":127.0.0.1:{sink_port}\n")
    disk, spool, flags = tmp_path / "disk", tmp_path / "spool", tmp_path / "flags"
    for directory in (disk, spool, flags):
        directory.mkdir()
    port = free_port()

    def wait_flag(name):
        wait_until(lambda: (flags / name).exists() or process.poll() is not None, timeout=60, message=name)
        assert (flags / name).exists(), process.stdout.read().decode()

    process = private_namespace(f"""
        mount -t tmpfs -o size=4m tmpfs {disk}
        mount -t tmpfs -o size=4m tmpfs {spool}
        {HTTPD} --listen 127.0.0.1:{port} --store sqlite:{disk}/state.db --spool-dir {spool} \\
            --spool-threshold 1000000 --smtp-reuse-idle 0 2> {tmp_path}/gateway.log &
        gateway=$!
        until [ -e {flags}/fill ]; do sleep 0.05; done
        cat /dev/zero > {disk}/filler 2>/dev/null || true
        cat /dev/zero > {spool}/filler 2>/dev/null || true
        touch {flags}/filled
        until [ -e {flags}/free ]; do sleep 0.05; done
        ls -A {disk}/state.db.bodies > {tmp_path}/bodies.txt
        ls -A {spool} > {tmp_path}/spool.txt
        rm {disk}/filler {spool}/filler
        touch {flags}/freed
        until [ -e {flags}/stop ]; do sleep 0.05; done
        kill -TERM $gateway
        wait $gateway
        python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); \\
print(db.execute("PRAGMA integrity_check").fetchone()[0], db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])' \\
            {disk}/state.db > {tmp_path}/check.txt
        touch {flags}/stopped
    """, tmp_path, home.environment())
    g = Client("127.0.0.1", port)
    wait_until(lambda: _healthy(g) or process.poll() is not None, timeout=30, message="the gateway")
    assert queue(g, PAYLOAD)
    (flags / "fill").touch()
    wait_flag("filled")
    large = "Subject: large\n\n" + "x" * 76 + "\n"
    for message in ["Subject: inline\n\n" + "y" * 200_000 + "\n", large * 4000]:
        answer = post(g, dict(PAYLOAD, message=message), queued=True)
        assert answer.status == 503 and answer.json["error"]["code"] == "store_unavailable", answer.body
        assert "disk_full" in answer.json["error"]["message"]
    # A body past --spool-threshold goes to the (full) spool directory first.
    spooled = post(g, None, raw=(large * 13000).encode(), content_type="message/rfc822", queued=True,
                   path="/v1/deliveries?sender=&recipient=u%40x.test")
    assert spooled.status == 503 and spooled.json["error"]["code"] == "spool_failed"
    (flags / "free").touch()
    wait_flag("freed")
    assert (tmp_path / "bodies.txt").read_text() == "" and (tmp_path / "spool.txt").read_text() == "filler\n"
    delivery_id = queue(g, dict(PAYLOAD, message=large * 4000))
    assert wait_for_status(g, delivery_id)["status"] == "delivered"
    (flags / "stop").touch()
    wait_flag("stopped")
    assert process.wait(30) == 0
    assert (tmp_path / "check.txt").read_text().split() == ["ok", "2"]
    assert len(subjects_at(dump)) == 2


def _healthy(g):
    try:
        return g.request("GET", "/healthz", timeout=2).status == 200
    except OSError:
        return False


def test_a_corrupt_sqlite_file_stops_the_start_and_is_left_alone(home, gateway, tmp_path):
    path = tmp_path / "state.db"
    junk = os.urandom(20_000)
    path.write_bytes(junk)
    g = gateway(store=f"sqlite:{path}", wait=False)
    assert g.process.wait(30) == 1
    assert f"--store: cannot open sqlite:{path}: corrupt database" in g.log()
    assert path.read_bytes() == junk


def test_a_read_only_sqlite_file_stops_the_start(home, gateway, tmp_path):
    directory = tmp_path / "store"
    directory.mkdir()
    store = f"sqlite:{directory}/state.db"
    made = gateway(store=store)
    queue(made, PAYLOAD)
    assert made.stop() == 0
    before = (directory / "state.db").read_bytes()
    process = private_namespace(f"""
        mount --bind {directory} {directory}
        mount -o remount,bind,ro {directory}
        {HTTPD} --listen 127.0.0.1:{free_port()} --store {store} 2> {tmp_path}/ro.log || echo "exit $?" >> {tmp_path}/ro.log
    """, tmp_path, home.environment())
    assert process.wait(60) == 0, process.stdout.read()
    log = (tmp_path / "ro.log").read_text()
    assert f"--store: cannot open {store}: read-only" in log and log.endswith("exit 1\n"), log
    assert (directory / "state.db").read_bytes() == before


def test_a_store_this_program_cannot_migrate_stops_the_start_and_is_left_alone(home, gateway, tmp_path):
    path = tmp_path / "state.db"
    made = gateway(store=f"sqlite:{path}")
    delivery_id = queue(made, PAYLOAD)
    assert made.stop() == 0
    with sqlite3.connect(path) as database:
        assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # as the gateway left it
        database.execute("INSERT INTO schema_version (version) VALUES (99)")
    database.close()
    before = path.read_bytes()
    g = gateway(store=f"sqlite:{path}", wait=False)
    assert g.process.wait(30) == 1
    log = g.log()
    assert f"--store: cannot open sqlite:{path}" in log and "schema version 99 is newer" in log, log
    assert path.read_bytes() == before
    with sqlite3.connect(path) as database:
        assert database.execute("SELECT count(*) FROM deliveries WHERE id = ?", (delivery_id,)).fetchone() == (1,)
    database.close()
