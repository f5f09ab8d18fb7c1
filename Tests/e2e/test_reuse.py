"""SMTP connection reuse in the gateway, against real servers: aiosmtpd
(counting connections, TLS handshakes, logins, RSETs and QUITs as it sees
them), Postfix's smtp-sink killed and restarted, and the scripted server
for exact bytes and for a 421 or a death at RSET. Every message is
delivered exactly once, whatever the cached connection turns out to be."""
import concurrent.futures
import os
import pathlib
import signal
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import trustme

from conftest import GO_AHEAD, GREETING, OK, SMTP_SINK, free_port
from smtpscript import CLOSE

MESSAGE = "Subject: reuse\n\nhello again\n"
PIPELINING = b"250-esmtp.test\r\n250 PIPELINING\r\n"


class Counts:
    """What an aiosmtpd server saw, across all its connections."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.closed = 0
        self.handshakes = 0
        self.logins = 0
        self.resets = 0
        self.quits = 0
        self.messages = []

    def add(self, name, value=1):
        with self.lock:
            setattr(self, name, getattr(self, name) + value)


class CountingHandler:
    def __init__(self, counts, refuse_nobody=True, data_delay=0.0):
        self.counts = counts
        self.refuse_nobody = refuse_nobody
        self.data_delay = data_delay

    def handle_STARTTLS(self, server, session, envelope):
        self.counts.add("handshakes")
        return True

    async def handle_RSET(self, server, session, envelope):
        self.counts.add("resets")
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        self.counts.add("quits")
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_nobody and address.startswith("nobody@"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            import asyncio
            await asyncio.sleep(self.data_delay)
        with self.counts.lock:
            self.counts.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


def counting_server(counts, tls=None, auth=None, **options):
    """aiosmtpd on a free port counting what it sees; `tls` an ssl context
    for STARTTLS, `auth` (user, password) for AUTH."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    class CountingSMTP(SMTP):
        def connection_made(self, transport):
            if self.transport is None:
                counts.add("connections")
            super().connection_made(transport)

        def connection_lost(self, error):
            counts.add("closed")
            super().connection_lost(error)

    def authenticator(server, session, envelope, mechanism, auth_data):
        counts.add("logins")
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
            tuple(part.encode() for part in auth)
        return AuthResult(success=ok, handled=False)

    class CountingController(Controller):
        def factory(self):
            return CountingSMTP(self.handler, **self.SMTP_kwargs)

    kwargs = dict(hostname="127.0.0.1", port=free_port(), **options)
    if tls is not None:
        kwargs["tls_context"] = tls
    if auth is not None:
        kwargs.update(authenticator=authenticator, auth_require_tls=True)
    controller = CountingController(CountingHandler(counts), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def aiosmtpd_counting():
    controllers = []

    def start(**options):
        counts = Counts()
        delay = options.pop("data_delay", 0.0)
        controller = counting_server(counts, **options)
        controller.handler.data_delay = delay
        # Controller.start() made a connection of its own to see the server up.
        assert wait_for(lambda: counts.closed == counts.connections)
        counts.connections = counts.closed = 0
        controllers.append(controller)
        return controller.port, counts

    yield start
    for controller in controllers:
        controller.stop()


def route(home, port, esmtp="1"):
    """ESMTP (or classic) and x.test routed to the server on `port`."""
    home.control("esmtp", esmtp + "\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")


def deliver(g, recipients=("u@x.test",), message=MESSAGE):
    answer = g.deliver({"sender": "a@b.test", "recipients": list(recipients), "host": "x.test", "message": message})
    return answer


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def metric(g, name):
    for line in g.request("GET", "/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return None


@pytest.mark.parametrize("esmtp", ["0", "1"])
def test_200_sequential_requests_make_a_handful_of_connections(home, gateway, aiosmtpd_counting, esmtp):
    port, counts = aiosmtpd_counting()
    route(home, port, esmtp)
    g = gateway(reuse=True)
    answers = [deliver(g, message=f"Subject: {i}\n\nmessage {i}\n") for i in range(200)]
    assert [a.status for a in answers] == [200] * 200
    assert sum(a.json["deliveries"][0]["reused"] for a in answers) == 198
    assert len(counts.messages) == 200
    assert sorted(m[2] for m in counts.messages) == sorted(f"Subject: {i}\r\n\r\nmessage {i}\r\n".encode() for i in range(200))
    # 100 messages a connection (the default): two connections, each ended by QUIT.
    assert counts.connections == 2
    assert counts.resets == 198
    assert wait_for(lambda: counts.quits == 2)
    assert metric(g, "qmail_remote_httpd_smtp_connections_opened_total") == 2
    assert metric(g, "qmail_remote_httpd_smtp_connections_reused_total") == 198
    assert metric(g, "qmail_remote_httpd_smtp_connections_idle") == 0


@pytest.fixture(scope="module")
def pki():
    ca = trustme.CA()
    return ca, ca.issue_cert("127.0.0.1")


def test_starttls_and_login_happen_once_per_connection(home, gateway, aiosmtpd_counting, pki):
    ca, certificate = pki
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    port, counts = aiosmtpd_counting(tls=context, auth=("mailer", "s3cret"))
    home.control("esmtp", "1\n")
    ca.cert_pem.write_to_path(str(home.control_dir / "ca.pem"))
    home.control("smtproutes", f"x.test:127.0.0.1:{port} mailer s3cret\n")
    home.control("tlspolicy", "x.test:verify:ca.pem\n")
    g = gateway(reuse=True)
    answers = [deliver(g) for _ in range(50)]
    assert [a.status for a in answers] == [200] * 50
    assert all(a.json["deliveries"][0]["tls"]["verified"] is True for a in answers)
    assert [a.json["deliveries"][0]["reused"] for a in answers] == [False] + [True] * 49
    assert (counts.connections, counts.handshakes, counts.logins, len(counts.messages)) == (1, 1, 1, 50)


def test_a_server_that_closes_idle_connections_costs_no_message(home, gateway, aiosmtpd_counting):
    port, counts = aiosmtpd_counting(timeout=0.5)   # aiosmtpd closes a connection idle for 0.5 s
    route(home, port)
    g = gateway(reuse=True)
    assert deliver(g).status == 200
    assert wait_for(lambda: counts.closed == 1)
    second = deliver(g)
    assert second.status == 200 and second.json["deliveries"][0]["reused"] is False
    assert len(counts.messages) == 2 and counts.connections == 2


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("at_reset", [b"421 4.4.2 closing, idle too long\r\n", CLOSE, b"500 what?\r\n"])
def test_a_421_an_error_or_death_at_rset_sends_the_message_on_a_new_connection_once(home, gateway, smtp,
                                                                                    at_reset, pipelining):
    hello = PIPELINING if pipelining else b"250 esmtp.test\r\n"
    first = [GREETING, hello, OK, OK, GO_AHEAD, OK, at_reset, CLOSE]
    second = [GREETING, hello, OK, OK, GO_AHEAD, OK]
    server = smtp(scripts=[first, second])
    home.control("esmtp", "1\n")
    home.route_to(server)
    g = gateway(reuse=True)
    assert deliver(g, message="Subject: one\n\nfirst\n").status == 200
    answer = deliver(g, message="Subject: two\n\nsecond\n")
    assert answer.status == 200 and answer.json["deliveries"][0]["reused"] is False
    g.stop()
    server.settle()
    server.close()
    assert server.connections == 2
    old, new = bytes(server.transcripts[0]), bytes(server.transcripts[1])
    assert old.count(b"first") == 1 and b"second" not in old
    assert new.count(b"second") == 1 and b"first" not in new
    assert old.endswith(b"RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n" if pipelining else b"RSET\r\n")


def smtp_sink_process(port, dump):
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen([SMTP_SINK, *user, "-d", f"{dump}/%Y", f"127.0.0.1:{port}", "64"])
    assert wait_for(lambda: _listening(port))
    return process


def _listening(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_a_server_killed_between_messages_costs_no_message(home, gateway):
    dump = pathlib.Path(tempfile.mkdtemp(prefix="sink-"))
    dump.chmod(0o777)
    port = free_port()
    route(home, port)
    g = gateway(reuse=True)
    sink = smtp_sink_process(port, dump)
    try:
        assert deliver(g, message="Subject: one\n\nbefore\n").status == 200
        sink.send_signal(signal.SIGKILL)
        sink.wait()
        sink = smtp_sink_process(port, dump)
        answer = deliver(g, message="Subject: two\n\nafter\n")
        assert answer.status == 200 and answer.json["deliveries"][0]["reused"] is False
        assert deliver(g, message="Subject: three\n\nreused\n").json["deliveries"][0]["reused"] is True
        time.sleep(0.3)
        bodies = b"".join(f.read_bytes() for f in dump.rglob("*") if f.is_file())
        assert [bodies.count(word) for word in (b"before", b"after", b"reused")] == [1, 1, 1]
    finally:
        sink.kill()
        sink.wait()


def test_a_rejected_recipient_on_a_reused_connection_reads_as_on_a_new_one(home, gateway, aiosmtpd_counting):
    port, counts = aiosmtpd_counting()
    route(home, port)
    reusing = gateway(reuse=True)
    assert deliver(reusing).status == 200
    reused = deliver(reusing, recipients=["nobody@x.test", "u@x.test"])
    fresh = deliver(gateway(), recipients=["nobody@x.test", "u@x.test"])
    assert reused.json["deliveries"][0]["reused"] is True and fresh.json["deliveries"][0]["reused"] is False
    assert reused.status == fresh.status == 207
    assert reused.json["deliveries"][0]["reports"] == fresh.json["deliveries"][0]["reports"]
    assert reused.json["recipients"] == fresh.json["recipients"]
    only = deliver(reusing, recipients=["nobody@x.test"])
    assert only.status == 422 and only.json["deliveries"][0]["reused"] is True
    assert only.json["deliveries"][0]["reports"][-1]["text"] == "Giving up on 127.0.0.1.\n"


def test_shutdown_sends_quit_on_every_cached_connection(home, gateway, aiosmtpd_counting):
    port, counts = aiosmtpd_counting(data_delay=0.5)
    route(home, port)
    g = gateway(reuse=True)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: deliver(g).status, range(4)))
    assert statuses == [200] * 4
    assert counts.connections == 4 and counts.quits == 0
    assert metric(g, "qmail_remote_httpd_smtp_connections_idle") == 4
    assert g.stop() == 0
    assert wait_for(lambda: counts.quits == 4)
    assert wait_for(lambda: counts.closed == 4)


def test_idle_connections_get_quit_when_their_time_is_up(home, gateway, aiosmtpd_counting):
    port, counts = aiosmtpd_counting()
    route(home, port)
    g = gateway("--smtp-reuse-idle", "1", reuse=True)
    assert deliver(g).status == 200
    assert counts.quits == 0
    started = time.monotonic()
    assert wait_for(lambda: counts.quits == 1, timeout=5)
    assert 0.5 < time.monotonic() - started < 3
    assert metric(g, "qmail_remote_httpd_smtp_connections_idle") == 0


def test_the_message_limit_per_connection(home, gateway, aiosmtpd_counting):
    port, counts = aiosmtpd_counting()
    route(home, port)
    g = gateway("--smtp-reuse-messages", "3", reuse=True)
    reused = [deliver(g).json["deliveries"][0]["reused"] for _ in range(7)]
    assert reused == [False, True, True, False, True, True, False]
    assert counts.connections == 3 and len(counts.messages) == 7
    assert wait_for(lambda: counts.quits == 2)


def test_reuse_off_is_a_connection_per_message(home, gateway, aiosmtpd_counting):
    port, counts = aiosmtpd_counting()
    route(home, port)
    g = gateway("--smtp-reuse-idle", "0", reuse=True)
    assert [deliver(g).json["deliveries"][0]["reused"] for _ in range(3)] == [False] * 3
    assert counts.connections == 3 and counts.resets == 0
    assert wait_for(lambda: counts.quits == 3)
    assert metric(g, "qmail_remote_httpd_smtp_connections_opened_total") == 3
    assert metric(g, "qmail_remote_httpd_smtp_connections_reused_total") == 0


@pytest.mark.parametrize("esmtp", ["0", "1"])
def test_the_wire_of_two_messages_on_one_connection(home, gateway, smtp, esmtp):
    hello = OK if esmtp == "0" else PIPELINING
    server = smtp(GREETING, hello, OK, OK, GO_AHEAD, OK, OK, OK, OK, GO_AHEAD, OK)
    home.control("esmtp", esmtp + "\n")
    home.route_to(server)
    g = gateway(reuse=True)
    assert deliver(g, message="Subject: 1\n\none\n").json["deliveries"][0]["reused"] is False
    assert deliver(g, recipients=["v@x.test"], message="Subject: 2\n\ntwo\n").json["deliveries"][0]["reused"] is True
    assert g.stop() == 0
    server.wait()
    greeting = b"HELO helo.test\r\n" if esmtp == "0" else b"EHLO helo.test\r\n"
    assert bytes(server.received) == (greeting + b"MAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"
                                      b"Subject: 1\r\n\r\none\r\n.\r\n"
                                      b"RSET\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<v@x.test>\r\nDATA\r\n"
                                      b"Subject: 2\r\n\r\ntwo\r\n.\r\nQUIT\r\n")
