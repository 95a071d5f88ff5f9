"""Run localstripe (a fake Stripe server) as a child process Kassa controls.

What we know of localstripe 1.15.10 (DESIGN.md): it pickles its whole store
to the fixed path ``/tmp/localstripe.pickle`` after every write and reloads
it at start, and it listens on every interface. So this harness runs it in a
child process that

- binds to 127.0.0.1 only, on a free port chosen by the kernel (the child
  prints it; no race between picking a port and binding it);
- keeps its state in its own file (``--state``, for ``make run``: the demo
  data survives a restart) or nowhere (tests: every run starts empty, and
  ``reset()`` empties it between tests);

and the parent waits until it answers, then stops it on exit.

Usage: ``python -m kassa.localstripe_harness [--port N] [--state FILE]``,
or ``LocalStripe().start()`` from Python.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

READY_PREFIX = "localstripe listening on port "


class LocalStripe:
    def __init__(self, *, port: int = 0, state_file: str | os.PathLike | None = None):
        self.port = port
        self.state_file = str(state_file) if state_file else ""
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        # The trailing slash matters: localstripe serves its Stripe.js mock only there.
        return f"{self.url}/js.stripe.com/v3/"

    def start(self, timeout: float = 30) -> LocalStripe:
        command = [sys.executable, "-m", "kassa.localstripe_harness", "--port", str(self.port)]
        if self.state_file:
            command += ["--state", self.state_file]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
        )
        line = self.process.stdout.readline()
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise RuntimeError(f"localstripe did not start: {line!r}")
        self.port = int(line[len(READY_PREFIX) :])
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/v1/customers?limit=1")
                return self
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("localstripe did not answer in time") from None
                time.sleep(0.1)

    def request(self, method: str, path: str, data: dict | None = None) -> bytes:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Authorization", "Bearer sk_test_harness")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def reset(self) -> None:
        """Empty every object (registered webhooks survive, as localstripe does)."""
        self.request("DELETE", "/_config/data")

    def register_webhook(self, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
        payload = {"url": url, "secret": secret}
        if events is not None:
            payload["events"] = events
        self.request("POST", f"/_config/webhooks/{name}", payload)

    def unregister_webhook(self, name: str) -> None:
        """localstripe cannot delete a webhook: this one is left listening for an event type that never comes."""
        self.register_webhook(name, "http://127.0.0.1:9/", "whsec_unused", events=["kassa.never"])

    def authenticate(self, payment_intent_id: str, client_secret: str, *, success: bool) -> None:
        """What the 3-D Secure dialog of localstripe's Stripe.js mock does when the payer clicks."""
        query = urllib.parse.urlencode({"client_secret": client_secret, "success": "true" if success else "false"})
        self.request("POST", f"/v1/payment_intents/{payment_intent_id}/_authenticate?{query}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _use_state_file(path: str) -> None:
    """Point localstripe's store at ``path`` (or at nothing) instead of /tmp/localstripe.pickle."""
    from localstripe import resources  # noqa: PLC0415 - a development dependency, absent in production

    def load(store):
        if path and Path(path).exists():
            try:
                with open(path, "rb") as f:
                    old = pickle.load(f)
                store.clear()
                store.update(old)
            except Exception as exc:  # noqa: BLE001 - a broken state file means starting empty
                print(f"localstripe: ignoring unreadable state file {path}: {exc}", file=sys.stderr)

    def dump(store):
        if not path:
            return
        directory = os.path.dirname(os.path.abspath(path))
        with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False) as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f.name, path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump


def serve(port: int, state_file: str, webhooks_file: str = "") -> None:
    _use_state_file(state_file)
    from aiohttp import web  # noqa: PLC0415 - localstripe's, a development dependency
    from localstripe import resources, server, webhooks  # noqa: PLC0415 - as above

    resources.store.try_load_from_disk()
    if webhooks_file and Path(webhooks_file).exists():
        # {"name": {"url": ..., "secret": ..., "events": [...] | null}}: where localstripe sends its
        # events (make run: the demo merchant's /webhooks/stripe/<merchant>/test/).
        for name, hook in json.loads(Path(webhooks_file).read_text()).items():
            webhooks.register_webhook(name, hook["url"], hook["secret"], hook.get("events"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    print(f"{READY_PREFIX}{sock.getsockname()[1]}", flush=True)
    web.run_app(server.app, sock=sock, print=None, access_log=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", default="", help="state file; empty keeps nothing on disk")
    parser.add_argument("--webhooks", default="", help="JSON file of webhooks to register at start")
    args = parser.parse_args()
    serve(args.port, args.state, args.webhooks)


if __name__ == "__main__":
    main()
