"""Idempotency-Key through the real gateway, on SQLite files and a real
PostgreSQL server: a replay is the stored answer byte for byte with no SMTP
at all (also after a restart and on another replica), a changed request is
422, a running one 409, keys of one token are invisible to another, a 503
frees its key, and a bad key is refused before anything happens."""
import base64
import threading
import time

import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation
from queuing import MESSAGE, post, status, wait_for_status, wait_until

PAYLOAD = {"sender": "app@b.test", "recipients": ["u@x.test"], "message": MESSAGE}


def test_a_replay_is_the_stored_answer_byte_for_byte_without_smtp(home, smtp, gateway):
    server = smtp(*good_conversation(b"250 2.0.0 queued as 1\r\n"))
    home.route_to(server)
    g = gateway()
    first = post(g, PAYLOAD, key="order-1")
    assert first.status == 200 and first.header("Idempotent-Replayed") is None
    second = post(g, PAYLOAD, key="order-1")
    assert second.status == 200 and second.header("Idempotent-Replayed") == "true"
    assert second.body == first.body
    assert second.header("Content-Type") == first.header("Content-Type")
    assert second.header("X-Request-Id") != first.header("X-Request-Id")
    # A structured-field string is the same key.
    assert post(g, PAYLOAD, key='"order-1"').body == first.body
    server.wait()
    assert server.connections == 1
    # A request's log line is written once its answer is sent: it may come just after the answer.
    wait_until(lambda: len([line for line in g.log_lines() if line.get("path") == "/v1/deliveries"]) == 3,
               message="three log lines")
    lines = [line for line in g.log_lines() if line.get("path") == "/v1/deliveries"]
    assert [line.get("idempotency") for line in lines] == ["new", "replayed", "replayed"]


def test_the_same_message_as_json_or_raw_is_the_same_request(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway()
    first = post(g, {"sender": "", "recipients": ["u@x.test"], "host": "x.test",
                     "message_base64": base64.b64encode(b"Subject: r\n\n\xff\n").decode()}, key="same")
    raw = post(g, None, raw=b"Subject: r\n\n\xff\n", content_type="message/rfc822", key="same",
               path="/v1/deliveries?sender=&recipient=u%40x.test&host=x.test")
    assert raw.status == 200 and raw.header("Idempotent-Replayed") == "true" and raw.body == first.body
    server.wait()
    assert server.connections == 1


def test_a_replay_survives_a_restart(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    store = f"sqlite:{home.path}/keys.db"
    g = gateway(store=store)
    first = post(g, PAYLOAD, key="restart")
    assert g.stop() == 0
    again = gateway(store=store)
    replay = post(again, PAYLOAD, key="restart")
    assert replay.status == 200 and replay.body == first.body and replay.header("Idempotent-Replayed") == "true"
    server.wait()
    assert server.connections == 1


@pytest.mark.parametrize("change", [
    {"message": "Subject: hi\n\nHello!\n"}, {"recipients": ["v@x.test"]}, {"sender": "other@b.test"},
    {"host": "x.test"},
])
def test_the_same_key_for_another_request_is_422(home, smtp, gateway, change):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway()
    assert post(g, PAYLOAD, key="k").status == 200
    answer = post(g, dict(PAYLOAD, **change), key="k")
    assert answer.status == 422 and answer.json["error"]["code"] == "idempotency_key_reused"
    server.wait()
    assert server.connections == 1


def test_the_same_key_while_the_first_runs_is_409(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, ("sleep", 2, OK), OK)
    home.route_to(server)
    g = gateway()
    answers = {}
    thread = threading.Thread(target=lambda: answers.setdefault("first", post(g, PAYLOAD, key="slow")))
    thread.start()
    time.sleep(0.7)
    running = post(g, PAYLOAD, key="slow")
    assert running.status == 409 and running.json["error"]["code"] == "request_in_progress"
    assert running.header("Retry-After")
    thread.join(10)
    assert answers["first"].status == 200
    replay = post(g, PAYLOAD, key="slow")
    assert replay.status == 200 and replay.body == answers["first"].body
    server.wait()
    assert server.connections == 1


def test_keys_of_one_token_are_invisible_to_another(home, smtp, gateway):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway(host="0.0.0.0", env={"QMAIL_REMOTE_HTTPD_TOKENS": "alice bob"})
    assert post(g, PAYLOAD, key="shared", token="alice").status == 200
    # The same key for bob is bob's own: it runs (no replay), and a different
    # request with it is not "reused".
    bob = post(g, PAYLOAD, key="shared", token="bob")
    assert bob.status == 200 and bob.header("Idempotent-Replayed") is None
    other = post(g, dict(PAYLOAD, message="Subject: other\n\nx\n"), key="shared-2", token="bob")
    assert other.status == 200
    assert post(g, dict(PAYLOAD, message="Subject: other\n\nx\n"), key="shared-2", token="alice").status == 200
    server.settle()
    assert server.connections == 4


def test_an_answer_that_delivered_nothing_frees_its_key(home, smtp, gateway):
    server = smtp(scripts=[[GREETING, OK, b"451 4.3.0 not now\r\n", OK], good_conversation()])
    home.route_to(server)
    g = gateway()
    deferred = post(g, PAYLOAD, key="retry-me")
    assert deferred.status == 503 and deferred.json["outcome"] == "deferred"
    retried = post(g, PAYLOAD, key="retry-me")
    assert retried.status == 200 and retried.header("Idempotent-Replayed") is None
    assert post(g, PAYLOAD, key="retry-me").header("Idempotent-Replayed") == "true"
    assert server.connections == 2


def test_a_queued_request_replays_its_202_and_is_queued_once(home, smtp, gateway):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway()
    first = post(g, PAYLOAD, key="async", queued=True)
    assert first.status == 202
    again = post(g, PAYLOAD, key="async", queued=True)
    assert again.status == 202 and again.body == first.body and again.header("Idempotent-Replayed") == "true"
    assert again.header("Location") == first.header("Location")
    # The stored answer is the 202 whichever way the retry asks.
    assert post(g, PAYLOAD, key="async").body == first.body
    assert wait_for_status(g, first.json["id"])["status"] == "delivered"
    server.settle()
    assert server.connections == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", '"unclosed', '"a"b"'])
def test_a_bad_key_is_400_before_anything_happens(home, smtp, gateway, key):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway()
    answer = g.request("POST", "/v1/deliveries", body=b"{}", headers={
        "Content-Type": "application/json", "Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert answer.status == 400 and answer.json["error"]["code"] == "invalid_idempotency_key", answer.body
    assert server.connections == 0


def test_two_replicas_on_postgresql_share_keys_and_statuses(home, smtp, gateway, postgres_url):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    first = gateway(store=postgres_url)
    second = gateway(store=postgres_url)
    answer = post(first, PAYLOAD, key="replicas")
    replay = post(second, PAYLOAD, key="replicas")
    assert replay.status == 200 and replay.body == answer.body and replay.header("Idempotent-Replayed") == "true"
    queued = post(second, dict(PAYLOAD, message="Subject: q\n\nx\n"), key="queued", queued=True)
    assert post(first, dict(PAYLOAD, message="Subject: q\n\nx\n"), key="queued", queued=True).body == queued.body
    done = wait_for_status(first, queued.json["id"])
    assert done["status"] == "delivered"
    assert status(second, queued.json["id"]).json["status"] == "delivered"
    server.settle()
    assert server.connections == 2


def test_a_key_is_forgotten_after_its_ttl(home, smtp, gateway):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway("--idempotency-ttl", "1")
    assert post(g, PAYLOAD, key="short").status == 200
    assert post(g, PAYLOAD, key="short").header("Idempotent-Replayed") == "true"
    time.sleep(2.1)
    other = post(g, dict(PAYLOAD, message="Subject: other\n\nx\n"), key="short")
    assert other.status == 200 and other.header("Idempotent-Replayed") is None
    server.settle()
    assert server.connections == 2
