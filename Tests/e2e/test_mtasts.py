"""MTA-STS (RFC 8461) end to end: an HTTPS policy server on a test address
with certificates from trustme, the TXT record from the scripted DNS server,
STARTTLS servers (aiosmtpd) and an attacker without STARTTLS on port 25:
enforce, testing, none, an MX not in the policy, fetches that fail with and
without a cached policy (a policy server whose certificate fails among
them), max_age expiry, an id change, a 1 MB policy and a redirect refused,
policies chunked, ended by close_notify, cut short or trickled past the time
limit, concurrent deliveries sharing one fetch, DANE winning where both
apply, and (traced) what a delivery without MTA-STS opens and connects to.
Port 25 and 443 of 127.0.0.x: own network namespace."""
import pathlib
import re
import subprocess
import tempfile
import threading
import time

import pytest
import trustme

from conftest import BINARY, GREETING, OK, needs_netns
from policyserver import PolicyServer
from tlsa import MailHost, start_tls_server, tlsa

pytestmark = needs_netns

MESSAGE = b"Subject: sts\n\nsecret body\n"
ACCEPTED = b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 2.0.0 queued\n\0"
PLAIN = b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n\0"
NOT_OFFERED = (b"ZConnected to 127.0.0.2 but it does not offer STARTTLS, and the MTA-STS policy of sts.test "
               b"requires TLS. (#4.7.5)\n\0")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def policy_server(ca):
    server = PolicyServer(ca, "mta-sts.sts.test", "127.0.0.53")
    yield server
    server.close()


@pytest.fixture
def sts_home(home, ca):
    home.control("esmtp", "1\n")
    home.control("mtasts", "1\n")
    ca.cert_pem.write_to_path(str(home.control_dir / "mtastscafile"))
    return home


@pytest.fixture
def mx_server(ca):
    started = []

    def start(name="mx.sts.test", starttls=True, mail_host=None):
        controller, recorder = start_tls_server("127.0.0.2", mail_host or MailHost(ca, name), starttls)
        started.append(controller)
        return recorder

    yield start
    for controller in started:
        controller.stop()


def sts_zone(policy_id="1", extra=None):
    entries = {
        "sts.test": {"MX": [(10, "mx.sts.test")]},
        "mx.sts.test": {"A": ["127.0.0.2"]},
        "_mta-sts.sts.test": {"TXT": [f"v=STSv1; id={policy_id};", "some other record"]},
        "mta-sts.sts.test": {"A": ["127.0.0.53"]},
    }
    entries.update(extra or {})
    return entries


def attacker(smtp, many=False):
    return smtp(GREETING, b"250-mx.sts.test\r\n250 PIPELINING\r\n", OK, OK, b"354 go\r\n", OK, host="127.0.0.2",
                port=25, many=many)


def deliver(home, env=None):
    return home.run("sts.test", "a@b.test", "u@sts.test", message=MESSAGE, env=env)


def cache_files(home):
    directory = home.path / "queue" / "lock" / "mtasts"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_enforce_delivers_over_verified_tls(sts_home, dns, policy_server, mx_server):
    policy_server.serve("enforce")
    recorder = mx_server()
    dns(sts_zone())
    assert deliver(sts_home) == ACCEPTED
    assert recorder.envelopes[0][3] is True and recorder.sni == ["mx.sts.test"]
    assert policy_server.requests == [("/.well-known/mta-sts.txt", "mta-sts.sts.test")]


def test_enforce_refuses_an_attacker_without_starttls(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce")
    server = attacker(smtp)
    dns(sts_zone())
    out = deliver(sts_home)
    server.wait()
    assert out == NOT_OFFERED
    assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"


@pytest.mark.parametrize("problem,reason", [("wrong-name", b"hostname mismatch"),
                                            ("unknown-ca", b"self-signed certificate in certificate chain")])
def test_enforce_refuses_a_certificate_not_valid_for_the_mx(sts_home, dns, policy_server, mx_server, ca, problem,
                                                            reason):
    policy_server.serve("enforce")
    host = MailHost(ca, "other.sts.test") if problem == "wrong-name" else MailHost(trustme.CA(), "mx.sts.test")
    recorder = mx_server(mail_host=host)
    dns(sts_zone())
    out = deliver(sts_home)
    assert out.startswith(b"ZConnected to 127.0.0.2 but its certificate for mx.sts.test was not verified: ")
    assert reason in out and out.endswith(b", and the MTA-STS policy of sts.test requires it. (#4.7.5)\n\0")
    assert recorder.envelopes == []


def test_enforce_skips_an_mx_not_in_the_policy(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce", mx=["mail.sts.test", "*.other.test"])
    server = attacker(smtp)
    dns(sts_zone())
    out = deliver(sts_home)
    server.close()
    assert out == b"ZSorry, mx.sts.test is not one of the MX hosts in the MTA-STS policy of sts.test. (#4.7.5)\n\0"
    assert server.connections == 0


def test_enforce_wildcard_matches_one_label(sts_home, dns, policy_server, mx_server):
    policy_server.serve("enforce", mx=["*.sts.test"])
    mx_server()
    dns(sts_zone())
    assert deliver(sts_home) == ACCEPTED


def test_enforce_goes_to_the_mx_the_policy_allows(sts_home, dns, policy_server, mx_server, smtp, ca):
    policy_server.serve("enforce", mx=["good.sts.test"])
    evil = smtp(GREETING, host="127.0.0.3", port=25)
    recorder = mx_server(mail_host=MailHost(ca, "good.sts.test"))
    dns(sts_zone(extra={"sts.test": {"MX": [(5, "evil.sts.test"), (10, "good.sts.test")]},
                        "evil.sts.test": {"A": ["127.0.0.3"]}, "good.sts.test": {"A": ["127.0.0.2"]}}))
    assert deliver(sts_home) == ACCEPTED
    evil.close()
    assert evil.connections == 0 and len(recorder.envelopes) == 1


def test_enforce_goes_on_to_the_next_mx_when_a_certificate_fails(sts_home, dns, policy_server, ca):
    """RFC 8461 5: the host that fails validation gets nothing; the next MX
    host the policy names is tried, as for a host that cannot be reached."""
    policy_server.serve("enforce", mx=["*.sts.test"])
    first, first_recorder = start_tls_server("127.0.0.2", MailHost(trustme.CA(), "mx.sts.test"), True)
    second, second_recorder = start_tls_server("127.0.0.3", MailHost(ca, "backup.sts.test"), True)
    try:
        dns(sts_zone(extra={"sts.test": {"MX": [(10, "mx.sts.test"), (20, "backup.sts.test")]},
                            "backup.sts.test": {"A": ["127.0.0.3"]}}))
        assert deliver(sts_home) == ACCEPTED.replace(b"127.0.0.2", b"127.0.0.3")
        assert first_recorder.envelopes == [] and first_recorder.sni == ["mx.sts.test"]
        assert len(second_recorder.envelopes) == 1 and second_recorder.envelopes[0][3] is True
    finally:
        first.stop()
        second.stop()


def test_testing_delivers_and_says_what_would_have_failed(sts_home, dns, policy_server, smtp):
    policy_server.serve("testing")
    server = attacker(smtp)
    dns(sts_zone())
    out = deliver(sts_home)
    server.wait()
    assert out == (b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n"
                   b"MTA-STS policy of sts.test (testing) would have refused this: it does not offer STARTTLS.\n\0")
    assert b"secret body" in server.received


def test_testing_with_an_mx_not_in_the_policy(sts_home, dns, policy_server, mx_server):
    policy_server.serve("testing", mx=["elsewhere.test"])
    mx_server()
    dns(sts_zone())
    assert deliver(sts_home) == (
        ACCEPTED[:-1] + b"MTA-STS policy of sts.test (testing) would have refused this: mx.sts.test is not one of "
        b"its MX hosts.\n\0")


def test_testing_with_a_good_mx_adds_nothing(sts_home, dns, policy_server, mx_server):
    policy_server.serve("testing")
    mx_server()
    dns(sts_zone())
    assert deliver(sts_home) == ACCEPTED


def test_mode_none_is_no_policy(sts_home, dns, policy_server, smtp):
    policy_server.serve("none", mx=[])
    server = attacker(smtp)
    dns(sts_zone())
    assert deliver(sts_home) == PLAIN
    server.wait()
    assert policy_server.fetches == 1


@pytest.mark.parametrize("fault", ["down", "redirect", "huge", "html", "garbage", "bad-certificate", "truncated",
                                   "unclean"])
def test_failed_fetch_without_a_cached_policy_is_no_policy(sts_home, dns, policy_server, smtp, fault):
    policy_server.serve("enforce")
    if fault == "down":
        policy_server.close()
    elif fault == "garbage":
        policy_server.policy = b"<html>not a policy</html>\n"
    elif fault == "bad-certificate":
        trustme.CA().cert_pem.write_to_path(str(sts_home.control_dir / "mtastscafile"))
    else:
        policy_server.mode = fault
    server = attacker(smtp)
    dns(sts_zone())
    assert deliver(sts_home) == PLAIN
    server.wait()
    assert [name for name in cache_files(sts_home) if name.endswith(".policy")] == []


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_a_chunked_policy_or_one_ended_by_close_notify_is_taken(sts_home, dns, policy_server, smtp, framing):
    policy_server.serve("enforce")
    policy_server.mode = framing
    server = attacker(smtp)
    dns(sts_zone())
    assert deliver(sts_home) == NOT_OFFERED
    server.wait()
    assert len([name for name in cache_files(sts_home) if name.endswith(".policy")]) == 1


@pytest.mark.parametrize("problem", ["wrong-name", "unknown-ca"])
@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "cached"])
def test_a_policy_server_whose_certificate_fails_is_a_failed_fetch(sts_home, dns, ca, mx_server, smtp, problem,
                                                                   cached):
    """RFC 8461 5.1 (and 3.3: the certificate must be valid for mta-sts.<domain>):
    the fetch fails, so an unexpired cached policy keeps applying and without
    one there is none; the request itself is never sent to that server."""
    zone = dns(sts_zone("1"))
    if cached:
        good = PolicyServer(ca, "mta-sts.sts.test", "127.0.0.53")
        good.serve("enforce")
        mx_server()
        assert deliver(sts_home) == ACCEPTED
        good.close()
        # A new id to fetch, and the MX host now an attacker's without STARTTLS.
        zone.zone["_mta-sts.sts.test"]["TXT"] = ["v=STSv1; id=2;"]
        zone.zone["mx.sts.test"] = {"A": ["127.0.0.4"]}
    bad = PolicyServer(ca, "other.sts.test", "127.0.0.53") if problem == "wrong-name" else \
        PolicyServer(trustme.CA(), "mta-sts.sts.test", "127.0.0.53")
    try:
        # Taken, this would lift the cached enforce policy, or impose one.
        bad.serve("none", mx=[]) if cached else bad.serve("enforce")
        server = smtp(GREETING, b"250-mx.sts.test\r\n250 PIPELINING\r\n", OK, OK, b"354 go\r\n", OK,
                      host="127.0.0.4" if cached else "127.0.0.2", port=25)
        out = deliver(sts_home)
        server.wait()
        if cached:
            assert out == NOT_OFFERED.replace(b"127.0.0.2", b"127.0.0.4")
            assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"
        else:
            assert out == PLAIN
            assert [name for name in cache_files(sts_home) if name.endswith(".policy")] == []
        assert bad.fetches == 0, "the GET went to a server whose certificate failed"
    finally:
        bad.close()


def test_a_policy_trickled_past_the_time_limit_is_given_up(sts_home, dns, policy_server, smtp):
    """One byte every 0.2 s, each well within any per-read wait: the fetch as
    a whole still ends at timeoutremote (here 1 s)."""
    sts_home.control("timeoutremote", "1\n")
    policy_server.serve("enforce")
    policy_server.mode = "drip"
    attacker(smtp)
    dns(sts_zone())
    started = time.monotonic()
    assert deliver(sts_home) == PLAIN
    assert time.monotonic() - started < 4, "the whole policy would take 12 s"
    assert policy_server.fetches == 1


@pytest.mark.parametrize("addresses", [{"AAAA": ["fd00::53"]}, {"A": ["127.0.0.54"], "AAAA": ["fd00::53"]}],
                         ids=["aaaa-only", "a-refused-then-aaaa"])
def test_the_policy_host_over_ipv6(sts_home, dns, ca, smtp, addresses):
    """The policy host's addresses as any mail host's: AAAA too, in
    addresspreference order, and a refused address leads to the next."""
    sts_home.control("addresspreference", "ipv4\n")
    server = PolicyServer(ca, "mta-sts.sts.test", "fd00::53")
    try:
        server.serve("enforce")
        attacker(smtp)
        dns(sts_zone(extra={"mta-sts.sts.test": addresses}))
        assert deliver(sts_home) == NOT_OFFERED
        assert server.requests == [("/.well-known/mta-sts.txt", "mta-sts.sts.test")]
    finally:
        server.close()


def test_redirect_is_asked_once_and_never_followed(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce")
    policy_server.mode = "redirect"
    attacker(smtp)
    dns(sts_zone())
    assert deliver(sts_home) == PLAIN
    assert policy_server.requests == [("/.well-known/mta-sts.txt", "mta-sts.sts.test")]


def test_cached_policy_keeps_applying_when_the_fetch_fails(sts_home, dns, policy_server, mx_server, smtp):
    policy_server.serve("enforce")
    mx = mx_server()
    zone = dns(sts_zone("1"))
    assert deliver(sts_home) == ACCEPTED
    # A new id, and the policy server gone: the cached enforce policy still holds.
    zone.zone["_mta-sts.sts.test"]["TXT"] = ["v=STSv1; id=2;"]
    policy_server.mode = "huge"
    assert deliver(sts_home) == ACCEPTED
    # So does it when the TXT record is gone.
    del zone.zone["_mta-sts.sts.test"]
    assert deliver(sts_home) == ACCEPTED
    assert policy_server.fetches == 2
    assert len(mx.envelopes) == 3


def test_cached_policy_holds_against_an_attacker_who_removed_the_txt_record(sts_home, dns, policy_server, smtp,
                                                                         mx_server):
    policy_server.serve("enforce")
    mx_server()
    zone = dns(sts_zone())
    assert deliver(sts_home) == ACCEPTED
    del zone.zone["_mta-sts.sts.test"]
    zone.zone["mx.sts.test"] = {"A": ["127.0.0.4"]}
    server = smtp(GREETING, b"250-mx.sts.test\r\n250 PIPELINING\r\n", host="127.0.0.4", port=25)
    out = deliver(sts_home)
    server.wait()
    assert out == NOT_OFFERED.replace(b"127.0.0.2", b"127.0.0.4")
    assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"


def test_same_id_uses_the_cache_without_fetching(sts_home, dns, policy_server, mx_server):
    policy_server.serve("enforce")
    mx_server()
    dns(sts_zone())
    for _ in range(3):
        assert deliver(sts_home) == ACCEPTED
    assert policy_server.fetches == 1


def test_an_id_change_fetches_the_new_policy(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce")
    attacker(smtp, many=True)
    zone = dns(sts_zone("1"))
    assert deliver(sts_home) == NOT_OFFERED
    policy_server.serve("none", mx=[])
    assert deliver(sts_home) == NOT_OFFERED, "same id: the cached policy"
    zone.zone["_mta-sts.sts.test"]["TXT"] = ["v=STSv1; id=20261125;"]
    assert deliver(sts_home) == PLAIN
    assert policy_server.fetches == 2


def test_max_age_expiry_fetches_again(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce", max_age=1)
    attacker(smtp, many=True)
    dns(sts_zone())
    assert deliver(sts_home) == NOT_OFFERED
    policy_server.serve("none", mx=[])
    time.sleep(1.2)
    assert deliver(sts_home) == PLAIN
    assert policy_server.fetches == 2


def test_expired_policy_does_not_apply_when_the_fetch_fails(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce", max_age=1)
    attacker(smtp, many=True)
    dns(sts_zone())
    assert deliver(sts_home) == NOT_OFFERED
    policy_server.mode = "huge"
    time.sleep(1.2)
    assert deliver(sts_home) == PLAIN


def test_cache_file_names_are_hashes(sts_home, dns, policy_server, mx_server):
    policy_server.serve("enforce")
    mx_server()
    dns(sts_zone())
    assert deliver(sts_home) == ACCEPTED
    import hashlib
    digest = hashlib.sha256(b"sts.test").hexdigest()
    assert cache_files(sts_home) == [digest + ".lock", digest + ".policy"]
    content = (sts_home.path / "queue" / "lock" / "mtasts" / (digest + ".policy")).read_bytes()
    assert content.startswith(b"qmail-remote MTA-STS cache 1\nid 1\nfetched ") and b"mode: enforce" in content


def test_concurrent_deliveries_fetch_once(sts_home, dns, policy_server, mx_server):
    policy_server.serve("enforce")
    mx = mx_server()
    dns(sts_zone())
    outputs = []

    def one():
        outputs.append(deliver(sts_home))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outputs == [ACCEPTED] * 8
    assert policy_server.fetches == 1
    assert len(mx.envelopes) == 8


def test_dane_wins_where_both_apply(sts_home, dns, policy_server, mx_server, ca):
    """The MX host has usable TLSA records: DANE decides, not the MTA-STS
    policy (which here names another host)."""
    sts_home.control("tlspolicy", ":dane\n")
    policy_server.serve("enforce", mx=["elsewhere.test"])
    host = MailHost(trustme.CA(), "mx.sts.test")   # a CA nobody trusts: only DANE can vouch
    recorder = mx_server(mail_host=host)
    dns(sts_zone(extra={"sts.test": {"MX": [(10, "mx.sts.test")], "secure": True},
                        "mx.sts.test": {"A": ["127.0.0.2"], "secure": True},
                        "_25._tcp.mx.sts.test": {"TLSA": [tlsa(3, 1, 1, host.cert)], "secure": True}}))
    assert deliver(sts_home) == ACCEPTED
    assert recorder.envelopes[0][3] is True


def test_routes_and_explicit_tlspolicy_lines_are_not_touched(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce")
    server = attacker(smtp, many=True)
    dns(sts_zone())
    sts_home.control("tlspolicy", "sts.test:none\n")
    assert deliver(sts_home) == PLAIN
    sts_home.remove("tlspolicy")
    sts_home.control("smtproutes", "sts.test:127.0.0.2\n")
    assert deliver(sts_home) == PLAIN
    assert policy_server.fetches == 0


def test_gateway_says_mta_sts(sts_home, dns, policy_server, mx_server, gateway):
    policy_server.serve("enforce")
    mx_server()
    dns(sts_zone())
    g = gateway("--allow-destinations", "127.0.0.0/8")  # the MX hosts are loopback addresses
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@sts.test"], "message": "Subject: s\n\nx\n"})
    assert answer.status == 200, answer.body
    tls = answer.json["deliveries"][0]["tls"]
    assert tls["policy"] == "mta-sts" and tls["verified"] is True and "tlsa" not in tls


def test_without_a_txt_record_nothing_is_fetched(sts_home, dns, smtp, policy_server):
    """mtasts on, but no TXT record: no fetch; mtasts off: not even the TXT question."""
    attacker(smtp, many=True)
    zone = dns(sts_zone(extra={"_mta-sts.sts.test": {"TXT": []}}))
    assert deliver(sts_home) == PLAIN
    assert ("_mta-sts.sts.test", "TXT") in zone.questions
    sts_home.control("mtasts", "0\n")
    zone.questions.clear()
    assert deliver(sts_home) == PLAIN
    assert zone.questions == [("sts.test", "MX"), ("mx.sts.test", "A"), ("mx.sts.test", "AAAA")]
    assert policy_server.fetches == 0


def traced(home):
    """Runs a delivery under strace: its report, and the files it named and
    the addresses it connected to (a static command loads nothing, so this
    is what shows what a delivery touches)."""
    with tempfile.TemporaryDirectory() as directory:
        trace = pathlib.Path(directory) / "trace"
        result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=%file,connect", "-o", str(trace), str(BINARY),
                                 "sts.test", "a@b.test", "u@sts.test"], input=MESSAGE, env=home.environment(),
                                capture_output=True, timeout=60)
        if b"Operation not permitted" in result.stderr and not trace.exists():
            pytest.skip("strace may not trace here: " + result.stderr.decode(errors="replace"))
        text = trace.read_text()
    connected = set()
    for line in text.splitlines():
        found = re.search(r'connect\(.*sin6?_port=htons\((\d+)\).*?"([^"]+)"', line)
        if found:
            connected.add((found.group(2), int(found.group(1))))
    return result.stdout, text, connected


def test_without_mtasts_a_delivery_opens_and_connects_to_nothing_more(sts_home, dns, policy_server, mx_server, smtp):
    """What the loader's trace showed before the command was static: mtasts
    off, a delivery opens no CA file, makes no cache and connects to the name
    server and the MX host only; the same trace of a delivery that fetches a
    policy shows each of them. Neither loads a shared library."""
    policy_server.serve("enforce")
    dns(sts_zone())
    dns_port = int(sts_home.dns.address.rsplit(":", 1)[1])
    sts_home.control("mtasts", "0\n")
    server = attacker(smtp)
    out, trace, connected = traced(sts_home)
    server.wait()
    assert out == PLAIN
    assert connected == {("127.0.0.1", dns_port), ("127.0.0.2", 25)}
    assert "mtastscafile" not in trace and "/queue/lock/mtasts" not in trace
    assert not re.search(r'\.so(\.\d+)*"', trace), "a shared library was opened"
    server.close()

    sts_home.control("mtasts", "1\n")
    mx_server()
    out, trace, connected = traced(sts_home)
    assert out == ACCEPTED
    assert connected == {("127.0.0.1", dns_port), ("127.0.0.53", 443), ("127.0.0.2", 25)}
    assert "/control/mtastscafile" in trace and "/queue/lock/mtasts/" in trace
    assert not re.search(r'\.so(\.\d+)*"', trace), "a shared library was opened"


def test_txt_record_in_several_strings_is_joined(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce")
    server = attacker(smtp)
    dns(sts_zone(extra={"_mta-sts.sts.test": {"TXT": [["v=STSv1; ", "id=7;"]]}}))
    assert deliver(sts_home) == NOT_OFFERED
    server.wait()


def test_testing_notes_a_failed_handshake_and_delivers_in_plain_text(sts_home, dns, policy_server, smtp):
    policy_server.serve("testing")
    offers_tls = [GREETING, b"250-x\r\n250 STARTTLS\r\n", b"220 go ahead\r\n", ("tls-garbage",)]
    plain = [GREETING, b"250-x\r\n250 STARTTLS\r\n", OK, OK, b"354 go\r\n", OK]
    server = smtp(scripts=[offers_tls, plain], host="127.0.0.2", port=25)
    dns(sts_zone())
    out = deliver(sts_home)
    server.settle()
    server.close()
    assert out == (b"r\0K127.0.0.2 accepted message.\nRemote host said: 250 ok\n"
                   b"MTA-STS policy of sts.test (testing) would have refused this: the TLS handshake failed.\n\0")
    assert server.connections == 2


def test_an_address_literal_asks_for_no_policy(sts_home, dns, smtp):
    server = attacker(smtp)
    zone = dns(sts_zone())
    assert sts_home.run("[127.0.0.2]", "a@b.test", "u@sts.test", message=MESSAGE) == PLAIN
    server.wait()
    assert zone.questions == []


def test_a_fetch_that_takes_too_long_is_given_up(sts_home, dns, policy_server, smtp):
    """The fetch has timeoutremote (here 1 s) at most: then no policy."""
    sts_home.control("timeoutremote", "1\n")
    policy_server.serve("enforce")
    policy_server.mode = "hang"
    attacker(smtp)
    dns(sts_zone())
    started = time.monotonic()
    assert deliver(sts_home) == PLAIN
    assert time.monotonic() - started < policy_server.hang_seconds


def test_a_delivery_killed_while_fetching_leaves_no_lock_behind(sts_home, dns, policy_server, smtp):
    policy_server.serve("enforce")
    policy_server.mode = "hang"
    policy_server.hang_seconds = 30
    attacker(smtp, many=True)
    dns(sts_zone())
    process = subprocess.Popen([str(BINARY), "sts.test", "a@b.test", "u@sts.test"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=sts_home.environment())
    process.stdin.write(MESSAGE)
    process.stdin.close()
    for _ in range(200):
        if policy_server.fetches:
            break
        time.sleep(0.02)
    assert policy_server.fetches == 1, "the first delivery is fetching, holding the domain's lock"
    process.kill()
    process.wait()
    policy_server.serve("enforce")
    started = time.monotonic()
    assert deliver(sts_home) == NOT_OFFERED
    assert time.monotonic() - started < 10 and policy_server.fetches == 2
