"""A Slack-style incoming webhook on 127.0.0.1 that records what it is sent."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_PATH = "/services/T0TEST/B0TEST/s3cr3t-webhook-token"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass

    def do_POST(self):
        receiver: WebhookReceiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        time.sleep(receiver.delay_seconds)
        with receiver.lock:
            receiver.attempts.append(self.path)
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            if status == 200:
                receiver.posts.append(json.loads(body))
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"error")


class WebhookReceiver:
    """`statuses` scripts the answers to the next posts (then 200); `posts` keeps the bodies
    answered with 200, `attempts` every request path; `delay_seconds` makes it a slow one."""

    def __init__(self, delay_seconds: float = 0.0):
        self.delay_seconds = delay_seconds
        self.posts: list[dict] = []
        self.attempts: list[str] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.receiver = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.url_for(SECRET_PATH)

    def url_for(self, path: str, host: str | None = None) -> str:
        """A URL of this receiver as a user might configure it: any host naming 127.0.0.1
        (`LocalHost`), any path (spaces, non-ASCII) left unencoded."""
        bound_host, port = self._httpd.server_address[:2]
        return f"http://{host or bound_host}:{port}{path}"

    @property
    def texts(self) -> list[str]:
        with self.lock:
            return [post["text"] for post in self.posts]

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
