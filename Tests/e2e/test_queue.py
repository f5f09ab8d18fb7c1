"""Queued delivery through the real gateway: Prefer: respond-async answers 202
once the delivery is committed to a SQLite file, GET /v1/deliveries/{id}
follows it, and the queue delivers with qmail-send's schedule (shrunk with
--retry-base), control/queuelifetime, per-domain grouping and the delivery
pool's limit shared with synchronous requests; the drain gives work back."""
import json
import signal
import threading
import time

import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation
from queuing import (MESSAGE, attempt_lines, metrics, post, queue, queue_empty, status, subjects_at, wait_for_status,
                     wait_until)
from smtpscript import CLOSE

PAYLOAD = {"sender": "app@b.test", "recipients": ["u@x.test"], "message": MESSAGE}
TOO_LONG = "I'm not going to try again; this message has been in the queue too long.\n"


def test_respond_async_is_202_after_the_commit_then_delivered(home, smtp, gateway):
    server = smtp(*good_conversation(b"250 2.0.0 queued\r\n"))
    home.route_to(server)
    g = gateway()
    answer = post(g, PAYLOAD, queued=True)
    assert answer.status == 202
    delivery_id = answer.json["id"]
    assert answer.json == {"id": delivery_id, "status": "queued"}
    assert answer.header("Location") == f"/v1/deliveries/{delivery_id}"
    assert answer.header("Preference-Applied") == "respond-async"
    assert answer.header("Content-Type") == "application/json"
    done = wait_for_status(g, delivery_id)
    server.wait()
    assert bytes(server.received) == (b"HELO helo.test\r\nMAIL FROM:<app@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"
                                      b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n")
    assert done["status"] == "delivered" and done["possible_duplicate"] is False
    assert done["sender"] == "app@b.test" and done["host"] is None and done["finished_at"]
    assert done["recipients"] == [{"address": "u@x.test", "host": "x.test", "outcome": "delivered", "attempts": 1,
                                   "next_attempt_at": None, "possible_duplicate": False, "report": "r", "text": ""}]
    [attempt] = done["attempts"]
    # The synchronous answer's report format, the command's texts.
    assert attempt["reports"] == [{"letter": "r", "text": ""},
                                  {"letter": "K", "text": "127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 queued\n"}]
    assert attempt["host"] == "x.test" and attempt["number"] == 1 and attempt["outcome"] == "delivered"
    # One log line for the request (with the id) and one for the attempt.
    requests = [line for line in g.log_lines() if line.get("message") == "request" and line.get("status") == "202"]
    assert requests[0]["delivery_id"] == delivery_id
    [line] = attempt_lines(g)
    assert line["delivery_id"] == delivery_id and line["result"] == "delivered" and line["attempt"] == "1"
    assert line["report"] == "K" and line["host"] == "x.test" and "Hello" not in json.dumps(line)


def test_raw_and_large_messages_are_queued_from_their_spool_byte_for_byte(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway("--spool-threshold", "65536")
    message = b"".join(b"line %06d of a queued message \x00\xff\r\n" % i for i in range(20000))
    delivery_id = queue(g, None, raw=message, content_type="message/rfc822",
                        path="/v1/deliveries?sender=&recipient=u%40x.test&host=x.test")
    done = wait_for_status(g, delivery_id)
    server.wait()
    assert done["status"] == "delivered" and done["host"] == "x.test"
    assert bytes(server.received).endswith(b"DATA\r\n" + message + b".\r\nQUIT\r\n")


def test_a_451_then_250_server_is_retried_on_qmails_schedule(home, smtp, gateway):
    server = smtp(scripts=[[GREETING, OK, OK, OK, GO_AHEAD, b"451 4.3.0 try later\r\n", OK],
                           good_conversation()])
    home.route_to(server)
    g = gateway("--retry-base", "1")
    delivery_id = queue(g, PAYLOAD)
    deferred = wait_for_status(g, delivery_id, states=("deferred", "delivered"))
    done = wait_for_status(g, delivery_id)
    assert done["status"] == "delivered" and server.connections == 2
    first, second = done["attempts"]
    assert first["outcome"] == "deferred" and second["outcome"] == "delivered"
    assert first["reports"][-1] == {"letter": "Z", "text": "127.0.0.1 failed after I sent the message.\n"
                                                           "Remote host said: 451 4.3.0 try later\n"}
    # qmail-send's nextretry with chanskip 1: (0 + 1)² = 1 s after queuing.
    started = [time.mktime(time.strptime(a["started_at"], "%Y-%m-%dT%H:%M:%SZ")) for a in done["attempts"]]
    assert started[1] - started[0] >= 1
    if deferred["status"] == "deferred":
        assert deferred["recipients"][0]["next_attempt_at"] is not None
    assert done["recipients"][0]["attempts"] == 2 and done["recipients"][0]["next_attempt_at"] is None


def test_qmails_default_schedule_waits_400_seconds(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, b"451 later\r\n", OK)
    home.route_to(server)
    g = gateway()
    delivery_id = queue(g, PAYLOAD)
    deferred = wait_for_status(g, delivery_id, states=("deferred",))
    queued = time.mktime(time.strptime(deferred["queued_at"], "%Y-%m-%dT%H:%M:%SZ"))
    retry = time.mktime(time.strptime(deferred["recipients"][0]["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert retry - queued == 400
    # The gauges are read from the store about once a second.
    wait_until(lambda: metrics(g)['qmail_remote_httpd_queue_attempts_total{outcome="deferred"}'] == 1,
               message="the deferral in the gauges")
    values = metrics(g)
    assert values["qmail_remote_httpd_queue_deliveries"] == 1
    assert values["qmail_remote_httpd_queue_recipients"] == 1


def test_queuelifetime_turns_a_deferral_into_qmails_failure(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, b"451 4.2.1 busy\r\n", OK, many=True)
    home.route_to(server)
    home.control("queuelifetime", "2\n")
    g = gateway("--retry-base", "1")
    delivery_id = queue(g, PAYLOAD)
    done = wait_for_status(g, delivery_id, timeout=30)
    assert done["status"] == "failed"
    # Attempts at 0, 1 and 4 s: the last started past the 2 s lifetime.
    assert [a["outcome"] for a in done["attempts"]] == ["deferred", "deferred", "failed"]
    recipient = done["recipients"][0]
    assert recipient["outcome"] == "failed" and recipient["report"] == "D"
    # qmail-send's text after the deferral that decided it (here the message's: r, then Z at DATA).
    assert recipient["text"] == "127.0.0.1 failed on DATA command.\nRemote host said: 451 4.2.1 busy\n" + TOO_LONG


def test_only_deferred_recipients_are_tried_again(home, smtp, gateway):
    server = smtp(scripts=[[GREETING, OK, OK, OK, b"451 full\r\n", b"550 no\r\n", GO_AHEAD, OK, OK],
                           good_conversation()])
    home.route_to(server)
    g = gateway("--retry-base", "1")
    delivery_id = queue(g, dict(PAYLOAD, recipients=["a@x.test", "b@x.test", "c@x.test"]))
    done = wait_for_status(g, delivery_id)
    assert done["status"] == "mixed"
    assert [r["outcome"] for r in done["recipients"]] == ["delivered", "delivered", "failed"]
    assert [r["attempts"] for r in done["recipients"]] == [1, 2, 1]
    second = bytes(server.transcripts[1])
    assert b"RCPT TO:<b@x.test>" in second and b"a@x.test" not in second and b"c@x.test" not in second


def test_recipients_are_grouped_by_domain_in_the_queue(home, smtp, gateway):
    x = smtp(GREETING, OK, OK, OK, OK, GO_AHEAD, OK, OK)
    y = smtp(*good_conversation())
    home.control("smtproutes", f"x.test:{x.host}:{x.port}\ny.test:{y.host}:{y.port}\n")
    g = gateway()
    delivery_id = queue(g, dict(PAYLOAD, recipients=["a@x.test", "b@Y.test", "c@X.TEST"]))
    done = wait_for_status(g, delivery_id)
    x.wait()
    y.wait()
    assert sorted(a["host"] for a in done["attempts"]) == ["x.test", "y.test"]
    assert [r["host"] for r in done["recipients"]] == ["x.test", "y.test", "x.test"]
    assert b"RCPT TO:<a@x.test>\r\nRCPT TO:<c@X.TEST>\r\n" in x.received
    assert b"RCPT TO:<b@Y.test>\r\n" in y.received


def test_a_lost_answer_after_the_dot_is_retried_and_flagged(home, smtp, gateway):
    server = smtp(scripts=[[GREETING, OK, OK, OK, GO_AHEAD, CLOSE], good_conversation()])
    home.route_to(server)
    g = gateway("--retry-base", "1")
    delivery_id = queue(g, PAYLOAD)
    done = wait_for_status(g, delivery_id)
    assert done["status"] == "delivered" and done["possible_duplicate"] is True
    assert done["recipients"][0]["possible_duplicate"] is True
    assert "Possible duplicate!" in done["attempts"][0]["reports"][-1]["text"]
    assert server.transcripts[0].count(b"\r\n.\r\n") == 1 and server.transcripts[1].count(b"\r\n.\r\n") == 1


def test_status_is_visible_to_its_token_only(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway(host="0.0.0.0", env={"QMAIL_REMOTE_HTTPD_TOKENS": "t1,t2"})
    delivery_id = queue(g, PAYLOAD, token="t1")
    assert wait_for_status(g, delivery_id, token="t1")["status"] == "delivered"
    other = status(g, delivery_id, token="t2")
    assert other.status == 404 and other.json["error"]["code"] == "not_found"
    assert status(g, delivery_id).status == 401
    assert status(g, "0" * 32, token="t1").status == 404
    assert status(g, "not.an.id", token="t1").status == 404
    assert g.request("DELETE", f"/v1/deliveries/{delivery_id}", headers={"Authorization": "Bearer t1"}).status == 405


def test_queued_work_shares_the_delivery_pools_limit_with_requests(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, ("sleep", 1.5, GO_AHEAD), OK, OK, many=True)
    home.route_to(server)
    g = gateway("--concurrency", "1")
    queued = [queue(g, dict(PAYLOAD, message=f"Subject: q{n}\n\nx\n")) for n in range(2)]
    time.sleep(0.3)
    started = time.monotonic()
    answer = post(g, PAYLOAD)
    took = time.monotonic() - started
    assert answer.status == 200
    # One SMTP delivery at a time: the request waited for the queued ones before it.
    assert took >= 2.5, took
    for delivery_id in queued:
        assert wait_for_status(g, delivery_id)["status"] == "delivered"
    server.settle()
    transcripts = [bytes(t) for t in server.transcripts]
    assert len(transcripts) == 3


def test_the_drain_gives_back_queued_work_and_a_restart_delivers_it(home, sinks, gateway):
    port, dump = sinks("-W", ".:2")
    home.control("smtproutes", f":127.0.0.1:{port}\n")
    store = f"sqlite:{home.path}/drain.db"
    g = gateway("--concurrency", "1", "--drain-timeout", "10", store=store)
    ids = [queue(g, dict(PAYLOAD, message=f"Subject: d{n}\n\nx\n")) for n in range(3)]
    wait_until(lambda: len(subjects_at(dump)) == 1, message="the first message at the sink")
    started = time.monotonic()
    assert g.stop(signal.SIGTERM) == 0
    # The first finished its delivery; the others were not waited for.
    assert time.monotonic() - started < 5
    # Claimed and not started: given back (untried).
    results = [line["result"] for line in attempt_lines(g)]
    assert results.count("delivered") == 1 and "given_back" in results and set(results) == {"delivered", "given_back"}
    assert subjects_at(dump) == {"d0": 1}
    again = gateway(store=store)
    for delivery_id in ids:
        done = wait_for_status(again, delivery_id)
        assert done["status"] == "delivered" and len(done["attempts"]) == 1
    assert subjects_at(dump) == {"d0": 1, "d1": 1, "d2": 1}


def test_metrics_show_the_queue_and_replays(home, smtp, gateway):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway()
    before = metrics(g)
    assert before["qmail_remote_httpd_store_up"] == 1
    assert before["qmail_remote_httpd_queue_deliveries"] == 0
    assert before["qmail_remote_httpd_queue_oldest_age_seconds"] == 0
    delivery_id = queue(g, PAYLOAD, key="m1")
    assert post(g, PAYLOAD, key="m1", queued=True).header("Idempotent-Replayed") == "true"
    wait_for_status(g, delivery_id)
    wait_until(lambda: metrics(g)['qmail_remote_httpd_queue_attempts_total{outcome="delivered"}'] == 1,
               message="the attempt in the gauges")
    after = metrics(g)
    assert after['qmail_remote_httpd_idempotency_requests_total{result="replayed"}'] == 1
    assert after['qmail_remote_httpd_idempotency_requests_total{result="new"}'] == 1
    assert after["qmail_remote_httpd_queue_deliveries"] == 0 and after["qmail_remote_httpd_queue_jobs_claimed"] == 0
    assert after['qmail_remote_httpd_http_requests_total{status="202"}'] == 2


def test_the_oldest_queued_age_grows_while_a_delivery_waits(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, b"451 later\r\n", OK)
    home.route_to(server)
    g = gateway()
    queue(g, PAYLOAD)
    wait_until(lambda: metrics(g)["qmail_remote_httpd_queue_oldest_age_seconds"] >= 2, timeout=10,
               message="the oldest age")
    assert metrics(g)["qmail_remote_httpd_queue_deliveries"] == 1


def test_bad_input_to_a_queued_request_is_refused_at_once(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway()
    answer = post(g, dict(PAYLOAD, recipients=["no-domain"]), queued=True)
    assert answer.status == 400 and answer.json["error"]["code"] == "invalid_recipient"
    answer = post(g, None, raw=b"{", queued=True)
    assert answer.status == 400 and answer.json["error"]["code"] == "malformed_json"
    assert metrics(g)["qmail_remote_httpd_queue_deliveries"] == 0
    assert server.connections == 0


@pytest.mark.parametrize("url, shown", [
    ("nonsense", "nonsense"),
    ("postgresql://user:s3cret@127.0.0.1:1/db", "postgresql://user:***@127.0.0.1:1/db"),
    ("postgresql://127.0.0.1:1/db?password=s3cret", "postgresql://127.0.0.1:1/db?password=***"),
])
def test_a_store_that_cannot_be_opened_stops_the_start_naming_it(home, gateway, url, shown):
    g = gateway(store=url, wait=False)
    assert g.process.wait(30) == 1
    log = g.log()
    assert "--store" in log and shown in log and "s3cret" not in log, log


def test_a_store_in_a_missing_directory_stops_the_start(home, gateway):
    g = gateway(wait=False, store="sqlite:/nonexistent-qmr/state.db")
    assert g.process.wait(30) == 1
    assert "--store: cannot open sqlite:/nonexistent-qmr/state.db" in g.log()


def test_concurrent_queued_requests_with_keys_are_each_queued_once(home, smtp, gateway):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway()
    answers = []

    def send(n):
        answers.append(post(g, dict(PAYLOAD, message=f"Subject: c{n}\n\nx\n"), queued=True, key=f"c{n}"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = [post(g, dict(PAYLOAD, message=f"Subject: c{n}\n\nx\n"), queued=True, key=f"c{n}") for n in range(5)]
    assert all(a.status == 202 for a in answers + again)
    assert sorted(a.json["id"] for a in answers) == sorted(a.json["id"] for a in again)
    for answer in answers:
        assert wait_for_status(g, answer.json["id"])["status"] == "delivered"
    server.settle()
    assert server.connections == 5
