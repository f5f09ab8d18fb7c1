"""The durable store under faults, driven from another process by store-load
(Tests/StoreLoad): a writer killed with SIGKILL in the middle of its group
commits, a disk that fills up (a small tmpfs in a mount namespace of the
test's own), a read-only directory, a file that is not a database, and a
PostgreSQL server that stops or crashes mid-run and comes back. After each:
every delivery whose commit was acknowledged is there, whole, and nothing
half written is."""
import os
import pathlib
import signal
import subprocess
import time

import pytest

from conftest import ROOT

STORE_LOAD = pathlib.Path(os.environ.get("STORE_LOAD_BIN", ROOT / ".build" / "release" / "store-load"))
IN_CI = os.environ.get("CI") == "true"


def load(*args, **options):
    return subprocess.Popen([str(STORE_LOAD), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **options)


class Writer:
    """store-load enqueue running in the background; its stdout lines kept."""

    def __init__(self, url, body_bytes, clients=20, count=10_000_000):
        self.process = load("enqueue", url, clients, count, body_bytes)
        self.lines = []

    def read_until(self, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.decode().rstrip("\n"))
            if predicate(self):
                return
        raise AssertionError(f"gave up waiting; last lines: {self.lines[-5:]}; "
                             f"stderr: {self.process.stderr.read(2000) if self.process.poll() is not None else ''}")

    def oks(self):
        return sum(1 for line in self.lines if line.startswith("ok "))

    def errors(self, kind):
        return sum(1 for line in self.lines if line.startswith(f"error {kind} "))

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        rest, _ = self.process.communicate(timeout=30)
        # A line cut by the kill is not an acknowledgement.
        self.lines += [line for line in rest.decode().split("\n")[:-1]]


def verify(url, lines, tmp_path):
    ids = tmp_path / "acknowledged"
    ids.write_text("".join(line + "\n" for line in lines))
    result = subprocess.run([str(STORE_LOAD), "verify", url, str(ids)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@pytest.mark.parametrize("body_bytes", [1024, 300_000], ids=["inline", "file-beside"])
def test_sqlite_writer_killed_mid_batch_keeps_every_acknowledged_delivery(tmp_path, body_bytes):
    url = f"sqlite:{tmp_path}/state.db"
    writer = Writer(url, body_bytes)
    writer.read_until(lambda w: w.oks() >= (300 if body_bytes < 100_000 else 60))
    writer.kill()
    acknowledged = writer.oks()
    report = verify(url, writer.lines, tmp_path)
    assert f"verified {acknowledged} acknowledged" in report
    # No body file without its row (the open sweeps them) and none missing.
    if body_bytes > 262_144:
        present = int(report.split(", ")[1].split()[0])
        assert len(os.listdir(f"{tmp_path}/state.db.bodies")) == present


def test_postgresql_writer_killed_mid_batch_keeps_every_acknowledged_delivery(postgres_url, tmp_path):
    writer = Writer(postgres_url, 1024)
    writer.read_until(lambda w: w.oks() >= 300)
    writer.kill()
    assert f"verified {writer.oks()} acknowledged" in verify(postgres_url, writer.lines, tmp_path)


def private_mount(script, tmp_path):
    """Runs `script` in a mount namespace of its own (root, or a user namespace)."""
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-euc", script]
    if os.geteuid() != 0:
        command[1:1] = ["--map-root-user"]
    probe = subprocess.run(command[:-3] + ["true"], capture_output=True)
    if probe.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot make a mount namespace: {probe.stderr}")
        pytest.skip("cannot make a mount namespace here")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)


# Room for about 40 of the larger bodies: with 20 writers each holding one
# half written at any time, how many complete before the disk is full is up
# to the scheduler when there is room for fewer.
@pytest.mark.parametrize("body_bytes", [20_000, 300_000], ids=["inline", "file-beside"])
def test_sqlite_full_disk_fails_clearly_and_keeps_what_was_committed(tmp_path, body_bytes):
    disk = tmp_path / "disk"
    disk.mkdir()
    result = private_mount(f"""
        mount -t tmpfs -o size=16m tmpfs {disk}
        head -c 4000000 /dev/zero > {disk}/filler
        {STORE_LOAD} enqueue sqlite:{disk}/state.db 20 100000 {body_bytes} stop-on-error > {tmp_path}/full.out
        rm {disk}/filler
        {STORE_LOAD} verify sqlite:{disk}/state.db {tmp_path}/full.out > {tmp_path}/verify.out
        {STORE_LOAD} enqueue sqlite:{disk}/state.db 2 3 {body_bytes} stop-on-error > {tmp_path}/after.out
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    full = (tmp_path / "full.out").read_text().splitlines()
    oks = sum(1 for line in full if line.startswith("ok "))
    assert oks > 5
    assert any(line.startswith("error disk_full ") for line in full), full[-5:]
    assert f"verified {oks} acknowledged" in (tmp_path / "verify.out").read_text()
    # Space again: the same store takes deliveries again.
    assert (tmp_path / "after.out").read_text().count("ok ") == 3


def test_sqlite_read_only_directory_is_refused_naming_the_url(tmp_path):
    existing = tmp_path / "existing"
    empty = tmp_path / "empty"
    existing.mkdir()
    empty.mkdir()
    subprocess.run([str(STORE_LOAD), "open", f"sqlite:{existing}/state.db"], check=True, capture_output=True)
    result = private_mount(f"""
        for directory in {existing} {empty}; do
            mount --bind $directory $directory
            mount -o remount,bind,ro $directory
        done
        {STORE_LOAD} open sqlite:{existing}/state.db 2> {tmp_path}/existing.err || echo refused >> {tmp_path}/existing.err
        {STORE_LOAD} open sqlite:{empty}/state.db 2> {tmp_path}/empty.err || echo refused >> {tmp_path}/empty.err
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    for name, directory in (("existing", existing), ("empty", empty)):
        message = (tmp_path / f"{name}.err").read_text()
        assert message.startswith(f"error read_only cannot open sqlite:{directory}/state.db: read-only: "), message
        assert message.endswith("refused\n")
    # Writable again, the existing store is whole.
    subprocess.run([str(STORE_LOAD), "open", f"sqlite:{existing}/state.db"], check=True, capture_output=True)


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "state.db"
    junk = os.urandom(20_000)
    path.write_bytes(junk)
    result = subprocess.run([str(STORE_LOAD), "open", f"sqlite:{path}"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error corrupt cannot open sqlite:{path}: corrupt database: "), result.stderr
    assert path.read_bytes() == junk


def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path):
    url = f"sqlite:{tmp_path}/state.db"
    writer = Writer(url, 1024, clients=2)
    writer.read_until(lambda w: w.oks() >= 10)
    result = subprocess.run([str(STORE_LOAD), "open", url], capture_output=True, text=True)
    writer.kill()
    assert result.returncode == 1
    assert result.stderr.startswith(f"error in_use cannot open {url}: in use by another process: "), result.stderr


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_postgresql_going_away_gives_unavailable_then_recovers_keeping_everything(postgres, tmp_path, how):
    url = postgres.url
    writer = Writer(url, 1024)
    writer.read_until(lambda w: w.oks() >= 200)
    if how == "stop":
        postgres.stop()
    else:
        postgres.kill()
    writer.read_until(lambda w: w.errors("unavailable") >= 20)
    before = writer.oks()
    postgres.start()
    writer.read_until(lambda w: w.oks() >= before + 200)
    writer.kill()
    assert writer.errors("unavailable") >= 20
    # Only "unavailable": no other kind of failure, no commit reported that did not happen.
    kinds = {line.split()[1] for line in writer.lines if line.startswith("error ")}
    assert kinds == {"unavailable"}, kinds
    assert f"verified {writer.oks()} acknowledged" in verify(url, writer.lines, tmp_path)
