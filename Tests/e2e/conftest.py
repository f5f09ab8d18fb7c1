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
        # The classic conversation (HELO, IPv4 only) unless a test asks for
        # ESMTP: the classic tests must pass unchanged with control/esmtp 0.
        self.control("esmtp", "0\n")
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

    def environment(self, env=None):
        environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QMAILHOME": str(self.path)}
        if self.dns is not None:
            environment["QMAILREMOTE_DNS"] = self.dns.address
        environment.update(env or {})
        return environment

    def run(self, *args, message=b"Subject: t\n\nhello\n", env=None, timeout=60, stdin=None):
        """Runs qmail-remote with `message` on a pipe, or `stdin` (an open
        file: a regular file, as qmail-rspawn hands over the queue file)."""
        result = subprocess.run([str(BINARY), *args], input=None if stdin else message, stdin=stdin,
                                capture_output=True, env=self.environment(env), timeout=timeout)
        assert result.returncode == 0, result
        self.stderr = result.stderr
        return result.stdout

    def run_file(self, *args, path, env=None, timeout=60):
        with open(path, "rb") as stdin:
            return self.run(*args, env=env, timeout=timeout, stdin=stdin)


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


# --- the gateway -------------------------------------------------------------

import json
import signal
import socket
import time
import http.client

HTTPD = pathlib.Path(os.environ.get("QMAIL_REMOTE_HTTPD_BIN", ROOT / ".build" / "release" / "qmail-remote-httpd"))


def free_port(host="127.0.0.1", family=socket.AF_INET):
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


class Client:
    """HTTP requests to a gateway at host:port (one started here or elsewhere)."""

    def __init__(self, host, port, tls_context=None):
        # HTTPS: the ssl.SSLContext requests are made with (the gateway then needs --tls-cert and --tls-key).
        self.tls_context = tls_context
        self.host = host
        self.port = port

    def connection(self, timeout=60):
        if self.tls_context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def deliver(self, payload, token=None, raw=None, **kwargs):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = raw if raw is not None else json.dumps(payload).encode()
        return self.request("POST", "/v1/deliveries", body=body, headers=headers, **kwargs)


class Gateway(Client):
    """The real qmail-remote-httpd on a loopback port, with a qmail home.

    SMTP connection reuse is off unless `reuse`: a test of one delivery then
    sees its whole conversation, QUIT included, when the answer comes (with
    reuse the QUIT waits for the idle time). test_reuse.py runs with it on.

    The store is a SQLite file of this gateway's own in the qmail home unless
    `store` names one (a restart, replicas on PostgreSQL)."""

    def __init__(self, home, args=(), env=None, host="127.0.0.1", port=None, wait=True, reuse=False, store=None,
                 tls_context=None):
        self.home = home
        self.tls_context = tls_context
        if not reuse:
            args = ("--smtp-reuse-idle", "0", *args)
        self.host = host
        self.port = port or free_port(host, socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.store = store or f"sqlite:{home.path}/state-{self.port}.db"
        args = ("--store", self.store, *args)
        listen = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        environment = home.environment(env)
        self.log_path = home.path / f"httpd-{self.port}.log"
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([str(HTTPD), "--listen", listen, *args], env=environment,
                                        stdout=subprocess.DEVNULL, stderr=self.log_file)
        if wait:
            self.wait_ready()

    def wait_ready(self):
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError("gateway exited: " + self.log())
            try:
                if self.request("GET", "/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("gateway did not start: " + self.log())

    def log(self):
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def log_lines(self):
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.log_file.close()
        return code


@pytest.fixture
def gateway(home):
    started = []

    def start(*args, **options):
        g = Gateway(home, args, **options)
        started.append(g)
        return g

    yield start
    for g in started:
        if g.process.poll() is None:
            g.process.kill()
            g.process.wait()


# --- Postfix's smtp-sink, a real SMTP server nobody here wrote ---------------

import shutil
import tempfile

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


@pytest.fixture
def smtp_sink():
    if not os.path.exists(SMTP_SINK):
        pytest.fail("smtp-sink is not installed (apt-get install postfix); scripts/test.sh installs it")
    dump = pathlib.Path(tempfile.mkdtemp(prefix="sink-"))
    dump.chmod(0o777)
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen([SMTP_SINK, *user, "-d", f"{dump}/%Y", f"127.0.0.1:{port}", "64"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, dump
    process.terminate()
    process.wait()
    shutil.rmtree(dump)


@pytest.fixture
def sinks():
    """smtp-sink servers with options of the test's own (`-W .:1`: a second
    before answering the end of the message, which is already in the dump by
    then). Each start returns (port, dump directory)."""
    if not os.path.exists(SMTP_SINK):
        pytest.fail("smtp-sink is not installed (apt-get install postfix); scripts/test.sh installs it")
    started = []

    def start(*options, backlog=256):
        dump = pathlib.Path(tempfile.mkdtemp(prefix="sink-"))
        dump.chmod(0o777)
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        process = subprocess.Popen([SMTP_SINK, *user, *options, "-d", f"{dump}/m.", f"127.0.0.1:{port}",
                                    str(backlog)])
        started.append((process, dump))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        return port, dump

    yield start
    for process, dump in started:
        process.terminate()
        process.wait()
        shutil.rmtree(dump)




# --- PostgreSQL, a real server the tests start themselves (postgres.py) -------

from postgres import PostgresServer


@pytest.fixture(scope="session")
def postgres_session_server():
    server = PostgresServer().start()
    yield server
    server.close()


@pytest.fixture
def postgres_url(postgres_session_server):
    """A new, empty database on a server shared by the session."""
    name = "t" + os.urandom(8).hex()
    postgres_session_server.psql(f"CREATE DATABASE {name}")
    return postgres_session_server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def postgres():
    """A server of this test's own, to stop, kill and restart at will."""
    server = PostgresServer().start()
    yield server
    server.close()
