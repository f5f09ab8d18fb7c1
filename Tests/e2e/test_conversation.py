"""The classic SMTP conversation against a scripted server: every reply class
at every step, byte-exact reports and byte-exact wire."""
import pytest

from conftest import GO_AHEAD, GREETING, OK, good_conversation
from smtpscript import CLOSE, HANG

IP = "127.0.0.1"
MESSAGE = b"Subject: t\n\nhello\n"
WIRE_TO_DATA = (b"HELO helo.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n")


def deliver(home, server, *recipients, message=MESSAGE, sender="a@b.test"):
    home.route_to(server)
    out = home.run("x.test", sender, *(recipients or ("u@x.test",)), message=message)
    server.wait()
    return out


def test_accepted_message_reports_r_then_k(home, smtp):
    server = smtp(*good_conversation(b"250 2.0.0 queued as 42\r\n"))
    out = deliver(home, server)
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 queued as 42\n\0"
    assert bytes(server.received) == WIRE_TO_DATA + b"Subject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n"


@pytest.mark.parametrize("greeting", [b"221 bye\r\n", b"421 busy\r\n", b"554 go away\r\n", b"250 hi\r\n"])
def test_greeting_other_than_220_is_temporary(home, smtp, greeting):
    server = smtp(greeting)
    out = deliver(home, server)
    assert out == (b"ZConnected to 127.0.0.1 but greeting failed.\nRemote host said: "
                   + greeting.replace(b"\r", b"") + b"\0")
    assert bytes(server.received) == b"QUIT\r\n"


@pytest.mark.parametrize("reply", [b"251 hmm\r\n", b"550 no\r\n", b"421 later\r\n"])
def test_helo_other_than_250_rejects_my_name(home, smtp, reply):
    server = smtp(GREETING, reply)
    out = deliver(home, server)
    assert out == (b"ZConnected to 127.0.0.1 but my name was rejected.\nRemote host said: "
                   + reply.replace(b"\r", b"") + b"\0")
    assert bytes(server.received) == b"HELO helo.test\r\nQUIT\r\n"


@pytest.mark.parametrize("reply,letter", [(b"553 no such sender\r\n", b"D"), (b"451 try later\r\n", b"Z")])
def test_sender_rejected(home, smtp, reply, letter):
    server = smtp(GREETING, OK, reply)
    out = deliver(home, server)
    assert out == letter + b"Connected to 127.0.0.1 but sender was rejected.\nRemote host said: " + reply[:-2] + b"\n\0"
    assert bytes(server.received) == b"HELO helo.test\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n"


def test_recipient_reports_in_argument_order_including_421(home, smtp):
    server = smtp(GREETING, OK, OK, b"550 no such user\r\n", OK, b"421 too busy\r\n", b"452 full\r\n",
                  GO_AHEAD, b"250 done\r\n")
    out = deliver(home, server, "a@x.test", "b@x.test", "c@x.test", "d@x.test")
    assert out == (b"h127.0.0.1 does not like recipient.\nRemote host said: 550 no such user\n\0"
                   b"r\0"
                   b"s127.0.0.1 does not like recipient.\nRemote host said: 421 too busy\n\0"
                   b"s127.0.0.1 does not like recipient.\nRemote host said: 452 full\n\0"
                   b"K127.0.0.1 accepted message.\nRemote host said: 250 done\n\0")
    assert b"RCPT TO:<d@x.test>\r\nDATA\r\n" in server.received


def test_no_recipient_accepted_gives_up_without_remote_text(home, smtp):
    server = smtp(GREETING, OK, OK, b"550 a\r\n", b"450 b\r\n")
    out = deliver(home, server, "a@x.test", "b@x.test")
    assert out == (b"h127.0.0.1 does not like recipient.\nRemote host said: 550 a\n\0"
                   b"s127.0.0.1 does not like recipient.\nRemote host said: 450 b\n\0"
                   b"DGiving up on 127.0.0.1.\n\0")
    assert server.received.endswith(b"RCPT TO:<b@x.test>\r\nQUIT\r\n")


@pytest.mark.parametrize("reply,letter", [(b"554 no data\r\n", b"D"), (b"451 not now\r\n", b"Z")])
def test_data_refused(home, smtp, reply, letter):
    server = smtp(GREETING, OK, OK, OK, reply)
    out = deliver(home, server)
    assert out == b"r\0" + letter + b"127.0.0.1 failed on DATA command.\nRemote host said: " + reply[:-2] + b"\n\0"
    assert bytes(server.received) == WIRE_TO_DATA + b"QUIT\r\n"


def test_250_to_data_is_taken_as_go_ahead(home, smtp):
    server = smtp(GREETING, OK, OK, OK, b"250 send it\r\n", b"250 got it\r\n")
    out = deliver(home, server)
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 got it\n\0"


@pytest.mark.parametrize("reply,letter", [(b"554 spam\r\n", b"D"), (b"452 disk full\r\n", b"Z")])
def test_message_refused_after_dot(home, smtp, reply, letter):
    server = smtp(*good_conversation(reply))
    out = deliver(home, server)
    assert out == b"r\0" + letter + b"127.0.0.1 failed after I sent the message.\nRemote host said: " + reply[:-2] + b"\n\0"


def test_multiline_reply_keeps_every_line_and_first_code_counts(home, smtp):
    server = smtp(GREETING, OK, OK, b"250-first\r\n550 second\r\n", GO_AHEAD,
                  b"250-line one\r\n250-line two\r\n250 line three\r\n")
    out = deliver(home, server)
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250-line one\n250-line two\n250 line three\n\0"


def test_multiline_greeting_is_read_whole(home, smtp):
    server = smtp(b"220-welcome\r\n220-to the\r\n220 server\r\n", OK, OK, OK, GO_AHEAD, OK)
    assert deliver(home, server) == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"


def test_lf_only_replies_are_accepted(home, smtp):
    server = smtp(b"220 hi\n", b"250 hello\n", b"250 ok\n", b"250 ok\n", b"354 go\n", b"250-a\n250 b\n")
    assert deliver(home, server) == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250-a\n250 b\n\0"


def test_nul_shows_as_question_mark_and_cr_is_dropped(home, smtp):
    server = smtp(GREETING, OK, OK, b"550 bad\0user\rhere\r\n")
    out = deliver(home, server)
    assert out.startswith(b"h127.0.0.1 does not like recipient.\nRemote host said: 550 bad?userhere\n\0")


def test_reply_text_is_cut_at_5000_bytes(home, smtp):
    long_line = b"550 " + b"x" * 6000 + b"\r\n"
    server = smtp(GREETING, OK, OK, long_line)
    out = deliver(home, server)
    prefix = b"h127.0.0.1 does not like recipient.\nRemote host said: "
    first = out.split(b"\0")[0]
    assert first == prefix + (b"550 " + b"x" * 4996)
    assert out.endswith(b"\0DGiving up on 127.0.0.1.\n\0")


def test_cut_counts_bytes_after_dropping_crs(home, smtp):
    lines = b"".join(b"550-" + b"y" * 94 + b"\r\n" for _ in range(60)) + b"550 end\r\n"
    server = smtp(GREETING, OK, OK, lines)
    first = deliver(home, server).split(b"\0")[0]
    text = first.split(b"Remote host said: ", 1)[1]
    assert len(text) == 5000 and b"\r" not in text and not text.endswith(b"\n")


def test_endless_multiline_reply_is_bounded(home, smtp):
    server = smtp(("flood", b"220-" + b"z" * 70 + b"\r\n"))
    out = deliver(home, server)
    assert out == b"ZConnected to 127.0.0.1 but its reply was too long. (#4.4.2)\n\0"


def test_huge_line_without_newline_is_bounded(home, smtp):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, ("flood", b"2" * 4096))
    out = deliver(home, server)
    assert out == b"r\0ZConnected to 127.0.0.1 but its reply was too long. Possible duplicate! (#4.4.2)\n\0"


DIED = b"ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0"
DUPLICATE = b"ZConnected to 127.0.0.1 but connection died. Possible duplicate! (#4.4.2)\n\0"


@pytest.mark.parametrize("script,expected", [
    ([CLOSE], DIED),
    ([("partial", b"220 partial")], DIED),
    ([GREETING, CLOSE], DIED),
    ([GREETING, OK, CLOSE], DIED),
    ([GREETING, OK, OK, CLOSE], DIED),
    ([GREETING, OK, OK, OK, CLOSE], b"r\0" + DIED),
    ([GREETING, OK, OK, OK, GO_AHEAD, CLOSE], b"r\0" + DUPLICATE),
    ([GREETING, OK, OK, OK, GO_AHEAD, ("partial", b"250 par")], b"r\0" + DUPLICATE),
], ids=["at-greeting", "mid-greeting", "after-helo", "after-mail", "after-rcpt", "after-data",
        "after-dot", "mid-final-reply"])
def test_dropped_connection_at_every_step(home, smtp, script, expected):
    server = smtp(*script)
    assert deliver(home, server) == expected


def test_drop_while_message_is_sent_is_not_a_duplicate(home, smtp):
    server = smtp(GREETING, OK, OK, OK, GO_AHEAD, ("after_bytes", 1000, CLOSE))
    message = b"".join(b"line %d of a long message\n" % i for i in range(400000))
    assert deliver(home, server, message=message) == b"r\0" + DIED


@pytest.mark.parametrize("script,expected", [
    ([HANG], DIED),
    ([GREETING, HANG], DIED),
    ([GREETING, OK, OK, OK, HANG], b"r\0" + DIED),
    ([GREETING, OK, OK, OK, GO_AHEAD, HANG], b"r\0" + DUPLICATE),
], ids=["greeting", "helo", "data", "after-dot"])
def test_timeout_is_connection_died(home, smtp, script, expected):
    home.control("timeoutremote", "1\n")
    server = smtp(*script)
    home.route_to(server)
    out = home.run("x.test", "a@b.test", "u@x.test")
    server.close()
    assert out == expected


def test_quit_is_sent_without_waiting_for_its_reply(home, smtp):
    server = smtp(*good_conversation(), HANG)
    home.control("timeoutremote", "30\n")
    home.route_to(server)
    out = home.run("x.test", "a@b.test", "u@x.test", timeout=10)
    server.close()
    assert out.startswith(b"r\0K")
