"""An HTTPS server for MTA-STS policies on a test address (port 443), with a
certificate from a private CA (trustme). It serves `policy` at
/.well-known/mta-sts.txt as text/plain, or on demand a redirect, an oversized
body, another content type, or nothing for `hang_seconds`, and counts the
requests it got."""
import http.server
import ssl
import threading
import time


class PolicyServer:
    def __init__(self, ca, name, host, port=443):
        self.policy = b""
        self.mode = "policy"          # "policy", "redirect", "huge", "html", "hang"
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

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
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
