"""A scripted SMTP server on loopback for the end-to-end tests.

It sends a greeting, then one scripted reply per command line it reads; after
a DATA that it answered below 400 it reads the message up to CRLF.CRLF and
sends the next reply for it. It records every byte it received (in all, and
per connection), so tests can compare the wire byte for byte.

Script items: bytes (sent as they are), CLOSE (drop the connection), HANG
(send nothing, wait for the client to go), ("after_bytes", n, item) to act
after reading n bytes of the message, ("flood", line) to send line forever,
("partial", data) to send data and close, ("sleep", seconds, data) to wait,
then send data, ("tls-garbage",) to answer with bytes that are not TLS and
close, ("gather", n, pieces, code) to read n command lines in all,
then send the pieces 50 ms apart (their last reply has `code`). With
many=True every connection runs the script, at once; with scripts=[...] the
n-th connection runs the n-th script (the last one again after that). `seen` records, for
each reply sent, how many bytes had come in by then.
"""
import socket
import threading
import time

CLOSE = "close"
HANG = "hang"


class ScriptedSMTPServer:
    def __init__(self, replies, host="127.0.0.1", port=0, family=socket.AF_INET, many=False, scripts=None):
        self.replies = list(replies)
        self.scripts = scripts
        self.many = many or bool(scripts)
        self.stop_flood = threading.Event()
        self.received = bytearray()
        self.transcripts = []
        self.seen = []
        self.peers = []
        self.threads = []
        self.connections = 0
        self.lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else family
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # IPv6 test hosts are addresses of a local route, not of an interface.
        self.sock.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                self.done.set()
                return
            with self.lock:
                self.connections += 1
                self.peers.append(peer[0])
                transcript = bytearray()
                self.transcripts.append(transcript)
            if self.many:
                thread = threading.Thread(target=self._session, args=(conn, transcript), daemon=True)
                self.threads.append(thread)
                thread.start()
            else:
                self._session(conn, transcript)
                self.done.set()
                return

    def _session(self, conn, transcript):
        try:
            _Conversation(self, conn, transcript).run()
        except OSError:
            pass
        finally:
            conn.close()

    def wait(self, timeout=30):
        self.done.wait(timeout)
        self.close()

    def settle(self, timeout=30):
        """With many=True: waits until every conversation so far has ended."""
        for thread in list(self.threads):
            thread.join(timeout)

    def close(self):
        self.stop_flood.set()
        try:
            # shutdown() wakes the thread blocked in accept(); close() alone
            # would leave the socket listening until the process ends.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class _Conversation:
    def __init__(self, server, conn, transcript):
        self.server = server
        self.conn = conn
        self.transcript = transcript
        self.pending = b""

    def _got(self, chunk):
        self.transcript += chunk
        with self.server.lock:
            self.server.received += chunk

    def _recv(self):
        chunk = self.conn.recv(65536)
        if chunk:
            self._got(chunk)
        return chunk

    def _read_until(self, marker, prefix=b""):
        """Consumes pending input through marker; False at end of stream."""
        data = bytearray(prefix + self.pending)
        # Search only what is new (and the marker's length before it): a
        # large message is read in linear time.
        start = 0
        while (index := data.find(marker, start)) < 0:
            start = max(0, len(data) - len(marker) + 1)
            chunk = self._recv()
            if not chunk:
                return None
            data += chunk
        index += len(marker)
        self.pending = bytes(data[index:])
        return bytes(data[:index])

    def _drain(self):
        self.conn.settimeout(30)
        while self._recv():
            pass

    def _act(self, item):
        """Returns False when the conversation is over."""
        if item == CLOSE:
            return False
        if item == HANG:
            self._drain()
            return False
        if isinstance(item, tuple) and item[0] == "sleep":
            time.sleep(item[1])
            self.conn.sendall(item[2])
            return True
        if isinstance(item, tuple) and item[0] == "tls-garbage":
            self.conn.sendall(b"this is not a TLS server hello\r\n" * 4)
            return False
        if isinstance(item, tuple) and item[0] == "partial":
            self.conn.sendall(item[1])
            return False
        if isinstance(item, tuple) and item[0] == "flood":
            try:
                while not self.server.stop_flood.is_set():
                    self.conn.sendall(item[1])
            except OSError:
                pass
            return False
        with self.server.lock:
            self.server.seen.append(len(self.transcript))
        self.conn.sendall(item)
        return True

    def run(self):
        scripts = self.server.scripts
        with self.server.lock:
            index = next(i for i, t in enumerate(self.server.transcripts) if t is self.transcript)
        replies = list(scripts[min(index, len(scripts) - 1)] if scripts else self.server.replies)
        if not replies or not self._act(replies.pop(0)):
            return
        last_command, last_code = b"", 999
        while replies:
            item = replies.pop(0)
            if last_command.upper().startswith(b"DATA") and last_code < 400:
                if isinstance(item, tuple) and item[0] == "after_bytes":
                    while len(self.pending) < item[1]:
                        chunk = self._recv()
                        if not chunk:
                            return
                        self.pending += chunk
                    self._act(item[2])
                    return
                # The data's own first line may be the dot: look from a line start.
                if self._read_until(b"\r\n.\r\n", prefix=b"\r\n") is None:
                    return
                last_command = b""
            else:
                line = self._read_until(b"\n")
                if line is None:
                    return
                last_command = line
                if isinstance(item, tuple) and item[0] == "gather":
                    for _ in range(item[1] - 1):
                        line = self._read_until(b"\n")
                        if line is None:
                            return
                        last_command = line
                    for piece in item[2]:
                        self.conn.sendall(piece)
                        time.sleep(0.05)
                    last_code = item[3]
                    continue
            if not self._act(item):
                return
            last_code = _code(item)
        self._drain()


def _code(item):
    if isinstance(item, tuple) and item[0] == "sleep":
        item = item[2]
    try:
        return int(item[:3])
    except (ValueError, TypeError):
        return 999
