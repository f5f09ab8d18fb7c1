"""What the DANE and MTA-STS tests share: certificates from a private CA
(trustme) for mail hosts, TLSA record data computed from them with
`cryptography` (a verifier nobody here wrote), and STARTTLS servers (aiosmtpd)
on port 25 of a test address that record each message, whether it came over
TLS, and the SNI name the client sent."""
import hashlib
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def certificate(pem):
    return x509.load_pem_x509_certificate(pem)


def tlsa(usage, selector, matching, cert):
    """The association data of a TLSA record for `cert` (a cryptography certificate)."""
    data = cert.public_bytes(Encoding.DER) if selector == 0 else \
        cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if matching == 1:
        data = hashlib.sha256(data).digest()
    elif matching == 2:
        data = hashlib.sha512(data).digest()
    return (usage, selector, matching, data)


class MailHost:
    """A certificate for `name` from `ca` (trustme), served with the CA's own
    certificate in the chain (DANE-TA(2) needs the anchor in the chain)."""

    def __init__(self, ca, name):
        self.ca = ca
        self.leaf = ca.issue_cert(name)
        directory = tempfile.mkdtemp(prefix="mailhost-")
        self.key_path = f"{directory}/key.pem"
        self.chain_path = f"{directory}/chain.pem"
        self.leaf.private_key_pem.write_to_path(self.key_path)
        with open(self.chain_path, "wb") as chain:
            for blob in self.leaf.cert_chain_pems:
                chain.write(blob.bytes())
            chain.write(ca.cert_pem.bytes())
        self.cert = certificate(self.leaf.cert_chain_pems[0].bytes())
        self.ca_cert = certificate(ca.cert_pem.bytes())

    def context(self, sni_seen):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.chain_path, self.key_path)

        def record(sock, name, ctx):
            sni_seen.append(name)
        context.sni_callback = record
        return context


class Recorder:
    def __init__(self):
        self.envelopes = []
        self.sni = []

    async def handle_DATA(self, server, session, envelope):
        tls = server.transport.get_extra_info("sslcontext") is not None
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, tls))
        return "250 2.0.0 queued"


def start_tls_server(host, mail_host, starttls=True):
    """aiosmtpd on host:25 offering STARTTLS with mail_host's certificate."""
    from aiosmtpd.controller import Controller
    recorder = Recorder()
    options = dict(hostname=host, port=25)
    if starttls:
        options["tls_context"] = mail_host.context(recorder.sni)
    controller = Controller(recorder, **options)
    controller.start()
    return controller, recorder
