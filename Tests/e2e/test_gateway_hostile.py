"""The gateway against hostile HTTP, with raw sockets: request smuggling and
framing errors (one JSON answer, one status line, the connection closed),
chunked bodies past the limit, slow and many clients, heads as long as the
limits allow, and what libmicrohttpd still answers itself."""
import json
import re
import socket
import threading
import time

import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
GOOD = {"sender": "a@b.test", "recipients": ["u@x.test"], "message": "Subject: s\n\nx\n"}


def exchange(g, data, timeout=5, source=None, pause_after=None):
    """Sends `data` on a new connection and reads until the gateway closes
    it (or `timeout` passes). Returns (bytes read, closed by the gateway)."""
    s = socket.create_connection((g.host, g.port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        if pause_after:
            time.sleep(pause_after)
        return read_all(s, timeout)
    finally:
        s.close()


def read_all(s, timeout):
    got = bytearray()
    deadline = time.monotonic() + timeout
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return bytes(got), True
        if not chunk:
            return bytes(got), True
        got += chunk
    return bytes(got), False


def first_answer(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    length = int(headers.get("content-length", len(body)))
    return status, headers, body[:length]


def assert_json_refusal(data, closed, status, code):
    assert len(STATUS_LINE.findall(data)) == 1, data
    got, headers, body = first_answer(data)
    assert got == status, data
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{16}", headers["x-request-id"])
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == code
    assert closed, "the gateway kept the connection open"


def metric(g, name):
    text = g.request("GET", "/metrics").body.decode()
    total = 0
    for line in text.splitlines():
        if line.startswith(name):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


@pytest.fixture
def guarded(home, smtp, dns, gateway):
    """A gateway whose every route leads to a counting server: a refused request never reaches it."""
    server = smtp(*good_conversation(), many=True)
    home.control("smtproutes", f":127.0.0.1:{server.port}\n")
    dns({})
    g = gateway("--max-message-bytes", "1000", "--header-timeout", "2")
    g.server = server
    yield g


BODY = json.dumps(GOOD).encode()


def test_content_length_with_transfer_encoding_is_refused_and_nothing_is_smuggled(guarded):
    smuggled = (b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: message/rfc822\r\n"
                b"Content-Length: 2\r\n\r\nx\n")
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    data, closed = exchange(guarded, b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(chunked)
                            + chunked + smuggled)
    assert_json_refusal(data, closed, 400, "invalid_framing")
    time.sleep(0.3)
    assert guarded.server.connections == 0


@pytest.mark.parametrize("lengths", [("5", "6"), ("5", "5")])
def test_two_content_lengths_are_refused(guarded, lengths):
    head = b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"".join(b"Content-Length: %s\r\n" % n.encode() for n in lengths)
    data, closed = exchange(guarded, head + b"\r\n" + b"{}{}{}")
    assert_json_refusal(data, closed, 400, "invalid_framing")


@pytest.mark.parametrize("value,status,code", [
    (b"abc", 400, "invalid_framing"), (b"-1", 400, "invalid_framing"), (b"1 2", 400, "invalid_framing"),
    (b"", 400, "invalid_framing"), (b"99999999999999999999999", 413, "message_too_large"),
])
def test_bad_content_length_gets_one_json_answer(guarded, value, status, code):
    data, closed = exchange(guarded, b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: " + value + b"\r\n\r\n{}")
    assert_json_refusal(data, closed, status, code)


@pytest.mark.parametrize("value", [b"xchunked", b"chunked, identity", b"gzip, chunked", b"identity"])
def test_transfer_encoding_other_than_chunked_is_501(guarded, value):
    data, closed = exchange(guarded, b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Transfer-Encoding: " + value + b"\r\n\r\n0\r\n\r\n")
    assert_json_refusal(data, closed, 501, "unsupported_transfer_encoding")


def test_two_transfer_encodings_are_refused(guarded):
    data, closed = exchange(guarded, b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert_json_refusal(data, closed, 400, "invalid_framing")


@pytest.mark.parametrize("head,status,code", [
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "invalid_host_header"),
    (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "invalid_host_header"),
    (b"GET /v1/deliveries%00xyz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"),
    (b"GET /healthz%00/../metrics HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"),
    (b"GET /healthz\x00/../metrics HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"),
    (b"GET /heal\x01thz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"),
    (b"GET /healthz HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n", 400, "invalid_framing"),
    (b"GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http_version_not_supported"),
])
def test_heads_that_cannot_be_trusted(guarded, head, status, code):
    data, closed = exchange(guarded, head)
    assert_json_refusal(data, closed, status, code)


def test_http_1_0_without_host_is_fine(guarded):
    data, _ = exchange(guarded, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert first_answer(data)[0] == 200


def test_framing_errors_on_a_kept_alive_connection(guarded):
    """The second request on a connection is read by libmicrohttpd itself:
    the same refusals, and a bad Content-Length still gets one answer, ours."""
    for second, status, code in [
        (b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "invalid_framing"),
        (b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: abc\r\n\r\n{}", 400, "invalid_framing"),
        (b"GET /healthz%00x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_target"),
    ]:
        s = socket.create_connection((guarded.host, guarded.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b'"ok"' not in first:
            first += s.recv(65536)
        s.sendall(second)
        data, closed = read_all(s, 5)
        s.close()
        assert_json_refusal(data, closed, status, code)


def test_chunked_body_past_the_limit_is_413_at_once(guarded):
    """The 413 comes while the client is still sending: it never has to send the rest."""
    s = socket.create_connection((guarded.host, guarded.port), timeout=10)
    s.sendall(b"POST /v1/deliveries?sender=&recipient=u%40x.test HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: message/rfc822\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 1500 + b"\n"
    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    data, closed = read_all(s, 5)
    s.close()
    assert_json_refusal(data, closed, 413, "message_too_large")


def test_never_ending_chunked_body_is_cut_at_the_limit(guarded):
    s = socket.create_connection((guarded.host, guarded.port), timeout=10)
    s.sendall(b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n")
    got = bytearray()
    sent = 0
    s.settimeout(0.05)
    started = time.monotonic()
    while time.monotonic() - started < 5 and b"\r\n\r\n" not in got:
        try:
            s.sendall(b"y" * 1024)
            sent += 1024
        except OSError:
            break
        try:
            got += s.recv(65536)
        except socket.timeout:
            pass
        except OSError:
            break
    rest, closed = read_all(s, 3)
    s.close()
    data = bytes(got) + rest
    assert_json_refusal(data, closed, 413, "message_too_large")
    assert sent < 1_000_000


def test_chunk_size_past_64_bits_gets_the_librarys_answer_once_and_is_counted(guarded):
    before = metric(guarded, 'qmail_remote_httpd_library_answers_total')
    data, closed = exchange(guarded, b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\nxx")
    assert len(STATUS_LINE.findall(data)) == 1
    assert STATUS_LINE.match(data).group(1) in (b"400", b"413")
    assert closed
    assert metric(guarded, 'qmail_remote_httpd_library_answers_total') == before + 1


def test_request_line_as_long_as_the_limits_allow(home, smtp, gateway):
    domain = ".".join(["d" * 60] * 3) + ".x.test"
    recipients = [f"{'r' * 61}{i:03d}@{domain}" for i in range(100)]
    assert all(len(r) == 254 for r in recipients)
    server = smtp(GREETING, OK, OK, *([OK] * 100), GO_AHEAD, OK)
    home.route_to(server)
    g = gateway()
    query = "sender=a%40b.test&" + "&".join(f"recipient={r.replace('@', '%40')}" for r in recipients) + "&host=x.test"
    assert len(query) > 26_000
    answer = g.request("POST", "/v1/deliveries?" + query, body=b"Subject: s\n\nx\n",
                       headers={"Content-Type": "message/rfc822"})
    assert answer.status == 200, answer.body
    assert len(answer.json["recipients"]) == 100
    longer = query + "&recipient=" + "z" * 40_000
    data, closed = exchange(g, b"POST /v1/deliveries?" + longer.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_refusal(data, closed, 414, "uri_too_long")


def test_header_section_too_large_is_431(guarded):
    data, closed = exchange(guarded, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 17_000 + b"\r\n\r\n")
    assert_json_refusal(data, closed, 431, "header_fields_too_large")


def test_slow_heads_are_cut_at_the_header_timeout_while_health_answers(guarded):
    """50 connections trickling a head one byte at a time (the idle timer of
    the library would restart on every byte): /healthz stays fast, and each
    one is answered 408 (request line in) or closed at the deadline."""
    sockets = []
    for i in range(50):
        s = socket.create_connection((guarded.host, guarded.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\n" if i % 2 else b"G")
        sockets.append(s)
    started = time.monotonic()
    for _ in range(6):
        for s in sockets:
            try:
                s.send(b"X")
            except OSError:
                pass
        t = time.monotonic()
        assert guarded.request("GET", "/healthz", timeout=2).status == 200
        assert time.monotonic() - t < 0.5
        time.sleep(0.5)
    answers = []
    for s in sockets:
        data, closed = read_all(s, 3)
        answers.append((data, closed))
        s.close()
    assert time.monotonic() - started < 8
    assert all(closed for _, closed in answers)
    timed_out = [data for data, _ in answers if data]
    assert len(timed_out) == 25
    for data in timed_out:
        assert_json_refusal(data, True, 408, "request_timeout")
    assert metric(guarded, 'qmail_remote_httpd_connections_closed_total{reason="header_timeout"}') == 50


def test_slow_body_is_cut(home, smtp, gateway):
    g = gateway("--header-timeout", "1", "--min-body-rate", "1000")
    s = socket.create_connection((g.host, g.port), timeout=10)
    s.sendall(b"POST /v1/deliveries?sender=&recipient=u%40x.test HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: message/rfc822\r\nContent-Length: 100000\r\n\r\n")
    started = time.monotonic()
    got = b""
    s.settimeout(0.2)
    while time.monotonic() - started < 6:
        try:
            s.send(b"x" * 10)
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        except socket.timeout:
            continue
        except OSError:
            break
    s.close()
    assert time.monotonic() - started < 5
    assert_json_refusal(got, True, 408, "request_timeout")
    assert metric(g, 'qmail_remote_httpd_connections_closed_total{reason="body_too_slow"}') == 1


def test_per_address_limit_is_answered_and_spares_other_addresses(gateway):
    g = gateway("--max-connections-per-ip", "5", "--header-timeout", "3")
    held = [socket.create_connection((g.host, g.port), timeout=5, source_address=("127.0.0.2", 0))
            for _ in range(5)]
    time.sleep(0.2)
    data, closed = exchange(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", source="127.0.0.2")
    assert_json_refusal(data, closed, 503, "too_many_connections")
    assert first_answer(data)[1]["retry-after"] == "5"
    data, _ = exchange(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", source="127.0.0.3")
    assert first_answer(data)[0] == 200
    for s in held:
        s.close()


def test_global_limit_is_answered(gateway):
    g = gateway("--max-connections", "4", "--header-timeout", "3")
    held = [socket.create_connection((g.host, g.port), timeout=5) for _ in range(4)]
    time.sleep(0.2)
    data, closed = exchange(g, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_refusal(data, closed, 503, "too_many_connections")
    for s in held:
        s.close()
    time.sleep(0.3)
    assert g.request("GET", "/healthz").status == 200


def test_idle_kept_alive_connections_make_room(home, smtp, gateway):
    """With room for two served connections, two idle kept-alive ones are
    closed (oldest first) for new requests instead of refusing them."""
    g = gateway("--max-active-connections", "2")
    idle = []
    for _ in range(2):
        c = g.connection()
        c.request("GET", "/healthz")
        assert c.getresponse().read()
        idle.append(c)
    for _ in range(3):
        assert g.request("GET", "/healthz", timeout=3).status == 200
    for c in idle:
        c.close()


def test_many_idle_connections_cost_no_thread_each(gateway):
    g = gateway()
    sockets = []
    for i in range(600):
        s = socket.create_connection((g.host, g.port), timeout=5, source_address=(f"127.0.0.{10 + i % 10}", 0))
        sockets.append(s)
    for s in sockets[:300]:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    for s in sockets[:300]:
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
    threads = int(open(f"/proc/{g.process.pid}/status").read().split("Threads:")[1].split()[0])
    assert threads < 60, threads
    assert g.request("GET", "/healthz").status == 200
    for s in sockets:
        s.close()


def test_addresses_that_cannot_be_sent_are_400(guarded):
    for recipients, host in [([""], "x.test"), (["@"], "x.test"), (["u@"], None), (["l" * 10_000 + "@x.test"], None),
                             (["l" * 65 + "@x.test"], None)]:
        payload = dict(GOOD, recipients=recipients)
        if host:
            payload["host"] = host
        answer = guarded.deliver(payload)
        assert (answer.status, answer.json["error"]["code"]) == (400, "invalid_recipient"), recipients
    answer = guarded.request("POST", "/v1/deliveries?sender=&recipient=&host=x.test", body=b"x\n",
                             headers={"Content-Type": "message/rfc822"})
    assert (answer.status, answer.json["error"]["code"]) == (400, "invalid_recipient")
    assert guarded.server.connections == 0


def test_a_possible_duplicate_is_uncertain_not_a_retry(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, b"")  # the dot is read, then the connection drops
    home.route_to(server)
    g = gateway()
    answer = g.deliver(GOOD)
    assert answer.status == 207
    assert answer.header("Retry-After") is None
    body = answer.json
    assert body["outcome"] == "uncertain" and body["possible_duplicate"] is True
    assert body["recipients"][0]["outcome"] == "uncertain"
    assert body["deliveries"][0]["possible_duplicate"] is True
    assert "Possible duplicate!" in body["deliveries"][0]["reports"][-1]["text"]
    assert metric(g, 'qmail_remote_httpd_recipients_total{outcome="uncertain"}') == 1
