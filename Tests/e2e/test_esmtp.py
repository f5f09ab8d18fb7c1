"""ESMTP mode (control/esmtp 1, the default) against the scripted server:
EHLO and its HELO fallback, extensions parsed, SIZE, 8BITMIME, SMTPUTF8, and
PIPELINING with every failure combination giving the classic reports."""
import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation

IP = "127.0.0.1"
MESSAGE = b"Subject: t\n\nhello\n"
ACCEPTED = b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"


def ehlo(*keywords):
    lines = [b"250-esmtp.test hello"] + [b"250-" + k.encode() for k in keywords[:-1]]
    lines += [b"250 " + keywords[-1].encode()] if keywords else []
    if not keywords:
        return b"250 esmtp.test hello\r\n"
    return b"\r\n".join(lines) + b"\r\n"


@pytest.fixture
def esmtp_home(home):
    home.control("esmtp", "1\n")
    return home


def deliver(home, server, *recipients, message=MESSAGE, sender="a@b.test", stdin_file=None):
    home.route_to(server)
    out = home.run("x.test", sender, *(recipients or ("u@x.test",)), message=message)
    server.wait()
    return out, bytes(server.received)


def test_esmtp_is_the_default(home, smtp):
    home.remove("esmtp")
    server = smtp(GREETING, ehlo("8BITMIME"), OK, OK, GO_AHEAD, OK)
    out, wire = deliver(home, server)
    assert out == ACCEPTED
    # A piped message is not known to be 7-bit: declared 8BITMIME (RFC 6152).
    assert wire.startswith(b"EHLO helo.test\r\nMAIL FROM:<a@b.test> BODY=8BITMIME\r\n")


def test_ehlo_without_extensions_is_lock_step(esmtp_home, smtp):
    server = smtp(GREETING, ehlo(), OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server)
    assert out == ACCEPTED
    assert wire == (b"EHLO helo.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"
                    b"Subject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n")


@pytest.mark.parametrize("refusal", [b"500 unknown command\r\n", b"502 not implemented\r\n", b"451 try HELO\r\n"])
def test_refused_ehlo_falls_back_to_helo_on_the_same_connection(esmtp_home, smtp, refusal):
    server = smtp(GREETING, refusal, OK, OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server)
    assert out == ACCEPTED
    assert server.connections == 1
    assert wire.startswith(b"EHLO helo.test\r\nHELO helo.test\r\nMAIL FROM:<a@b.test>\r\n")


def test_helo_refused_after_ehlo_reports_the_helo_reply(esmtp_home, smtp):
    server = smtp(GREETING, b"502 no EHLO\r\n", b"550 go away\r\n")
    out, wire = deliver(esmtp_home, server)
    assert out == b"ZConnected to 127.0.0.1 but my name was rejected.\nRemote host said: 550 go away\n\0"
    assert wire == b"EHLO helo.test\r\nHELO helo.test\r\nQUIT\r\n"


@pytest.mark.parametrize("reply", [b"421 closing\r\n", b"251 odd\r\n"])
def test_ehlo_421_or_odd_success_is_name_rejected_without_helo(esmtp_home, smtp, reply):
    server = smtp(GREETING, reply)
    out, wire = deliver(esmtp_home, server)
    assert out == b"ZConnected to 127.0.0.1 but my name was rejected.\nRemote host said: " + reply.replace(b"\r", b"") + b"\0"
    assert wire == b"EHLO helo.test\r\nQUIT\r\n"


def test_pipelining_sends_mail_rcpts_and_data_in_one_write(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING"), OK, OK, OK, GO_AHEAD, OK)
    esmtp_home.route_to(server)
    out = esmtp_home.run("x.test", "a@b.test", "u@x.test", "v@x.test", message=MESSAGE)
    server.wait()
    assert out == b"r\0r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert bytes(server.received) == (b"EHLO helo.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\n"
                                      b"RCPT TO:<v@x.test>\r\nDATA\r\nSubject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    # When the server answered MAIL, RCPT, RCPT and DATA had come in already.
    mail_reply_seen = server.seen[2]
    assert bytes(server.received)[:mail_reply_seen].endswith(b"RCPT TO:<v@x.test>\r\nDATA\r\n")


def test_pipelined_mail_refused_gives_the_classic_report(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING"), b"553 sender refused\r\n", b"503 need MAIL\r\n", b"503 need RCPT\r\n")
    out, wire = deliver(esmtp_home, server)
    assert out == b"DConnected to 127.0.0.1 but sender was rejected.\nRemote host said: 553 sender refused\n\0"
    assert wire.endswith(b"RCPT TO:<u@x.test>\r\nDATA\r\nQUIT\r\n")


def test_pipelined_every_rcpt_refused_gives_up(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING"), OK, b"550 no a\r\n", b"451 no b\r\n", b"554 no valid recipients\r\n")
    out, wire = deliver(esmtp_home, server, "a@x.test", "b@x.test")
    assert out == (b"h127.0.0.1 does not like recipient.\nRemote host said: 550 no a\n\0"
                   b"s127.0.0.1 does not like recipient.\nRemote host said: 451 no b\n\0"
                   b"DGiving up on 127.0.0.1.\n\0")
    assert wire.endswith(b"DATA\r\nQUIT\r\n")


def test_pipelined_data_354_without_recipients_ends_the_data_at_once(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING"), OK, b"550 no\r\n", GO_AHEAD, b"554 no recipients\r\n")
    out, wire = deliver(esmtp_home, server)
    assert out == (b"h127.0.0.1 does not like recipient.\nRemote host said: 550 no\n\0"
                   b"DGiving up on 127.0.0.1.\n\0")
    assert wire.endswith(b"DATA\r\n.\r\nQUIT\r\n")
    assert b"hello" not in wire


def test_pipelined_data_refused_with_a_recipient_accepted(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING"), OK, OK, b"451 not now\r\n")
    out, _ = deliver(esmtp_home, server)
    assert out == b"r\0Z127.0.0.1 failed on DATA command.\nRemote host said: 451 not now\n\0"


def test_pipelined_replies_arriving_in_pieces(esmtp_home, smtp):
    # Three replies split across writes, mid-line and across lines.
    pieces = [b"250 o", b"k\r\n2", b"50-ok\r\n250 fine\r\n35", b"4 go\r\n"]
    server = smtp(GREETING, ehlo("PIPELINING"), ("gather", 3, pieces, 354), OK)
    out, wire = deliver(esmtp_home, server)
    assert out == ACCEPTED
    assert wire.endswith(b"DATA\r\nSubject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n")


def test_pipelined_and_lock_step_reports_are_identical(esmtp_home, smtp):
    script = [OK, b"550 a\r\n", b"452 b\r\n", OK, GO_AHEAD, b"250 done\r\n"]
    recipients = ["a@x.test", "b@x.test", "c@x.test"]
    lock_step = smtp(GREETING, ehlo("8BITMIME"), *script)
    out_lock, _ = deliver(esmtp_home, lock_step, *recipients)
    pipelined = smtp(GREETING, ehlo("PIPELINING"), *script)
    out_pipe, _ = deliver(esmtp_home, pipelined, *recipients)
    assert out_lock == out_pipe


def test_many_recipients_are_pipelined_in_windows(esmtp_home, smtp):
    recipients = [f"r{i}@x.test" for i in range(250)]
    server = smtp(GREETING, ehlo("PIPELINING"), OK, *([OK] * 250), GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server, *recipients)
    assert out == b"r\0" * 250 + b"K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert wire.count(b"RCPT TO:") == 250


def test_size_is_sent_for_a_file_and_a_too_large_message_is_refused(esmtp_home, smtp, tmp_path):
    message = b"Subject: s\n\n" + b"x" * 100 + b"\n"
    stdin = tmp_path / "message"
    stdin.write_bytes(message)
    server = smtp(GREETING, ehlo("SIZE 1000"), OK, OK, GO_AHEAD, OK)
    esmtp_home.route_to(server)
    out = esmtp_home.run_file("x.test", "a@b.test", "u@x.test", path=stdin)
    server.wait()
    assert out == ACCEPTED
    assert b"MAIL FROM:<a@b.test> SIZE=116\r\n" in server.received   # 113 bytes, 3 LFs as CRLF

    small = smtp(GREETING, ehlo("SIZE 50"))
    esmtp_home.route_to(small)
    out = esmtp_home.run_file("x.test", "a@b.test", "u@x.test", path=stdin)
    small.wait()
    assert out == b"DConnected to 127.0.0.1 but the message (116 bytes) is larger than its limit of 50 bytes. (#5.3.4)\n\0"
    assert bytes(small.received) == b"EHLO helo.test\r\nQUIT\r\n"


def test_size_without_limit_and_from_a_pipe(esmtp_home, smtp, tmp_path):
    server = smtp(GREETING, ehlo("SIZE"), OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server)   # stdin is a pipe: size unknown
    assert out == ACCEPTED
    assert b"MAIL FROM:<a@b.test>\r\n" in wire


def test_8bitmime_only_when_the_message_has_8bit_bytes(esmtp_home, smtp, tmp_path):
    eight = tmp_path / "eight"
    eight.write_bytes(b"Subject: caf\xc3\xa9\n\nx\n")
    seven = tmp_path / "seven"
    seven.write_bytes(b"Subject: cafe\n\nx\n")
    for path, expected in [(eight, b"MAIL FROM:<a@b.test> BODY=8BITMIME\r\n"), (seven, b"MAIL FROM:<a@b.test>\r\n")]:
        server = smtp(GREETING, ehlo("8BITMIME"), OK, OK, GO_AHEAD, OK)
        esmtp_home.route_to(server)
        assert esmtp_home.run_file("x.test", "a@b.test", "u@x.test", path=path) == ACCEPTED
        server.wait()
        assert expected in server.received


@pytest.mark.parametrize("message", [b"Subject: 7bit\n\nplain\n", b"Subject: 8bit\n\ncaf\xc3\xa9\n"])
def test_a_piped_message_is_declared_8bitmime_and_has_no_size(esmtp_home, smtp, message):
    server = smtp(GREETING, ehlo("PIPELINING", "SIZE 1000", "8BITMIME"), OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server, message=message)
    assert out == ACCEPTED
    assert b"MAIL FROM:<a@b.test> BODY=8BITMIME\r\nRCPT TO:<u@x.test>\r\n" in wire


def test_no_8bitmime_offered_means_no_body_parameter(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING"), OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server, message=b"Subject: 8bit\n\ncaf\xc3\xa9\n")
    assert out == ACCEPTED
    assert b"MAIL FROM:<a@b.test>\r\n" in wire


def test_size_and_8bitmime_together_as_smtp_sink_offers_them(esmtp_home, smtp, tmp_path):
    path = tmp_path / "m"
    path.write_bytes(b"S: \xff\n\nx\n")
    server = smtp(GREETING, ehlo("PIPELINING", "SIZE 10240000", "8BITMIME"), OK, OK, GO_AHEAD, OK)
    esmtp_home.route_to(server)
    assert esmtp_home.run_file("x.test", "a@b.test", "u@x.test", path=path) == ACCEPTED
    server.wait()
    assert b"MAIL FROM:<a@b.test> SIZE=11 BODY=8BITMIME\r\n" in server.received


def test_extension_keywords_ignore_case(esmtp_home, smtp):
    server = smtp(GREETING, b"250-x\r\n250-pipelining\r\n250 SmtpUtf8\r\n", OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server, "j\xf6rg@x.test")
    assert out == ACCEPTED
    assert b"MAIL FROM:<a@b.test> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@x.test>\r\nDATA\r\n" in wire


def test_utf8_address_without_smtputf8_is_refused_before_mail(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("PIPELINING", "8BITMIME"))
    out, wire = deliver(esmtp_home, server, sender="j\xf6rg@b.test")
    assert out == b"DConnected to 127.0.0.1 but it cannot take UTF-8 addresses (no SMTPUTF8). (#5.6.7)\n\0"
    assert wire == b"EHLO helo.test\r\nQUIT\r\n"


def test_utf8_local_part_goes_unquoted_with_smtputf8(esmtp_home, smtp):
    server = smtp(GREETING, ehlo("SMTPUTF8"), OK, OK, GO_AHEAD, OK)
    out, wire = deliver(esmtp_home, server, "\u7528\u6237@x.test", sender="\xe9@b.test")
    assert out == ACCEPTED
    assert "MAIL FROM:<\xe9@b.test> SMTPUTF8\r\nRCPT TO:<\u7528\u6237@x.test>\r\n".encode() in wire


def test_classic_mode_still_quotes_utf8_and_says_helo(home, smtp):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, OK)
    out, wire = deliver(home, server, "j\xf6rg@x.test")
    assert out == ACCEPTED
    assert wire.startswith(b"HELO helo.test\r\n") and b'RCPT TO:<"j\xc3\xb6rg"@x.test>\r\n' in wire


def test_malformed_esmtp_control_values_keep_mail_waiting(esmtp_home):
    for name, value in [("outgoingip", "not-an-ip\n"), ("outgoingip6", "127.0.0.1\n"), ("addresspreference", "ipv5\n")]:
        esmtp_home.control(name, value)
        assert esmtp_home.run("x.test", "a@b.test", "u@x.test") == b"ZUnable to read control files. (#4.3.0)\n\0"
        assert name.encode() in esmtp_home.stderr
        esmtp_home.remove(name)
