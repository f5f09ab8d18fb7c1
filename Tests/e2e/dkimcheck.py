"""DKIM for the end-to-end tests: keys made with openssl as the README says,
their DNS TXT records made the same way, the message a scripted SMTP server
stored (DATA, dot-unstuffed), and two verifiers nobody here wrote: dkimpy
(handed the public keys) and OpenDKIM's opendkim-testmsg (which asks DNS:
a scripted DNS server on 127.0.0.53:53 in this network namespace, named in
a resolv.conf bind-mounted over /etc/resolv.conf in a mount namespace of
its own, so nothing outside the test sees it).
"""
import base64
import re
import subprocess
import tempfile

import dkim

from dnsscript import ScriptedDNSServer


def make_key(path, kind="rsa", bits=2048):
    """A private key file, as README.md tells operators to make one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "rsa":
        command = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", str(path)]
    elif kind == "ed25519":
        command = ["openssl", "genpkey", "-algorithm", "ED25519", "-out", str(path)]
    else:
        command = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    return path


def txt_record(path):
    """The TXT record to publish at <selector>._domainkey.<domain>, as README.md makes it."""
    der = subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    if der.startswith(bytes.fromhex("302a300506032b6570032100")):  # Ed25519: the raw key is the last 32 bytes
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def stored_message(transcript):
    """What the server stores: the DATA of the (first) transaction, dot-unstuffed."""
    data = bytes(transcript).split(b"DATA\r\n", 1)[1]
    data = b"\r\n" + data
    end = data.index(b"\r\n.\r\n")
    lines = data[2:end + 2].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def signatures(message):
    """The DKIM-Signature fields' tags, in order."""
    found = []
    for field in re.findall(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", message, re.M | re.S | re.I):
        value = re.sub(rb"\s+", b"", field).decode()
        found.append(dict(tag.split("=", 1) for tag in value.split(";") if tag))
    return found


def without_signatures_but(message, keep):
    """The message with only its keep-th DKIM-Signature field."""
    fields = re.findall(rb"^DKIM-Signature:.*?\r\n(?![ \t])", message, re.M | re.S | re.I)
    for index, field in enumerate(fields):
        if index != keep:
            message = message.replace(field, b"", 1)
    return message


def dkimpy_verify(message, records):
    """dkimpy's verdict on each signature; `records` maps "s._domainkey.d" to the TXT text."""
    def dns(name, timeout=5):
        return records.get(name.decode().rstrip("."), "").encode()
    def verify(index):
        try:
            return dkim.DKIM(message).verify(idx=index, dnsfunc=dns)
        except dkim.ValidationError:  # dkimpy raises for some failures (a body hash mismatch)
            return False
    return [verify(index) for index in range(len(signatures(message)))]


def opendkim_verify(message, records, tmp_path):
    """opendkim-testmsg's verdict on each signature alone: (exit status, stderr) per signature."""
    global _server
    if _server is None:
        _server = ScriptedDNSServer({}, host="127.0.0.53", port=53)
    _server.zone = {name.lower(): {"TXT": [text]} for name, text in records.items()}
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.53\noptions edns0\n")
    verdicts = []
    for index in range(len(signatures(message))):
        single = without_signatures_but(message, index)
        with tempfile.TemporaryFile() as stdin:
            stdin.write(single)
            stdin.seek(0)
            result = subprocess.run(
                ["unshare", "--mount", "--", "sh", "-c",
                 'mount --bind "$0" /etc/resolv.conf && exec opendkim-testmsg', str(resolv)],
                stdin=stdin, capture_output=True, timeout=60)
        verdicts.append((result.returncode, result.stderr.decode(errors="replace")))
    return verdicts


# One DNS server on 127.0.0.53:53 for the whole run (a closed UDP socket's
# port stays taken while its thread waits in recvfrom); each check sets its zone.
_server = None
