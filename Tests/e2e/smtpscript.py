"""A scripted SMTP server on loopback for the end-to-end tests.

It sends a greeting, then one scripted reply per command line it reads; after
a DATA that it answered below 400 it reads the message up to CRLF.CRLF and
sends the next reply for it. It records every byte it received, so tests can
compare the wire byte for byte. Script items: bytes (sent as they are),
CLOSE (drop the connection), HANG (send nothing, wait for the client to go),
("after_bytes", n, item) to act after reading n bytes of the message, or
("flood", line) to send line forever, or ("partial", data) to send data and
close.
"""
import socket
import threading

CLOSE = "close"
HANG = "hang"


class ScriptedSMTPServer:
    def __init__(self, replies, host="127.0.0.1", port=0, family=socket.AF_INET, many=False):
        self.replies = list(replies)
        self.many = many
        self.stop_flood = threading.Event()
        self.received = bytearray()
        self.connections = 0
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                self.done.set()
                return
            self.connections += 1
            try:
                self._converse(conn)
            except OSError:
                pass
            finally:
                conn.close()
                if not self.many:
                    self.done.set()
                    return

    def _read_until(self, conn, pending, marker):
        while marker not in pending:
            chunk = conn.recv(65536)
            if not chunk:
                return None, pending
            self.received += chunk
            pending += chunk
        index = pending.index(marker) + len(marker)
        return pending[:index], pending[index:]

    def _drain(self, conn):
        conn.settimeout(30)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            self.received += chunk

    def _act(self, conn, item):
        """Returns False when the conversation is over."""
        if item == CLOSE:
            return False
        if item == HANG:
            self._drain(conn)
            return False
        if isinstance(item, tuple) and item[0] == "partial":
            conn.sendall(item[1])
            return False
        if isinstance(item, tuple) and item[0] == "flood":
            try:
                while not self.stop_flood.is_set():
                    conn.sendall(item[1])
            except OSError:
                pass
            return False
        conn.sendall(item)
        return True

    def _converse(self, conn):
        replies = list(self.replies)
        pending = b""
        if not replies or not self._act(conn, replies.pop(0)):
            return
        last_command = b""
        while replies:
            if last_command.upper().startswith(b"DATA") and self._last_code < 400:
                item = replies.pop(0)
                if isinstance(item, tuple) and item[0] == "after_bytes":
                    while len(pending) < item[1]:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        self.received += chunk
                        pending += chunk
                    self._act(conn, item[2])
                    return
                # The data's own first line may be the dot: look from a line start.
                body, pending = self._read_until(conn, b"\r\n" + pending, b"\r\n.\r\n")
                if body is None:
                    return
                last_command = b""
            else:
                line, pending = self._read_until(conn, pending, b"\n")
                if line is None:
                    return
                last_command = line
                item = replies.pop(0)
            if not self._act(conn, item):
                return
            self._last_code = _code(item)
        self._drain(conn)

    _last_code = 999

    def wait(self, timeout=30):
        self.done.wait(timeout)
        self.close()

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


def _code(item):
    try:
        return int(item[:3])
    except (ValueError, TypeError):
        return 999
