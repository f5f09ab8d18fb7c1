"""An SMTP sink for bench/tls.sh: aiosmtpd offering STARTTLS with a
certificate from a throw-away CA (trustme), accepting and dropping every
message. Usage: tls_sink.py PORT CA_FILE_TO_WRITE"""
import asyncio
import ssl
import sys

import trustme
from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 ok"


ca = trustme.CA()
ca.cert_pem.write_to_path(sys.argv[2])
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("127.0.0.1").configure_cert(context)
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]), tls_context=context)
controller.start()
print("ready", flush=True)
try:
    asyncio.run(asyncio.Event().wait())
finally:
    controller.stop()
