"""kassa.gateway's clients: one kept per stored key, never outliving it, each thread on its own connection, through
the proxy the environment names (a real HTTP server stands for Stripe, another for a proxy)."""

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kassa import gateway
from merchants.services import processor_credential_set


class _Stripe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open, as Stripe does
    calls: list

    def do_GET(self):
        self.calls.append((self.headers["Authorization"], self.client_address[1]))
        body = json.dumps({"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Calls(list):
    """The calls a server received (authorization, client port), and the server's address."""

    url: str


@contextlib.contextmanager
def _serving():
    calls = _Calls()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Stripe,), {"calls": calls}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    calls.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stripe_calls(settings):
    with _serving() as calls:
        settings.STRIPE_API_BASE = calls.url
        yield calls


def test_calls_with_one_stored_key_share_a_connection_and_a_new_key_is_sent_at_once(shop, stripe_calls):
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_first")
    assert gateway.check_connection(credential)[0]
    assert gateway.check_connection(credential)[0]
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_second")
    assert gateway.check_connection(credential)[0]
    keys = [authorization for authorization, _port in stripe_calls]
    assert keys == ["Bearer sk_test_first", "Bearer sk_test_first", "Bearer sk_test_second"]
    ports = [port for _authorization, port in stripe_calls]
    assert ports[0] == ports[1]  # the same client, its connection kept open
    assert ports[2] != ports[0]  # the new key's own client


def test_a_key_of_the_other_mode_is_refused_however_often_it_is_asked_for(shop, stripe_calls):
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_first")
    credential.livemode = True  # as if the row were moved to live mode behind the services' back
    for _attempt in range(2):
        ok, message = gateway.check_connection(credential)
        assert not ok
        assert "do not belong to this mode" in message
    assert stripe_calls == []


@pytest.fixture
def proxy_calls():
    """An HTTP proxy: it is asked for whole URLs, records each call and answers as Stripe."""
    with _serving() as calls:
        yield calls


def test_the_proxy_the_environment_names_is_used_unless_no_proxy_names_the_processor(
    shop, stripe_calls, proxy_calls, monkeypatch
):
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_calls.url)
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_proxied")
    assert gateway.check_connection(credential)[0]
    assert gateway.check_connection(credential)[0]
    assert [key for key, _port in proxy_calls] == ["Bearer sk_test_proxied"] * 2
    assert stripe_calls == []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_direct")
    assert gateway.check_connection(credential)[0]
    assert [key for key, _port in stripe_calls] == ["Bearer sk_test_direct"]
    assert len(proxy_calls) == 2


def test_each_thread_calls_on_its_own_connection(shop, stripe_calls):
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_threads")
    assert gateway.check_connection(credential)[0]
    results = []
    thread = threading.Thread(target=lambda: results.append(gateway.check_connection(credential)[0]))
    thread.start()
    thread.join()
    assert gateway.check_connection(credential)[0]
    assert results == [True]
    ports = [port for _key, port in stripe_calls]
    assert ports[0] == ports[2]  # this thread's connection, kept
    assert ports[1] != ports[0]  # the other thread's own
