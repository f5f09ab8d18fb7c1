"""Starting and stopping the real gateway: the drain keeps its deadline and
answers every request (delivered, not delivered because stopped before the
final dot, or maybe delivered), a second signal stops at once, the port is
bound exclusively, an unusable spool directory stops the start, and --probe
finds the gateway where it said it listens."""
import json
import signal
import socket
import subprocess
import threading
import time

from conftest import GO_AHEAD, GREETING, HTTPD, OK, free_port

MESSAGE = "Subject: s\n\nbody\n"


def deliver_in_thread(g, payload, answers, key):
    def run():
        try:
            answers[key] = g.deliver(payload, timeout=30)
        except OSError as error:
            answers[key] = error
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_drain_keeps_its_deadline_and_answers_every_request(home, smtp, gateway):
    fast = smtp(GREETING, OK, OK, OK, GO_AHEAD, OK, many=True)
    # 354 only after the deadline: these never get to send their final dot.
    before_dot = smtp(GREETING, OK, OK, OK, ("sleep", 5, GO_AHEAD), OK, many=True)
    # The dot goes out at once, the reply to it comes after the deadline.
    after_dot = smtp(GREETING, OK, OK, OK, GO_AHEAD, ("sleep", 5, OK), many=True)
    home.control("smtproutes", f"a.test:127.0.0.1:{fast.port}\nb.test:127.0.0.1:{before_dot.port}\n"
                               f"c.test:127.0.0.1:{after_dot.port}\n")
    g = gateway("--drain-timeout", "2", "--concurrency", "60")
    answers, threads = {}, []
    for i in range(50):
        domain = "a.test" if i < 10 else "b.test" if i < 30 else "c.test"
        payload = {"sender": "s@x.test", "recipients": [f"u{i}@{domain}"], "message": MESSAGE}
        threads.append(deliver_in_thread(g, payload, answers, i))
    time.sleep(1)
    started = time.monotonic()
    g.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    assert g.process.wait(30) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"the drain took {elapsed:.1f} s for a 2 s deadline"
    assert all(not isinstance(a, Exception) for a in answers.values()), answers
    for i in range(10):
        assert answers[i].status == 200
    for i in range(10, 30):
        body = answers[i].json
        assert answers[i].status == 503 and body["outcome"] == "deferred" and not body["possible_duplicate"]
        assert "stopped before the end of the message" in body["recipients"][0]["text"]
    for i in range(30, 50):
        body = answers[i].json
        assert answers[i].status == 207 and body["outcome"] == "uncertain" and body["possible_duplicate"]
        assert answers[i].header("Retry-After") is None
    time.sleep(0.5)
    # "not delivered" never means delivered: no dot reached the slow-354 server.
    assert b"\r\n.\r\n" not in before_dot.received
    assert after_dot.received.count(b"\r\n.\r\n") == 20
    log = [line for line in g.log_lines() if line["message"] == "stopped"]
    assert log and log[0]["requests_answered_at_deadline"] == "40"


def test_body_still_arriving_at_the_deadline_gets_503(home, gateway):
    g = gateway("--drain-timeout", "1")
    s = socket.create_connection((g.host, g.port), timeout=10)
    s.sendall(b"POST /v1/deliveries?sender=&recipient=u%40x.test HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: message/rfc822\r\nContent-Length: 1000\r\n\r\nSubject: s\n\n")
    time.sleep(0.3)
    g.process.send_signal(signal.SIGTERM)
    s.settimeout(5)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 503 ")
    assert b'"code":"shutting_down"' in data
    assert g.process.wait(10) == 0


def test_kept_alive_connection_gets_503_while_draining(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, ("sleep", 2, OK))
    home.route_to(server)
    g = gateway("--drain-timeout", "10")
    idle = g.connection()
    idle.request("GET", "/healthz")
    assert idle.getresponse().read()
    answers = {}
    thread = deliver_in_thread(g, {"sender": "", "recipients": ["u@x.test"], "message": MESSAGE}, answers, 0)
    time.sleep(0.5)
    g.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    idle.request("GET", "/healthz")
    response = idle.getresponse()
    assert response.status == 503 and json.loads(response.read()) == {"status": "shutting_down"}
    thread.join(20)
    assert answers[0].status == 200
    assert g.process.wait(20) == 0


def test_second_signal_stops_at_once(home, smtp, gateway):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, ("sleep", 20, OK))
    home.route_to(server)
    g = gateway("--drain-timeout", "30")
    answers = {}
    deliver_in_thread(g, {"sender": "", "recipients": ["u@x.test"], "message": MESSAGE}, answers, 0)
    time.sleep(0.5)
    g.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    started = time.monotonic()
    g.process.send_signal(signal.SIGINT)
    assert g.process.wait(5) == 1
    assert time.monotonic() - started < 1
    assert any(line["message"] == "stopped at once" for line in g.log_lines())


def test_the_port_is_bound_exclusively(gateway):
    first = gateway()
    second = gateway(port=first.port, wait=False)
    assert second.process.wait(10) != 0
    second.log_file.close()
    assert "is in use" in second.log_path.read_text()
    assert first.request("GET", "/healthz").status == 200


def test_an_unusable_spool_directory_stops_the_start(gateway):
    g = gateway("--spool-dir", "/nonexistent/spool", wait=False)
    assert g.process.wait(10) != 0
    g.log_file.close()
    assert "/nonexistent/spool" in g.log_path.read_text()


def test_probe_follows_the_address_the_gateway_announced(home, gateway, tmp_path):
    env = {"TMPDIR": str(tmp_path), "QMAIL_REMOTE_HTTPD_LISTEN": f"127.0.0.1:{free_port()}"}
    g = gateway(env=env)
    probe_env = dict(home.environment(), **env)
    assert subprocess.run([str(HTTPD), "--probe"], env=probe_env).returncode == 0
    assert subprocess.run([str(HTTPD), "--probe", "--listen", env["QMAIL_REMOTE_HTTPD_LISTEN"]],
                          env=probe_env).returncode == 1
    g.stop()
    assert not list(tmp_path.glob("qmail-remote-httpd-*.listen"))
    assert subprocess.run([str(HTTPD), "--probe"], env=probe_env).returncode == 1
