"""An HTTPS server for MTA-STS policies on a test address (port 443), with a
certificate from a private CA (trustme). It serves `policy` at
/.well-known/mta-sts.txt as text/plain, by Content-Length or in other
framings (chunked, until a clean close), or on demand a redirect, an
oversized body, another content type, nothing for `hang_seconds`, a body cut
short, one ended without TLS close_notify, or one trickled a byte at a time,
and counts the requests it got."""
import http.server
import socket
import ssl
import threading
import time

# Modes that serve the policy in a framing other than Content-Length, or spoil it.
FRAMINGS = ("chunked", "close", "unclean", "truncated", "drip")


class PolicyServer:
    def __init__(self, ca, name, host, port=443):
        self.policy = b""
        self.mode = "policy"          # "policy", "redirect", "huge", "html", "hang", or one of FRAMINGS
        self.hang_seconds = 3
        self.requests = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.requests.append((self.path, self.headers.get("Host")))
                    mode, policy = server.mode, server.policy
                if mode == "hang":
                    time.sleep(server.hang_seconds)
                if mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "https://elsewhere.test/.well-known/mta-sts.txt")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode in FRAMINGS:
                    self.send_framed(mode, policy)
                    return
                body = b"version: STSv1\r\n" + b"x" * (1 << 20) if mode == "huge" else policy
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_response(404)
                    body = b""
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "text/html" if mode == "html" else "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def send_framed(self, mode, policy):
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                try:
                    if mode == "chunked":
                        half = len(policy) // 2
                        self.wfile.write(head + b"Transfer-Encoding: chunked\r\n\r\n"
                                         + b"%x\r\n%s\r\n" % (half, policy[:half])
                                         + b"%x;ext=1\r\n%s\r\n0\r\n\r\n" % (len(policy) - half, policy[half:]))
                    elif mode in ("close", "unclean"):
                        self.wfile.write(head + b"\r\n" + policy)
                        self.wfile.flush()
                        if mode == "close":
                            self.connection.settimeout(5)
                            self.connection.unwrap()   # close_notify: the body is whole
                    elif mode == "truncated":
                        self.wfile.write(head + b"Content-Length: %d\r\n\r\n" % (len(policy) + 10) + policy)
                    else:   # drip: the header at once, then one byte of the body every 0.2 s
                        self.wfile.write(head + b"Content-Length: %d\r\n\r\n" % len(policy))
                        self.wfile.flush()
                        for index in range(len(policy)):
                            time.sleep(0.2)
                            self.wfile.write(policy[index:index + 1])
                            self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = True

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

            def server_bind(self):
                self.socket.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: any address of fd00::/64
                super().server_bind()

        self.httpd = Server((host, port), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(context)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, mode="enforce", mx=("mx.sts.test",), max_age=86400):
        lines = ["version: STSv1", f"mode: {mode}"] + [f"mx: {pattern}" for pattern in mx] + [f"max_age: {max_age}"]
        with self.lock:
            self.mode = "policy"
            self.policy = ("\r\n".join(lines) + "\r\n").encode()

    @property
    def fetches(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        """Stops serving (new connections are refused); safe to call twice."""
        if self.httpd is None:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd = None
