"""Fixtures for the end-to-end tests: the real qmail-remote binary run with a
temporary qmail home, scripted SMTP and DNS servers on loopback.

Tests that need port 25 on 127.0.0.x (MX delivery) need their own network
namespace: scripts/test.sh runs pytest inside `unshare --net` and sets
QMR_NETNS=1; without it those tests are skipped, and say so.
"""
import os
import pathlib
import subprocess

import pytest

from dnsscript import ScriptedDNSServer
from smtpscript import ScriptedSMTPServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("QMAIL_REMOTE_BIN", ROOT / ".build" / "release" / "qmail-remote"))

needs_netns = pytest.mark.skipif(os.environ.get("QMR_NETNS") != "1",
                                 reason="needs its own network namespace (run scripts/test.sh)")

GREETING = b"220 scripted ESMTP\r\n"
OK = b"250 ok\r\n"
GO_AHEAD = b"354 go ahead\r\n"


class QmailHome:
    """A qmail home directory with a control directory and a tcpto table."""

    def __init__(self, path):
        self.path = path
        self.control_dir = path / "control"
        self.control_dir.mkdir(parents=True)
        (path / "queue" / "lock").mkdir(parents=True)
        (path / "queue" / "lock" / "tcpto").write_bytes(b"\0" * 1024)
        self.control("me", "helo.test\n")
        self.control("timeoutconnect", "2\n")
        self.control("timeoutremote", "5\n")
        self.dns = None

    def control(self, name, content):
        data = content.encode() if isinstance(content, str) else content
        (self.control_dir / name).write_bytes(data)

    def remove(self, name):
        (self.control_dir / name).unlink()

    def route_to(self, server, key="x.test"):
        self.control("smtproutes", f"{key}:{server.host}:{server.port}\n")

    def run(self, *args, message=b"Subject: t\n\nhello\n", env=None, timeout=60):
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QMAILHOME": str(self.path)}
        if self.dns is not None:
            environment["QMAILREMOTE_DNS"] = self.dns.address
        environment.update(env or {})
        result = subprocess.run([str(BINARY), *args], input=message, capture_output=True,
                                env=environment, timeout=timeout)
        assert result.returncode == 0, result
        self.stderr = result.stderr
        return result.stdout


@pytest.fixture
def home(tmp_path):
    return QmailHome(tmp_path / "qmail")


@pytest.fixture
def smtp():
    servers = []

    def start(*replies, **options):
        server = ScriptedSMTPServer(replies, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def dns(home):
    servers = []

    def start(zone):
        server = ScriptedDNSServer(zone)
        servers.append(server)
        home.dns = server
        return server

    yield start
    for server in servers:
        server.close()


def good_conversation(final=b"250 ok\r\n"):
    return [GREETING, OK, OK, OK, GO_AHEAD, final]
