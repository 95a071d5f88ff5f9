"""Why an attempt got no answer, told apart with real sockets: refused, DNS, TLS, connect and read timeouts.

Each test makes the failure for real on loopback (a closed port, a listener
whose queue is full, a receiver that hangs, a TLS server with a self-signed
certificate, a name under ``.invalid``) and runs the delivery service as a
worker does. What it checks is what the merchant reads on the attempt: the
kind of failure and how long the attempt really took.
"""

import socket

import pytest

from tests.tls import self_signed_tls_server
from webhooks.models import DeliveryAttempt, WebhookEndpoint
from webhooks.services import delivery, endpoints

pytestmark = pytest.mark.timeout(60)


def _attempt(shop, url: str) -> DeliveryAttempt:
    """One delivery attempt of a test event to ``url``, made by the delivery service."""
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    assert delivery.endpoint_deliver(endpoint_pk=endpoint.pk) == 1
    return DeliveryAttempt.objects.get(delivery__endpoint=endpoint)


def _closed_port() -> int:
    """A loopback port that was just in use and now has nobody listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_closed_port_is_connection_refused_not_a_timeout(shop, settings):
    settings.KASSA_WEBHOOK_TIMEOUT = 2
    port = _closed_port()
    attempt = _attempt(shop, f"http://127.0.0.1:{port}/hook")
    assert attempt.error == f"Connection refused: nothing accepts connections on 127.0.0.1:{port}"
    assert "timed out" not in attempt.error.lower()
    assert (attempt.status_code, attempt.succeeded) == (None, False)
    assert attempt.duration_ms < 1000  # refused at once, not after the 2 s timeout


def test_a_listener_that_never_accepts_is_a_connect_timeout(shop, settings):
    """A listener whose accept queue is full: the kernel drops the SYN, so the connection never completes."""
    settings.KASSA_WEBHOOK_TIMEOUT = 0.5
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    try:
        for _ in range(8):  # fill the queue until a connection no longer completes
            sock = socket.socket()
            sock.settimeout(0.3)
            queued.append(sock)
            try:
                sock.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.fail("the listen queue never filled up")
        attempt = _attempt(shop, f"http://127.0.0.1:{port}/hook")
    finally:
        for sock in queued:
            sock.close()
        listener.close()
    assert attempt.error == f"Connect timeout: 127.0.0.1:{port} did not accept the connection within 0.5 s"
    assert 450 <= attempt.duration_ms < 2000


def test_a_receiver_that_does_not_answer_in_time_is_a_read_timeout(shop, settings, receiver):
    settings.KASSA_WEBHOOK_TIMEOUT = 0.5
    url = receiver.plan("/slow", hang=3)
    attempt = _attempt(shop, url)
    port = receiver.server.server_address[1]
    assert attempt.error == f"Read timeout: connected to 127.0.0.1:{port}, but no answer within 0.5 s"
    assert 450 <= attempt.duration_ms < 2000
    assert len(receiver.received("/slow")) == 1  # the request arrived; only the answer was late


def test_a_name_without_an_address_is_a_dns_failure(shop):
    attempt = _attempt(shop, "http://kassa-webhook-test.invalid/hook")  # .invalid never resolves (RFC 6761)
    assert attempt.error.startswith("DNS lookup failed")
    assert "kassa-webhook-test.invalid" in attempt.error


def test_an_untrusted_certificate_is_a_tls_error(shop, tmp_path):
    listener, handshakes = self_signed_tls_server(tmp_path / "server.pem")
    port = listener.getsockname()[1]
    try:
        attempt = _attempt(shop, f"https://localhost:{port}/hook")
    finally:
        listener.close()
    assert attempt.error.startswith(f"TLS error with localhost:{port}: the certificate is not trusted")
    assert "self-signed" in attempt.error or "self signed" in attempt.error
    assert "ok" not in handshakes  # Kassa refused the handshake; no event went out


def test_https_to_a_plain_http_receiver_is_a_tls_error(shop, receiver):
    receiver.plan("/plain")
    port = receiver.server.server_address[1]
    attempt = _attempt(shop, f"https://127.0.0.1:{port}/plain")
    assert attempt.error.startswith(f"TLS error with 127.0.0.1:{port}: ")
    assert attempt.duration_ms < 1000


def test_the_dashboard_shows_the_failure_and_how_long_it_took(shop, client, settings):
    settings.KASSA_WEBHOOK_TIMEOUT = 2
    port = _closed_port()
    attempt = _attempt(shop, f"http://127.0.0.1:{port}/hook")
    client.force_login(shop.owner)
    page = client.get(f"/admin/webhooks/webhookendpoint/{attempt.delivery.endpoint.pk}/change/")
    assert f"Connection refused: nothing accepts connections on 127.0.0.1:{port}" in page.text
    assert "Timed out" not in page.text


def test_a_failed_deliverys_retry_is_queued_only_once_the_endpoint_is_free_again(shop, receiver, monkeypatch):
    """The retry task of a failed delivery finds the endpoint's lease released: queued before the release, a worker
    quick to run it (or a sending one slow to release) turned it away, and the retry waited for the sweeper."""
    url = receiver.plan("/down", fail_first=1, status=503)
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    queued = []

    def kick(endpoint_pk, *, countdown=None):  # the broker's side: what the retry task would find when it runs
        lease = WebhookEndpoint.objects.get(pk=endpoint_pk).delivering_until
        queued.append((endpoint_pk, countdown, lease))

    monkeypatch.setattr(delivery, "endpoint_kick", kick)
    assert delivery.endpoint_deliver(endpoint_pk=endpoint.pk) == 1
    assert queued == [(endpoint.pk, 1.0, None)]  # KASSA_WEBHOOK_RETRY_SCHEDULE_TEST's first step, lease free
    assert delivery.endpoint_deliver(endpoint_pk=endpoint.pk) == 0  # not due yet: the retry task's job, a second on
