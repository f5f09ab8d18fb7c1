"""Invocation and bad arguments: refused before any connection where the
whole delivery is impossible, one `h` report where one recipient is."""
import os

import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation
from smtpscript import ScriptedSMTPServer

USAGE = b"DI (qmail-remote) was invoked improperly. (#5.3.5)\n\0"
BAD_SENDER = b"DSender address contains a line break, NUL or other control character. (#5.1.7)\n\0"
BAD_RECIPIENT = b"hRecipient address contains a line break, NUL or other control character. (#5.1.3)\n\0"


@pytest.mark.parametrize("args", [(), ("x.test",), ("x.test", "a@b.test")])
def test_fewer_than_three_arguments(home, args):
    assert home.run(*args) == USAGE


def test_usage_comes_before_control_files(tmp_path, home):
    home.remove("me")
    assert home.run("x.test") == USAGE


@pytest.mark.parametrize("sender", ["a\r@b.test", "a@b.test\nRCPT TO:<x@y>", "a@b\x01.test"])
def test_sender_with_control_characters_is_refused_before_connecting(home, smtp, sender):
    server = smtp(*good_conversation())
    home.route_to(server)
    assert home.run("x.test", sender, "u@x.test") == BAD_SENDER
    server.close()
    assert server.connections == 0


def test_sender_with_space_in_domain_is_refused(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    out = home.run("x.test", "a@b.test> SIZE=1", "u@x.test")
    server.close()
    assert out == b"DSender address has a space, < or > outside the quoted local part. (#5.1.7)\n\0"
    assert server.connections == 0


def test_bad_recipient_gets_h_in_place_and_is_never_sent(home, smtp):
    server = smtp(GREETING, OK, OK, OK, OK, GO_AHEAD, OK)
    home.route_to(server)
    out = home.run("x.test", "a@b.test", "one@x.test", "evil@x.test\r\nDATA", "two@x.test")
    server.wait()
    assert out == b"r\0" + BAD_RECIPIENT + b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert bytes(server.received) == (b"HELO helo.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<one@x.test>\r\n"
                                      b"RCPT TO:<two@x.test>\r\nDATA\r\nSubject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n")


def test_only_bad_recipients_means_no_connection(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    out = home.run("x.test", "a@b.test", "a\n@x.test", "b@x.test\r")
    server.close()
    assert out == BAD_RECIPIENT * 2 + b"DNo recipient address could be sent. (#5.1.3)\n\0"
    assert server.connections == 0


@pytest.mark.parametrize("host,shown", [
    ("not a host", b"not?a?host"),
    ("x.test\r\nRCPT", b"x.test??RCPT"),
    ("[1.2.3.4", b"[1.2.3.4"),
    ("1.2.3.400", b"1.2.3.400"),
    ("caf\xe9.test", b"caf??.test"),
    ("a..b", b"a..b"),
    ("", b""),
    ("-x;rm -rf /", b"-x;rm?-rf?/"),
])
def test_host_that_is_not_a_name_or_ip_is_refused(home, host, shown):
    out = home.run(host, "a@b.test", "u@x.test")
    assert out == b"DSorry, I couldn't find any host named " + shown + b". (#5.1.2)\n\0"


@pytest.mark.parametrize("recipient,sent", [
    ("john doe@x.test", b'"john doe"@x.test'),
    ("a..b@x.test", b'"a..b"@x.test'),
    (".lead@x.test", b'".lead"@x.test'),
    ("trail.@x.test", b'"trail."@x.test'),
    ('q"uote@x.test', b'"q\\"uote"@x.test'),
    ("back\\slash@x.test", b'"back\\\\slash"@x.test'),
    ("a@b@x.test", b'"a@b"@x.test'),
    ("plain.dot-atom+tag@x.test", b"plain.dot-atom+tag@x.test"),
    ("postmaster", b"postmaster"),
    ("@x.test", b'""@x.test'),
    ("u@X.Test", b"u@X.Test"),
])
def test_local_part_quoting(home, smtp, recipient, sent):
    server = smtp(*good_conversation())
    home.route_to(server)
    home.run("x.test", "a@b.test", recipient)
    server.wait()
    assert b"RCPT TO:<" + sent + b">\r\n" in server.received


@pytest.mark.parametrize("sender,sent", [("", b"MAIL FROM:<>\r\n"),
                                         ("the boss@b.test", b'MAIL FROM:<"the boss"@b.test>\r\n')],
                         ids=["empty-sender-is-a-bounce", "sender-is-quoted-too"])
def test_sender_on_the_wire(home, smtp, sender, sent):
    server = smtp(*good_conversation())
    home.route_to(server)
    home.run("x.test", sender, "u@x.test")
    server.wait()
    assert sent in server.received


def test_unreadable_message_is_temporary(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    # A directory as stdin: read(2) fails with EISDIR.
    import subprocess
    from conftest import BINARY
    fd = os.open(str(home.path), os.O_RDONLY)
    try:
        result = subprocess.run([str(BINARY), "x.test", "a@b.test", "u@x.test"], stdin=fd,
                                capture_output=True, env={"QMAILHOME": str(home.path)}, timeout=30)
    finally:
        os.close(fd)
    server.wait()
    assert result.returncode == 0
    assert result.stdout == b"r\0ZUnable to read message. (#4.3.0)\n\0"
    assert b"\r\n.\r\n" not in server.received


def address(length, domain="@x.test"):
    """An address of `length` octets as sent, local part unquoted."""
    return "a" * (length - len(domain)) + domain


@pytest.mark.parametrize("esmtp", ["0", "1"])
def test_the_longest_address_that_fits_a_command_line_is_sent(home, smtp, esmtp):
    home.control("esmtp", esmtp + "\n")
    longest = address(450)   # MAIL FROM:< + 450 + > + SIZE, BODY, SMTPUTF8 + CRLF = 512
    hello = OK if esmtp == "0" else b"250-x\r\n250 8BITMIME\r\n"
    server = smtp(GREETING, hello, OK, OK, GO_AHEAD, OK)
    home.route_to(server)
    out = home.run("x.test", longest, longest)
    server.wait()
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert b"RCPT TO:<" + longest.encode() + b">\r\n" in server.received


def test_a_recipient_too_long_for_a_command_line_is_refused_in_place(home, smtp):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, OK)
    home.route_to(server)
    quoted = ("a b" * 148)[:442] + "@x.test"   # 449 octets as given, 451 once quoted
    out = home.run("x.test", "a@b.test", address(451), quoted, "u@x.test")
    server.wait()
    too_long = b"hRecipient address is too long for an SMTP command line. (#5.1.3)\n\0"
    assert out == too_long * 2 + b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert server.received.count(b"RCPT TO:") == 1


def test_a_sender_too_long_for_a_command_line_is_refused_before_connecting(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    out = home.run("x.test", address(451), "u@x.test")
    server.close()
    assert out == b"DSender address is too long for an SMTP command line. (#5.1.7)\n\0"
    assert server.connections == 0
