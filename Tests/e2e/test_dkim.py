"""DKIM signing by the real qmail-remote, checked on the bytes the SMTP server
received by two verifiers nobody here wrote (dkimpy, OpenDKIM's
opendkim-testmsg): 7-bit and 8-bit bodies, long and folded headers, CRLF,
LF and bare-CR input, dot-stuffed lines, an empty body, dual RSA + Ed25519,
pipe and regular-file stdin; a message altered after signing fails. Also
which entry of control/dkimdomains signs, messages sent unsigned, every
bad line and bad key (the mail waits, stderr names the file and line), and
that a message nobody signs runs none of the signing code (callgrind)."""
import base64
import os
import re
import shutil
import subprocess

import pytest

from conftest import BINARY, good_conversation, needs_netns
from queuing import queue, wait_for_status
from dkimcheck import (dkimpy_verify, make_key, opendkim_verify, signatures, stored_message, txt_record,
                       without_signatures_but)

HEADER = (b"From: Sender <me@example.com>\nTo: You <you@x.test>\nDate: Wed, 25 Nov 2026 12:00:00 +0000\n"
          b"Message-ID: <1.2@example.com>\nSubject: a test\n")
ACCEPTED = b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
WAITING = b"ZUnable to read control files. (#4.3.0)\n\0"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """One RSA-2048 and one Ed25519 key for the module, made with openssl."""
    directory = tmp_path_factory.mktemp("keys")
    return {"rsa": make_key(directory / "rsa", "rsa"), "ed": make_key(directory / "ed", "ed25519")}


def install(home, keys, line="example.com:rsa,ed", directory="example.com", selectors=("rsa", "ed")):
    """control/dkimdomains with `line`, the keys under dkimkeys/<directory>/, and their DNS records for d=directory."""
    home.control("dkimdomains", line + "\n")
    target = home.control_dir / "dkimkeys" / directory
    target.mkdir(parents=True, exist_ok=True)
    records = {}
    for selector in selectors:
        shutil.copy(keys[selector], target / selector)
        records[f"{selector}._domainkey.{directory}"] = txt_record(keys[selector])
    return records


def deliver(home, smtp, message, sender="me@example.com", from_file=None, env=None):
    server = smtp(*good_conversation())
    home.route_to(server)
    if from_file is not None:
        from_file.write_bytes(message)
        out = home.run_file("x.test", sender, "you@x.test", path=from_file, env=env)
    else:
        out = home.run("x.test", sender, "you@x.test", message=message, env=env)
    server.wait()
    return out, bytes(server.received)


def assert_verified(message, records, tmp_path, count=2):
    assert len(signatures(message)) == count
    assert dkimpy_verify(message, records) == [True] * count
    assert opendkim_verify(message, records, tmp_path) == [(0, "")] * count


def assert_failed(message, records, tmp_path, reason="Bad signature"):
    assert dkimpy_verify(message, records) == [False] * len(signatures(message))
    verdicts = opendkim_verify(message, records, tmp_path)
    assert all(status != 0 and reason in text for status, text in verdicts), verdicts


MESSAGES = {
    "7bit": HEADER + b"\nHello,\nthis is seven-bit text.\n",
    "8bit": HEADER + b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                     b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln, and bytes \xff\xfe\x80 too\n",
    "long-folded-headers": HEADER.replace(b"Subject: a test\n", b"Subject: " + b" ".join([b"word"] * 300) + b"\n")
    + b"References: <a@example.com>\n\t<b@example.com>\n  <c@example.com>\n"
    + b"X-Long: " + b"y" * 2000 + b"\nList-Unsubscribe: <mailto:u@example.com>,\n <https://example.com/u>\n"
    + b"\nbody\n",
    "crlf": (HEADER + b"\nline one\nline two\n").replace(b"\n", b"\r\n"),
    "dots": HEADER + b"\n.\n..\n.starts with a dot\nmid.dle\n...\n",
    "empty-body": HEADER + b"\n",
    "whitespace": HEADER + b"\ntrailing spaces   \n\ttabs\tand  double  spaces\t\n\n\n\n",
    "bare-cr": HEADER + b"\nbare\rcarriage\r\rreturns\n",
}


@needs_netns
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_signed_message_verifies_with_both_verifiers(home, smtp, keys, tmp_path, name):
    records = install(home, keys)
    out, wire = deliver(home, smtp, MESSAGES[name])
    assert out == ACCEPTED
    message = stored_message(wire)
    tags = [{k: v for k, v in s.items() if k in "vacdsh"} for s in signatures(message)]
    assert [t["a"] for t in tags] == ["rsa-sha256", "ed25519-sha256"]
    assert all(t["v"] == "1" and t["c"] == "relaxed/relaxed" and t["d"] == "example.com" for t in tags)
    assert [t["s"] for t in tags] == ["rsa", "ed"]
    # The rest is what would have gone unsigned.
    assert message.endswith(MESSAGES[name].replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n"))
    assert_verified(message, records, tmp_path)


@needs_netns
@pytest.mark.parametrize("name", ["7bit", "crlf", "dots"])
def test_a_regular_file_on_stdin_is_read_twice_and_verifies(home, smtp, keys, tmp_path, name):
    records = install(home, keys)
    out, wire = deliver(home, smtp, MESSAGES[name], from_file=tmp_path / "queue-file")
    assert out == ACCEPTED
    assert_verified(stored_message(wire), records, tmp_path)


@needs_netns
def test_signed_fields_and_from_once_more(home, smtp, keys, tmp_path):
    install(home, keys)
    _, wire = deliver(home, smtp, MESSAGES["long-folded-headers"])
    for tags in signatures(stored_message(wire)):
        assert tags["h"].split(":") == ["From", "To", "Date", "Message-ID", "Subject", "References",
                                        "List-Unsubscribe", "From"]
        assert abs(int(tags["t"]) - int(__import__("time").time())) < 300
        assert "X-Long" not in tags["h"]


@needs_netns
@pytest.mark.parametrize("change", [
    (b"Subject: a test", b"Subject: a tesT"),
    (b"this is seven-bit text.", b"this is seven-bit text!"),
    (b"To: You <you@x.test>", b"To: You <them@x.test>"),
])
def test_a_message_altered_after_signing_fails_verification(home, smtp, keys, tmp_path, change):
    records = install(home, keys)
    _, wire = deliver(home, smtp, MESSAGES["7bit"])
    message = stored_message(wire)
    assert_verified(message, records, tmp_path)
    assert_failed(message.replace(*change), records, tmp_path)


@needs_netns
def test_a_from_added_after_signing_fails_verification(home, smtp, keys, tmp_path):
    records = install(home, keys)
    _, wire = deliver(home, smtp, MESSAGES["7bit"])
    message = stored_message(wire)
    at = message.index(b"From: Sender")
    # dkimpy finds the From: signed once more than it occurred now present; OpenDKIM
    # refuses a message with two From: fields before it looks at signatures.
    assert_failed(message[:at] + b"From: Someone <boss@example.com>\r\n" + message[at:], records, tmp_path,
                  reason="")


@needs_netns
def test_without_final_newline_refused_as_without_signing(home, smtp, keys):
    message = HEADER + b"\nno newline at the end"
    plain_out, plain_wire = deliver(home, smtp, message)
    install(home, keys)
    out, wire = deliver(home, smtp, message)
    assert out == plain_out == b"r\0DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n\0"
    assert wire == plain_wire


# --- which entry signs -------------------------------------------------------


@needs_netns
@pytest.mark.parametrize("line,directory,from_,sender,d", [
    ("example.com:rsa", "example.com", "me@example.com", "x@other.test", "example.com"),
    (".example.com:rsa", "example.com", "me@mail.Example.COM", "x@other.test", "example.com"),
    ("example.com:rsa|mail.example.com", "mail.example.com", "me@example.com", "", "mail.example.com"),
    (":rsa", "default", "me@other.test", "x@third.test", "other.test"),
    (":rsa|relay.example.net", "relay.example.net", "me@other.test", "", "relay.example.net"),
    # The From: domain matches nothing: the envelope sender's does.
    ("example.com:rsa", "example.com", "me@other.test", "bounce@example.com", "example.com"),
])
def test_which_entry_signs_and_as_whom(home, smtp, keys, tmp_path, line, directory, from_, sender, d):
    install(home, keys, line=line, directory=directory, selectors=("rsa",))
    message = HEADER.replace(b"me@example.com", from_.encode()) + b"\nbody\n"
    out, wire = deliver(home, smtp, message, sender=sender)
    assert out == ACCEPTED
    stored = stored_message(wire)
    assert [s["d"] for s in signatures(stored)] == [d]
    records = {f"rsa._domainkey.{d}": txt_record(keys["rsa"])}
    assert dkimpy_verify(stored, records) == [True]
    assert opendkim_verify(stored, records, tmp_path) == [(0, "")]


@needs_netns
@pytest.mark.parametrize("message,sender", [
    (HEADER.replace(b"me@example.com", b"me@other.test") + b"\nnot ours\n", "x@other.test"),
    (b"To: you@x.test\nSubject: no From:\n\nbody\n", "me@example.com"),
    (b"From: me@example.com\nSubject: no separator\n", "me@example.com"),
    (b"From: me@example.com\nFrom: me2@example.com\n\ntwo From: fields\n", "me@example.com"),
    (b"From: me@example.com\nthis is no field\n\nbody\n", "me@example.com"),
    (HEADER + b"\n" + b"x" * 70000 + b"\n", "me@example.com"),
], ids=["no-match", "no-from", "no-separator", "two-from", "bad-field", "line-over-64k"])
def test_unsigned_messages_go_out_exactly_as_without_dkimdomains(home, smtp, keys, message, sender):
    plain_out, plain_wire = deliver(home, smtp, message, sender=sender)
    install(home, keys)
    out, wire = deliver(home, smtp, message, sender=sender)
    assert out == plain_out == ACCEPTED
    assert wire == plain_wire and b"DKIM-Signature" not in wire


# --- bad lines and bad keys: the mail waits ------------------------------------


@needs_netns
@pytest.mark.parametrize("content,reason", [
    ("example.com\n", "line 1: no colon"),
    ("# ok\nexample.com:\n", "line 2: no selector"),
    ("example.com:a,b,c\n", "line 1: more than two selectors"),
    ("example.com:../../x\n", "line 1: selector ../../x is not"),
    ("example.com:s|com\n", "line 1: the signing domain after | is not"),
    ("exa mple.com:s\n", "line 1: exa?mple.com is not a domain"),
    ("localhost:s\n", "line 1: localhost has one label"),
])
def test_a_bad_dkimdomains_line_keeps_the_mail_waiting(home, smtp, content, reason):
    server = smtp(*good_conversation())
    home.route_to(server)
    home.control("dkimdomains", content)
    out = home.run("x.test", "me@example.com", "you@x.test", message=MESSAGES["7bit"])
    server.close()
    assert out == WAITING
    assert home.stderr.decode().startswith(f"qmail-remote: {home.control_dir}/dkimdomains: {reason}")
    assert server.connections == 0


def bad_key(home, keys, tmp_path, kind):
    path = home.control_dir / "dkimkeys" / "example.com" / "sel"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_text("this is not a key\n")
    elif kind == "public":
        path.write_bytes(subprocess.run(["openssl", "pkey", "-in", str(keys["rsa"]), "-pubout"],
                                        check=True, capture_output=True).stdout)
    elif kind == "rsa512":
        make_key(path, "rsa", bits=512)
    elif kind == "ec":
        make_key(path, "ec")
    elif kind == "encrypted":
        subprocess.run(["openssl", "pkey", "-in", str(keys["rsa"]), "-aes256", "-passout", "pass:x",
                        "-out", str(path)], check=True, capture_output=True)
    elif kind == "truncated":
        text = keys["rsa"].read_text().splitlines()
        path.write_text("\n".join(text[:5] + text[-1:]) + "\n")
    elif kind == "mismatched":
        # Well-formed, but its public exponent (65537) changed to 65539: it does not
        # match the rest of the key, and what it signs would not verify.
        der = subprocess.run(["openssl", "rsa", "-in", str(keys["rsa"]), "-traditional", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        assert der.count(b"\x02\x03\x01\x00\x01") == 1
        der = der.replace(b"\x02\x03\x01\x00\x01", b"\x02\x03\x01\x00\x03")
        lines = [base64.b64encode(der[i:i + 48]).decode() for i in range(0, len(der), 48)]
        path.write_text("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----\n")
    return path


@needs_netns
@pytest.mark.parametrize("kind,reason", [
    ("missing", "does not exist"),
    ("directory", "cannot be read: Is a directory"),
    ("garbage", "is not a PEM private key"),
    ("public", "holds PUBLIC KEY, not a private key"),
    ("rsa512", "is an RSA key of 512 bits; DKIM wants 1024 to 4096"),
    ("ec", "is neither an RSA nor an Ed25519 key"),
    ("encrypted", "is encrypted"),
    ("truncated", "is not"),
    ("mismatched", "cannot make a signature"),
])
def test_a_bad_key_keeps_the_mail_waiting_and_names_file_and_line(home, smtp, keys, tmp_path, kind, reason):
    server = smtp(*good_conversation())
    home.route_to(server)
    home.control("dkimdomains", "# signing\nexample.com:sel\n")
    path = bad_key(home, keys, tmp_path, kind)
    out = home.run("x.test", "me@example.com", "you@x.test", message=MESSAGES["7bit"])
    server.close()
    assert out == WAITING
    stderr = home.stderr.decode()
    assert stderr.startswith(f"qmail-remote: {path}") and reason in stderr, stderr
    assert stderr.endswith(f"({home.control_dir}/dkimdomains line 2)\n"), stderr
    assert server.connections == 0


# --- signing code only when signing; the spool ---------------------------------------


# OpenSSL's signing and hashing, and ours: reading a key, the spool, hashing the body, the field.
SIGNING_CODE = ("RSA_", "SHA256_", "EVP_", "ctls_sign", "ctls_sha256", "SigningKeysC6signer", "SigningKeyV5parse",
                "MessageSpool", "SigningPassC8hashBody", "RelaxedBody", "SignatureField")


def under_callgrind(home, tmp_path, message, sender):
    """The report, the user-space instruction count and the names of the functions run, for one delivery."""
    # Debian 12's valgrind cannot read the DWARF 5 Swift's clang writes: a copy without debug sections.
    binary = tmp_path / "qmail-remote"
    if not binary.exists():
        subprocess.run(["strip", "--strip-debug", "-o", str(binary), str(BINARY)], check=True)
    out = tmp_path / "callgrind.out"
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", str(binary), "x.test",
         sender, "you@x.test"],
        input=message, capture_output=True, env=home.environment(), timeout=300)
    count = int(re.search(rb"Collected : (\d+)", result.stderr).group(1))
    functions = set(re.findall(r"^c?fn=\(\d+\) (\S+)", out.read_text(), re.M))
    return result.stdout, count, functions


@needs_netns
def test_a_message_nobody_signs_runs_no_signing_code(home, smtp, keys, tmp_path):
    """A dkimdomains that does not match costs reading it and the message's header, not a key, a hash or
    a spool: none of signing's functions run, and some 70,000 instructions are added (of about 470,000)."""
    unsigned = HEADER.replace(b"me@example.com", b"me@other.test") + b"\nnot ours\n"
    runs = {}
    for name, line, message, sender in [
        ("plain", None, unsigned, "x@other.test"),
        ("not matching", "example.com:rsa,ed", unsigned, "x@other.test"),
        ("signed", "example.com:rsa,ed", MESSAGES["7bit"], "me@example.com"),
    ]:
        if line:
            install(home, keys, line=line)
        server = smtp(*good_conversation())
        home.route_to(server)
        runs[name] = under_callgrind(home, tmp_path, message, sender)
        server.wait()
        assert runs[name][0] == ACCEPTED, name
    (_, plain, plain_functions), (_, other, other_functions), (_, signed, signed_functions) = runs.values()
    ran_signing = lambda functions: sorted(f for f in functions if any(code in f for code in SIGNING_CODE))
    assert ran_signing(plain_functions) == [] and ran_signing(other_functions) == []
    assert len(ran_signing(signed_functions)) > 10
    assert other - plain < 100_000, (plain, other)
    # RSA-2048 and Ed25519: millions of instructions, which the check above would see.
    assert signed > plain + 5_000_000, (plain, signed)


@needs_netns
def test_a_piped_message_nobody_signs_is_not_spooled(home, smtp, keys, tmp_path):
    install(home, keys)
    message = HEADER.replace(b"me@example.com", b"me@other.test") + b"\n" + b"a body line\n" * 100000
    out, wire = deliver(home, smtp, message, sender="x@other.test", env={"TMPDIR": str(tmp_path / "missing")})
    assert out == ACCEPTED
    assert stored_message(wire) == message.replace(b"\n", b"\r\n")


@needs_netns
def test_a_piped_message_is_spooled_and_leaves_nothing(home, smtp, keys, tmp_path):
    records = install(home, keys)
    spool = tmp_path / "spool"
    spool.mkdir()
    out, wire = deliver(home, smtp, MESSAGES["7bit"], env={"TMPDIR": str(spool)})
    assert out == ACCEPTED
    assert_verified(stored_message(wire), records, tmp_path)
    assert list(spool.iterdir()) == []


@needs_netns
def test_a_spool_that_cannot_be_written_keeps_the_mail_waiting(home, smtp, keys, tmp_path):
    install(home, keys)
    server = smtp(*good_conversation())
    home.route_to(server)
    missing = tmp_path / "no-such-directory"
    out = home.run("x.test", "me@example.com", "you@x.test", message=MESSAGES["7bit"], env={"TMPDIR": str(missing)})
    assert out == b"ZSystem resources temporarily unavailable. (#4.3.0)\n\0"
    assert home.stderr.decode() == (f"qmail-remote: cannot spool the message to sign it: cannot make a file in "
                                    f"{missing}: No such file or directory\n")
    # A full disk: a tmpfs of 64 KiB in a mount namespace of the run's own.
    full = tmp_path / "full"
    full.mkdir()
    result = subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"', str(full),
         str(BINARY), "x.test", "me@example.com", "you@x.test"],
        input=MESSAGES["7bit"] + b"filler line\n" * 20000, capture_output=True,
        env=home.environment({"TMPDIR": str(full)}), timeout=60)
    server.close()
    assert result.stdout == b"ZSystem resources temporarily unavailable. (#4.3.0)\n\0"
    assert result.stderr.decode() == (f"qmail-remote: cannot spool the message to sign it: cannot write to a file "
                                      f"in {full}: No space left on device\n")
    assert server.connections == 0


@needs_netns
def test_killed_while_spooling_leaves_nothing(home, smtp, keys, tmp_path):
    install(home, keys)
    spool = tmp_path / "spool"
    spool.mkdir()
    server = smtp(*good_conversation())
    home.route_to(server)
    process = subprocess.Popen([str(BINARY), "x.test", "me@example.com", "you@x.test"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, env=home.environment({"TMPDIR": str(spool)}))
    process.stdin.write(MESSAGES["7bit"] + b"more\n" * 100000)
    process.stdin.flush()
    # Spooling: the file exists, has no name, and is open in the process.
    deadline = __import__("time").time() + 10
    while not any("qmail-remote." in os.readlink(f"/proc/{process.pid}/fd/{fd}")
                  for fd in os.listdir(f"/proc/{process.pid}/fd")):
        assert __import__("time").time() < deadline
    assert list(spool.iterdir()) == []
    process.kill()
    process.wait()
    process.stdin.close()
    process.stdout.close()
    server.close()
    assert list(spool.iterdir()) == [] and server.connections == 0


# --- constant memory --------------------------------------------------------------

def piped_peak_rss(home, path, tmp_path):
    """The report and qmail-remote's peak RSS (KiB, GNU time) delivering the file at `path` from a pipe."""
    result = subprocess.run(
        ["sh", "-c", 'cat "$0" | /usr/bin/time -f %M -o "$1" "$2" x.test me@example.com you@x.test',
         str(path), str(tmp_path / "rss"), str(BINARY)],
        capture_output=True, env=home.environment(), timeout=300, check=True)
    return result.stdout, int((tmp_path / "rss").read_text().split()[-1])


@needs_netns
def test_a_50_megabyte_message_is_signed_in_constant_memory(home, smtp, keys, tmp_path):
    records = install(home, keys)
    small = tmp_path / "small.eml"
    small.write_bytes(MESSAGES["7bit"])
    big = tmp_path / "big.eml"
    line = b"The quick brown fox jumps over the lazy dog; 0123456789 .,:;!? \xc3\xa9\n"
    with open(big, "wb") as out:
        out.write(HEADER + b"\n")
        for _ in range(50 * 1024 * 1024 // len(line) // 1000):
            out.write(line * 1000)
    server = smtp(*good_conversation())
    home.route_to(server)
    report, small_rss = piped_peak_rss(home, small, tmp_path)
    server.wait()
    assert report == ACCEPTED
    server = smtp(*good_conversation())
    home.route_to(server)
    report, big_rss = piped_peak_rss(home, big, tmp_path)
    server.wait()
    assert report == ACCEPTED
    # The same peak, give or take a page table, for 1 KB and 50 MB.
    assert big_rss - small_rss < 1024, (small_rss, big_rss)
    message = stored_message(server.received)
    assert len(message) > 50_000_000
    assert_verified(message, records, tmp_path)


# --- the gateway ------------------------------------------------------------------


@needs_netns
def test_the_gateway_signs_and_says_so(home, smtp, keys, tmp_path, gateway):
    records = install(home, keys)
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway()
    signed = g.deliver({"sender": "me@example.com", "recipients": ["you@x.test"], "host": "x.test",
                        "message": MESSAGES["7bit"].decode()})
    unsigned = g.deliver({"sender": "x@other.test", "recipients": ["you@x.test"], "host": "x.test",
                          "message": "From: x@other.test\n\nnot signed\n"})
    server.settle()
    server.close()
    assert signed.status == 200 and unsigned.status == 200
    assert signed.json["deliveries"][0]["dkim"] == [
        {"d": "example.com", "s": "rsa", "a": "rsa-sha256"}, {"d": "example.com", "s": "ed", "a": "ed25519-sha256"}]
    assert unsigned.json["deliveries"][0]["dkim"] == []
    first = next(t for t in server.transcripts if b"DKIM-Signature" in t)
    assert_verified(stored_message(first), records, tmp_path)
    assert not any(b"DKIM-Signature" in t for t in server.transcripts if b"not signed" in t)


@needs_netns
@pytest.mark.parametrize("size", ["in-the-row", "in-a-file"])
def test_the_queue_signs_what_it_delivers(home, smtp, keys, tmp_path, gateway, size):
    """Queued bodies are read twice too: small ones from the claim, large ones (over 256 KiB) from their file."""
    records = install(home, keys)
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = gateway()
    message = MESSAGES["7bit"] if size == "in-the-row" else HEADER + b"\n" + b"a line of a large queued message\n" * 10000
    delivery_id = queue(g, {"sender": "me@example.com", "recipients": ["you@x.test"], "host": "x.test",
                            "message": message.decode()})
    assert wait_for_status(g, delivery_id)["status"] == "delivered"
    server.settle()
    server.close()
    [transcript] = server.transcripts
    assert_verified(stored_message(transcript), records, tmp_path)


@needs_netns
def test_the_gateway_keeps_mail_waiting_on_a_bad_key(home, smtp, tmp_path, gateway):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    home.control("dkimdomains", "example.com:sel\n")
    g = gateway()
    answer = g.deliver({"sender": "me@example.com", "recipients": ["you@x.test"], "host": "x.test",
                        "message": MESSAGES["7bit"].decode()})
    server.close()
    assert answer.status == 503
    assert answer.json["deliveries"][0]["reports"] == [{"letter": "Z", "text": "Unable to read control files. (#4.3.0)\n"}]
    assert answer.json["deliveries"][0]["dkim"] == [] and server.connections == 0
