"""qmail-remote-httpd over HTTPS: real clients (curl, Python's ssl, sslyze)
against the real binary, certificates from a test CA (trustme). TLS 1.3 and
1.2 with verification, a wrong-name certificate refused by the client, plain
HTTP on the TLS port answered and closed, SIGHUP seen by new connections
(open ones keep theirs), client certificates, --probe, and the front door's
limits and deadlines as they hold under TLS."""
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest
import trustme

from conftest import HTTPD, good_conversation

MESSAGE = "Subject: hi\n\nHello\n"


class Certificates:
    """A CA, the gateway's certificate and key files, and client certificates."""

    def __init__(self, directory):
        self.directory = directory
        self.ca = trustme.CA()
        self.ca_path = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        self.cert_path = directory / "cert.pem"
        self.key_path = directory / "key.pem"
        self.issue("localhost", "127.0.0.1")

    def issue(self, *names, ca=None):
        """Writes a server certificate for `names` into the gateway's files."""
        certificate = (ca or self.ca).issue_cert(*names)
        self.cert_path.write_bytes(b"".join(pem.bytes() for pem in certificate.cert_chain_pems))
        self.key_path.write_bytes(certificate.private_key_pem.bytes())

    def client(self, name, common_name, ca=None):
        path = self.directory / f"{name}.pem"
        certificate = (ca or self.ca).issue_cert(f"{name}@example.org", common_name=common_name,
                                                 organization_name="Test", organization_unit_name="Unit")
        certificate.private_key_and_cert_chain_pem.write_to_path(str(path))
        return path

    def args(self):
        return ("--tls-cert", str(self.cert_path), "--tls-key", str(self.key_path))

    def context(self, ca_path=None, client=None, minimum=None, maximum=None):
        context = ssl.create_default_context(cafile=str(ca_path or self.ca_path))
        if client:
            context.load_cert_chain(str(client))
        if minimum:
            context.minimum_version = minimum
        if maximum:
            context.maximum_version = maximum
        return context


@pytest.fixture
def certificates(tmp_path):
    directory = tmp_path / "tls"
    directory.mkdir()
    return Certificates(directory)


def https(gateway, certificates, *args, **options):
    return gateway(*certificates.args(), *args, tls_context=certificates.context(), **options)


def curl(*args):
    return subprocess.run(["curl", "-s", "-S", "--max-time", "10", *args], capture_output=True, timeout=30)


def test_curl_and_python_with_tls_1_3_and_1_2(home, smtp, gateway, certificates):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    g = https(gateway, certificates)
    payload = json.dumps({"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE})
    for version in ("--tlsv1.3", "--tls-max"):
        extra = ["--tlsv1.2", "--tls-max", "1.2"] if version == "--tls-max" else [version]
        result = curl("--cacert", str(certificates.ca_path), *extra, "-w", "\n%{http_code} %{ssl_verify_result}",
                      "-H", "Content-Type: application/json", "--data-binary", payload,
                      f"https://127.0.0.1:{g.port}/v1/deliveries")
        assert result.returncode == 0, result.stderr
        body, status = result.stdout.rsplit(b"\n", 1)
        assert status == b"200 0"
        assert json.loads(body)["outcome"] == "delivered"
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        context = certificates.context(minimum=version, maximum=version)
        with socket.create_connection(("127.0.0.1", g.port)) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == {ssl.TLSVersion.TLSv1_3: "TLSv1.3", ssl.TLSVersion.TLSv1_2: "TLSv1.2"}[version]
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := tls.recv(4096):
                    reply += chunk
                assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'{"status":"ok"}\n')
                cipher = tls.cipher()[0]
                assert "GCM" in cipher or "CHACHA20" in cipher


def test_a_wrong_name_certificate_is_refused_by_the_client(home, gateway, certificates):
    certificates.issue("other.test")
    g = gateway(*certificates.args(), wait=False)
    time.sleep(0.5)
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", g.port), timeout=5) as raw:
            certificates.context().wrap_socket(raw, server_hostname="localhost")
    result = curl("--cacert", str(certificates.ca_path), f"https://127.0.0.1:{g.port}/healthz")
    assert result.returncode == 60  # peer certificate cannot be authenticated
    # The same certificate for the name it carries is fine.
    result = curl("--cacert", str(certificates.ca_path), "--resolve", f"other.test:{g.port}:127.0.0.1",
                  f"https://other.test:{g.port}/healthz")
    assert result.returncode == 0 and result.stdout == b'{"status":"ok"}\n'


def test_plain_http_on_the_tls_port_is_answered_then_closed(home, gateway, certificates):
    g = https(gateway, certificates)
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in head
    assert json.loads(body)["error"]["code"] == "https_required"
    # Bytes that are neither TLS nor HTTP are closed without a word (unread, so with a reset).
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        s.sendall(b"\x00\x01garbage")
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
    assert g.request("GET", "/healthz").status == 200


def test_sighup_reloads_the_certificate_for_new_connections(home, gateway, certificates):
    g = https(gateway, certificates)
    kept = g.connection()
    kept.request("GET", "/healthz")
    assert kept.getresponse().read() == b'{"status":"ok"}\n'
    new_ca = trustme.CA()
    new_ca_path = certificates.directory / "new-ca.pem"
    new_ca.cert_pem.write_to_path(str(new_ca_path))
    certificates.issue("localhost", "127.0.0.1", ca=new_ca)
    g.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while b"certificate reloaded" not in g.log().encode() and time.time() < deadline:
        time.sleep(0.05)
    assert b"certificate reloaded" in g.log().encode()
    new_context = certificates.context(ca_path=new_ca_path)
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as raw:
        with new_context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 200")
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", g.port), timeout=5) as raw:
            certificates.context().wrap_socket(raw, server_hostname="localhost")
    # A connection opened before the reload goes on with its session.
    kept.request("GET", "/healthz")
    assert kept.getresponse().status == 200
    kept.close()
    # A reload that cannot read the files keeps the certificate in use.
    certificates.key_path.write_text("not a key\n")
    g.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while b"certificate not reloaded" not in g.log().encode() and time.time() < deadline:
        time.sleep(0.05)
    assert "the key cannot be read" in g.log() or "cannot be used together" in g.log()
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as raw:
        with new_context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            assert tls.recv(100).startswith(b"HTTP/1.1 200")


def test_sslyze_finds_nothing_below_tls_1_2_and_no_weak_cipher(home, gateway, certificates):
    from sslyze import (Scanner, ScanCommand, ServerNetworkLocation, ServerScanRequest)
    from sslyze.mozilla_tls_profile.tls_config_checker import (SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
                                                              MozillaTlsConfiguration, TlsConfigurationEnum,
                                                              ServerNotCompliantWithTlsConfiguration,
                                                              check_server_against_tls_configuration)
    g = https(gateway, certificates)
    scanner = Scanner()
    commands = {ScanCommand.SSL_2_0_CIPHER_SUITES, ScanCommand.SSL_3_0_CIPHER_SUITES,
                ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_1_CIPHER_SUITES,
                ScanCommand.TLS_1_2_CIPHER_SUITES, ScanCommand.TLS_1_3_CIPHER_SUITES,
                ScanCommand.ELLIPTIC_CURVES, ScanCommand.TLS_COMPRESSION, ScanCommand.HEARTBLEED,
                ScanCommand.OPENSSL_CCS_INJECTION, ScanCommand.SESSION_RENEGOTIATION, ScanCommand.ROBOT,
                ScanCommand.TLS_FALLBACK_SCSV, ScanCommand.CERTIFICATE_INFO} | SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER
    scanner.queue_scans([ServerScanRequest(server_location=ServerNetworkLocation("localhost", g.port, "127.0.0.1"),
                                           scan_commands=commands)])
    [result] = list(scanner.get_results())
    scan = result.scan_result
    assert scan is not None, result.connectivity_error_trace
    for old in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites", "tls_1_1_cipher_suites"):
        assert getattr(scan, old).result.accepted_cipher_suites == [], old
    tls12 = [s.cipher_suite.name for s in scan.tls_1_2_cipher_suites.result.accepted_cipher_suites]
    tls13 = [s.cipher_suite.name for s in scan.tls_1_3_cipher_suites.result.accepted_cipher_suites]
    assert tls12 and tls13
    for name in tls12:
        assert name.startswith("TLS_ECDHE_") and ("_GCM_" in name or "CHACHA20_POLY1305" in name), name
    assert scan.tls_compression.result.supports_compression is False
    assert scan.heartbleed.result.is_vulnerable_to_heartbleed is False
    assert scan.openssl_ccs_injection.result.is_vulnerable_to_ccs_injection is False
    assert scan.session_renegotiation.result.is_vulnerable_to_client_renegotiation_dos is False
    assert scan.tls_fallback_scsv.result.supports_fallback_scsv is True
    # Mozilla's "intermediate" profile: everything but what the test CA's certificate fails.
    try:
        check_server_against_tls_configuration(
            result, MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE))
    except ServerNotCompliantWithTlsConfiguration as problem:
        about_certificates = {"certificate_path_validation", "maximum_certificate_lifespan", "certificate_types",
                              "certificate_signatures", "certificate_curves", "rsa_key_size"}
        assert set(problem.issues) <= about_certificates, problem.issues


def test_client_certificates_are_required_and_a_subject_stands_for_a_token(home, smtp, gateway, certificates,
                                                                           tmp_path):
    server = smtp(*good_conversation(), many=True)
    home.route_to(server)
    app = certificates.client("app", "app one")
    other = certificates.client("other", "someone else")
    stranger = certificates.client("stranger", "app one", ca=trustme.CA())
    tokens = tmp_path / "tokens"
    tokens.write_text('subject:"CN=app one,OU=Unit,O=Test" name=app-cert senders=@b.test\n'
                      "bearer-token-0001 name=bearer\n")
    g = gateway(*certificates.args(), "--tls-client-ca", str(certificates.ca_path), "--token-file", str(tokens),
                host="0.0.0.0", tls_context=certificates.context(client=app), wait=False)
    g.host = "127.0.0.1"
    g.wait_ready()
    payload = {"sender": "a@b.test", "recipients": ["u@x.test"], "message": MESSAGE}
    assert g.deliver(payload).status == 200
    refused = g.deliver({**payload, "sender": "a@c.test"})
    assert refused.status == 403 and refused.json["error"]["code"] == "sender_not_allowed"
    # A verified certificate whose subject is not in the file needs a bearer token.
    g.tls_context = certificates.context(client=other)
    assert g.deliver(payload).status == 401
    assert g.deliver(payload, token="bearer-token-0001").status == 200
    # No certificate, or one from another CA: only /healthz answers.
    for context in (certificates.context(), certificates.context(client=stranger)):
        g.tls_context = context
        answer = g.deliver(payload, token="bearer-token-0001")
        assert answer.status == 401 and answer.json["error"]["code"] == "client_certificate_required"
        assert g.request("GET", "/healthz").status == 200
    names = [line.get("token") for line in g.log_lines() if line.get("message") == "request"]
    assert "app-cert" in names and "bearer" in names
    assert "bearer-token-0001" not in g.log()
    assert any(line.get("message") == "client certificate refused" for line in g.log_lines())


def test_probe_speaks_tls(home, gateway, certificates, tmp_path):
    g = https(gateway, certificates)
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(tmp_path)}
    probe = [str(HTTPD), "--probe", "--listen", f"127.0.0.1:{g.port}"]
    assert subprocess.run(probe + list(certificates.args()), env=environment, timeout=30).returncode == 0
    # Without knowing it is HTTPS, the probe speaks plain HTTP and gets 400.
    assert subprocess.run(probe, env=environment, timeout=30).returncode == 1
    # The announcement says https: the probe finds both address and scheme.
    announced = gateway(*certificates.args(), env={"TMPDIR": str(tmp_path)}, tls_context=certificates.context())
    assert (tmp_path / f"qmail-remote-httpd-{os.getuid()}.listen").read_text().endswith("\nhttps\n")
    assert subprocess.run([str(HTTPD), "--probe"], env=environment, timeout=30).returncode == 0
    announced.stop()
    assert subprocess.run([str(HTTPD), "--probe"], env=environment, timeout=30).returncode == 1


def tls_socket(g, certificates, timeout=10):
    raw = socket.create_connection(("127.0.0.1", g.port), timeout=timeout)
    return certificates.context().wrap_socket(raw, server_hostname="localhost")


def read_all(tls):
    reply = b""
    try:
        while chunk := tls.recv(4096):
            reply += chunk
    except (ssl.SSLError, ConnectionResetError):
        pass
    return reply


def test_deadlines_and_limits_hold_under_tls(home, gateway, certificates):
    g = https(gateway, certificates, "--header-timeout", "1", "--min-body-rate", "1000",
              "--max-connections-per-ip", "2")
    # A handshake that never starts, and one that never ends, cost a socket and are closed.
    silent = socket.create_connection(("127.0.0.1", g.port), timeout=10)
    partial = socket.create_connection(("127.0.0.1", g.port), timeout=10)
    partial.sendall(b"\x16\x03\x01\x02\x00\x01")
    started = time.time()

    def closed(s):
        try:
            return s.recv(10) == b""
        except ConnectionResetError:
            return True

    assert closed(silent) and closed(partial)
    assert time.time() - started < 4
    silent.close()
    partial.close()
    # A body that comes too slowly gets its 408 as a TLS record, then the end.
    slow = tls_socket(g, certificates)
    slow.sendall(b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100000\r\n\r\n{")
    reply = read_all(slow)
    slow.close()
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    # Over the per-address limit: the third connection's request gets 503 over TLS.
    first, second = tls_socket(g, certificates), tls_socket(g, certificates)
    for s in (first, second):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    third = tls_socket(g, certificates)
    third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = read_all(third)
    assert reply.startswith(b"HTTP/1.1 503 ") and b"too_many_connections" in reply
    for s in (first, second, third):
        s.close()
    time.sleep(0.5)  # the library notices the closes on its next turn
    # A framing refusal over TLS: answered, then the connection closed.
    bad = tls_socket(g, certificates)
    bad.sendall(b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    reply = read_all(bad)
    assert reply.startswith(b"HTTP/1.1 400 ") and b"invalid_framing" in reply and b"Connection: close" in reply
    bad.close()
    assert g.request("GET", "/healthz").status == 200
