"""The gateway holds the whole message, so it knows its size and whether it
is 8-bit: SIZE= and BODY=8BITMIME on MAIL when the server offers them, and
a message above the server's limit refused before MAIL, for JSON bodies and
for raw bodies spooled to disk alike."""
import pytest

from conftest import GO_AHEAD, GREETING, OK


def ehlo(*keywords):
    return b"250-gw.test\r\n" + b"".join(b"250-" + k.encode() + b"\r\n" for k in keywords[:-1]) + \
        b"250 " + keywords[-1].encode() + b"\r\n"


@pytest.fixture
def esmtp_home(home):
    home.control("esmtp", "1\n")
    return home


def raw(g, message):
    return g.request("POST", "/v1/deliveries?sender=a%40b.test&recipient=u%40x.test&host=x.test", body=message,
                     headers={"Content-Type": "message/rfc822"})


@pytest.mark.parametrize("spool", [False, True])
def test_size_and_8bitmime_for_a_raw_message(esmtp_home, smtp, gateway, spool):
    message = b"Subject: caf\xc3\xa9\n\n" + b"x" * 2000 + b"\n"
    server = smtp(GREETING, ehlo("PIPELINING", "SIZE 100000", "8BITMIME"), OK, OK, GO_AHEAD, OK)
    esmtp_home.route_to(server)
    g = gateway(*(["--spool-threshold", "1000"] if spool else []))
    assert raw(g, message).status == 200
    server.wait()
    # 2017 bytes, 3 LFs counted as CRLF.
    assert b"MAIL FROM:<a@b.test> SIZE=2020 BODY=8BITMIME\r\nRCPT TO:<u@x.test>\r\n" in server.received


def test_a_7bit_json_message_gets_size_and_no_body_parameter(esmtp_home, smtp, gateway):
    server = smtp(GREETING, ehlo("SIZE", "8BITMIME"), OK, OK, GO_AHEAD, OK)
    esmtp_home.route_to(server)
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "host": "x.test",
                        "message": "Subject: plain\n\nascii\n"})
    assert answer.status == 200
    server.wait()
    assert b"MAIL FROM:<a@b.test> SIZE=25\r\n" in server.received


@pytest.mark.parametrize("spool", [False, True])
def test_a_message_above_the_servers_limit_is_refused_before_mail(esmtp_home, smtp, gateway, spool):
    message = b"Subject: big\n\n" + b"y" * 2_000_000 + b"\n"
    server = smtp(GREETING, ehlo("PIPELINING", "SIZE 1000000"))
    esmtp_home.route_to(server)
    g = gateway("--spool-threshold", "65536" if spool else "4000000", "--max-message-bytes", "3000000")
    answer = raw(g, message)
    server.wait()
    assert answer.status == 422
    assert answer.json["deliveries"][0]["reports"] == [{
        "letter": "D",
        "text": "Connected to 127.0.0.1 but the message (2000018 bytes) is larger than its limit of 1000000 bytes. (#5.3.4)\n"}]
    assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"
