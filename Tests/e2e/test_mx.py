"""Finding the server through a scripted DNS server: MX preference order,
random ties, A fallback, CNAME, NXDOMAIN, SERVFAIL, MX hosts that do not
resolve, and the best-preference rule for this machine's own addresses.
Servers listen on port 25 of 127.0.0.x, so these run in their own network
namespace."""
import pytest

from conftest import good_conversation, needs_netns
from smtpscript import CLOSE

pytestmark = needs_netns

TEMPORARY = b"ZSorry, I couldn't find any host by that name. (#4.1.2)\n\0"
NO_MX = b"DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n\0"
LOCAL = (b"DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
         b"it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n\0")


def accepted(ip):
    return b"r\0K" + ip.encode() + b" accepted message.\nRemote host said: 250 ok\n\0"


def mx_server(smtp, ip, **options):
    return smtp(*good_conversation(), host=ip, port=25, **options)


def test_lowest_preference_first(home, smtp, dns):
    low, high = mx_server(smtp, "127.0.0.2"), mx_server(smtp, "127.0.0.3")
    dns({"x.test": {"MX": [(20, "high.x.test"), (10, "low.x.test")]},
         "low.x.test": {"A": ["127.0.0.2"]}, "high.x.test": {"A": ["127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.2")
    low.close(); high.close()
    assert (low.connections, high.connections) == (1, 0)


def test_next_mx_when_connection_is_refused(home, smtp, dns):
    backup = mx_server(smtp, "127.0.0.3")
    dns({"x.test": {"MX": [(10, "down.x.test"), (20, "backup.x.test")]},
         "down.x.test": {"A": ["127.0.0.2"]}, "backup.x.test": {"A": ["127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.3")


def test_no_next_mx_once_connected(home, smtp, dns):
    first = smtp(b"421 busy\r\n", host="127.0.0.2", port=25)
    second = mx_server(smtp, "127.0.0.3")
    dns({"x.test": {"MX": [(10, "a.x.test"), (20, "b.x.test")]},
         "a.x.test": {"A": ["127.0.0.2"]}, "b.x.test": {"A": ["127.0.0.3"]}})
    out = home.run("x.test", "a@b.test", "u@x.test")
    second.close()
    assert out == b"ZConnected to 127.0.0.2 but greeting failed.\nRemote host said: 421 busy\n\0"
    assert second.connections == 0


def test_equal_preferences_are_tried_in_random_order(home, smtp, dns):
    a = mx_server(smtp, "127.0.0.2", many=True)
    b = mx_server(smtp, "127.0.0.3", many=True)
    dns({"x.test": {"MX": [(10, "a.x.test"), (10, "b.x.test")]},
         "a.x.test": {"A": ["127.0.0.2"]}, "b.x.test": {"A": ["127.0.0.3"]}})
    for _ in range(24):
        assert home.run("x.test", "a@b.test", "u@x.test").startswith(b"r\0K127.0.0.")
    a.close(); b.close()
    # Both orders seen: the chance of 24 equal draws is 2 in 2^24.
    assert a.connections > 0 and b.connections > 0 and a.connections + b.connections == 24


def test_a_record_when_there_is_no_mx(home, smtp, dns):
    mx_server(smtp, "127.0.0.2")
    zone = dns({"x.test": {"A": ["127.0.0.2"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.2")
    assert zone.questions == [("x.test", "MX"), ("x.test", "A")]


def test_cname_is_followed(home, smtp, dns):
    mx_server(smtp, "127.0.0.2")
    dns({"x.test": {"CNAME": "real.test"}, "real.test": {"MX": [(5, "mx.real.test")]},
         "mx.real.test": {"CNAME": "box.real.test"}, "box.real.test": {"A": ["127.0.0.2"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.2")


def test_recipient_domain_is_not_rewritten_through_cname(home, smtp, dns):
    server = mx_server(smtp, "127.0.0.2")
    dns({"x.test": {"CNAME": "real.test"}, "real.test": {"A": ["127.0.0.2"]}})
    home.run("x.test", "a@b.test", "u@x.test")
    server.wait()
    assert b"RCPT TO:<u@x.test>\r\n" in server.received


def test_nxdomain_is_permanent(home, dns):
    dns({})
    assert home.run("nowhere.test", "a@b.test", "u@nowhere.test") == \
        b"DSorry, I couldn't find any host named nowhere.test. (#5.1.2)\n\0"


def test_no_mx_and_no_a_is_permanent(home, dns):
    dns({"x.test": {}})
    assert home.run("x.test", "a@b.test", "u@x.test") == b"DSorry, I couldn't find any host named x.test. (#5.1.2)\n\0"


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
def test_server_failure_is_temporary(home, dns, rcode):
    dns({"x.test": {"rcode": rcode}})
    assert home.run("x.test", "a@b.test", "u@x.test") == TEMPORARY


def test_a_fallback_failing_temporarily(home, dns):
    dns({"x.test": {"rcode_A": "SERVFAIL"}})
    assert home.run("x.test", "a@b.test", "u@x.test") == TEMPORARY


def test_dns_server_that_does_not_answer_is_temporary(home):
    out = home.run("x.test", "a@b.test", "u@x.test", env={"QMAILREMOTE_DNS": "127.0.0.9:5399"}, timeout=120)
    assert out == TEMPORARY


def test_mx_host_that_does_not_resolve(home, dns):
    dns({"x.test": {"MX": [(10, "gone.x.test")]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == NO_MX


def test_unresolvable_mx_host_is_skipped(home, smtp, dns):
    mx_server(smtp, "127.0.0.3")
    dns({"x.test": {"MX": [(10, "gone.x.test"), (20, "flaky.x.test"), (30, "ok.x.test")]},
         "flaky.x.test": {"rcode": "SERVFAIL"}, "ok.x.test": {"A": ["127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.3")


def test_only_mx_host_failing_temporarily_is_temporary(home, dns):
    dns({"x.test": {"MX": [(10, "gone.x.test"), (20, "flaky.x.test")]}, "flaky.x.test": {"rcode": "SERVFAIL"}})
    assert home.run("x.test", "a@b.test", "u@x.test") == TEMPORARY


def test_null_mx_has_no_exchanger(home, dns):
    dns({"x.test": {"MX": [(0, ".")]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == NO_MX


def test_this_machine_as_best_mx(home, dns):
    dns({"x.test": {"MX": [(10, "me.x.test"), (20, "other.x.test")]},
         "me.x.test": {"A": ["127.0.0.1"]}, "other.x.test": {"A": ["127.0.0.2"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == LOCAL


def test_better_mx_than_this_machine_is_used(home, smtp, dns):
    mx_server(smtp, "127.0.0.2")
    dns({"x.test": {"MX": [(5, "better.x.test"), (10, "me.x.test"), (10, "peer.x.test")]},
         "better.x.test": {"A": ["127.0.0.2"]}, "me.x.test": {"A": ["127.0.0.1"]},
         "peer.x.test": {"A": ["127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.2")


def test_mx_not_better_than_this_machine_is_dropped(home, smtp, dns):
    # 127.0.0.3 has the same preference as this machine: dropped, never tried.
    peer = mx_server(smtp, "127.0.0.3")
    dns({"x.test": {"MX": [(5, "down.x.test"), (10, "me.x.test"), (10, "peer.x.test")]},
         "down.x.test": {"A": ["127.0.0.2"]}, "me.x.test": {"A": ["127.0.0.1"]},
         "peer.x.test": {"A": ["127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"
    peer.close()
    assert peer.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "[127.0.0.1]", "0.0.0.0"])
def test_ip_literal_of_this_machine(home, host):
    assert home.run(host, "a@b.test", "u@x.test") == LOCAL


@pytest.mark.parametrize("host", ["127.0.0.2", "[127.0.0.2]"])
def test_ip_literal_needs_no_dns(home, smtp, host):
    server = mx_server(smtp, "127.0.0.2")
    out = home.run(host, "a@b.test", "u@x.test", env={"QMAILREMOTE_DNS": "127.0.0.9:5399"})
    assert out == accepted("127.0.0.2")


def test_several_addresses_of_one_mx_host(home, smtp, dns):
    mx_server(smtp, "127.0.0.3")
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"A": ["127.0.0.2", "127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == accepted("127.0.0.3")


def test_every_address_refused(home, dns):
    dns({"x.test": {"MX": [(10, "mx.x.test")]}, "mx.x.test": {"A": ["127.0.0.2", "127.0.0.3"]}})
    assert home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n\0"


def test_no_search_list_is_applied(home, dns, tmp_path):
    zone = dns({})
    home.run("single", "a@b.test", "u@single")
    assert all(name == "single" for name, _ in zone.questions)
