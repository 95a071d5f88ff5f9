"""kassa.gateway's clients: one kept per stored key, never outliving it, its connections kept and shared by threads,
through the proxy the environment names, a lost connection retried and an untrusted certificate refused (a real HTTP
server stands for Stripe, another for a proxy; a socket that hangs up, a TLS server nobody trusts)."""

import contextlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kassa import gateway
from merchants.services import processor_credential_set
from tests.tls import accepting, self_signed_tls_server


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

    def do_POST(self):
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.calls.append((self.path, self.headers["Idempotency-Key"], {k: v[0] for k, v in form.items()}))
        if form["amount"] == ["402"]:  # a refusal, as Stripe answers a declined confirm
            error = {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}
            error |= {"message": "Your card has insufficient funds.", "payment_intent": {"id": "pi_refused"}}
            status, data = 402, {"error": error}
        else:
            status, data = (
                200,
                {
                    "id": "pi_made",
                    "object": "payment_intent",
                    "amount": int(form["amount"][0]),
                    "amount_received": int(form["amount"][0]),
                    "status": "succeeded",
                    "client_secret": "pi_made_secret_x",
                    "latest_charge": {"id": "ch_made", "object": "charge"},
                    "metadata": {k[9:-1]: v[0] for k, v in form.items() if k.startswith("metadata[")},
                },
            )
        body = json.dumps(data).encode()
        self.send_response(status)
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


def test_a_confirm_sends_its_parameters_under_its_idempotency_key_and_reads_both_answers(shop, stripe_calls):
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_confirm")
    asked = {"currency": "eur", "customer_id": "cus_1", "payment_method_id": "card_1", "kassa_id": "pi_kassa"}
    paid = gateway.payment_intent_confirm(
        credential, amount=1250, idempotency_key="attempt_a", attempt_id="attempt_a", off_session=True, **asked
    )
    refused = gateway.payment_intent_confirm(
        credential, amount=402, idempotency_key="attempt_b", attempt_id="attempt_b", **asked
    )
    (path, key, form), (_path, refused_key, _form) = stripe_calls
    assert (path, key, refused_key) == ("/v1/payment_intents", "attempt_a", "attempt_b")
    assert form == {
        "amount": "1250",
        "currency": "eur",
        "customer": "cus_1",
        "payment_method": "card_1",
        "confirm": "true",
        "off_session": "true",
        "metadata[kassa_payment_intent]": "pi_kassa",
        "metadata[kassa_attempt]": "attempt_a",
    }
    assert paid == gateway.ProcessorPayment(
        id="pi_made",
        status="succeeded",
        client_secret="pi_made_secret_x",
        latest_charge="ch_made",
        amount_received=1250,
        kassa_id="pi_kassa",
        attempt_id="attempt_a",
    )
    assert (refused.id, refused.status, refused.error_code, refused.decline_code) == (
        "pi_refused",
        "failed",
        "card_declined",
        "insufficient_funds",
    )


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


def test_threads_calling_at_once_share_the_clients_kept_connections(shop, stripe_calls):
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_threads")
    results = []
    start = threading.Barrier(2)

    def calls():
        start.wait()
        results.extend(gateway.check_connection(credential)[0] for _call in range(20))

    threads = [threading.Thread(target=calls) for _thread in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 40
    assert len(stripe_calls) == 40
    assert len({port for _key, port in stripe_calls}) <= 2  # at most one connection a thread, each kept


@pytest.fixture
def hang_ups(settings):
    """A processor that reads each request and hangs up without answering; the requests it read."""
    requests = []

    def hang_up(conn):
        with conn:
            requests.append(conn.recv(65536).split(b"\r\n", 1)[0])

    listener = accepting(hang_up)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    yield requests
    listener.close()


def test_a_call_whose_connection_is_lost_is_made_again_as_stripe_python_retries_it(shop, hang_ups):
    credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_hang_up")
    ok, message = gateway.check_connection(credential)
    assert not ok
    assert message == "Could not reach Stripe (APIConnectionError)."
    assert hang_ups == [b"GET /v1/customers?limit=1 HTTP/1.1"] * 3  # the call and stripe-python's two retries


def test_a_processor_whose_certificate_is_not_trusted_is_refused_and_never_asked_again(shop, settings, tmp_path):
    listener, handshakes = self_signed_tls_server(tmp_path / "server.pem")
    settings.STRIPE_API_BASE = f"https://localhost:{listener.getsockname()[1]}"
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    try:
        credential = processor_credential_set(merchant=shop.merchant, livemode=False, secret_key="sk_test_untrusted")
        ok, message = gateway.check_connection(credential)
    finally:
        listener.close()
    assert not ok
    assert message == "Could not reach Stripe (APIConnectionError)."
    # The call (stripe-python's retries included) is over; the server may still be recording the refusal it saw.
    deadline = time.monotonic() + 5
    while not handshakes and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # and any connection after it, had there been one
    assert len(handshakes) == 1  # refused once, not retried
    assert "ok" not in handshakes  # the key was never sent
