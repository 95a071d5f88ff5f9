"""Key authentication, modes, restricted and publishable keys — through stripe-python and raw HTTP."""

from datetime import timedelta

import pytest
import requests
import stripe

from billing.catalogue import services as billing
from merchants import services
from tests import factories


def test_bearer_and_basic_auth_both_work(kassa, shop):
    key = shop.secret_key.secret
    billing.customer_create(merchant=shop.merchant, livemode=False, email="a@example.com")
    bearer = requests.get(f"{kassa.url}/v1/customers", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    basic = requests.get(f"{kassa.url}/v1/customers", auth=(key, ""), timeout=10)
    assert bearer.status_code == basic.status_code == 200
    assert bearer.json()["data"][0]["email"] == basic.json()["data"][0]["email"] == "a@example.com"


def test_missing_and_wrong_keys_raise_authentication_error(kassa, shop):
    response = requests.get(f"{kassa.url}/v1/customers", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["Request-Id"].startswith("req_")
    with pytest.raises(stripe.AuthenticationError) as exc:
        kassa("sk_test_" + "x" * 40).v1.customers.list()
    assert exc.value.http_status == 401
    assert "x" * 20 not in str(exc.value)  # the key is not echoed back in full


def test_revoked_key_stops_at_once(kassa, shop):
    client = kassa(shop.secret_key.secret)
    client.v1.customers.list()
    services.api_key_revoke(api_key=shop.secret_key.api_key)
    with pytest.raises(stripe.AuthenticationError, match="revoked"):
        client.v1.customers.list()


def test_rolled_key_keeps_working_until_its_expiry(kassa, shop):
    old = shop.secret_key
    new = services.api_key_roll(api_key=old.api_key, expires_in=timedelta(hours=1))
    assert kassa(old.secret).v1.customers.list().object == "list"
    assert kassa(new.secret).v1.customers.list().object == "list"

    expired_now = services.api_key_roll(api_key=new.api_key, expires_in=timedelta(0))
    with pytest.raises(stripe.AuthenticationError, match="expired"):
        kassa(new.secret).v1.customers.list()
    assert kassa(expired_now.secret).v1.customers.list().object == "list"


def test_roll_refuses_more_than_seven_days(shop):
    from kassa.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        services.api_key_roll(api_key=shop.secret_key.api_key, expires_in=timedelta(days=8))


def test_last_used_is_recorded(kassa, shop):
    assert shop.secret_key.api_key.last_used_at is None
    kassa(shop.secret_key.secret).v1.customers.list()
    shop.secret_key.api_key.refresh_from_db()
    assert shop.secret_key.api_key.last_used_at is not None


def test_test_key_cannot_see_live_objects(kassa, shop):
    live = billing.customer_create(merchant=shop.merchant, livemode=True, email="live@example.com")
    test_client = kassa(shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        test_client.v1.customers.retrieve(live.public_id)
    assert exc.value.http_status == 404
    assert "exists in live mode, but a test mode key was used" in str(exc.value)
    assert test_client.v1.customers.list().data == []

    live_client = kassa(factories.live_secret_key(shop.merchant))
    fetched = live_client.v1.customers.retrieve(live.public_id)
    assert fetched.livemode is True
    assert fetched.email == "live@example.com"


def test_another_merchants_id_is_a_404_like_a_missing_one(kassa, shop, other_shop):
    theirs = billing.customer_create(merchant=other_shop.merchant, livemode=False, email="secret@other.test")
    client = kassa(shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError) as foreign:
        client.v1.customers.retrieve(theirs.public_id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_doesnotexist")
    assert foreign.value.http_status == missing.value.http_status == 404
    assert foreign.value.code == missing.value.code == "resource_missing"
    assert str(foreign.value.user_message).replace(theirs.public_id, "ID") == str(missing.value.user_message).replace(
        "cus_doesnotexist", "ID"
    )
    # Updating or deleting it is just as impossible, and changes nothing.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(theirs.public_id, params={"name": "hijacked"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.delete(theirs.public_id)
    theirs.refresh_from_db()
    assert theirs.name is None
    assert not theirs.deleted


def test_restricted_key_permissions(kassa, shop):
    reader = kassa(factories.restricted_key(shop.merchant, {"customers": "read"}))
    writer = kassa(factories.restricted_key(shop.merchant, {"customers": "write"}))
    assert reader.v1.customers.list().object == "list"
    with pytest.raises(stripe.PermissionError) as exc:
        reader.v1.customers.create(params={"email": "no@example.com"})
    assert exc.value.http_status == 403
    assert "customers:write" in str(exc.value)
    with pytest.raises(stripe.PermissionError):
        reader.v1.products.list()  # no grant at all for products
    assert writer.v1.customers.create(params={"email": "yes@example.com"}).email == "yes@example.com"
    assert [c.email for c in reader.v1.customers.list().data] == ["yes@example.com"]


def test_publishable_key_cannot_use_secret_endpoints(kassa, shop):
    with pytest.raises(stripe.PermissionError, match="publishable"):
        kassa(shop.publishable_key.secret).v1.customers.list()


def test_disabled_merchant_cannot_use_its_keys(kassa, shop):
    services.merchant_update(merchant=shop.merchant, status="disabled")
    with pytest.raises(stripe.PermissionError, match="disabled"):
        kassa(shop.secret_key.secret).v1.customers.list()
