"""The connect-timeout table (queue/lock/tcpto) in qmail's format: time-outs
are counted, an address that timed out twice is skipped for about an hour, a
success clears it, a missing table does nothing, and concurrent runs never
corrupt it."""
import socket
import struct
import subprocess
import time

import pytest

from conftest import good_conversation

NO_CONNECTION = b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"


@pytest.fixture
def blackhole():
    """A port whose SYNs go unanswered: a listener with a full accept queue."""
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for s in fillers + [listener]:
        s.close()


def records(home):
    data = (home.path / "queue" / "lock" / "tcpto").read_bytes()
    out = {}
    for i in range(0, len(data), 16):
        record = data[i:i + 16]
        if record[4]:
            out[socket.inet_ntoa(record[:4])] = (record[4], struct.unpack("<I", record[8:12])[0])
    return out


def write_record(home, ip, errors, when, slot=0):
    path = home.path / "queue" / "lock" / "tcpto"
    data = bytearray(path.read_bytes())
    data[slot * 16:slot * 16 + 16] = socket.inet_aton(ip) + bytes([errors, 0, 0, 0]) + struct.pack("<I", when) + bytes(4)
    path.write_bytes(bytes(data))


def test_connect_timeout_is_recorded(home, blackhole):
    home.control("timeoutconnect", "1\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{blackhole}\n")
    before = int(time.time())
    assert home.run("x.test", "a@b.test", "u@x.test") == NO_CONNECTION
    errors, when = records(home)["127.0.0.1"]
    assert errors == 1 and before <= when <= time.time() + 1


def test_second_timeout_within_two_minutes_counts_nothing(home, blackhole):
    home.control("timeoutconnect", "1\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{blackhole}\n")
    home.run("x.test", "a@b.test", "u@x.test")
    home.run("x.test", "a@b.test", "u@x.test")
    assert records(home)["127.0.0.1"][0] == 1


def test_second_timeout_later_counts(home, blackhole):
    home.control("timeoutconnect", "1\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{blackhole}\n")
    write_record(home, "127.0.0.1", 1, int(time.time()) - 300)
    home.run("x.test", "a@b.test", "u@x.test")
    assert records(home)["127.0.0.1"][0] == 2


def test_address_that_timed_out_twice_recently_is_skipped(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    write_record(home, "127.0.0.1", 2, int(time.time()) - 60, slot=5)
    assert home.run("x.test", "a@b.test", "u@x.test") == NO_CONNECTION
    server.close()
    assert server.connections == 0


def test_old_timeouts_are_tried_again_and_cleared_by_success(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    write_record(home, "127.0.0.1", 2, int(time.time()) - 2 * 3600, slot=3)
    assert home.run("x.test", "a@b.test", "u@x.test").startswith(b"r\0K127.0.0.1")
    assert "127.0.0.1" not in records(home)


def test_one_timeout_does_not_skip(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    write_record(home, "127.0.0.1", 1, int(time.time()))
    assert home.run("x.test", "a@b.test", "u@x.test").startswith(b"r\0K")


def test_missing_table_has_no_effect(home, smtp, blackhole):
    (home.path / "queue" / "lock" / "tcpto").unlink()
    home.control("timeoutconnect", "1\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{blackhole}\n")
    assert home.run("x.test", "a@b.test", "u@x.test") == NO_CONNECTION
    assert not (home.path / "queue" / "lock" / "tcpto").exists()


def test_full_table_replaces_the_oldest_record(home, blackhole):
    now = int(time.time())
    for slot in range(64):
        write_record(home, f"10.0.0.{slot}", 1, now - 1000 + slot, slot=slot)
    home.control("timeoutconnect", "1\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{blackhole}\n")
    home.run("x.test", "a@b.test", "u@x.test")
    table = records(home)
    assert "127.0.0.1" in table and "10.0.0.0" not in table and len(table) == 64


def test_concurrent_runs_do_not_corrupt_the_table(home, blackhole, tmp_path):
    home.control("timeoutconnect", "1\n")
    hosts = [f"h{i}.test" for i in range(24)]
    home.control("smtproutes", "".join(f"{h}:127.0.0.{10 + i}:{blackhole}\n" for i, h in enumerate(hosts)))
    env = {"QMAILHOME": str(home.path)}
    from conftest import BINARY
    processes = [subprocess.Popen([str(BINARY), h, "a@b.test", "u@" + h], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, env=env) for h in hosts]
    outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert all(out == NO_CONNECTION for out in outputs)
    table = records(home)
    assert sorted(table) == sorted(f"127.0.0.{10 + i}" for i in range(24))
    assert all(errors == 1 for errors, _ in table.values())
    assert len((home.path / "queue" / "lock" / "tcpto").read_bytes()) == 1024
