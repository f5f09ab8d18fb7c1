"""POST /v1/messages against the real gateway: messages it builds from JSON,
received by a real SMTP server (aiosmtpd, SMTPUTF8 on) and read back by two
MIME parsers nobody here wrote (mimecheck.py: Python's email with
policy=default, Perl's Email::MIME), for every case issue 11 lists; the
answer is /v1/deliveries' with "message_id"; the limits count the built
message; a 20 MB attachment is never held whole."""
import base64
import json

import pytest

from conftest import GO_AHEAD, GREETING, OK
from mimecheck import check, check_wire
from queuing import wait_until
from test_gateway_memory import peak_rss_mb


class Received:
    """An aiosmtpd handler that keeps every transaction it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options),
                               envelope.original_content))
        return "250 2.0.0 accepted"


@pytest.fixture
def receiver(home):
    from aiosmtpd.controller import Controller
    from conftest import free_port
    handler = Received()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True,
                            data_size_limit=64 << 20)
    controller.start()
    home.control("esmtp", "1\n")
    home.control("smtproutes", f"x.test:127.0.0.1:{controller.port}\n")
    home.control("me", "relay.example.net\n")
    yield handler
    controller.stop()


def compose(g, request, token=None, headers=None, **kwargs):
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return g.request("POST", "/v1/messages", body=json.dumps(request).encode(), headers=sent, **kwargs)


def b64(data):
    return base64.b64encode(data).decode()


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(range(40))

CASES = {
    "ascii": {
        "from": "Shop <shop@example.org>", "to": ["Bob <bob@x.test>"], "cc": ["carol@x.test"],
        "bcc": ["audit@x.test"], "reply_to": "help@example.org", "subject": "Your order 42",
        "text": "Thanks for your order.\nIt ships tomorrow.\n",
        "headers": {"List-Unsubscribe": "<https://example.org/u/1>"},
    },
    "cyrillic_cjk_emoji": {
        "from": {"name": "Магазин «Ромашка»", "address": "shop@example.org"},
        "to": ["山田太郎 <taro@x.test>", {"name": "Zoë 🚀 Ångström", "address": "zoe@x.test"}],
        "subject": "Ваш заказ №42 – ご注文ありがとうございます 🎉👍🏽",
        "text": "Спасибо за заказ!\nご注文ありがとうございます。\n👍🏽 👨‍👩‍👧\n",
        "html": "<p>Спасибо! ありがとう 🎉</p>\n",
        "headers": {"X-Campaign": "весна – 春 – 🌸"},
    },
    "line_of_5000": {
        "from": "shop@example.org", "to": "bob@x.test", "subject": "long",
        "text": "x" * 5000 + "\nshort\n" + "é" * 2500,
    },
    "from_and_dots": {
        "from": "shop@example.org", "to": "bob@x.test", "subject": "dots",
        "text": "From the shop\n.\nFrom: not a header\n..\n.\n", "html": "From <b>us</b>\n.\n",
    },
    "inline_images": {
        "from": "shop@example.org", "to": "bob@x.test", "subject": "logo",
        "text": "Thanks!\n", "html": '<p>Thanks! <img src="cid:logo"> <img src="cid:seal@shop"></p>',
        "attachments": [
            {"filename": "logo.png", "content_type": "image/png", "content_base64": b64(PNG), "content_id": "logo"},
            {"filename": "seal.gif", "content_type": "image/gif", "content_base64": b64(b"GIF89a" + bytes(100)),
             "content_id": "seal@shop"},
            {"filename": "invoice.pdf", "content_type": "application/pdf", "content_base64": b64(b"%PDF-1.7\n" * 50)},
        ],
    },
    "twenty_attachments": {
        "from": "shop@example.org", "to": "bob@x.test", "subject": "many", "text": "See attached.\n",
        "attachments": [{"filename": f"part-{i:02}.bin", "content_type": "application/octet-stream",
                         "content_base64": b64(bytes((i * 7 + k) % 256 for k in range(i * 997)))}
                        for i in range(20)],
    },
    "non_ascii_filename": {
        "from": "shop@example.org", "to": "bob@x.test", "subject": "Rechnung",
        "text": "Anbei.\n",
        "attachments": [
            {"filename": "Rechnung März 2025 – Ünïcödé.pdf", "content_type": "application/pdf",
             "content_base64": b64(b"%PDF")},
            {"filename": "請求書_" + "長い名前" * 20 + ".txt", "content_type": "text/plain; charset=utf-8",
             "content_base64": b64("内容\n".encode())},
        ],
    },
}


def delivered_message(receiver):
    assert len(receiver.envelopes) == 1
    return receiver.envelopes[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_built_messages_read_back_exactly_through_two_parsers(home, receiver, gateway, case):
    g = gateway()
    request = CASES[case]
    answer = compose(g, request)
    assert answer.status == 200, answer.body
    body = answer.json
    assert body["outcome"] == "delivered" and list(body)[0] == "message_id"
    sender, recipients, options, raw = delivered_message(receiver)
    assert sender == "shop@example.org"
    wanted = [a if isinstance(a, str) else a["address"] for key in ("to", "cc", "bcc")
              for a in (request.get(key, []) if isinstance(request.get(key, []), list) else [request[key]])]
    assert recipients == [w[w.index("<") + 1:-1] if "<" in w else w for w in wanted]
    assert "SMTPUTF8" not in options
    check_wire(raw)
    for parser in ("python", "perl"):
        check(raw, request, body["message_id"], parser)
    assert body["message_id"].endswith("@relay.example.net")


def test_a_20_mb_attachment_is_built_delivered_and_never_held_whole(home, receiver, gateway, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    g = gateway("--max-message-bytes", "30000000", "--spool-dir", str(spool))
    content = bytes((k * 2654435761 >> 13) & 255 for k in range(20_000_000))
    request = {"from": "shop@example.org", "to": "bob@x.test", "subject": "big", "text": "The file.\n",
               "attachments": [{"filename": "big.bin", "content_base64": b64(content)}]}
    baseline = peak_rss_mb(g)
    answer = compose(g, request, timeout=300)
    assert answer.status == 200, answer.body
    # Held whole once, the body alone (27 MB of JSON) would show; decoded to
    # spool files and written out in pieces, only the pieces do.
    assert peak_rss_mb(g) - baseline < 20, (baseline, peak_rss_mb(g))
    assert not list(spool.iterdir()), "spool files were left behind"
    _, _, options, raw = delivered_message(receiver)
    # SIZE= is the core's estimate, never below the size (RFC 1870).
    size = [int(o[5:]) for o in options if o.startswith("SIZE=")]
    assert size and size[0] >= len(raw) > 27_000_000
    check_wire(raw)
    for parser in ("python", "perl"):
        check(raw, request, answer.json["message_id"], parser)


def test_utf8_addresses_ask_for_smtputf8_and_read_back(home, receiver, gateway):
    g = gateway()
    request = {"from": "Jörg <jörg@example.org>", "to": ["用户 <用户@x.test>"], "subject": "ünïcode",
               "text": "Grüße\n"}
    answer = compose(g, request)
    assert answer.status == 200, answer.body
    sender, recipients, options, raw = delivered_message(receiver)
    assert sender == "jörg@example.org" and recipients == ["用户@x.test"] and "SMTPUTF8" in options
    for parser in ("python", "perl"):
        check(raw, request, answer.json["message_id"], parser)


def test_the_answer_is_that_of_deliveries_plus_message_id(home, receiver, gateway):
    g = gateway()
    request = {"from": "shop@example.org", "to": "bob@x.test", "bcc": "carol@x.test", "text": "Hi\n"}
    composed = compose(g, request)
    _, _, _, raw = delivered_message(receiver)
    plain = g.deliver({"sender": "shop@example.org", "recipients": ["bob@x.test", "carol@x.test"],
                       "message_base64": b64(raw)})
    assert composed.status == plain.status == 200
    answer = composed.json
    message_id = answer.pop("message_id")
    assert answer == plain.json
    assert raw.count(f"Message-ID: <{message_id}>\r\n".encode()) == 1
    assert composed.header("content-type") == "application/json"
    # A request's log line is written once its answer is sent: it may come just after the answer.
    wait_until(lambda: any(line.get("path") == "/v1/messages" for line in g.log_lines()), message="the log line")
    log = [line for line in g.log_lines() if line.get("path") == "/v1/messages"]
    assert log and str(log[0]["status"]) == "200" and log[0]["sender"] == "shop@example.org"
    assert str(log[0]["recipients"]) == "2"


def test_failures_get_the_statuses_of_deliveries(home, smtp, gateway):
    server = smtp(GREETING, OK, b"550 5.1.1 no such user\r\n", b"221 bye\r\n")
    home.route_to(server)
    g = gateway()
    answer = compose(g, {"from": "shop@example.org", "to": "bob@x.test", "text": "Hi\n"})
    assert answer.status == 422
    assert answer.json["outcome"] == "failed" and answer.json["message_id"]

    deferred = smtp(GREETING, OK, b"451 4.3.0 try later\r\n", b"221 bye\r\n")
    home.route_to(deferred)
    later = compose(g, {"from": "shop@example.org", "to": "bob@x.test", "text": "Hi\n"})
    assert later.status == 503 and later.header("retry-after") == "300"
    assert later.json["outcome"] == "deferred" and later.json["message_id"] != answer.json["message_id"]


def test_the_destination_policy_holds(home, gateway):
    g = gateway()
    answer = compose(g, {"from": "shop@example.org", "to": "bob@x.test", "text": "Hi\n", "host": "127.0.0.9"})
    assert answer.status == 422, answer.body
    report = answer.json["deliveries"][0]["reports"][-1]
    assert report["letter"] == "D" and "destination policy" in report["text"]


def test_the_message_limit_counts_the_built_message(home, smtp, gateway):
    server = smtp(*[GREETING, OK, OK, OK, GO_AHEAD, OK], many=True)
    home.route_to(server)
    g = gateway("--max-message-bytes", "3000")
    text = "x" * 2500
    too_large = compose(g, {"from": "shop@example.org", "to": "bob@x.test", "subject": "s" * 400, "text": text})
    assert too_large.status == 413 and too_large.json["error"]["code"] == "message_too_large"
    fits = compose(g, {"from": "shop@example.org", "to": "bob@x.test", "text": "x" * 1500})
    assert fits.status == 200, fits.body
    assert server.connections == 1


def test_the_token_policy_covers_from(home, smtp, gateway, tmp_path):
    server = smtp(*[GREETING, OK, OK, OK, GO_AHEAD, OK], many=True)
    home.route_to(server)
    tokens = tmp_path / "tokens"
    tokens.write_text("shop-token name=shop senders=@example.org rate=100/min\n")
    g = gateway("--token-file", str(tokens))
    refused = compose(g, {"from": "eve@evil.test", "sender": "shop@example.org", "to": "bob@x.test", "text": "x"},
                      token="shop-token")
    assert refused.status == 403 and refused.json["error"]["code"] == "sender_not_allowed"
    assert "From: eve@evil.test" in refused.json["error"]["message"]
    assert refused.header("ratelimit-policy") == '"token";q=100;w=60'
    assert compose(g, {"from": "shop@example.org", "to": "bob@x.test", "text": "x"}).status == 401
    ok = compose(g, {"from": "shop@example.org", "to": "bob@x.test", "text": "x"}, token="shop-token")
    assert ok.status == 200 and ok.header("ratelimit") is not None
    assert server.connections == 1


INJECTIONS = ["\r\n", "\n", "\r", "\u0000", "\r\n ", "\u2028", "\u0085"]


def attempts(attack):
    """Every field that becomes a header (or an SMTP command) with `attack` in it."""
    base = {"from": "shop@example.org", "to": "bob@x.test", "subject": "Hi", "text": "Hi\n"}
    evil = f"{attack}Bcc: victim@evil.test"

    def with_(**fields):
        return {**base, **fields}

    return [
        with_(subject="Hi" + evil),
        with_(**{"from": "Shop" + evil + " <shop@example.org>"}),
        with_(**{"from": "shop@example.org" + evil}),
        with_(**{"from": {"name": "Shop" + evil, "address": "shop@example.org"}}),
        with_(**{"from": {"name": "Shop", "address": "shop@example.org" + attack}}),
        with_(to=["bob@x.test" + evil]),
        with_(to=["Bob" + evil + " <bob@x.test>"]),
        with_(cc=["carol@x.test" + attack]),
        with_(bcc=["dave@x.test" + attack + "RCPT TO:<victim@evil.test>"]),
        with_(reply_to="help@example.org" + evil),
        with_(headers={"X-Tag" + attack + "Bcc": "victim@evil.test"}),
        with_(headers={"X-Tag": "a" + evil}),
        with_(sender="shop@example.org" + attack + "RCPT TO:<victim@evil.test>"),
        with_(recipients=["bob@x.test" + attack + "RCPT TO:<victim@evil.test>"]),
        with_(host="x.test" + attack),
        with_(attachments=[{"filename": "a" + evil + ".pdf", "content_base64": ""}]),
        with_(attachments=[{"filename": "a.pdf", "content_type": "application/pdf" + evil, "content_base64": ""}]),
        with_(html="<img src=cid:x>", attachments=[{"filename": "x.png", "content_id": "x" + evil,
                                                    "content_base64": ""}]),
    ]


def test_every_header_injection_is_400_without_an_smtp_connection(home, smtp, gateway):
    server = smtp(*[GREETING, OK, OK, OK, GO_AHEAD, OK], many=True)
    home.route_to(server)
    g = gateway()
    refused = 0
    for attack in INJECTIONS:
        for request in attempts(attack):
            answer = compose(g, request)
            assert answer.status == 400, (attack, request, answer.body)
            assert answer.json["error"]["code"] in {"invalid_field", "invalid_address", "invalid_header",
                                                    "invalid_sender", "invalid_recipient", "invalid_host"}
            refused += 1
    assert refused == len(INJECTIONS) * len(attempts(""))
    assert server.connections == 0, "a refused request reached the SMTP server"
    # The same server is reached by a request without an attack in it.
    assert compose(g, attempts("")[0] | {"subject": "Hi"}).status == 200
    assert server.connections == 1
    assert b"victim" not in bytes(server.received)


def test_bad_bodies_are_refused_before_any_connection(home, smtp, gateway):
    server = smtp(*[GREETING, OK, OK, OK, GO_AHEAD, OK], many=True)
    home.route_to(server)
    g = gateway()
    cases = [
        (b"{", 400, "malformed_json"),
        (b"[]", 400, "malformed_json"),
        (json.dumps({"from": "a@example.org", "to": "b@x.test"}).encode(), 400, "missing_field"),
        (json.dumps({"from": "a@example.org", "text": "x"}).encode(), 400, "no_recipients"),
        (json.dumps({"from": "a@example.org", "to": "b@x.test", "text": "x", "bogus": 1}).encode(), 400,
         "unknown_field"),
        (json.dumps({"from": "a@example.org", "to": "b@x.test", "text": "x", "headers": {"Date": "x"}}).encode(),
         400, "invalid_header"),
        (json.dumps({"from": "a@example.org", "to": "b@x.test", "text": "x",
                     "attachments": [{"filename": "f", "content_base64": "not base64"}]}).encode(), 400,
         "invalid_base64"),
        (json.dumps({"from": "not an address", "to": "b@x.test", "text": "x"}).encode(), 400, "invalid_address"),
        (json.dumps({"from": "a@example.org", "to": [f"u{i}@x.test" for i in range(101)], "text": "x"}).encode(),
         400, "too_many_recipients"),
        (json.dumps({"from": "a@example.org", "to": "b@x.test", "text": "x", "subject": "s" * (1 << 20)}).encode(),
         400, "invalid_field"),
    ]
    for body, status, code in cases:
        answer = g.request("POST", "/v1/messages", body=body, headers={"Content-Type": "application/json"})
        assert (answer.status, answer.json["error"]["code"]) == (status, code), body[:100]
    raw = g.request("POST", "/v1/messages", body=b"Subject: x\n\nx\n", headers={"Content-Type": "message/rfc822"})
    assert raw.status == 415 and "application/json only" in raw.json["error"]["message"]
    assert g.request("GET", "/v1/messages").status == 405
    assert server.connections == 0
