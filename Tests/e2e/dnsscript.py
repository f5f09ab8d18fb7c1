"""A scripted DNS server on loopback (UDP), built on dnslib's packet codec.

Zone entries: name -> dict with any of "MX": [(pref, host)], "A": [ip], "AAAA": [ip],
"TXT": [text] (each split into strings of 255 bytes), "CNAME": target, "rcode": "NXDOMAIN" | "SERVFAIL" | "REFUSED" (for every
type), or "rcode_MX"/"rcode_A"/"rcode_AAAA" for one type. A CNAME is followed as a
recursive server would: the chain and the target's records in one answer.
Unknown names are NXDOMAIN. Every question asked is recorded.
"""
import socket
import threading

from dnslib import AAAA, A, CNAME, MX, QTYPE, RCODE, RR, TXT, DNSRecord


class ScriptedDNSServer:
    def __init__(self, zone, host="127.0.0.1", port=0):
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.questions = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.address = f"{host}:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                request = DNSRecord.parse(data)
            except Exception:
                continue
            self.sock.sendto(self._answer(request).pack(), peer)

    def _answer(self, request):
        reply = request.reply()
        reply.header.ra = 1
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        self.questions.append((name, qtype))
        for _ in range(8):
            entry = self.zone.get(name)
            if entry is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            rcode = entry.get("rcode_" + qtype, entry.get("rcode"))
            if rcode:
                reply.header.rcode = getattr(RCODE, rcode)
                return reply
            if "CNAME" in entry and qtype != "CNAME":
                target = entry["CNAME"]
                reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
                name = target.lower().rstrip(".")
                continue
            if qtype == "MX":
                for pref, host in entry.get("MX", []):
                    reply.add_answer(RR(name, QTYPE.MX, rdata=MX(host, pref), ttl=60))
            elif qtype == "A":
                for ip in entry.get("A", []):
                    reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=60))
            elif qtype == "AAAA":
                for ip in entry.get("AAAA", []):
                    reply.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA(ip), ttl=60))
            elif qtype == "TXT":
                for text in entry.get("TXT", []):
                    data = text.encode() if isinstance(text, str) else text
                    strings = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(strings), ttl=60))
            return reply
        return reply

    def close(self):
        self.sock.close()
