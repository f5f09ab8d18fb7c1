"""Message transparency on the real wire: line endings, dot-stuffing (also
after a bare CR, against SMTP smuggling), partial final lines, 8-bit bytes."""
import pytest

from conftest import good_conversation

ACCEPTED = b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
HEAD = b"HELO helo.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"


def send(home, smtp, message):
    server = smtp(*good_conversation())
    home.route_to(server)
    out = home.run("x.test", "a@b.test", "u@x.test", message=message)
    server.wait()
    return out, bytes(server.received)


@pytest.mark.parametrize("message,data", [
    (b"a\nb\n", b"a\r\nb\r\n"),
    (b"a\r\nb\r\n", b"a\r\nb\r\n"),
    (b"a\rb\r", b"a\r\nb\r\n"),
    (b"a\r\r\nb\n", b"a\r\n\r\nb\r\n"),
    (b"\n\n", b"\r\n\r\n"),
    (b".\n..\n.x\nx.\n", b"..\r\n...\r\n..x\r\nx.\r\n"),
    (b"8bit \xe9\xff tab\t nul\0 end\n", b"8bit \xe9\xff tab\t nul\0 end\r\n"),
    (b"", b""),
    (b"ends in bare CR\r", b"ends in bare CR\r\n"),
], ids=["lf", "crlf-not-doubled", "bare-cr", "cr-crlf", "empty-lines", "dots", "8bit-nul", "empty",
        "final-bare-cr"])
def test_line_endings_and_dots(home, smtp, message, data):
    out, wire = send(home, smtp, message)
    assert out == ACCEPTED
    assert wire == HEAD + data + b".\r\nQUIT\r\n"


def test_smuggling_after_bare_cr_stays_message_text(home, smtp):
    attack = (b"Subject: x\n\nx\r.\nMAIL FROM:<evil@x>\nRCPT TO:<victim@y>\nDATA\n"
              b"smuggled\n.\nQUIT\n")
    out, wire = send(home, smtp, attack)
    assert out == ACCEPTED
    assert wire == HEAD + (b"Subject: x\r\n\r\nx\r\n..\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\n"
                           b"smuggled\r\n..\r\nQUIT\r\n") + b".\r\nQUIT\r\n"
    assert wire.count(b"\r\n.\r\n") == 1


@pytest.mark.parametrize("attack", [b"x\r.\r\n", b"x\n.\r\r\n", b"x\r\r.\n", b"\r.\r"])
def test_no_input_ends_data_early(home, smtp, attack):
    out, wire = send(home, smtp, attack + b"MAIL FROM:<e@x>\n")
    assert out == ACCEPTED
    assert wire.count(b"\r\n.\r\n") == 1 and wire.endswith(b"MAIL FROM:<e@x>\r\n.\r\nQUIT\r\n")


def test_partial_final_line_is_refused_without_the_dot(home, smtp):
    out, wire = send(home, smtp, b"Subject: x\n\nno newline at end")
    assert out == b"r\0DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n\0"
    # What was still buffered is dropped with the connection: no dot, no QUIT.
    assert wire == HEAD


def test_large_message_streams_through(home, smtp):
    message = b"".join(b".line %07d with some text to make it longer\n" % i for i in range(200000))
    out, wire = send(home, smtp, message)
    assert out == ACCEPTED
    body = wire[len(HEAD):-len(b".\r\nQUIT\r\n")]
    assert body == message.replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..").replace(b".line 0000000", b"..line 0000000", 1)
