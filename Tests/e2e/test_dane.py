"""DANE (RFC 7672) end to end: the scripted DNS server answers with and
without the AD bit (secure and insecure MX, address and TLSA RRsets), TLSA
records 3 1 1, 3 0 1, 2 1 1 (a private CA), 3 1 2, mismatching and unusable
records, NXDOMAIN and SERVFAIL; STARTTLS servers (aiosmtpd) with matching and
non-matching certificates; an attacker that does not offer STARTTLS, whose
recorded bytes show that nothing of the message went in plain text. The MX
hosts listen on port 25 of 127.0.0.x, so these run in their own network
namespace."""
import os

import pytest
import trustme

from conftest import BINARY, GREETING, OK, needs_netns
from tlsa import MailHost, start_tls_server, tlsa

pytestmark = needs_netns

MESSAGE = b"Subject: dane\n\nsecret body\n"
MX = "mx.dane.test"
TLSA_NAME = "_25._tcp." + MX
ACCEPTED = b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 2.0.0 queued\n\0"
NOT_OFFERED = (b"ZConnected to 127.0.0.2 but it does not offer STARTTLS, and the TLSA records of mx.dane.test "
               b"require TLS. (#4.7.5)\n\0")


@pytest.fixture(scope="module")
def hosts():
    ca, other_ca = trustme.CA(), trustme.CA()
    return {"good": MailHost(ca, MX), "other": MailHost(other_ca, MX), "wrong-name": MailHost(ca, "other.test")}


@pytest.fixture
def servers():
    started = []

    def start(mail_host, host="127.0.0.2", starttls=True):
        controller, recorder = start_tls_server(host, mail_host, starttls)
        started.append(controller)
        return recorder

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def dane_home(home):
    home.control("esmtp", "1\n")
    home.control("tlspolicy", ":dane\n")
    return home


def zone(records=(), mx_secure=True, host_secure=True, tlsa_secure=True, tlsa_rcode=None, tlsa_absent=False):
    entries = {
        "dane.test": {"MX": [(10, MX)], "secure": mx_secure},
        MX: {"A": ["127.0.0.2"], "secure": host_secure},
    }
    if not tlsa_absent:
        entries[TLSA_NAME] = {"TLSA": list(records), "secure": tlsa_secure}
        if tlsa_rcode:
            entries[TLSA_NAME]["rcode"] = tlsa_rcode
    return entries


def attacker(smtp):
    """A server in the path that strips STARTTLS and would take the message."""
    return smtp(GREETING, b"250-mx.dane.test\r\n250 PIPELINING\r\n", OK, OK, b"354 go\r\n", OK, host="127.0.0.2", port=25)


def deliver(home):
    return home.run("dane.test", "a@b.test", "u@dane.test", message=MESSAGE)


@pytest.mark.parametrize("usage,selector,matching,of", [
    (3, 1, 1, "leaf"), (3, 0, 1, "leaf"), (3, 1, 2, "leaf"), (3, 0, 0, "leaf"), (2, 1, 1, "ca"), (2, 0, 1, "ca"),
])
def test_matching_tlsa_record_delivers_over_authenticated_tls(dane_home, dns, servers, hosts, usage, selector, matching,
                                                               of):
    recorder = servers(hosts["good"])
    cert = hosts["good"].cert if of == "leaf" else hosts["good"].ca_cert
    dns(zone([tlsa(usage, selector, matching, cert)]))
    assert deliver(dane_home) == ACCEPTED
    assert recorder.envelopes[0][3] is True
    assert recorder.sni == [MX], "SNI is the MX host's name"


def test_one_matching_record_among_several_is_enough(dane_home, dns, servers, hosts):
    servers(hosts["good"])
    dns(zone([tlsa(3, 1, 1, hosts["other"].cert), tlsa(1, 1, 1, hosts["good"].cert), tlsa(3, 1, 1, hosts["good"].cert)]))
    assert deliver(dane_home) == ACCEPTED


@pytest.mark.parametrize("level", ["dane", "dane-only"])
@pytest.mark.parametrize("served,records", [
    ("other", "good-leaf"),          # a certificate from another CA, for the right name
    ("good", "other-leaf"),          # the record is for another key
    ("wrong-name", "ca"),            # DANE-TA checks the name
])
def test_certificate_matching_no_record_is_refused_and_nothing_is_sent(home, dns, servers, hosts, level, served,
                                                                        records):
    home.control("esmtp", "1\n")
    home.control("tlspolicy", f"dane.test:{level}\n")
    recorder = servers(hosts[served])
    record = {"good-leaf": tlsa(3, 1, 1, hosts["good"].cert), "other-leaf": tlsa(3, 1, 1, hosts["other"].cert),
              "ca": tlsa(2, 1, 1, hosts["good"].ca_cert)}[records]
    dns(zone([record]))
    out = deliver(home)
    assert out.startswith(b"ZConnected to 127.0.0.2 but its certificate matches no TLSA record of mx.dane.test: ")
    assert out.endswith(b". (#4.7.5)\n\0")
    assert recorder.envelopes == []


@pytest.mark.parametrize("level", ["dane", "dane-only"])
def test_attacker_without_starttls_gets_nothing_in_plain_text(home, dns, smtp, hosts, level):
    home.control("esmtp", "1\n")
    home.control("tlspolicy", f":{level}\n")
    server = attacker(smtp)
    dns(zone([tlsa(3, 1, 1, hosts["good"].cert)]))
    out = deliver(home)
    server.wait()
    assert out == NOT_OFFERED
    assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"


def test_starttls_refused_under_dane_sends_nothing(dane_home, dns, smtp, hosts):
    server = smtp(GREETING, b"250-mx.dane.test\r\n250 STARTTLS\r\n", b"454 4.7.0 TLS not available\r\n",
                  host="127.0.0.2", port=25)
    dns(zone([tlsa(3, 1, 1, hosts["good"].cert)]))
    out = deliver(dane_home)
    server.wait()
    assert out == (b"ZConnected to 127.0.0.2 but STARTTLS was refused, and TLS is required.\n"
                   b"Remote host said: 454 4.7.0 TLS not available\n\0")
    assert bytes(server.received) == b"EHLO helo.test\r\nSTARTTLS\r\nQUIT\r\n"


def test_failed_handshake_under_dane_is_never_followed_by_plain_text(dane_home, dns, smtp, hosts):
    server = smtp(scripts=[[GREETING, b"250-x\r\n250 STARTTLS\r\n", b"220 go ahead\r\n", ("tls-garbage",)]],
                  host="127.0.0.2", port=25)
    dns(zone([tlsa(3, 1, 1, hosts["good"].cert)]))
    out = deliver(dane_home)
    server.settle()
    server.close()
    assert out.startswith(b"ZConnected to 127.0.0.2 but the TLS handshake failed: ")
    assert server.connections == 1 and b"MAIL" not in server.received


@pytest.mark.parametrize("insecure", ["mx", "host"])
def test_insecure_mx_or_address_records_mean_no_dane(home, dns, smtp, hosts, insecure):
    """RFC 7672 2.2: without DNSSEC for the MX RRset or the host's addresses,
    TLSA records do not count: `dane` delivers as `may`, `dane-only` refuses."""
    home.control("esmtp", "1\n")
    home.control("tlspolicy", ":dane\n")
    server = attacker(smtp)
    dns(zone([tlsa(3, 1, 1, hosts["good"].cert)], mx_secure=insecure != "mx", host_secure=insecure != "host"))
    assert deliver(home) == b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n\0"
    server.wait()
    home.control("tlspolicy", ":dane-only\n")
    server = attacker(smtp)
    out = deliver(home)
    server.close()
    assert out == (b"ZSorry, DNSSEC does not vouch for the MX or address records of mx.dane.test, and tlspolicy is "
                   b"dane-only. (#4.7.5)\n\0")
    assert server.connections == 0


@pytest.mark.parametrize("case", ["insecure", "nxdomain", "nodata", "unusable-only"])
def test_no_usable_tlsa(home, dns, smtp, hosts, case):
    """No TLSA records that count: `dane` is `may` (for records that are all
    unusable: TLS required, not authenticated), `dane-only` refuses."""
    home.control("esmtp", "1\n")
    home.control("tlspolicy", ":dane\n")
    records = {"insecure": dict(records=[tlsa(3, 1, 1, hosts["good"].cert)], tlsa_secure=False),
               "nxdomain": dict(tlsa_absent=True), "nodata": dict(records=[]),
               "unusable-only": dict(records=[tlsa(1, 1, 1, hosts["good"].cert), tlsa(0, 0, 1, hosts["good"].ca_cert),
                                              (3, 1, 1, b"short")])}[case]
    dns(zone(**records))
    server = attacker(smtp)
    out = deliver(home)
    server.wait()
    if case == "unusable-only":
        assert out == NOT_OFFERED
        assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"
    else:
        assert out == b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n\0"
    home.control("tlspolicy", ":dane-only\n")
    server = attacker(smtp)
    out = deliver(home)
    server.close()
    assert out == b"ZSorry, mx.dane.test has no usable TLSA records, and tlspolicy is dane-only. (#4.7.5)\n\0"
    assert server.connections == 0


def test_unusable_records_still_require_tls_without_authentication(dane_home, dns, servers, hosts):
    recorder = servers(hosts["other"])
    dns(zone([tlsa(1, 1, 1, hosts["good"].cert)]))
    assert deliver(dane_home) == ACCEPTED
    assert recorder.envelopes[0][3] is True


@pytest.mark.parametrize("level", ["dane", "dane-only"])
def test_tlsa_servfail_skips_the_host(home, dns, smtp, hosts, level):
    home.control("esmtp", "1\n")
    home.control("tlspolicy", f":{level}\n")
    server = attacker(smtp)
    dns(zone([tlsa(3, 1, 1, hosts["good"].cert)], tlsa_rcode="SERVFAIL"))
    out = deliver(home)
    server.close()
    assert out == b"ZSorry, the TLSA lookup for mx.dane.test failed, so it cannot be authenticated. (#4.7.5)\n\0"
    assert server.connections == 0


def test_tlsa_servfail_on_one_mx_goes_on_to_the_next(dane_home, dns, servers, hosts):
    backup = MailHost(hosts["good"].ca, "backup.dane.test")
    recorder = servers(backup, host="127.0.0.3")
    entries = zone([tlsa(3, 1, 1, hosts["good"].cert)], tlsa_rcode="SERVFAIL")
    entries["dane.test"]["MX"].append((20, "backup.dane.test"))
    entries["backup.dane.test"] = {"A": ["127.0.0.3"], "secure": True}
    entries["_25._tcp.backup.dane.test"] = {"TLSA": [tlsa(3, 1, 1, backup.cert)], "secure": True}
    dns(entries)
    assert deliver(dane_home) == b"r\0K127.0.0.3 accepted message.\nRemote host said: 250 2.0.0 queued\n\0"
    assert recorder.sni == ["backup.dane.test"]


def with_backup(entries, backup):
    """dane.test with a second MX host, backup.dane.test at 127.0.0.3, whose TLSA record matches `backup`."""
    entries["dane.test"]["MX"].append((20, "backup.dane.test"))
    entries["backup.dane.test"] = {"A": ["127.0.0.3"], "secure": True}
    entries["_25._tcp.backup.dane.test"] = {"TLSA": [tlsa(3, 1, 1, backup.cert)], "secure": True}
    return entries


@pytest.mark.parametrize("level", ["dane", "dane-only"])
def test_a_certificate_matching_no_record_sends_the_delivery_on_to_the_next_mx(home, dns, servers, hosts, level):
    """RFC 7672 2.2, as Postfix does: an MX host whose TLS cannot be
    authenticated is passed over like one that cannot be reached."""
    home.control("esmtp", "1\n")
    home.control("tlspolicy", f":{level}\n")
    first = servers(hosts["other"])
    backup = MailHost(hosts["good"].ca, "backup.dane.test")
    second = servers(backup, host="127.0.0.3")
    dns(with_backup(zone([tlsa(3, 1, 1, hosts["good"].cert)]), backup))
    assert deliver(home) == b"r\0K127.0.0.3 accepted message.\nRemote host said: 250 2.0.0 queued\n\0"
    assert first.envelopes == [] and first.sni == [MX]
    assert len(second.envelopes) == 1 and second.envelopes[0][3] is True


def test_an_mx_without_starttls_under_dane_sends_the_delivery_on_to_the_next(dane_home, dns, smtp, servers, hosts):
    server = attacker(smtp)
    backup = MailHost(hosts["good"].ca, "backup.dane.test")
    second = servers(backup, host="127.0.0.3")
    dns(with_backup(zone([tlsa(3, 1, 1, hosts["good"].cert)]), backup))
    assert deliver(dane_home) == b"r\0K127.0.0.3 accepted message.\nRemote host said: 250 2.0.0 queued\n\0"
    server.wait()
    assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"
    assert len(second.envelopes) == 1


def test_when_no_mx_authenticates_the_last_refusal_is_the_report(dane_home, dns, servers, hosts):
    first = servers(hosts["other"])
    backup = MailHost(hosts["good"].ca, "backup.dane.test")
    second = servers(hosts["other"], host="127.0.0.3")
    dns(with_backup(zone([tlsa(3, 1, 1, hosts["good"].cert)]), backup))
    out = deliver(dane_home)
    assert out.startswith(b"ZConnected to 127.0.0.3 but its certificate matches no TLSA record of backup.dane.test: ")
    assert first.envelopes == [] and second.envelopes == []


def test_dane_queries_ask_with_the_do_bit(dane_home, dns, servers, hosts):
    servers(hosts["good"])
    zone_server = dns(zone([tlsa(3, 1, 1, hosts["good"].cert)]))
    assert deliver(dane_home) == ACCEPTED
    asked = {(name, qtype): do for name, qtype, do in zone_server.dnssec}
    assert asked[("dane.test", "MX")] and asked[(MX, "A")] and asked[(TLSA_NAME, "TLSA")]


def test_without_dane_nothing_more_is_asked(home, dns, smtp):
    """A delivery without dane or mtasts: the same questions as before, none
    with the DO bit."""
    home.control("esmtp", "1\n")
    server = smtp(GREETING, b"250-mx.dane.test\r\n250 PIPELINING\r\n", OK, OK, b"354 go\r\n", OK, host="127.0.0.2",
                  port=25)
    zone_server = dns(zone([]))
    out = deliver(home)
    server.wait()
    assert out == b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n\0"
    assert zone_server.questions == [("dane.test", "MX"), (MX, "A"), (MX, "AAAA")]
    assert not any(do for _, _, do in zone_server.dnssec)


def test_gateway_says_dane_and_the_matched_record(dane_home, dns, servers, hosts, gateway):
    servers(hosts["good"])
    record = tlsa(3, 1, 1, hosts["good"].cert)
    dns(zone([tlsa(3, 1, 1, hosts["other"].cert), record]))
    g = gateway("--allow-destinations", "127.0.0.0/8")  # the MX hosts are loopback addresses
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@dane.test"], "message": "Subject: s\n\nx\n"})
    assert answer.status == 200, answer.body
    tls = answer.json["deliveries"][0]["tls"]
    assert tls["policy"] == "dane" and tls["verified"] is True
    assert tls["tlsa"] == "3 1 1 " + record[3].hex()


def test_gateway_says_opportunistic_and_tlspolicy(home, dns, servers, hosts, gateway):
    home.control("esmtp", "1\n")
    servers(hosts["good"])
    dns(zone([]))
    g = gateway("--allow-destinations", "127.0.0.0/8")  # the MX hosts are loopback addresses
    payload = {"sender": "a@b.test", "recipients": ["u@dane.test"], "message": "Subject: s\n\nx\n"}
    tls = g.deliver(payload).json["deliveries"][0]["tls"]
    assert tls["policy"] == "opportunistic" and "tlsa" not in tls
    g.stop()
    home.control("tlspolicy", "dane.test:encrypt\n")
    g = gateway("--allow-destinations", "127.0.0.0/8")  # the MX hosts are loopback addresses
    assert g.deliver(payload).json["deliveries"][0]["tls"]["policy"] == "tlspolicy"


def test_malformed_level_is_refused(home):
    home.control("tlspolicy", "dane.test:dane-maybe\n")
    assert home.run("dane.test", "a@b.test", "u@dane.test") == b"ZUnable to read control files. (#4.3.0)\n\0"


def test_classic_mode_dane_only_keeps_mail_waiting_and_dane_is_plain(home, dns, smtp):
    zone_server = dns(zone([]))
    home.control("tlspolicy", "dane.test:dane-only\n")
    assert home.run("dane.test", "a@b.test", "u@dane.test") == \
        b"ZTLS is required for this destination, but control/esmtp is 0. (#4.3.0)\n\0"
    home.control("tlspolicy", "dane.test:dane\n")
    server = smtp(GREETING, OK, OK, OK, b"354 go\r\n", OK, host="127.0.0.2", port=25)
    assert home.run("dane.test", "a@b.test", "u@dane.test") == \
        b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n\0"
    server.wait()
    assert not any(do for _, _, do in zone_server.dnssec)
