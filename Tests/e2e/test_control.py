"""Control files and environment: helohost/me, number files, missing or
malformed files, QMAILHOME, CONTROLDIR, QMAILREMOTE_DNS."""
import os
import subprocess
import time

import pytest

from conftest import good_conversation
from smtpscript import HANG

UNREADABLE = b"ZUnable to read control files. (#4.3.0)\n\0"


def helo_sent(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    home.run("x.test", "a@b.test", "u@x.test")
    server.wait()
    return bytes(server.received).split(b"\r\n")[0] + b"\r\n"


def test_helohost_wins_over_me(home, smtp):
    home.control("helohost", "greeter.test\n")
    assert helo_sent(home, smtp) == b"HELO greeter.test\r\n"


def test_me_is_used_without_helohost(home, smtp):
    assert helo_sent(home, smtp) == b"HELO helo.test\r\n"


def test_only_first_line_with_trailing_blanks_and_cr_stripped(home, smtp):
    home.control("helohost", "name.test \t\r\nsecond.test\n")
    assert helo_sent(home, smtp) == b"HELO name.test\r\n"


def test_empty_helohost_sends_empty_helo(home, smtp):
    home.control("helohost", "")
    assert helo_sent(home, smtp) == b"HELO \r\n"


def test_no_helohost_and_no_me_is_refused_before_connecting(home, smtp):
    server = smtp(*good_conversation())
    home.route_to(server)
    home.remove("me")
    assert home.run("x.test", "a@b.test", "u@x.test") == UNREADABLE
    assert b"helohost" in home.stderr
    server.close()
    assert server.connections == 0


def test_helohost_with_control_character_is_refused(home):
    home.control("helohost", "a\rb.test\n")
    assert home.run("x.test", "a@b.test", "u@x.test") == UNREADABLE


def test_unreadable_control_file_is_temporary(home):
    (home.control_dir / "smtproutes").mkdir()
    assert home.run("x.test", "a@b.test", "u@x.test") == UNREADABLE
    assert b"smtproutes" in home.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_control_file_without_permission_is_temporary(home):
    home.control("helohost", "x\n")
    os.chmod(home.control_dir / "helohost", 0)
    assert home.run("x.test", "a@b.test", "u@x.test") == UNREADABLE


def test_missing_home_directory(tmp_path):
    from conftest import QmailHome
    home = QmailHome(tmp_path / "q")
    out = home.run("x.test", "a@b.test", "u@x.test", env={"QMAILHOME": str(tmp_path / "nowhere")})
    assert out == b"ZUnable to switch to home directory. (#4.3.0)\n\0"


def test_controldir_overrides_home_control(home, smtp, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "me").write_text("other.test\n")
    (other / "esmtp").write_text("0\n")
    server = smtp(*good_conversation())
    (other / "smtproutes").write_text(f"x.test:{server.host}:{server.port}\n")
    home.run("x.test", "a@b.test", "u@x.test", env={"CONTROLDIR": str(other)})
    server.wait()
    assert server.received.startswith(b"HELO other.test\r\n")


@pytest.mark.parametrize("content,uses_file", [("1\n", True), ("1xyz\n", True), (" 1\n", False), ("abc\n", False)])
def test_timeoutremote_reads_leading_digits_else_default(home, smtp, content, uses_file):
    home.control("timeoutremote", content)
    server = smtp(HANG)
    home.route_to(server)
    try:
        if uses_file:
            started = time.monotonic()
            out = home.run("x.test", "a@b.test", "u@x.test", timeout=10)
            assert out == b"ZConnected to 127.0.0.1 but connection died. (#4.4.2)\n\0"
            assert time.monotonic() - started < 5
        else:
            # The 1200 s default is in force: still waiting after 3 seconds.
            with pytest.raises(subprocess.TimeoutExpired):
                home.run("x.test", "a@b.test", "u@x.test", timeout=3)
    finally:
        server.close()


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1:99999", "127.0.0.1:0", "1.2.3.4,,5.6.7.8",
                                   "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4"])
def test_malformed_dns_setting_is_temporary(home, value):
    out = home.run("x.test", "a@b.test", "u@x.test", env={"QMAILREMOTE_DNS": value})
    assert out == b"ZQMAILREMOTE_DNS is not a list of IP[:PORT]. (#4.3.0)\n\0"
    assert b"QMAILREMOTE_DNS" in home.stderr
