"""The gateway's outbound destination policy and per-destination concurrency,
in the test network namespace: hosts, address literals and MX answers that
lead to loopback, private, link-local or documentation addresses are refused
with the core's report and no connection (listeners there count them);
--allow-destinations and smtproutes let them through. A destination that
drips its greeting holds at most --concurrency-per-destination slots while
deliveries elsewhere go at normal speed. Queued deliveries meet the same
policy and the same per-destination limit as synchronous ones."""
import socket
import threading
import time

import pytest

from conftest import good_conversation, needs_netns
from queuing import queue, status, wait_for_status, wait_until

MESSAGE = "Subject: hi\n\nHello\n"
pytestmark = needs_netns


def refusal(ip, what):
    return f"Sorry, {ip} is {what}, and the destination policy does not allow delivery there. (#5.7.1)\n"


@pytest.fixture
def listeners(smtp, home):
    """SMTP servers on port 25 of 127.0.0.2, ::1 and fd00::25, counting connections."""
    home.control("esmtp", "1\n")
    return {address: smtp(*good_conversation(), host=address, port=25, many=True)
            for address in ("127.0.0.2", "::1", "fd00::25")}


CASES = [
    ({"host": "127.0.0.2"}, "127.0.0.2", "a loopback address"),
    ({"host": "[127.0.0.2]"}, "127.0.0.2", "a loopback address"),
    ({"recipients": ["u@[127.0.0.2]"]}, "127.0.0.2", "a loopback address"),
    ({"host": "[IPv6:fd00::25]"}, "fd00::25", "a private address"),
    ({"host": "fd00::25"}, "fd00::25", "a private address"),
    ({"host": "10.1.2.3"}, "10.1.2.3", "a private address"),
    ({"host": "192.168.7.8"}, "192.168.7.8", "a private address"),
    ({"host": "169.254.0.9"}, "169.254.0.9", "a link-local address"),
    ({"host": "192.0.2.25"}, "192.0.2.25", "a documentation address"),
    ({"recipients": ["u@private.test"]}, "127.0.0.2", "a loopback address"),
    ({"recipients": ["u@six.test"]}, "fd00::25", "a private address"),
]


def zone():
    return {"private.test": {"MX": [(10, "mx.private.test")]}, "mx.private.test": {"A": ["127.0.0.2"]},
            "six.test": {"MX": [(10, "mx.six.test")]}, "mx.six.test": {"AAAA": ["fd00::25"]},
            "mixed.test": {"MX": [(10, "mx1.mixed.test"), (20, "mx2.mixed.test")]},
            "mx1.mixed.test": {"A": ["127.0.0.3"]}, "mx2.mixed.test": {"A": ["127.0.0.2"]}}


def request(**given):
    return {"sender": "a@b.test", "recipients": given.get("recipients", ["u@x.test"]), "message": MESSAGE,
            **({"host": given["host"]} if "host" in given else {})}


def test_non_public_destinations_are_refused_without_a_connection(home, gateway, dns, listeners):
    dns(zone())
    g = gateway()
    for given, ip, what in CASES:
        answer = g.deliver(request(**given))
        assert answer.status == 422, (given, answer.body)
        assert answer.json["deliveries"][0]["reports"] == [{"letter": "D", "text": refusal(ip, what)}], given
        assert answer.json["recipients"][0]["outcome"] == "failed"
    # [::1] is one of this machine's addresses: qmail's best-MX rule refuses it first.
    own = g.deliver(request(host="[IPv6:::1]"))
    assert own.status == 422 and own.json["deliveries"][0]["reports"][0]["text"].endswith("(#5.4.6)\n")
    assert {address: server.connections for address, server in listeners.items()} == {
        "127.0.0.2": 0, "::1": 0, "fd00::25": 0}
    # The command has no such policy: the same host is delivered to.
    assert home.run("127.0.0.2", "a@b.test", "u@x.test").startswith(b"r\0K127.0.0.2 accepted message.")
    assert listeners["127.0.0.2"].connections == 1


def test_allowed_ranges_and_routes_pass(home, gateway, dns, listeners):
    dns(zone())
    g = gateway("--allow-destinations", "127.0.0.2/32,fd00::/8")
    for given, ip, _ in CASES:
        if ip.startswith(("127.", "::1", "fd00")):
            answer = g.deliver(request(**given))
            assert answer.status == 200, (given, answer.body)
    assert listeners["127.0.0.2"].connections == 4
    assert listeners["fd00::25"].connections == 3
    # Where one MX is allowed and a better one is not, the allowed one is used and the other never touched.
    refused = socket.socket()
    refused.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    refused.bind(("127.0.0.3", 25))
    refused.listen(8)
    refused.settimeout(0.2)
    answer = g.deliver(request(recipients=["u@mixed.test"]))
    assert answer.status == 200
    assert answer.json["deliveries"][0]["reports"][-1]["text"].startswith("127.0.0.2 accepted message.")
    with pytest.raises(socket.timeout):
        refused.accept()
    refused.close()
    # A relay from smtproutes is the installation's choice: no flag needed.
    home.control("smtproutes", "routed.test:127.0.0.2\n")
    plain = gateway()
    time.sleep(1.1)  # control files are re-read at most once a second
    assert plain.deliver(request(recipients=["u@routed.test"])).status == 200


def test_queued_deliveries_meet_the_same_policy(home, gateway, dns, listeners):
    dns(zone())
    g = gateway()
    for given, ip, what in [({"host": "127.0.0.2"}, "127.0.0.2", "a loopback address"),
                            ({"recipients": ["u@six.test"]}, "fd00::25", "a private address")]:
        done = wait_for_status(g, queue(g, request(**given)))
        assert done["status"] == "failed", given
        [attempt] = done["attempts"]
        assert attempt["reports"] == [{"letter": "D", "text": refusal(ip, what)}], given
        assert done["recipients"][0]["outcome"] == "failed"
    assert {address: server.connections for address, server in listeners.items()} == {
        "127.0.0.2": 0, "::1": 0, "fd00::25": 0}
    allowed = gateway("--allow-destinations", "127.0.0.2/32")
    assert wait_for_status(allowed, queue(allowed, request(recipients=["u@private.test"])))["status"] == "delivered"
    assert listeners["127.0.0.2"].connections == 1


class DrippingServer:
    """Accepts connections on 127.0.0.2:25 and sends its greeting one byte a
    second, for ever: each read of the client's is within its time-out, and
    the delivery never ends. Counts connections open at once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.2", 25))
        self.sock.listen(64)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.open = 0
        self.most = 0
        self.connections = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.most = max(self.most, self.open)
                self.connections.append(conn)
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            for byte in b"220 drip drip drip drip drip drip drip drip drip drip drip drip drip\r\n":
                if self.stop.wait(1):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
            conn.close()

    def close(self):
        self.stop.set()
        # Wakes the thread blocked in accept: a closed socket alone stays listening until accept returns.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.acceptor.join(5)


def test_a_dripping_destination_cannot_take_every_slot(home, smtp, gateway):
    drip = DrippingServer()
    healthy = smtp(*good_conversation(), host="127.0.0.3", port=25, many=True)
    home.control("smtproutes", "drip.test:127.0.0.2\ngood.test:127.0.0.3\n")
    g = gateway()  # --concurrency 20, so at most 10 a destination
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(g.deliver(request(recipients=["u@drip.test"]))))
               for _ in range(20)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.time() + 10
        while drip.open < 10 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert drip.open == 10
        latencies = []
        for _ in range(30):
            started = time.monotonic()
            assert g.deliver(request(recipients=["u@good.test"])).status == 200
            latencies.append(time.monotonic() - started)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        assert p99 < 1.0, latencies
        assert drip.most == 10 and healthy.connections == 30
    finally:
        drip.close()
        for thread in threads:
            thread.join(60)
    assert len(answers) == 20 and all(answer.status == 503 for answer in answers)
    assert drip.most == 10


def test_queued_work_for_a_dripping_destination_holds_at_most_its_share(home, smtp, gateway):
    drip = DrippingServer()
    healthy = smtp(*good_conversation(), host="127.0.0.3", port=25, many=True)
    home.control("smtproutes", "drip.test:127.0.0.2\ngood.test:127.0.0.3\n")
    g = gateway()  # --concurrency 20, so at most 10 a destination
    try:
        stuck = [queue(g, request(recipients=["u@drip.test"])) for _ in range(20)]
        wait_until(lambda: drip.open >= 10, timeout=10, message="ten deliveries to the dripping server")
        time.sleep(0.5)
        assert drip.open == 10
        # Queued and synchronous work for another destination goes first.
        started = time.monotonic()
        quick = [queue(g, request(recipients=["u@good.test"])) for _ in range(10)]
        for delivery_id in quick:
            assert wait_for_status(g, delivery_id, timeout=10)["status"] == "delivered"
        for _ in range(10):
            assert g.deliver(request(recipients=["u@good.test"])).status == 200
        assert time.monotonic() - started < 10
        assert drip.most == 10 and healthy.connections == 20
        assert all(status(g, delivery_id).json["status"] in ("queued", "delivering") for delivery_id in stuck)
    finally:
        drip.close()
