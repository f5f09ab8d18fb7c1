"""Memory under large bodies: one budget for bodies held in memory, the rest
spooled (JSON too, decoded without being held whole), so the gateway's
resident memory does not grow with what clients send; and what is spooled
is still delivered byte for byte."""
import base64
import json
import socket
import threading
import time

from conftest import GO_AHEAD, GREETING, OK


def peak_rss_mb(g):
    status = open(f"/proc/{g.process.pid}/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def message(i, size):
    line = b"line %02d of a message that is delivered byte for byte, never held whole\n" % i
    return b"Subject: m%d\n\n" % i + line * (size // len(line))


def test_concurrent_large_json_bodies_stay_out_of_memory(home, smtp, gateway, tmp_path):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, OK, many=True)
    home.route_to(server)
    spool = tmp_path / "spool"
    spool.mkdir()
    g = gateway("--max-body-memory", "1048576", "--max-message-bytes", "8000000", "--spool-dir", str(spool))
    baseline = peak_rss_mb(g)
    messages = [message(i, 6_000_000) for i in range(10)]
    answers = {}

    def send(i):
        payload = {"sender": "a@b.test", "recipients": [f"u{i}@x.test"]}
        if i % 2:
            payload["message_base64"] = base64.b64encode(messages[i]).decode()
        else:
            payload["message"] = messages[i].decode()
        answers[i] = g.deliver(payload, timeout=120)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [answers[i].status for i in range(10)] == [200] * 10
    server.settle()
    for i, body in enumerate(messages):
        wire = body.replace(b"\n", b"\r\n") + b".\r\n"
        assert any(wire in bytes(transcript) for transcript in server.transcripts), i
    # Held whole, the bodies (8 MB of JSON each) and their messages would be
    # over 100 MB; spooled, they cost the pieces being read and written.
    assert peak_rss_mb(g) - baseline < 40, (baseline, peak_rss_mb(g))
    assert not list(spool.iterdir()), "spool files were left behind"


def test_unfinished_uploads_stay_out_of_memory(home, gateway, tmp_path):
    g = gateway("--max-message-bytes", "30000000", "--spool-dir", str(tmp_path), "--min-body-rate", "0")
    baseline = peak_rss_mb(g)
    sockets = []
    chunk = b"x" * 65536
    for _ in range(10):
        s = socket.create_connection((g.host, g.port), timeout=10)
        s.sendall(b"POST /v1/deliveries?sender=&recipient=u%40x.test HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: message/rfc822\r\nContent-Length: 20000000\r\n\r\n")
        sockets.append(s)
    for _ in range(80):  # 5 MB each, then they stall
        for s in sockets:
            s.sendall(chunk)
    time.sleep(0.5)
    assert peak_rss_mb(g) - baseline < 40, (baseline, peak_rss_mb(g))
    assert g.request("GET", "/healthz").status == 200
    metrics = g.request("GET", "/metrics").body.decode()
    in_memory = int(metrics.split("\nqmail_remote_httpd_body_memory_bytes ")[1].split()[0])
    assert in_memory <= 64 << 20
    for s in sockets:
        s.close()
