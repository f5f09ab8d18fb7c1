"""POST /v1/messages with Idempotency-Key and Prefer: respond-async against
the real gateway and its store: a replay is recognised from the request
(the built message has a new Date and Message-ID each time) and gets the
stored answer byte for byte with the same message_id and no SMTP; other
fields are 422; a key is not shared with /v1/deliveries; a 202 carries the
message_id of the message queued, which GET /v1/deliveries/{id} follows
and the SMTP server receives."""
import json
import threading

import base64

from conftest import GO_AHEAD, GREETING, OK
from queuing import post, status, wait_for_status, wait_until

REQUEST = {"from": "Shop <shop@example.org>", "to": ["Bob <bob@x.test>"], "bcc": "audit@x.test",
           "subject": "Your order – №42", "text": "Thanks!\n", "html": "<p>Thanks!</p>",
           "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf",
                            "content_base64": "JVBERi0xLjcK"}]}


# HELO, MAIL, two RCPTs (bob, and audit from bcc), DATA, the message.
CONVERSATION = [GREETING, OK, OK, OK, OK, GO_AHEAD, OK]


def compose(g, request, **options):
    return post(g, request, path="/v1/messages", **options)


def test_a_replay_is_the_first_answer_byte_for_byte_with_its_message_id(home, smtp, gateway):
    server = smtp(*CONVERSATION)
    home.route_to(server)
    g = gateway()
    first = compose(g, REQUEST, key="order-42")
    assert first.status == 200 and first.header("Idempotent-Replayed") is None
    message_id = first.json["message_id"]
    again = compose(g, REQUEST, key="order-42")
    assert again.status == 200 and again.header("Idempotent-Replayed") == "true"
    assert again.body == first.body and again.json["message_id"] == message_id
    # The same fields written otherwise are the same request.
    reordered = json.dumps(dict(reversed(list(REQUEST.items()))), indent=2, ensure_ascii=True)
    third = compose(g, None, raw=reordered.encode(), key='"order-42"')
    assert third.status == 200 and third.body == first.body
    server.wait()
    assert server.connections == 1
    assert bytes(server.received).count(f"Message-ID: <{message_id}>".encode()) == 1
    # A request's log line is written once its answer is sent: it may come just after the answer.
    wait_until(lambda: len([line for line in g.log_lines() if line.get("path") == "/v1/messages"]) == 3,
               message="three log lines")
    lines = [line for line in g.log_lines() if line.get("path") == "/v1/messages"]
    assert [line.get("idempotency") for line in lines] == ["new", "replayed", "replayed"]


def test_other_fields_or_the_other_route_with_the_same_key_are_422(home, smtp, gateway):
    server = smtp(*CONVERSATION, many=True)
    home.route_to(server)
    g = gateway()
    assert compose(g, REQUEST, key="k").status == 200
    changes = [
        {**REQUEST, "subject": "Your order – №43"},
        {**REQUEST, "bcc": "other@x.test"},
        {**REQUEST, "attachments": [{**REQUEST["attachments"][0], "content_base64": "JVBERi0xLjgK"}]},
        {**REQUEST, "to": [{"name": "Bob", "address": "bob@x.test"}]},
    ]
    for changed in changes:
        answer = compose(g, changed, key="k")
        assert answer.status == 422 and answer.json["error"]["code"] == "idempotency_key_reused", changed
    # The message it built, sent as a prebuilt message with the same key, is another request too.
    raw = bytes(server.transcripts[0])
    message = raw[raw.index(b"Date: "):raw.rindex(b"\r\n.\r\n") + 2]
    plain = post(g, {"sender": "shop@example.org", "recipients": ["bob@x.test", "audit@x.test"],
                     "message": message.decode()}, key="k")
    assert plain.status == 422 and plain.json["error"]["code"] == "idempotency_key_reused"
    assert server.connections == 1


def test_a_deferred_answer_frees_the_key_and_the_retry_builds_anew(home, smtp, gateway):
    server = smtp(scripts=[[GREETING, OK, b"451 4.3.0 try later\r\n", b"221 bye\r\n"], CONVERSATION])
    home.route_to(server)
    g = gateway()
    first = compose(g, REQUEST, key="retry")
    assert first.status == 503 and first.json["outcome"] == "deferred"
    second = compose(g, REQUEST, key="retry")
    assert second.status == 200 and second.header("Idempotent-Replayed") is None
    assert second.json["message_id"] != first.json["message_id"]
    server.settle()
    assert server.connections == 2


def test_a_second_request_while_the_first_runs_is_409(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, OK, GO_AHEAD, ("sleep", 2, OK))
    home.route_to(server)
    g = gateway()
    answers = {}
    first = threading.Thread(target=lambda: answers.setdefault("first", compose(g, REQUEST, key="slow")))
    first.start()
    for _ in range(100):
        if server.connections:
            break
        threading.Event().wait(0.02)
    running = compose(g, REQUEST, key="slow")
    first.join(30)
    assert running.status == 409 and running.json["error"]["code"] == "request_in_progress"
    assert answers["first"].status == 200


def test_respond_async_queues_the_built_message_and_the_202_names_it(home, smtp, gateway):
    server = smtp(*CONVERSATION)
    home.route_to(server)
    g = gateway()
    accepted = compose(g, REQUEST, queued=True)
    assert accepted.status == 202, accepted.body
    body = accepted.json
    assert list(body) == ["message_id", "id", "status"] and body["status"] == "queued"
    assert accepted.header("Location") == f"/v1/deliveries/{body['id']}"
    assert accepted.header("Preference-Applied") == "respond-async"
    done = wait_for_status(g, body["id"])
    assert done["status"] == "delivered" and [r["address"] for r in done["recipients"]] == ["bob@x.test",
                                                                                           "audit@x.test"]
    server.wait()
    wire = bytes(server.received)
    assert wire.count(f"\r\nMessage-ID: <{body['message_id']}>\r\n".encode()) == 1
    assert b"Bcc:" not in wire and b"RCPT TO:<audit@x.test>" in wire


def test_respond_async_with_a_key_replays_the_202(home, smtp, gateway):
    server = smtp(*CONVERSATION)
    home.route_to(server)
    g = gateway()
    first = compose(g, REQUEST, queued=True, key="queued-once")
    assert first.status == 202
    again = compose(g, REQUEST, queued=True, key="queued-once")
    assert again.status == 202 and again.body == first.body and again.header("Idempotent-Replayed") == "true"
    wait_for_status(g, first.json["id"])
    server.wait()
    assert server.connections == 1
    assert status(g, first.json["id"]).json["status"] == "delivered"


def test_a_large_queued_compose_request_is_spooled_and_delivered(home, smtp, gateway, tmp_path):
    server = smtp(*CONVERSATION)
    home.route_to(server)
    spool = tmp_path / "spool"
    spool.mkdir()
    g = gateway("--spool-dir", str(spool), "--spool-threshold", "4096")
    content = bytes(range(256)) * 2000
    request = {**REQUEST, "attachments": [{"filename": "big.bin", "content_base64": base64.b64encode(content).decode()}]}
    accepted = compose(g, request, queued=True, key="big")
    assert accepted.status == 202, accepted.body
    assert wait_for_status(g, accepted.json["id"])["status"] == "delivered"
    server.wait()
    wire = bytes(server.received)
    assert base64.b64encode(content[:57]) in wire
    assert compose(g, request, queued=True, key="big").body == accepted.body
    assert not list(spool.iterdir())
