"""STARTTLS, SMTPS, certificate policy and SMTP AUTH against real TLS servers
(aiosmtpd with certificates made by trustme: valid, wrong name, unknown CA,
expired, self-signed) under each tlspolicy level, plus scripted servers for a
failed handshake and CRAM-MD5 with a known challenge; and no credential in
any output."""
import base64
import datetime
import hashlib
import hmac
import socket
import ssl
import threading

import pytest
import trustme

from conftest import GO_AHEAD, GREETING, OK, free_port, needs_netns

MESSAGE = b"Subject: tls\n\nsecret body\n"
USER, PASSWORD = "mailer", "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def pki():
    ca = trustme.CA()
    other_ca = trustme.CA()
    past = datetime.datetime(2020, 1, 1), datetime.datetime(2021, 1, 1)
    return {
        "ca": ca,
        "valid": ca.issue_cert("mx.tls.test", "127.0.0.1"),
        "wrong-name": ca.issue_cert("other.test"),
        "unknown-ca": other_ca.issue_cert("mx.tls.test", "127.0.0.1"),
        "expired": ca.issue_cert("mx.tls.test", "127.0.0.1", not_before=past[0], not_after=past[1]),
        "client": ca.issue_cert("client.test"),
    }


def server_context(pki, kind):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if kind == "self-signed":
        context.load_cert_chain(*self_signed("mx.tls.test", "127.0.0.1"))
    else:
        pki[kind].configure_cert(context)
    return context


def self_signed(name, ip):
    """A certificate for the right names, signed by its own key: trusted by nobody."""
    import ipaddress
    import tempfile
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(ip))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    directory = tempfile.mkdtemp()
    cert, private = f"{directory}/cert.pem", f"{directory}/key.pem"
    open(cert, "wb").write(certificate.public_bytes(serialization.Encoding.PEM))
    open(private, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return cert, private


class Recorder:
    def __init__(self):
        self.envelopes = []
        self.peer_certificates = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                               server.transport.get_extra_info("sslcontext") is not None))
        self.peer_certificates.append(server.transport.get_extra_info("peercert"))
        return "250 2.0.0 queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(pki):
    controllers = []

    def start(kind="valid", starttls=True, implicit=False, port=None, auth=False, exclude=(), require_client_cert=False,
              auth_require_tls=True):
        from aiosmtpd.controller import Controller
        recorder = Recorder()
        context = server_context(pki, kind)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            pki["ca"].configure_trust(context)
        options = dict(hostname="127.0.0.1", port=port or free_port())
        if implicit:
            options["ssl_context"] = context
        elif starttls:
            options["tls_context"] = context
        if auth:
            options.update(authenticator=authenticator, auth_require_tls=auth_require_tls,
                           auth_exclude_mechanism=list(exclude))
        controller = Controller(recorder, **options)
        controller.start()
        controllers.append(controller)
        return controller.port, recorder

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def tls_home(home, pki):
    home.control("esmtp", "1\n")
    pki["ca"].cert_pem.write_to_path(str(home.control_dir / "test-ca.pem"))
    return home


def accepted(out):
    return out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 queued\n\0"


def test_may_uses_starttls_when_offered(tls_home, tls_server):
    port, recorder = tls_server()
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))
    assert recorder.envelopes[0][3] is True, "the message went in plain text"


def test_openssl_configuration_is_not_read(tls_home, tls_server, tmp_path):
    """A static executable must never load OpenSSL's modules (dlopen there
    maps a second libc), so it ignores openssl.cnf, which may name them: one
    naming a module that does not exist stops nothing."""
    config = tmp_path / "openssl.cnf"
    config.write_text("openssl_conf = init\nconfig_diagnostics = 1\n[init]\nproviders = providers\n"
                      "[providers]\nbroken = broken\n[broken]\nmodule = /nonexistent/broken.so\nactivate = 1\n")
    port, recorder = tls_server()
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    tls_home.control("tlspolicy", "x.test:encrypt\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE, env={"OPENSSL_CONF": str(config)}))
    assert recorder.envelopes[0][3] is True, "the message went in plain text"


@pytest.mark.parametrize("kind", ["wrong-name", "unknown-ca", "expired", "self-signed"])
def test_may_and_encrypt_deliver_whatever_the_certificate(tls_home, tls_server, kind):
    for level in ["may", "encrypt"]:
        port, recorder = tls_server(kind)
        tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
        tls_home.control("tlspolicy", f"x.test:{level}\n")
        assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)), (kind, level)
        assert recorder.envelopes[0][3] is True


def test_verify_with_a_valid_certificate_for_the_relay_name(tls_home, tls_server, dns):
    port, recorder = tls_server("valid")
    dns({"mx.tls.test": {"A": ["127.0.0.1"]}})
    tls_home.control("smtproutes", f"x.test:mx.tls.test:{port}\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))


def test_verify_checks_the_ip_when_the_route_is_an_ip(tls_home, tls_server):
    port, _ = tls_server("valid")   # has an IP SAN 127.0.0.1
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))


@pytest.mark.parametrize("kind,reason", [
    ("wrong-name", b"hostname mismatch"),
    ("unknown-ca", b"unable to get local issuer certificate"),
    ("expired", b"certificate has expired"),
    ("self-signed", b"self-signed certificate"),
])
def test_verify_refuses_bad_certificates_and_sends_nothing(tls_home, tls_server, dns, kind, reason):
    port, recorder = tls_server(kind)
    dns({"mx.tls.test": {"A": ["127.0.0.1"]}})
    tls_home.control("smtproutes", f"x.test:mx.tls.test:{port}\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out.startswith(b"ZConnected to 127.0.0.1 but its certificate for mx.tls.test was not verified: ")
    assert reason in out.lower() and out.endswith(b". (#4.7.5)\n\0")
    assert recorder.envelopes == []


def test_verify_against_the_system_store_refuses_a_private_ca(tls_home, tls_server, dns):
    port, recorder = tls_server("valid")
    dns({"mx.tls.test": {"A": ["127.0.0.1"]}})
    tls_home.control("smtproutes", f"x.test:mx.tls.test:{port}\n")
    tls_home.control("tlspolicy", "x.test:verify\n")
    assert b"was not verified" in tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert recorder.envelopes == []


def test_none_never_starts_tls(tls_home, tls_server):
    port, recorder = tls_server()
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    tls_home.control("tlspolicy", "x.test:none\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))
    assert recorder.envelopes[0][3] is False


@pytest.mark.parametrize("level", ["encrypt", "verify"])
def test_required_tls_without_starttls_sends_nothing_in_plain(tls_home, smtp, level):
    server = smtp(GREETING, b"250-x\r\n250 PIPELINING\r\n")
    tls_home.route_to(server)
    tls_home.control("tlspolicy", f":{level}\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    server.wait()
    assert out == b"ZConnected to 127.0.0.1 but it does not offer STARTTLS, and TLS is required. (#4.7.0)\n\0"
    assert bytes(server.received) == b"EHLO helo.test\r\nQUIT\r\n"


def test_required_tls_starttls_refused(tls_home, smtp):
    server = smtp(GREETING, b"250-x\r\n250 STARTTLS\r\n", b"454 TLS not available\r\n")
    tls_home.route_to(server)
    tls_home.control("tlspolicy", "x.test:encrypt\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out == (b"ZConnected to 127.0.0.1 but STARTTLS was refused, and TLS is required.\n"
                   b"Remote host said: 454 TLS not available\n\0")


def test_failed_handshake_under_may_delivers_in_plain_text_on_a_new_connection(tls_home, smtp):
    offers_tls = [GREETING, b"250-x\r\n250 STARTTLS\r\n", b"220 go ahead\r\n", ("tls-garbage",)]
    plain = [GREETING, b"250-x\r\n250 STARTTLS\r\n", OK, OK, GO_AHEAD, OK]
    server = smtp(scripts=[offers_tls, plain])
    tls_home.route_to(server)
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    server.settle()
    server.close()
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert server.connections == 2
    assert bytes(server.transcripts[0]).startswith(b"EHLO helo.test\r\nSTARTTLS\r\n")
    assert bytes(server.transcripts[1]) == (b"EHLO helo.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@x.test>\r\nDATA\r\n"
                                            b"Subject: tls\r\n\r\nsecret body\r\n.\r\nQUIT\r\n")


@pytest.mark.parametrize("level", ["encrypt", "verify"])
def test_failed_handshake_under_required_tls_is_temporary_and_plain_never_follows(tls_home, smtp, level):
    server = smtp(scripts=[[GREETING, b"250-x\r\n250 STARTTLS\r\n", b"220 go ahead\r\n", ("tls-garbage",)]])
    tls_home.route_to(server)
    tls_home.control("tlspolicy", f"x.test:{level}\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    server.settle()
    server.close()
    assert out.startswith(b"ZConnected to 127.0.0.1 but the TLS handshake failed: ") and out.endswith(b". (#4.7.0)\n\0")
    assert server.connections == 1
    assert b"secret" not in server.received and b"MAIL" not in server.received


def test_classic_mode_with_required_tls_keeps_mail_waiting(home, smtp):
    server = smtp(GREETING, OK)
    home.route_to(server)
    home.control("tlspolicy", "x.test:encrypt\n")
    assert home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZTLS is required for this destination, but control/esmtp is 0. (#4.3.0)\n\0"
    server.close()
    assert server.connections == 0


def test_tlshosts_pem_requires_verified_tls_for_that_server(tls_home, tls_server, dns, pki):
    port, recorder = tls_server("wrong-name")
    dns({"mx.tls.test": {"A": ["127.0.0.1"]}})
    tls_home.control("smtproutes", f"x.test:mx.tls.test:{port}\n")
    (tls_home.control_dir / "tlshosts").mkdir()
    pki["ca"].cert_pem.write_to_path(str(tls_home.control_dir / "tlshosts" / "mx.tls.test.pem"))
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert b"its certificate for mx.tls.test was not verified" in out
    # tlspolicy wins where both speak.
    tls_home.control("tlspolicy", "x.test:encrypt\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))


def test_notlshosts_never_starts_tls(tls_home, tls_server, dns):
    port, recorder = tls_server()
    dns({"mx.tls.test": {"A": ["127.0.0.1"]}})
    tls_home.control("smtproutes", f"x.test:mx.tls.test:{port}\n")
    (tls_home.control_dir / "notlshosts").mkdir()
    (tls_home.control_dir / "notlshosts" / "mx.tls.test").write_text("")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))
    assert recorder.envelopes[0][3] is False


def test_malformed_tlspolicy_keeps_mail_waiting(tls_home):
    tls_home.control("tlspolicy", "x.test:maybe\n")
    assert tls_home.run("x.test", "a@b.test", "u@x.test") == b"ZUnable to read control files. (#4.3.0)\n\0"
    assert b"tlspolicy: line 1" in tls_home.stderr


@needs_netns
def test_smtps_on_port_465(tls_home, tls_server):
    port, recorder = tls_server(implicit=True, port=465)
    tls_home.control("smtproutes", "x.test:127.0.0.1:465\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))
    assert recorder.envelopes[0][3] is True


@needs_netns
def test_smtps_with_a_bad_certificate_under_verify(tls_home, tls_server):
    tls_server("expired", implicit=True, port=465)
    tls_home.control("smtproutes", "x.test:127.0.0.1:465\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out.startswith(b"ZConnected to 127.0.0.1 but its certificate for 127.0.0.1 was not verified: certificate has expired")


def test_client_certificate_is_presented_and_checked(tls_home, tls_server, pki):
    port, recorder = tls_server(require_client_cert=True)
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    tls_home.control("tlspolicy", "x.test:encrypt\n")
    pki["client"].private_key_and_cert_chain_pem.write_to_path(str(tls_home.control_dir / "clientcert.pem"))
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))
    subject = dict(item[0] for item in recorder.peer_certificates[0]["subject"])
    assert "client.test" in str(recorder.peer_certificates[0])


def test_tlsclientciphers_is_used(tls_home, tls_server):
    port, recorder = tls_server()
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    tls_home.control("tlspolicy", "x.test:encrypt\n")
    tls_home.control("tlsclientciphers", "NO-SUCH-CIPHER\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out.startswith(b"ZConnected to 127.0.0.1 but the TLS handshake failed: ")


# --- SMTP AUTH ---------------------------------------------------------------

def route_with_login(home, port, password=PASSWORD, form="space", extra=""):
    if form == "space":
        home.control("smtproutes", f"x.test:127.0.0.1:{port} {USER} {password}{extra}\n")
    else:
        home.control("smtproutes", f"x.test:127.0.0.1:{port}|{USER}|{password}{extra}\n")


@pytest.mark.parametrize("form", ["space", "bar"])
def test_login_with_plain_over_starttls(tls_home, tls_server, form):
    port, recorder = tls_server(auth=True)
    route_with_login(tls_home, port, form=form)
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))


def test_login_mechanism_when_plain_is_not_offered(tls_home, tls_server):
    port, recorder = tls_server(auth=True, exclude=["PLAIN"])
    route_with_login(tls_home, port)
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))


@pytest.mark.parametrize("exclude,mechanism", [([], b"PLAIN"), (["PLAIN"], b"LOGIN")])
def test_refused_login_is_temporary_and_names_the_mechanism(tls_home, tls_server, exclude, mechanism):
    port, recorder = tls_server(auth=True, exclude=exclude)
    route_with_login(tls_home, port, password="wrong-password")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out.startswith(b"ZConnected to 127.0.0.1 but the login (" + mechanism + b") was refused.\nRemote host said: 535")
    assert recorder.envelopes == []


def test_login_never_goes_without_tls_unless_the_route_says_so(tls_home, tls_server):
    port, recorder = tls_server(starttls=False, auth=True, auth_require_tls=False)
    route_with_login(tls_home, port)
    assert tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE) == \
        b"ZConnected to 127.0.0.1 but the connection is not encrypted, and the route's login needs TLS. (#4.7.0)\n\0"
    route_with_login(tls_home, port, extra=" insecure")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))


def test_cram_md5_with_a_known_challenge(tls_home, smtp):
    challenge = b"<1896.697170952@postoffice.example.net>"
    expected = base64.b64encode(USER.encode() + b" " + hmac.new(PASSWORD.encode(), challenge, hashlib.md5).hexdigest().encode())
    server = smtp(GREETING, b"250-x\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n",
                  b"334 " + base64.b64encode(challenge) + b"\r\n", b"235 2.7.0 ok\r\n", OK, OK, GO_AHEAD, OK)
    route_with_login(tls_home, server.port, extra=" insecure")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    server.wait()
    assert out == b"r\0K127.0.0.1 accepted message.\nRemote host said: 250 ok\n\0"
    assert bytes(server.received).startswith(b"EHLO helo.test\r\nAUTH CRAM-MD5\r\n" + expected + b"\r\nMAIL FROM:<a@b.test>\r\n")


def test_no_login_mechanism_in_common(tls_home, smtp):
    server = smtp(GREETING, b"250-x\r\n250 AUTH GSSAPI\r\n")
    route_with_login(tls_home, server.port, extra=" insecure")
    assert tls_home.run("x.test", "a@b.test", "u@x.test") == \
        b"ZConnected to 127.0.0.1 but it offers no login mechanism I have (PLAIN, LOGIN, CRAM-MD5). (#4.7.0)\n\0"


def test_credentials_appear_nowhere(tls_home, tls_server, gateway):
    secrets = [PASSWORD.encode(), base64.b64encode(PASSWORD.encode()),
               base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())]
    outputs = []
    for password in [PASSWORD, "wrong-" + PASSWORD]:
        port, _ = tls_server(auth=True)
        route_with_login(tls_home, port, password=password)
        outputs += [tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE), tls_home.stderr]
        g = gateway()
        answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "message": "Subject: s\n\nx\n"})
        g.stop()
        outputs += [answer.body, g.log().encode()]
    tls_home.control("smtproutes", f"x.test:127.0.0.1:1 {USER} {PASSWORD} bogus\n")
    outputs += [tls_home.run("x.test", "a@b.test", "u@x.test"), tls_home.stderr]
    for output in outputs:
        for secret in secrets:
            assert secret not in output


def test_gateway_answer_says_tls_version_cipher_and_verification(tls_home, tls_server, gateway):
    port, _ = tls_server()
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{port}\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    g = gateway()
    answer = g.deliver({"sender": "a@b.test", "recipients": ["u@x.test"], "message": "Subject: s\n\nx\n"})
    assert answer.status == 200
    tls = answer.json["deliveries"][0]["tls"]
    assert tls["version"].startswith("TLSv1.") and tls["cipher"] and tls["verified"] is True


# --- how TLS ends --------------------------------------------------------------

class TLSEndRecorder:
    """One connection: (for STARTTLS: greeting, EHLO offering STARTTLS, 220),
    the handshake with `kind`'s certificate, then one reply per command line
    read (the message read whole after a 354), then it reads to the end and
    records how TLS ended: "close_notify" when the client said so, else what
    went wrong ("abrupt" for a TCP close without it)."""

    def __init__(self, pki, kind, implicit, replies=(), port=0):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.context = server_context(pki, kind)
        self.implicit, self.replies = implicit, list(replies)
        self.received, self.ending = b"", None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.listener.accept()
        conn.settimeout(10)
        try:
            if not self.implicit:
                conn.sendall(GREETING)
                self.read_line(conn)
                conn.sendall(b"250-tls.test\r\n250 STARTTLS\r\n")
                self.read_line(conn)
                conn.sendall(b"220 go ahead\r\n")
            tls = self.context.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
            if self.implicit and self.replies:
                tls.sendall(GREETING)
            last = b""
            for reply in self.replies:
                self.received += self.read_until(tls, b"\r\n.\r\n" if last.startswith(b"354") else b"\r\n")
                tls.sendall(reply)
                last = reply
            while True:
                data = tls.recv(4096)
                if not data:
                    self.ending = "close_notify"
                    return
                self.received += data
        except ssl.SSLEOFError:
            self.ending = "abrupt"
        except (OSError, ssl.SSLError) as error:
            self.ending = repr(error)
        finally:
            conn.close()
            self.listener.close()

    @staticmethod
    def read_line(conn):
        line = b""
        while not line.endswith(b"\n"):
            line += conn.recv(1)
        return line

    @staticmethod
    def read_until(tls, marker):
        data = b""
        while not data.endswith(marker):
            chunk = tls.recv(1)
            if not chunk:
                raise ssl.SSLEOFError("closed early")
            data += chunk
        return data

    def result(self):
        self.thread.join(15)
        return self.ending


def test_a_certificate_refused_under_verify_ends_tls_cleanly(tls_home, pki):
    server = TLSEndRecorder(pki, "wrong-name", implicit=False)
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{server.port}\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out.startswith(b"ZConnected to 127.0.0.1 but its certificate for 127.0.0.1 was not verified: ")
    assert server.result() == "close_notify"
    assert server.received == b"QUIT\r\n"


@needs_netns
def test_smtps_with_a_refused_certificate_ends_tls_cleanly(tls_home, pki):
    server = TLSEndRecorder(pki, "expired", implicit=True, port=465)
    tls_home.control("smtproutes", "x.test:127.0.0.1:465\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    out = tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE)
    assert out.startswith(b"ZConnected to 127.0.0.1 but its certificate for 127.0.0.1 was not verified: ")
    assert server.result() == "close_notify"
    assert server.received == b""


def test_a_delivery_over_tls_ends_with_quit_and_close_notify(tls_home, pki):
    replies = [b"250 tls.test\r\n", OK, OK, GO_AHEAD, b"250 2.0.0 queued\r\n"]
    server = TLSEndRecorder(pki, "valid", implicit=False, replies=replies)
    tls_home.control("smtproutes", f"x.test:127.0.0.1:{server.port}\n")
    tls_home.control("tlspolicy", "x.test:verify:test-ca.pem\n")
    assert accepted(tls_home.run("x.test", "a@b.test", "u@x.test", message=MESSAGE))
    assert server.result() == "close_notify"
    assert server.received.endswith(b"secret body\r\n.\r\nQUIT\r\n")
