"""Interoperability with SMTP servers nobody here wrote, started by the tests:
Postfix's smtp-sink (what it dumps is what it received) and aiosmtpd."""
import socket
import time

import pytest

from conftest import free_port


def test_smtp_sink_receives_the_message_byte_for_byte(home, smtp_sink):
    port, dump = smtp_sink
    home.control("smtproutes", f"sink.test:127.0.0.1:{port}\n")
    message = b"Subject: interop\n\n.leading dot\nx\r.\nMAIL FROM:<evil@x>\n8bit \xc3\xa9\nlast\n"
    out = home.run("sink.test", "sender@b.test", "one@sink.test", "two@sink.test", message=message)
    assert out.startswith(b"r\0r\0K127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 Ok")
    time.sleep(0.3)
    files = list(dump.iterdir())
    assert len(files) == 1
    dumped = files[0].read_bytes()
    headers, _, body = dumped.partition(b"Subject: interop\n")
    assert b"X-Helo-Args: helo.test\n" in headers
    assert b"X-Mail-Args: <sender@b.test>\n" in headers
    assert headers.count(b"X-Rcpt-Args:") == 2 and b"X-Rcpt-Args: <two@sink.test>\n" in headers
    # smtp-sink undoes dot-stuffing, stores lines with LF and ends each
    # transaction's dump with an empty line: the text came back whole.
    assert body == b"\n.leading dot\nx\n.\nMAIL FROM:<evil@x>\n8bit \xc3\xa9\nlast\n" + b"\n"


class Recorder:
    """An aiosmtpd handler that keeps what it received; refuses nobody@."""

    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((session.host_name, envelope.mail_from, list(envelope.rcpt_tos),
                               list(envelope.mail_options), envelope.original_content))
        return "250 Message accepted for delivery"


def start_aiosmtpd(utf8):
    from aiosmtpd.controller import Controller
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=utf8)
    controller.start()
    return controller, recorder


@pytest.fixture
def aiosmtpd_server():
    controller, recorder = start_aiosmtpd(utf8=False)
    yield controller.port, recorder
    controller.stop()


@pytest.fixture
def aiosmtpd_utf8():
    controller, recorder = start_aiosmtpd(utf8=True)
    yield controller.port, recorder
    controller.stop()


def test_aiosmtpd_gets_envelope_and_content(home, aiosmtpd_server):
    port, recorder = aiosmtpd_server
    home.control("smtproutes", f"aio.test:127.0.0.1:{port}\n")
    message = b"Subject: aio\n\n..two dots\nend\n"
    out = home.run("aio.test", "", "a@aio.test", "nobody@aio.test", "john doe@aio.test", message=message)
    assert out == (b"r\0h127.0.0.1 does not like recipient.\nRemote host said: 550 5.1.1 no such user here\n\0"
                   b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 Message accepted for delivery\n\0")
    helo, sender, recipients, _, content = recorder.envelopes[0]
    assert helo == "helo.test"
    assert sender == "<>"  # aiosmtpd keeps the null path as written
    assert recipients == ["a@aio.test", '"john doe"@aio.test']
    assert content == b"Subject: aio\r\n\r\n..two dots\r\nend\r\n"


def test_esmtp_with_smtp_sink_pipelining_and_8bitmime(home, smtp_sink, tmp_path):
    # smtp-sink offers PIPELINING and 8BITMIME (no SIZE: see the aiosmtpd test).
    port, dump = smtp_sink
    home.control("esmtp", "1\n")
    home.control("smtproutes", f"sink.test:127.0.0.1:{port}\n")
    message = tmp_path / "message"
    message.write_bytes(b"Subject: esmtp\n\n8bit \xc3\xa9\n.dot\n")
    out = home.run_file("sink.test", "s@b.test", "one@sink.test", "two@sink.test", path=message)
    assert out.startswith(b"r\0r\0K127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 Ok")
    time.sleep(0.3)
    dumped = next(dump.iterdir()).read_bytes()
    assert b"X-Helo-Args: helo.test\n" in dumped
    assert b"X-Client-Proto: ESMTP\n" in dumped
    assert b"X-Mail-Args: <s@b.test> BODY=8BITMIME\n" in dumped
    assert dumped.count(b"X-Rcpt-Args:") == 2
    assert dumped.endswith(b"Subject: esmtp\n\n8bit \xc3\xa9\n.dot\n\n")


def test_smtputf8_and_size_with_aiosmtpd(home, aiosmtpd_utf8, tmp_path):
    port, recorder = aiosmtpd_utf8
    home.control("esmtp", "1\n")
    home.control("smtproutes", f"aio.test:127.0.0.1:{port}\n")
    message = tmp_path / "message"
    message.write_bytes("Subject: \u00fc\n\nx\n".encode())
    out = home.run_file("aio.test", "j\xf6rg@b.test", "\u7528\u6237@aio.test", path=message)
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 Message accepted for delivery\n\0"
    _, sender, recipients, options, content = recorder.envelopes[0]
    assert sender == "j\xf6rg@b.test" and recipients == ["\u7528\u6237@aio.test"]
    assert options == ["SIZE=18", "BODY=8BITMIME", "SMTPUTF8"]  # 15 bytes, 3 LFs as CRLF
    assert content == "Subject: \u00fc\r\n\r\nx\r\n".encode()


def test_utf8_address_to_aiosmtpd_without_smtputf8_is_refused(home, aiosmtpd_server):
    port, recorder = aiosmtpd_server
    home.control("esmtp", "1\n")
    home.control("smtproutes", f"aio.test:127.0.0.1:{port}\n")
    out = home.run("aio.test", "a@b.test", "j\xf6rg@aio.test")
    assert out == b"DConnected to 127.0.0.1 but it cannot take UTF-8 addresses (no SMTPUTF8). (#5.6.7)\n\0"
    assert recorder.envelopes == []
