"""Idempotency-Key: replay, mismatch, concurrent duplicates — never a second object."""

import threading

import pytest
import requests
import stripe
from django.utils import timezone

from billing.models import Customer
from merchants.models import IdempotencyKey


def _post(kassa, key, idem, **data):
    return requests.post(
        f"{kassa.url}/v1/customers",
        data=data,
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
        timeout=30,
    )


def test_same_key_same_params_replays_the_first_response(kassa, shop):
    client = kassa(shop.secret_key.secret)
    first = client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "order-1"})
    second = client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "order-1"})
    assert first.id == second.id
    assert Customer.objects.filter(email="a@example.com").count() == 1

    replay = _post(kassa, shop.secret_key.secret, "order-1", email="a@example.com")
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.id


def test_same_key_other_params_is_an_idempotency_error(kassa, shop):
    client = kassa(shop.secret_key.secret)
    client.v1.customers.create(params={"email": "a@example.com"}, options={"idempotency_key": "k"})
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.customers.create(params={"email": "b@example.com"}, options={"idempotency_key": "k"})
    assert exc.value.http_status == 400
    assert Customer.objects.count() == 1


def test_keys_are_scoped_per_merchant(kassa, shop, other_shop):
    a = kassa(shop.secret_key.secret).v1.customers.create(
        params={"email": "x@example.com"}, options={"idempotency_key": "same"}
    )
    b = kassa(other_shop.secret_key.secret).v1.customers.create(
        params={"email": "x@example.com"}, options={"idempotency_key": "same"}
    )
    assert a.id != b.id


def test_a_request_still_running_gets_409_and_the_sdk_retries_into_the_replay(kassa, shop):
    # The state in which a first request with this key is still being processed.
    from merchants.idempotency import fingerprint

    params = {"email": "slow@example.com"}
    record = IdempotencyKey.objects.create(
        merchant=shop.merchant, livemode=False, key="running", fingerprint=fingerprint("POST", "/v1/customers", params)
    )
    response = _post(kassa, shop.secret_key.secret, "running", **params)
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "idempotency_error"
    assert response.headers["Stripe-Should-Retry"] == "true"
    with pytest.raises(stripe.APIError) as exc:
        kassa(shop.secret_key.secret).v1.customers.create(params=params, options={"idempotency_key": "running"})
    assert exc.value.http_status == 409
    assert Customer.objects.count() == 0

    # The first request finishes: now the same call replays its answer.
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status_code=200, response_body='{"id": "cus_first", "object": "customer"}'
    )
    replayed = kassa(shop.secret_key.secret).v1.customers.create(params=params, options={"idempotency_key": "running"})
    assert replayed.id == "cus_first"


def test_concurrent_duplicates_make_exactly_one_object(kassa, shop):
    barrier = threading.Barrier(8)
    results = []

    def hit():
        barrier.wait()
        results.append(_post(kassa, shop.secret_key.secret, "burst", email="burst@example.com"))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Customer.objects.filter(email="burst@example.com").count() == 1
    created_id = Customer.objects.get(email="burst@example.com").public_id
    for response in results:
        assert response.status_code in (200, 409), response.text
        if response.status_code == 200:
            assert response.json()["id"] == created_id
        else:
            assert response.json()["error"]["type"] == "idempotency_error"


def test_sdk_with_retries_gets_one_object_under_concurrency(kassa, shop):
    client = kassa(shop.secret_key.secret, max_network_retries=5)
    barrier = threading.Barrier(6)
    ids = []

    def create():
        barrier.wait()
        ids.append(client.v1.customers.create(params={"email": "c@example.com"}, options={"idempotency_key": "sdk"}).id)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6
    assert len(set(ids)) == 1
    assert Customer.objects.count() == 1


def test_validation_failures_do_not_burn_the_key(kassa, shop):
    client = kassa(shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"email": "not-an-email"}, options={"idempotency_key": "fixme"})
    # Stripe saves no result for a request that failed validation: the fixed request may reuse the key.
    fixed = client.v1.customers.create(params={"email": "ok@example.com"}, options={"idempotency_key": "fixme"})
    assert fixed.email == "ok@example.com"


def test_over_long_key_is_refused(kassa, shop):
    response = _post(kassa, shop.secret_key.secret, "k" * 256, email="a@example.com")
    assert response.status_code == 400
    assert Customer.objects.count() == 0


def test_expired_records_are_purged(shop):
    from datetime import timedelta

    from merchants.idempotency import idempotency_keys_purge

    old = IdempotencyKey.objects.create(
        merchant=shop.merchant, livemode=False, key="old", fingerprint="f", status_code=200
    )
    IdempotencyKey.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.create(merchant=shop.merchant, livemode=False, key="new", fingerprint="f", status_code=200)
    assert idempotency_keys_purge(now=timezone.now()) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
