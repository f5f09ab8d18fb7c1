"""Every bad request to the gateway: its status, its error code, and proof
that no SMTP connection and no DNS question came of it."""
import json
import socket

import pytest

from conftest import good_conversation

GOOD = {"sender": "a@b.test", "recipients": ["u@x.test"], "message": "Subject: s\n\nx\n"}


@pytest.fixture
def guarded(home, smtp, dns, gateway):
    """A gateway whose every route leads to a counting server and a DNS server that records."""
    server = smtp(*good_conversation(), many=True)
    home.control("smtproutes", f":127.0.0.1:{server.port}\n")
    zone = dns({})
    g = gateway("--max-recipients", "3", "--max-message-bytes", "1000")
    yield g
    assert server.connections == 0, "a bad request reached an SMTP server"
    assert zone.questions == [], "a bad request caused a DNS lookup"


def with_(**changes):
    payload = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


JSON_CASES = {
    "malformed": (b'{"sender": "a@b.test", ', 400, "malformed_json"),
    "truncated": (json.dumps(GOOD).encode()[:-3], 400, "malformed_json"),
    "not-an-object": (b'["a@b.test"]', 400, "malformed_json"),
    "trailing-garbage": (json.dumps(GOOD).encode() + b"x", 400, "malformed_json"),
    "invalid-utf8": (b'{"sender":"\xff","recipients":["u@x.test"],"message":"x\\n"}', 400, "malformed_json"),
    "lone-surrogate": (b'{"sender":"\\ud800","recipients":["u@x.test"],"message":"x\\n"}', 400, "malformed_json"),
    "duplicate-key": (b'{"sender":"a@b","sender":"c@d","recipients":["u@x.test"],"message":"x\\n"}', 400, "malformed_json"),
    "deep-nesting": (b'{"sender":' + b"[" * 100 + b"]" * 100 + b"}", 400, "malformed_json"),
    "empty-body": (b"", 400, "malformed_json"),
    "sender-wrong-type": (with_(sender=5), 400, "invalid_field"),
    "sender-null": (with_(sender=None) .replace(b"{", b'{"sender":null,', 1), 400, "invalid_field"),
    "recipients-wrong-type": (with_(recipients="u@x.test"), 400, "invalid_field"),
    "recipient-wrong-type": (with_(recipients=["u@x.test", 7]), 400, "invalid_field"),
    "host-wrong-type": (with_(host=["x.test"]), 400, "invalid_field"),
    "message-wrong-type": (with_(message={"a": 1}), 400, "invalid_field"),
    "unknown-field": (with_(bcc=["x@y.test"]), 400, "unknown_field"),
    "missing-sender": (with_(sender=None), 400, "missing_field"),
    "missing-recipients": (with_(recipients=None), 400, "missing_field"),
    "no-recipients": (with_(recipients=[]), 400, "no_recipients"),
    "neither-message": (with_(message=None), 400, "invalid_message"),
    "both-messages": (with_(message_base64="eAo="), 400, "invalid_message"),
    "invalid-base64": (with_(message=None, message_base64="not*base64"), 400, "invalid_base64"),
    "base64-unpadded": (with_(message=None, message_base64="eAo"), 400, "invalid_base64"),
    "sender-crlf": (with_(sender="a@b.test\r\nRCPT TO:<x@y>"), 400, "invalid_sender"),
    "sender-nul": (with_(sender="a\u0000@b.test"), 400, "invalid_sender"),
    "recipient-lf": (with_(recipients=["u@x.test", "v@x.test\nDATA"]), 400, "invalid_recipient"),
    "recipient-nul": (with_(recipients=["u\u0000@x.test"]), 400, "invalid_recipient"),
    "recipient-angle": (with_(recipients=["u@x.test> NOTIFY=NEVER"]), 400, "invalid_recipient"),
    "recipient-no-domain": (with_(recipients=["postmaster"]), 400, "invalid_recipient"),
    "host-crlf": (with_(host="x.test\r\n"), 400, "invalid_host"),
    "host-nul": (with_(host="x.test\u0000"), 400, "invalid_host"),
    "host-not-a-name": (with_(host="x test"), 400, "invalid_host"),
    "too-many-recipients": (with_(recipients=["a@x.test", "b@x.test", "c@x.test", "d@x.test"]), 400, "too_many_recipients"),
    "decoded-message-too-large": (with_(message="x" * 1001), 413, "message_too_large"),
}


@pytest.mark.parametrize("name", JSON_CASES)
def test_json_refusals(guarded, name):
    body, status, code = JSON_CASES[name]
    answer = guarded.deliver(None, raw=body)
    assert (answer.status, answer.json["error"]["code"]) == (status, code), answer.body
    assert answer.header("Content-Type") == "application/json"
    assert answer.json["error"]["message"]


def test_error_message_names_the_recipient(guarded):
    answer = guarded.deliver(None, raw=with_(recipients=["u@x.test", "v@x.test\r"]))
    assert answer.json == {"error": {"code": "invalid_recipient",
                                     "message": "recipient 2 contains a line break, NUL or other control character"}}


RAW_CASES = {
    "sender-crlf": ("sender=a%0D%0A%40b.test&recipient=u%40x.test", "invalid_sender"),
    "sender-nul": ("sender=a%00b%40b.test&recipient=u%40x.test", "invalid_sender"),
    "recipient-lf": ("sender=&recipient=u%40x.test%0ADATA", "invalid_recipient"),
    "recipient-nul": ("sender=&recipient=u%00%40x.test", "invalid_recipient"),
    "host-cr": ("sender=&recipient=u%40x.test&host=x.test%0D", "invalid_host"),
    "host-not-a-name": ("sender=&recipient=u%40x.test&host=%3Bx", "invalid_host"),
    "no-sender": ("recipient=u%40x.test", "missing_field"),
    "two-senders": ("sender=a%40b&sender=c%40d&recipient=u%40x.test", "invalid_query"),
    "unknown-parameter": ("sender=&recipient=u%40x.test&bcc=v%40x.test", "invalid_query"),
    "no-recipient": ("sender=a%40b.test", "no_recipients"),
    "too-many": ("sender=&" + "&".join(f"recipient=r{i}%40x.test" for i in range(4)), "too_many_recipients"),
}


@pytest.mark.parametrize("name", RAW_CASES)
def test_raw_query_refusals(guarded, name):
    query, code = RAW_CASES[name]
    answer = guarded.request("POST", "/v1/deliveries?" + query, body=b"Subject: s\n\nx\n",
                             headers={"Content-Type": "message/rfc822"})
    assert (answer.status, answer.json["error"]["code"]) == (400, code), answer.body


def test_json_with_query_parameters_is_refused(guarded):
    answer = guarded.request("POST", "/v1/deliveries?sender=a", body=with_(),
                             headers={"Content-Type": "application/json"})
    assert (answer.status, answer.json["error"]["code"]) == (400, "invalid_query")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
def test_wrong_content_type_is_415(guarded, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = guarded.request("POST", "/v1/deliveries", body=with_(), headers=headers)
    assert (answer.status, answer.json["error"]["code"]) == (415, "unsupported_media_type")


def test_content_type_parameters_and_case_are_accepted(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.control("smtproutes", f":127.0.0.1:{server.port}\n")
    g = gateway()
    answer = g.request("POST", "/v1/deliveries", body=with_(), headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert answer.status == 200


def test_oversized_body_with_content_length_is_refused_before_upload(guarded):
    # Headers only: the 413 must come without the 50 MB ever being sent.
    with socket.create_connection((guarded.host, guarded.port), timeout=10) as s:
        s.sendall(b"POST /v1/deliveries?sender=&recipient=u%40x.test HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: message/rfc822\r\nContent-Length: 50000000\r\n\r\n")
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"message_too_large"' in reply


def test_oversized_body_with_expect_100_continue_gets_413_not_continue(guarded):
    with socket.create_connection((guarded.host, guarded.port), timeout=10) as s:
        s.sendall(b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: 9999999\r\n\r\n")
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413 ")


def test_oversized_chunked_body_is_413(guarded):
    with socket.create_connection((guarded.host, guarded.port), timeout=30) as s:
        s.sendall(b"POST /v1/deliveries?sender=&recipient=u%40x.test HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: message/rfc822\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 600 + b"\n"
        for _ in range(4):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"message_too_large"' in reply


def test_oversized_chunked_json_is_413(guarded):
    with socket.create_connection((guarded.host, guarded.port), timeout=30) as s:
        s.sendall(b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        data = with_(message="x" * 900) * 80
        s.sendall(b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n")
        reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_with_allow(guarded, method):
    answer = guarded.request(method, "/v1/deliveries")
    assert (answer.status, answer.json["error"]["code"]) == (405, "method_not_allowed")
    assert answer.header("Allow") == "POST"


def test_wrong_method_on_health_and_metrics(guarded):
    for path in ["/healthz", "/metrics"]:
        answer = guarded.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        assert answer.status == 405 and answer.header("Allow") == "GET, HEAD"


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/deliveries/", "/v2/deliveries", "/healthz/x", "/v1/../healthz"])
def test_unknown_path_is_404(guarded, path):
    answer = guarded.request("POST", path, body=with_(), headers={"Content-Type": "application/json"})
    assert (answer.status, answer.json["error"]["code"]) == (404, "not_found")


def test_missing_and_wrong_token_are_401(home, smtp, gateway, dns, tmp_path):
    server = smtp(*good_conversation(), many=True)
    home.control("smtproutes", f":127.0.0.1:{server.port}\n")
    tokens = tmp_path / "tokens"
    tokens.write_text("right\n")
    g = gateway("--token-file", str(tokens))
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic cmlnaHQ="},
                    {"Authorization": "Bearer"}, {"Authorization": "Bearer right extra"}]:
        answer = g.request("POST", "/v1/deliveries", body=with_(), headers={"Content-Type": "application/json", **headers})
        assert (answer.status, answer.json["error"]["code"]) == (401, "unauthorized"), headers
        assert answer.header("WWW-Authenticate") == "Bearer"
    assert server.connections == 0
