"""IPv6 in ESMTP mode: literals, [IPv6] relays, AAAA records for MX hosts and
hosts (one family's failure never hides the other's answer), mixed sets under
each control/addresspreference, outgoingip/outgoingip6, this machine's IPv6
addresses in the MX rule, and the IPv6 connect-timeout table. In a network
namespace where fd00::/64 is local (scripts/in-netns.sh)."""
import socket
import struct
import time

import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation, needs_netns

pytestmark = needs_netns

EHLO = b"250-esmtp.test\r\n250 PIPELINING\r\n"
LOCAL = (b"DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
         b"it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n\0")


def esmtp_conversation():
    return [GREETING, EHLO, OK, OK, GO_AHEAD, OK]


def accepted(ip):
    return b"r\0K" + ip.encode() + b" accepted message.\nRemote host said: 250 ok\n\0"


@pytest.fixture
def v6home(home):
    home.control("esmtp", "1\n")
    return home


@pytest.mark.parametrize("host", ["[IPv6:fd00::25]", "[ipv6:FD00:0:0::25]", "fd00::25"])
def test_ipv6_literal_hosts(v6home, smtp, host):
    server = smtp(*esmtp_conversation(), host="fd00::25", port=25)
    assert v6home.run(host, "a@b.test", "u@x.test") == accepted("fd00::25")
    server.wait()
    assert server.received.startswith(b"EHLO helo.test\r\n")


def test_loopback_ipv6_literal_is_this_machine(v6home):
    assert v6home.run("[IPv6:::1]", "a@b.test", "u@x.test") == LOCAL


def test_ipv6_loopback_through_a_route(v6home, smtp):
    server = smtp(*esmtp_conversation(), host="::1")
    v6home.control("smtproutes", f"x.test:[::1]:{server.port}\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted("::1")


def test_ipv6_relay_with_ipv6_tag_and_port(v6home, smtp):
    server = smtp(*esmtp_conversation(), host="fd00::26")
    v6home.control("smtproutes", f".x.test:[IPv6:fd00::26]:{server.port}\n")
    assert v6home.run("mx.x.test", "a@b.test", "u@mx.x.test") == accepted("fd00::26")


def test_classic_mode_knows_no_ipv6(home, smtp, dns):
    assert home.run("[IPv6:fd00::25]", "a@b.test", "u@x.test") == \
        b"DSorry, I couldn't find any host named [IPv6:fd00::25]. (#5.1.2)\n\0"
    zone = dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"AAAA": ["fd00::2"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == \
        b"DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n\0"
    assert ("mx.x.test", "AAAA") not in zone.questions


def test_mx_host_with_only_aaaa(v6home, smtp, dns):
    smtp(*esmtp_conversation(), host="fd00::2", port=25)
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"AAAA": ["fd00::2"]}})
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted("fd00::2")


def test_host_without_mx_uses_its_aaaa(v6home, smtp, dns):
    smtp(*esmtp_conversation(), host="fd00::3", port=25)
    dns({"x.test": {"AAAA": ["fd00::3"]}})
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted("fd00::3")


@pytest.mark.parametrize("failing,answering,server_ip", [
    ("AAAA", {"A": ["127.0.0.2"]}, "127.0.0.2"),
    ("A", {"AAAA": ["fd00::2"]}, "fd00::2"),
])
def test_one_family_failing_never_hides_the_other(v6home, smtp, dns, failing, answering, server_ip):
    smtp(*esmtp_conversation(), host=server_ip, port=25)
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {**answering, "rcode_" + failing: "SERVFAIL"}})
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted(server_ip)


def test_both_families_failing_is_temporary(v6home, dns):
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"rcode_A": "SERVFAIL", "rcode_AAAA": "SERVFAIL"}})
    assert v6home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I couldn't find any host by that name. (#4.1.2)\n\0"


@pytest.mark.parametrize("preference,first", [("ipv4", "127.0.0.2"), ("ipv6", "fd00::2")])
def test_address_preference_orders_each_hosts_addresses(v6home, smtp, dns, preference, first):
    v4 = smtp(*esmtp_conversation(), host="127.0.0.2", port=25, many=True)
    v6 = smtp(*esmtp_conversation(), host="fd00::2", port=25, many=True)
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"A": ["127.0.0.2"], "AAAA": ["fd00::2"]}})
    v6home.control("addresspreference", preference + "\n")
    for _ in range(6):
        assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted(first)
    v4.close(); v6.close()
    assert (v4.connections, v6.connections) == ((6, 0) if preference == "ipv4" else (0, 6))


def test_preference_falls_back_to_the_other_family(v6home, smtp, dns):
    smtp(*esmtp_conversation(), host="127.0.0.2", port=25)
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"A": ["127.0.0.2"], "AAAA": ["fd00::9"]}})
    v6home.control("addresspreference", "ipv6\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.2")


def test_any_preference_uses_both_families(v6home, smtp, dns):
    v4 = smtp(*esmtp_conversation(), host="127.0.0.2", port=25, many=True)
    v6 = smtp(*esmtp_conversation(), host="fd00::2", port=25, many=True)
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"A": ["127.0.0.2"], "AAAA": ["fd00::2"]}})
    for _ in range(24):
        assert v6home.run("x.test", "a@b.test", "u@x.test").startswith(b"r\0K")
    v4.close(); v6.close()
    assert v4.connections > 0 and v6.connections > 0


def test_mx_preference_comes_before_address_family(v6home, smtp, dns):
    smtp(*esmtp_conversation(), host="fd00::2", port=25)
    dns({"x.test": {"MX": [(10, "six.x.test"), (20, "four.x.test")]},
         "six.x.test": {"AAAA": ["fd00::2"]}, "four.x.test": {"A": ["127.0.0.2"]}})
    v6home.control("addresspreference", "ipv4\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted("fd00::2")


def test_this_machines_ipv6_address_as_best_mx(v6home, dns):
    dns({"x.test": {"MX": [(10, "me.x.test"), (20, "other.x.test")]},
         "me.x.test": {"AAAA": ["fd00::a"]}, "other.x.test": {"AAAA": ["fd00::2"]}})
    assert v6home.run("x.test", "a@b.test", "u@x.test") == LOCAL


def test_outgoingip_binds_ipv4_connections(v6home, smtp):
    server = smtp(*esmtp_conversation(), host="127.0.0.1")
    v6home.route_to(server)
    v6home.control("outgoingip", "127.0.0.5\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test").startswith(b"r\0K")
    assert server.peers == ["127.0.0.5"]


def test_outgoingip6_binds_ipv6_connections(v6home, smtp):
    server = smtp(*esmtp_conversation(), host="fd00::27")
    v6home.control("smtproutes", f"x.test:[fd00::27]:{server.port}\n")
    v6home.control("outgoingip6", "fd00::a\n")
    v6home.control("outgoingip", "127.0.0.5\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == accepted("fd00::27")
    assert server.peers == ["fd00::a"]


def test_outgoingip_that_is_not_ours_cannot_connect(v6home, smtp):
    server = smtp(*esmtp_conversation(), host="fd00::28")
    v6home.control("smtproutes", f"x.test:[fd00::28]:{server.port}\n")
    v6home.control("outgoingip6", "2001:db8::1\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
    server.close()
    assert server.connections == 0


def unanswered(address):
    """A port on `address` whose backlog is full: a connect to it times out.
    Returns the port and the sockets to close after."""
    listener = socket.socket(socket.AF_INET6)
    listener.setsockopt(socket.SOL_IP, 15, 1)
    listener.bind((address, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket(socket.AF_INET6) for _ in range(2)]
    for f in fillers:
        f.setblocking(False)
        f.connect_ex((address, port))
    time.sleep(0.2)
    return port, fillers + [listener]


def test_ipv6_connect_timeouts_go_to_tcpto6(v6home):
    table = v6home.path / "queue" / "lock" / "tcpto6"
    table.write_bytes(b"\0" * 2048)
    port, sockets = unanswered("fd00::29")
    v6home.control("timeoutconnect", "1\n")
    v6home.control("smtproutes", f"x.test:[fd00::29]:{port}\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
    data = table.read_bytes()
    assert data[:16] == socket.inet_pton(socket.AF_INET6, "fd00::29") and data[16] == 1
    assert abs(struct.unpack("<I", data[24:28])[0] - time.time()) < 5
    # Twice, two minutes apart: skipped without trying.
    table.write_bytes(data[:16] + bytes([2]) + data[17:24] + struct.pack("<I", int(time.time()) - 60) + data[28:])
    started = time.monotonic()
    assert v6home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
    assert time.monotonic() - started < 0.9
    for s in sockets:
        s.close()


def test_the_first_ipv6_connect_timeout_makes_tcpto6(v6home):
    table = v6home.path / "queue" / "lock" / "tcpto6"
    assert not table.exists()
    port, sockets = unanswered("fd00::31")
    v6home.control("timeoutconnect", "1\n")
    v6home.control("smtproutes", f"x.test:[fd00::31]:{port}\n")
    assert v6home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
    data = table.read_bytes()
    assert len(data) == 2048
    assert data[:16] == socket.inet_pton(socket.AF_INET6, "fd00::31") and data[16] == 1 and data[32:] == b"\0" * 2016
    for s in sockets:
        s.close()


def test_gateway_json_carries_ipv6_texts(v6home, smtp, gateway):
    smtp(GREETING, EHLO, OK, b"550 5.1.1 unknown\r\n", host="fd00::30", port=25)
    g = gateway("--allow-destinations", "fd00::/8")  # the test hosts are private addresses
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "host": "[IPv6:fd00::30]",
                        "message": "Subject: s\n\nx\n"})
    assert answer.status == 422
    assert answer.json["deliveries"][0]["reports"] == [
        {"letter": "h", "text": "fd00::30 does not like recipient.\nRemote host said: 550 5.1.1 unknown\n"},
        {"letter": "D", "text": "Giving up on fd00::30.\n"}]
