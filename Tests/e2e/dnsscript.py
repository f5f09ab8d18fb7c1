"""A scripted DNS server on loopback (UDP), built on dnslib's packet codec.

Zone entries: name -> dict with any of "MX": [(pref, host)], "A": [ip], "AAAA": [ip],
"TLSA": [(usage, selector, matching, data bytes)], "TXT": [text (split into strings
of 255 bytes) or [strings]], "CNAME": target, "rcode": "NXDOMAIN" | "SERVFAIL" | "REFUSED" (for every
type), or "rcode_MX"/"rcode_A"/"rcode_TLSA"/... for one type. A CNAME is followed as a
recursive server would: the chain and the target's records in one answer.
Unknown names are NXDOMAIN. "secure": True (or "secure_MX" etc. for one type)
makes the answer carry the AD bit, as a validating resolver does for a signed
zone, when the query asked with DO or AD. Every question asked is recorded,
and in `dnssec` whether it had the DO bit.
"""
import socket
import threading

from dnslib import AAAA, A, CNAME, MX, QTYPE, RCODE, RR, TLSA, TXT, DNSRecord


class ScriptedDNSServer:
    def __init__(self, zone, host="127.0.0.1", port=0):
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.questions = []
        self.dnssec = []
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
        # reply() copies the query's flags, AD among them: only a secure answer has it.
        reply.header.ad = 0
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        self.questions.append((name, qtype))
        do = any(rr.rtype == QTYPE.OPT and (rr.ttl & 0x8000) for rr in request.ar)
        self.dnssec.append((name, qtype, do))
        if do:
            # Echo EDNS0 as a real server does.
            from dnslib import EDNS0
            reply.add_ar(EDNS0(flags="do", udp_len=1232))
        asked_for_ad = do or request.header.ad
        for _ in range(8):
            entry = self.zone.get(name)
            if entry is None:
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            if asked_for_ad and entry.get("secure_" + qtype, entry.get("secure", False)):
                reply.header.ad = 1
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
            elif qtype == "TLSA":
                for usage, selector, matching, data in entry.get("TLSA", []):
                    reply.add_answer(RR(name, QTYPE.TLSA, rdata=TLSA(usage, selector, matching, data), ttl=60))
            elif qtype == "TXT":
                for text in entry.get("TXT", []):
                    if isinstance(text, list):
                        strings = [s.encode() if isinstance(s, str) else s for s in text]
                    else:
                        data = text.encode() if isinstance(text, str) else text
                        strings = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(strings), ttl=60))
            return reply
        return reply

    def close(self):
        self.sock.close()
