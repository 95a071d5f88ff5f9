"""A merchant's webhook receiver on loopback, for tests: a real HTTP server in a thread.

Each path behaves as told (``receiver.plan("/a", fail_first=3)``): answer
``status`` for the first ``fail_first`` requests, then 200; or hang for
``hang`` seconds before answering. Every request is recorded with its
headers, body and the moment it arrived.
"""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Plan:
    fail_first: int = 0
    status: int = 500
    headers: dict = field(default_factory=dict)
    hang: float = 0.0
    body: str = "ok"


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float
    answered: int
    client_port: int = 0


class Receiver:
    def __init__(self, *, keep_alive: bool = False):
        self.plans: dict[str, Plan] = {}
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps the connection open between requests; HTTP/1.0 (the default) closes it after each.
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.monotonic()
                with receiver.lock:
                    plan = receiver.plans.get(self.path, Plan())
                    n = receiver.counts[self.path] = receiver.counts.get(self.path, 0) + 1
                failing = n <= plan.fail_first
                status = plan.status if failing else 200
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers), body, arrived, status, self.client_address[1])
                    )
                if plan.hang:
                    time.sleep(plan.hang)
                payload = (plan.body if not failing else f"failing {n}").encode()
                try:
                    self.send_response(status)
                    for name, value in (plan.headers if failing else {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def plan(self, path: str, **kwargs) -> str:
        self.plans[path] = Plan(**kwargs)
        return self.url + path

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "the receiver") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
