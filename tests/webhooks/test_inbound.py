"""Stripe → Kassa: ``/webhooks/stripe/<merchant>/<mode>/`` verifies, stores once, and settles payments.

Events are signed here exactly as Stripe signs them (HMAC-SHA256 of
``"<t>.<body>"`` with the endpoint's secret), and localstripe's own webhooks
are used end to end.
"""

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.utils import timezone

from billing.checkout import services as checkout
from billing.models import CheckoutSession, PaymentIntent
from billing.payments import services as payments
from merchants import services as merchant_services
from merchants.selectors import processor_events_url
from webhooks.models import Event, ProcessorEvent
from webhooks.services import inbound

SECRET = "whsec_test_inbound_secret"

pytestmark = pytest.mark.timeout(240)


def sign(body: bytes, secret: str = SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def stripe_event(event_id: str, type: str, object_id: str, *, livemode=False, created=None, status="succeeded"):
    body = {
        "id": event_id,
        "object": "event",
        "type": type,
        "livemode": livemode,
        "created": created or int(time.time()),
        "data": {"object": {"id": object_id, "object": "payment_intent", "status": status}},
    }
    return json.dumps(body).encode()


@pytest.fixture
def hooked_shop(paying_shop):
    merchant_services.processor_credential_set(
        merchant=paying_shop.merchant,
        livemode=False,
        secret_key="sk_test_paying_shop",
        publishable_key="pk_test_paying_shop",
        webhook_secret=SECRET,
    )
    return paying_shop


def post(live_server, merchant, body: bytes, signature: str | None, mode="test"):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return requests.post(
        f"{live_server.url}/webhooks/stripe/{merchant.public_id}/{mode}/", data=body, headers=headers, timeout=30
    )


def test_the_webhook_url_is_per_merchant_and_mode(hooked_shop, settings):
    settings.KASSA_PUBLIC_URL = "https://pay.example.com"
    url = processor_events_url(merchant=hooked_shop.merchant, livemode=False)
    assert url == f"https://pay.example.com/webhooks/stripe/{hooked_shop.merchant.public_id}/test/"
    assert processor_events_url(merchant=hooked_shop.merchant, livemode=True).endswith("/live/")


def test_signed_event_is_stored_and_acknowledged_at_once(live_server, hooked_shop):
    body = stripe_event("evt_1", "payment_intent.succeeded", "pi_unknown")
    response = post(live_server, hooked_shop.merchant, body, sign(body))
    assert response.status_code == 200
    assert response.json()["received"] is True
    stored = ProcessorEvent.objects.get()
    assert (stored.stripe_event_id, stored.type, stored.object_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_unknown",
    )
    assert stored.body.encode() == body  # the raw bytes Stripe signed
    assert stored.status == ProcessorEvent.Status.RECEIVED


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", 400),
        ("no header", 400),
        ("tampered body", 400),
        ("too old", 400),
        ("live event at the test endpoint", 400),
        ("unknown merchant", 404),
        ("unknown mode", 404),
        ("mode without a signing secret", 404),
    ],
)
def test_what_is_refused_is_stored_nowhere(live_server, hooked_shop, other_shop, case, expected):
    merchant = hooked_shop.merchant
    body = stripe_event("evt_bad", "payment_intent.succeeded", "pi_x")
    signature, mode = sign(body), "test"
    if case == "wrong secret":
        signature = sign(body, secret="whsec_someone_else")
    elif case == "no header":
        signature = None
    elif case == "tampered body":
        body = body.replace(b"pi_x", b"pi_y")
    elif case == "too old":
        signature = sign(body, at=int(time.time()) - 301)
    elif case == "live event at the test endpoint":
        body = stripe_event("evt_bad", "payment_intent.succeeded", "pi_x", livemode=True)
        signature = sign(body)
    elif case == "unknown merchant":
        merchant = type(merchant)(public_id="acct_doesnotexist")
    elif case == "unknown mode":
        mode = "staging"
    elif case == "mode without a signing secret":
        mode = "live"
    response = post(live_server, merchant, body, signature, mode=mode)
    assert response.status_code == expected, response.text
    assert "error" in response.json()
    assert not ProcessorEvent.objects.exists()
    # Another merchant's endpoint does not take this merchant's events either (its own secret or none).
    assert post(live_server, other_shop.merchant, body, sign(body)).status_code == 404


def test_the_same_event_50_times_at_once_is_stored_once(live_server, hooked_shop, caplog):
    body = stripe_event("evt_storm", "payment_intent.succeeded", "pi_storm")
    caplog.set_level(logging.INFO)
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda _: post(live_server, hooked_shop.merchant, body, sign(body)), range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert sum(1 for r in responses if not r.json()["duplicate"]) == 1  # exactly one request stored it
    assert ProcessorEvent.objects.filter(stripe_event_id="evt_storm").count() == 1
    assert "IntegrityError" not in caplog.text
    assert "UNIQUE constraint" not in caplog.text
    assert "duplicate key" not in caplog.text


def _pay_with_3ds(session, card_token, stripe_backend) -> PaymentIntent:
    """The payer confirms with a 3-D Secure card, authenticates at the bank, and closes the tab."""
    intent = checkout.checkout_session_pay(
        now=timezone.now(), session=session, token=card_token("4000002500003155"), email="p@example.com"
    )
    assert intent.status == "requires_action"
    stripe_backend.authenticate(intent.processor_id, payments.processor_client_secret(intent), success=True)
    return intent


def _session(shop):
    from billing.catalogue import services as catalogue

    price = catalogue.price_create(
        merchant=shop.merchant, livemode=False, currency="eur", unit_amount=1500, product_data={"name": "Tea"}
    )
    link = checkout.payment_link_create(
        merchant=shop.merchant, livemode=False, line_items=[{"price": price, "quantity": 1}]
    )
    return checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)


def test_out_of_order_and_hours_late_events_end_in_the_in_order_state(
    live_server, hooked_shop, card_token, stripe_backend, caplog
):
    session = _session(hooked_shop)
    intent = _pay_with_3ds(session, card_token, stripe_backend)
    hours_ago = int(time.time()) - 5 * 3600
    # Stripe sent requires_action first and succeeded after; they arrive the other way round, and the
    # requires_action one hours late (re-signed now, as Stripe's retries are).
    succeeded = stripe_event("evt_succeeded", "payment_intent.succeeded", intent.processor_id)
    late = stripe_event(
        "evt_requires_action",
        "payment_intent.requires_action",
        intent.processor_id,
        created=hours_ago,
        status="requires_action",
    )
    caplog.set_level(logging.INFO)
    for body in (succeeded, late, succeeded, late):  # and each one twice
        assert post(live_server, hooked_shop.merchant, body, sign(body)).status_code == 200
    assert ProcessorEvent.objects.count() == 2
    for event in ProcessorEvent.objects.order_by("id"):
        processed = inbound.processor_event_process(event_pk=event.pk)
        assert processed.status == ProcessorEvent.Status.SUCCEEDED, processed.traceback
    intent.refresh_from_db()
    session.refresh_from_db()
    assert intent.status == "succeeded"  # never back to requires_action
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert "is succeeded" in ProcessorEvent.objects.get(stripe_event_id="evt_requires_action").result
    # Applying again (a retried task) changes nothing and records nothing new.
    assert inbound.processor_event_process(event_pk=ProcessorEvent.objects.first().pk) is None
    assert intent.timeline.filter(kind="succeeded").count() == 1
    # And the merchant hears about it once.
    assert Event.objects.filter(type="payment_intent.succeeded", data__object__id=intent.public_id).count() == 1
    assert "IntegrityError" not in caplog.text


def test_a_failing_event_is_recorded_with_its_traceback_retried_and_rerun(hooked_shop, stripe_backend, settings):
    body = stripe_event("evt_fail", "payment_intent.succeeded", "pi_unknown_to_stripe")
    event, stored_now = inbound.processor_event_receive(
        merchant_id=hooked_shop.merchant.public_id, mode="test", body=body, signature=sign(body)
    )
    assert stored_now
    failed = inbound.processor_event_process(event_pk=event.pk)
    assert failed.status == ProcessorEvent.Status.FAILED
    assert "ProcessorError" in failed.error
    assert "Traceback" in failed.traceback
    assert failed.attempts == 1
    assert failed.next_retry_at is not None  # backoff: retried later by the sweeper
    assert 25 <= (failed.next_retry_at - failed.processed_at).total_seconds() <= 35
    # A duplicate task before the retry time does nothing: the backoff holds.
    assert inbound.processor_event_process(event_pk=event.pk) is None
    ProcessorEvent.objects.filter(pk=event.pk).update(next_retry_at=failed.processed_at)  # the time has come
    again = inbound.processor_event_process(event_pk=event.pk)
    assert (again.status, again.attempts) == (ProcessorEvent.Status.FAILED, 2)
    assert 55 <= (again.next_retry_at - again.processed_at).total_seconds() <= 65
    # Re-run from the dashboard: back to received, and applied again by a task.
    rerun = inbound.processor_event_retry(event=again)
    assert rerun.status == ProcessorEvent.Status.RECEIVED


def test_localstripe_webhook_settles_a_payment_whose_payer_left(
    live_server, hooked_shop, card_token, stripe_backend, worker_factory, receiver, settings
):
    """The loop: localstripe → Kassa's endpoint → a real worker → payment and session settled → merchant's server."""
    from webhooks.services import endpoints

    settings.KASSA_PUBLIC_URL = live_server.url
    url = processor_events_url(merchant=hooked_shop.merchant, livemode=False)
    stripe_backend.register_webhook("kassa-inbound-test", url, SECRET)
    try:
        endpoints.webhook_endpoint_create(
            merchant=hooked_shop.merchant,
            livemode=False,
            url=receiver.plan("/merchant"),
            enabled_events=["checkout.session.completed"],
        )
        worker_factory()
        session = _session(hooked_shop)
        intent = _pay_with_3ds(session, card_token, stripe_backend)  # and nobody asks Kassa to look again

        def settled():
            # The handler commits the payment before the worker marks the event applied: wait for both.
            applied = ProcessorEvent.objects.filter(
                type="payment_intent.succeeded",
                object_id=intent.processor_id,
                status=ProcessorEvent.Status.SUCCEEDED,
            ).exists()
            return applied and PaymentIntent.objects.get(pk=intent.pk).status == "succeeded"

        deadline = time.monotonic() + 60
        while not settled():
            assert time.monotonic() < deadline, list(ProcessorEvent.objects.values("type", "status", "error"))
            time.sleep(0.2)
        assert CheckoutSession.objects.get(pk=session.pk).status == "complete"
        receiver.wait_for(lambda: receiver.received("/merchant"), what="checkout.session.completed")
        payload = json.loads(receiver.received("/merchant")[0].body)
        assert payload["type"] == "checkout.session.completed"
        assert payload["data"]["object"]["id"] == session.public_id
        assert payload["data"]["object"]["payment_status"] == "paid"
    finally:
        stripe_backend.unregister_webhook("kassa-inbound-test")


def test_a_malformed_content_length_is_a_400_not_a_crash(live_server, hooked_shop):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", f"/webhooks/stripe/{hooked_shop.merchant.public_id}/test/")
    connection.putheader("Content-Length", "abc")
    connection.endheaders()
    assert connection.getresponse().status == 400
    assert not ProcessorEvent.objects.exists()


@pytest.mark.parametrize(
    "data",
    [[1, 2], "text", 7, None, {"object": [1]}, {"object": "pi_1"}],
    ids=["data-list", "data-string", "data-number", "data-null", "object-list", "object-string"],
)
def test_a_signed_event_whose_data_is_not_an_object_is_a_400(live_server, hooked_shop, data):
    body = json.dumps(
        {"id": "evt_odd", "object": "event", "type": "payment_intent.succeeded", "livemode": False, "data": data}
    ).encode()
    response = post(live_server, hooked_shop.merchant, body, sign(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "event_invalid"
    assert not ProcessorEvent.objects.exists()
