"""Token policies on the real gateway: hashed tokens, each attribute with
an allowed and a refused case (refusals never reach the SMTP server), the
429 with its Retry-After and RateLimit fields, token names (never tokens)
in the log and /metrics, the same policies on queued and keyed requests (a
replay gives its unit of the rate back), and token files that stop the
start."""
import hashlib
import json
import time

import pytest

from conftest import good_conversation
from queuing import post, status, wait_for_status

MESSAGE = "Subject: hi\n\nHello\n"


@pytest.fixture
def policed(home, smtp, gateway, tmp_path):
    """A gateway on 0.0.0.0 with a token file; every message goes to one scripted server."""
    server = smtp(*good_conversation(), many=True)
    home.control("smtproutes", f":127.0.0.1:{server.port}\n")

    def start(text, *args):
        tokens = tmp_path / "tokens"
        tokens.write_text(text)
        g = gateway("--token-file", str(tokens), *args, host="0.0.0.0", wait=False)
        g.host = "127.0.0.1"
        g.wait_ready()
        return g, server

    return start


def payload(sender="app@example.org", recipients=("u@x.test",), **extra):
    return {"sender": sender, "recipients": list(recipients), "message": MESSAGE, **extra}


def test_a_hashed_token_lets_its_holder_in_and_the_hash_does_not(policed):
    digest = hashlib.sha256(b"the-real-token").hexdigest()
    g, server = policed(f"sha256:{digest} name=hashed\n")
    assert g.deliver(payload(), token="the-real-token").status == 200
    assert g.deliver(payload(), token=digest).status == 401
    assert g.deliver(payload(), token=f"sha256:{digest}").status == 401
    assert server.connections == 1


def test_senders(policed):
    g, server = policed("tok-senders name=s senders=@example.org,.example.net,boss@x.org\n")
    for sender in ["app@example.org", "a@mail.example.net", "boss@x.org"]:
        assert g.deliver(payload(sender), token="tok-senders").status == 200, sender
    for sender in ["app@example.com", "a@example.net", "Boss@x.org", ""]:
        answer = g.deliver(payload(sender), token="tok-senders")
        assert (answer.status, answer.json["error"]["code"]) == (403, "sender_not_allowed"), sender
    # The raw form is refused from its query, before the body is read.
    raw = g.request("POST", "/v1/deliveries?sender=a%40evil.test&recipient=u%40x.test", body=b"Subject: x\n\nx\n",
                    headers={"Content-Type": "message/rfc822", "Authorization": "Bearer tok-senders"})
    assert (raw.status, raw.json["error"]["code"]) == (403, "sender_not_allowed")
    assert server.connections == 3


def test_hosts_and_recipients(policed):
    g, server = policed("tok-hosts name=h hosts=x.test,.y.test recipients=2\n")
    assert g.deliver(payload(recipients=["u@x.test", "v@mx.y.test"]), token="tok-hosts").status == 200
    assert g.deliver(payload(recipients=["u@z.test"], host="x.test"), token="tok-hosts").status == 200
    for body in [payload(recipients=["u@z.test"]), payload(recipients=["u@x.test"], host="127.0.0.1"),
                 payload(recipients=["u@y.test"])]:
        answer = g.deliver(body, token="tok-hosts")
        assert (answer.status, answer.json["error"]["code"]) == (403, "host_not_allowed"), body
    three = g.deliver(payload(recipients=["a@x.test", "b@x.test", "c@x.test"]), token="tok-hosts")
    assert (three.status, three.json["error"]["code"]) == (403, "too_many_recipients_for_token")
    assert server.connections == 3  # x.test and mx.y.test for the first, x.test for the second


def test_rate_answers_429_with_its_fields(policed):
    g, server = policed("tok-rate name=r rate=2/min burst=2\nother-token name=o\n")
    first = g.deliver(payload(), token="tok-rate")
    assert first.status == 200
    assert first.header("RateLimit-Policy") == '"token";q=2;w=60'
    assert first.header("RateLimit") == '"token";r=1;t=30'
    second = g.deliver(payload(), token="tok-rate")
    assert second.status == 200 and second.header("RateLimit").startswith('"token";r=0;t=')
    limited = g.deliver(payload(), token="tok-rate")
    assert (limited.status, limited.json["error"]["code"]) == (429, "rate_limited")
    retry = int(limited.header("Retry-After"))
    assert 1 <= retry <= 30
    assert limited.header("RateLimit-Policy") == '"token";q=2;w=60'
    assert limited.header("RateLimit") == f'"token";r=0;t={retry}'
    # Another token has a bucket of its own (and no limit at all).
    other = g.deliver(payload(), token="other-token")
    assert other.status == 200 and other.header("RateLimit") is None
    assert server.connections == 3
    # Names, never tokens, in the log and the metrics.
    log = g.log()
    assert "tok-rate" not in log and "other-token" not in log
    # A request's line is written once its answer is out: the last one may come a moment after it.
    for _ in range(100):
        tokens = [line.get("token") for line in g.log_lines() if line.get("message") == "request"]
        if tokens.count("o") == 1:
            break
        time.sleep(0.02)
    assert tokens.count("r") == 3 and tokens.count("o") == 1
    metrics = g.request("GET", "/metrics", headers={"Authorization": "Bearer other-token"}).body.decode()
    assert 'qmail_remote_httpd_token_requests_total{token="r",result="delivered"} 2' in metrics
    assert 'qmail_remote_httpd_token_requests_total{token="r",result="rate_limited"} 1' in metrics
    assert 'qmail_remote_httpd_token_requests_total{token="o",result="delivered"} 1' in metrics


def test_policies_apply_to_queued_and_keyed_requests_and_a_replay_costs_no_rate(policed):
    digest = hashlib.sha256(b"queue-token").hexdigest()
    g, server = policed(f"sha256:{digest} name=q senders=@example.org hosts=x.test rate=20/min burst=3\n"
                        "other-token name=o\n")
    # Refused from the policy before anything is stored: no id, nothing queued, no key kept.
    for body, code in [(payload("a@example.com"), "sender_not_allowed"),
                       (payload(recipients=["u@z.test"]), "host_not_allowed")]:
        refused = post(g, body, token="queue-token", queued=True, key="refused")
        assert (refused.status, refused.json["error"]["code"]) == (403, code)
        assert refused.header("Idempotent-Replayed") is None
    # Both took a unit: one is left. The keyed request takes it; its replay gives its own back.
    first = post(g, payload(), token="queue-token", key="k1")
    assert first.status == 200 and first.header("RateLimit").startswith('"token";r=0;')
    replay = post(g, payload(), token="queue-token", key="k1")
    assert replay.status == 429  # a retry needs a unit to get in, before its body (and key) is read
    time.sleep(int(replay.header("Retry-After")) + 0.5)
    replay = post(g, payload(), token="queue-token", key="k1")
    assert replay.status == 200 and replay.header("Idempotent-Replayed") == "true" and replay.body == first.body
    # The replay carries this request's fields: the unit it took is back.
    assert replay.header("RateLimit").startswith('"token";r=1;')
    queued = post(g, payload(), token="queue-token", queued=True)
    assert queued.status == 202 and queued.header("RateLimit").startswith('"token";r=0;')
    assert queued.header("RateLimit-Policy") == '"token";q=20;w=60'
    # The delivery belongs to the token's hash: its holder sees it, another token does not.
    assert wait_for_status(g, queued.json["id"], token="queue-token")["status"] == "delivered"
    assert status(g, queued.json["id"], token="other-token").status == 404
    server.settle()
    assert server.connections == 2
    metrics = g.request("GET", "/metrics", headers={"Authorization": "Bearer other-token"}).body.decode()
    for result, count in [("sender_not_allowed", 1), ("host_not_allowed", 1), ("delivered", 1), ("rate_limited", 1),
                          ("replayed", 1), ("queued", 1)]:
        assert f'qmail_remote_httpd_token_requests_total{{token="q",result="{result}"}} {count}' in metrics, result


@pytest.mark.parametrize("text, message", [
    ("", "holds no token"),
    ("# nothing but a comment\n\n", "holds no token"),
    ("good-token\nbad-token colour=red\n", "line 2: colour=red is not an attribute"),
    ("t1 rate=fast\n", "line 1: rate=fast is not N/s, N/min, N/h or N/day"),
    ("sha256:1234\n", "line 1: sha256: must be followed by 64 hex digits"),
    ("a-token name=x\nb-token name=x\n", "line 2: the name x is used twice"),
    ('subject:"CN=app" name=app\n', "the entry app names a certificate subject; give --tls-client-ca"),
])
def test_an_empty_or_unreadable_token_file_stops_the_start(home, gateway, tmp_path, text, message):
    tokens = tmp_path / "tokens"
    tokens.write_text(text)
    g = gateway("--token-file", str(tokens), wait=False)
    assert g.process.wait(10) != 0
    g.log_file.close()
    assert message in g.log_path.read_text()
