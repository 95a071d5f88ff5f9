"""Outbound webhooks with a real Celery worker process on the configured broker (Redis in CI's second run).

The receiver is a real HTTP server on loopback (test mode allows loopback in
development settings). Each test waits on what a merchant's server sees.
"""

import json
import time
from datetime import timedelta

import pytest
import standardwebhooks
import stripe

from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.services import delivery

pytestmark = pytest.mark.timeout(240)


def _ids(requests, status=200) -> list[str]:
    return [json.loads(r.body)["id"] for r in requests if r.answered == status]


def _wait(predicate, timeout=90.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_worker_delivers_each_event_once_through_failures_signed_both_ways(worker_factory, receiver, shop, kassa):
    client = kassa(shop.secret_key.secret)
    url = receiver.plan("/hooks", fail_first=3, status=503, body="down for maintenance")
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": url, "enabled_events": ["customer.created", "product.created"], "description": "shop server"}
    )
    assert endpoint.secret.startswith("whsec_")
    worker = worker_factory()

    customers = [client.v1.customers.create(params={"email": f"c{i}@example.com"}) for i in range(5)]
    product = client.v1.products.create(params={"name": "Tea"})
    client.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 500})  # not listened for

    _wait(lambda: len(set(_ids(receiver.received("/hooks")))) == 6, what="six delivered events")
    _wait(lambda: not Delivery.objects.filter(status=Delivery.Status.PENDING).exists(), what="deliveries recorded")
    assert worker.alive(), worker.output()
    requests = receiver.received("/hooks")
    delivered = _ids(requests)
    assert len(delivered) == len(set(delivered)) == 6, "exactly one successful delivery per event"
    assert len([r for r in requests if r.answered == 503]) == 3

    # What arrived is what the API says happened, in Stripe's event shape.
    objects = {}
    for request in requests:
        # Stripe's SDK accepts the signature; a wrong secret would not.
        event = stripe.Webhook.construct_event(
            request.body.decode(), request.headers["Stripe-Signature"], endpoint.secret
        )
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(request.body.decode(), request.headers["Stripe-Signature"], "whsec_other")
        # And so does a Standard Webhooks library, with the same secret.
        payload = standardwebhooks.Webhook(endpoint.secret).verify(request.body, request.headers)
        assert payload["id"] == event.id == request.headers["webhook-id"]
        objects[event.id] = payload
    by_type = {}
    for payload in objects.values():
        by_type.setdefault(payload["type"], []).append(payload["data"]["object"]["id"])
    assert sorted(by_type["customer.created"]) == sorted(c.id for c in customers)
    assert by_type["product.created"] == [product.id]
    sample = next(p for p in objects.values() if p["type"] == "product.created")
    assert sample["object"] == "event"
    assert sample["livemode"] is False
    assert sample["data"]["object"] == client.v1.products.retrieve(product.id).to_dict()
    assert sample["request"]["id"].startswith("req_")
    assert sample["request"]["idempotency_key"]  # stripe-python sends one with every POST

    # Every attempt is written down: 3 failures with their status and body, 6 successes.
    attempts = DeliveryAttempt.objects.filter(delivery__endpoint__public_id=endpoint.id)
    assert attempts.filter(succeeded=False, status_code=503, response_body__startswith="failing").count() == 3
    assert attempts.filter(succeeded=True, status_code=200).count() == 6
    assert all(a.duration_ms >= 0 and a.started_at for a in attempts)
    # The API's events say nothing is left to deliver.
    listed = client.v1.events.list(params={"type": "customer.created", "limit": 100})
    assert {e.data.object.id for e in listed.data} == {c.id for c in customers}
    assert all(e.pending_webhooks == 0 for e in listed.data)


def test_a_killed_worker_loses_no_delivery(worker_factory, receiver, shop, kassa):
    """SIGKILL mid-batch (process group: parent and pool); a new worker with beat's sweeper delivers the rest."""
    client = kassa(shop.secret_key.secret)
    url = receiver.plan("/slow", hang=0.3)
    client.v1.webhook_endpoints.create(params={"url": url, "enabled_events": ["*"]})
    first = worker_factory()
    customers = [client.v1.customers.create(params={"email": f"k{i}@example.com"}) for i in range(12)]
    _wait(lambda: len(receiver.received("/slow")) >= 3, what="the first deliveries")
    first.kill()
    got_before_kill = len(receiver.received("/slow"))
    assert got_before_kill < 12, "the batch finished before the kill; the test proves nothing"

    worker_factory(beat=True)  # beat sweeps every 2 s in tests (KASSA_WEBHOOK_SWEEP_SECONDS)
    expected = {c.id for c in customers}

    def all_delivered():
        seen = {json.loads(r.body)["data"]["object"]["id"] for r in receiver.received("/slow") if r.answered == 200}
        return expected <= seen

    _wait(all_delivered, timeout=120, what="every event after the restart")
    _wait(lambda: not Delivery.objects.filter(status=Delivery.Status.PENDING).exists(), what="deliveries recorded")
    assert Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count() == 12


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_hanging_endpoint_does_not_hold_up_another_merchant(
    worker_factory, receiver, shop, other_shop, kassa, concurrency
):
    """Merchant A's receiver hangs past the timeout; merchant B's events arrive while A is still hanging.

    With two worker processes A holds one (its lease) and B uses the other; with one, A's failed
    attempt pauses A until its retry, so B waits for at most one of A's timeouts, not one per event.
    """
    slow = kassa(shop.secret_key.secret)
    fast = kassa(other_shop.secret_key.secret)
    slow.v1.webhook_endpoints.create(params={"url": receiver.plan("/hang", hang=30), "enabled_events": ["*"]})
    fast.v1.webhook_endpoints.create(params={"url": receiver.plan("/fast"), "enabled_events": ["*"]})
    worker_factory(concurrency=concurrency)
    for i in range(6):
        slow.v1.customers.create(params={"email": f"a{i}@example.com"})
    _wait(lambda: receiver.received("/hang"), what="A's first delivery")
    started = time.monotonic()
    for i in range(3):
        fast.v1.customers.create(params={"email": f"b{i}@example.com"})
    _wait(lambda: len(_ids(receiver.received("/fast"))) == 3, timeout=60, what="B's deliveries")
    waited = time.monotonic() - started
    # A's endpoint holds one worker slot at most (its lease), so B never waits for A's timeouts.
    assert len(receiver.received("/hang")) <= 2
    assert waited < 6 * 2, f"B waited {waited:.1f} s: as long as A's six timeouts"


def test_retry_after_postpones_the_retry(db, receiver, shop):
    from webhooks.services import endpoints

    url = receiver.plan("/busy", fail_first=1, status=429, headers={"Retry-After": "120"})
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    pending = Delivery.objects.get(endpoint=endpoint)
    assert pending.status == Delivery.Status.PENDING
    wait = (pending.next_attempt_at - pending.attempts.get().started_at).total_seconds()
    assert 115 <= wait <= 125  # the receiver's 120 s, not the test schedule's 1 s


def test_a_redirect_is_a_failure_and_is_not_followed(db, receiver, shop):
    from webhooks.services import endpoints

    target = receiver.plan("/target")
    url = receiver.plan("/moved", fail_first=99, status=301, headers={"Location": target})
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    attempt = DeliveryAttempt.objects.get(delivery__endpoint=endpoint)
    assert (attempt.status_code, attempt.succeeded) == (301, False)
    assert receiver.received("/target") == []


def test_410_gone_disables_the_endpoint_and_emails_the_owner(
    db, receiver, shop, mailoutbox, django_capture_on_commit_callbacks
):
    from webhooks.services import endpoints

    url = receiver.plan("/gone", fail_first=99, status=410)
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        endpoints.webhook_endpoint_send_test(endpoint=endpoint)
        delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert "410" in endpoint.disabled_reason
    assert [m.to for m in mailoutbox] == [[shop.owner.email]]
    assert endpoint.url in mailoutbox[0].subject


def test_an_endpoint_failing_for_the_whole_schedule_is_disabled(db, receiver, shop, mailoutbox, settings):
    from django.utils import timezone

    from webhooks.services import endpoints

    settings.KASSA_WEBHOOK_RETRY_SCHEDULE = {"live": [0], "test": [0, 0]}
    url = receiver.plan("/dead", fail_first=99, status=500)
    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    for _ in range(3):
        Delivery.objects.filter(endpoint=endpoint).update(next_attempt_at=timezone.now())
        delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    failed = Delivery.objects.get(endpoint=endpoint)
    assert (failed.status, failed.attempt_count) == (Delivery.Status.FAILED, 3)  # the first try and two retries
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert "No delivery succeeded" in endpoint.disabled_reason


def test_during_a_roll_both_secrets_sign(db, receiver, shop):
    from webhooks.services import endpoints

    url = receiver.plan("/roll")
    endpoint, old = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=url, enabled_events=["*"]
    )
    new = endpoints.webhook_endpoint_roll_secret(endpoint=endpoint)
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    (request,) = receiver.received("/roll")
    for secret in (old, new):
        stripe.Webhook.construct_event(request.body.decode(), request.headers["Stripe-Signature"], secret)
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    assert Event.objects.get(deliveries__endpoint=endpoint).type == "webhook_endpoint.test"

    # Once the old secret's time is up, only the new one signs.
    endpoint.refresh_from_db()
    endpoints.webhook_endpoint_roll_secret(endpoint=endpoint, expire_old_in=timedelta(0))
    endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    delivery.endpoint_deliver(endpoint_pk=endpoint.pk)
    latest = receiver.received("/roll")[-1]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(latest.body.decode(), latest.headers["Stripe-Signature"], new)


@pytest.mark.parametrize("keep_alive", [True, False], ids=["receiver-keeps-alive", "receiver-closes"])
def test_one_run_sends_an_endpoints_backlog_over_one_connection(db, shop, keep_alive):
    """A burst to one endpoint reuses one kept-alive connection; a receiver that closes it after each answer
    still gets every event, each exactly once."""
    from tests.webhooks.receiver import Receiver
    from webhooks.services import endpoints

    with Receiver(keep_alive=keep_alive) as receiver:
        endpoint, _ = endpoints.webhook_endpoint_create(
            merchant=shop.merchant, livemode=False, url=receiver.plan("/burst"), enabled_events=["*"]
        )
        sent = [endpoints.webhook_endpoint_send_test(endpoint=endpoint).public_id for _ in range(6)]
        assert delivery.endpoint_deliver(endpoint_pk=endpoint.pk) == 6
        arrived = receiver.received("/burst")
        assert sorted(json.loads(r.body)["id"] for r in arrived) == sorted(sent)
        assert Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.SUCCEEDED).count() == 6
        connections = {r.client_port for r in arrived}
        assert len(connections) == (1 if keep_alive else 6)
        assert not DeliveryAttempt.objects.filter(delivery__endpoint=endpoint, succeeded=False).exists()


def test_a_slow_endpoint_gives_up_its_worker_slot_when_the_runs_time_is_up(db, receiver, shop):
    """The run's budget is checked before every send, not once per batch: a slow receiver cannot hold the slot."""
    from webhooks.services import endpoints

    endpoint, _ = endpoints.webhook_endpoint_create(
        merchant=shop.merchant, livemode=False, url=receiver.plan("/slow", hang=0.4), enabled_events=["*"]
    )
    for _ in range(6):
        endpoints.webhook_endpoint_send_test(endpoint=endpoint)
    sent = delivery.endpoint_deliver(endpoint_pk=endpoint.pk, budget_seconds=1.0)
    assert 1 <= sent < 6
    assert Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.SUCCEEDED).count() == sent
    assert Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).count() == 6 - sent
    endpoint.refresh_from_db()
    assert endpoint.delivering_until is None  # the lease is handed on with the rest (a new task is queued)
