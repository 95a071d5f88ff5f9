"""What a key may see stays what it may see: through ``expand[]`` and through an idempotent replay.

Findings of an outside review, reproduced here first: a restricted key read
objects it had no permission for by expanding them, and a publishable key
replayed a secret key's full response by reusing its Idempotency-Key.
"""

import pytest
import requests
import stripe

from merchants.models import IdempotencyKey
from tests import factories


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def objects(api, card_token):
    """A customer who paid through a saved card, a refund, a link and a session: one of everything expandable."""
    customer = api.v1.customers.create(params={"email": "ann@secret.example", "name": "Ann"})
    price = api.v1.prices.create(params={"product_data": {"name": "Tea"}, "currency": "eur", "unit_amount": 1250})
    card = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token()}, "customer": customer.id}
    )
    customer = api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    intent = api.v1.payment_intents.create(
        params={"amount": 1250, "currency": "eur", "customer": customer.id, "payment_method": card.id, "confirm": True}
    )
    refund = api.v1.refunds.create(params={"payment_intent": intent.id, "amount": 100})
    link = api.v1.payment_links.create(params={"line_items": [{"price": price.id, "quantity": 1}]})
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "success_url": "https://shop.example/ok",
            "customer": customer.id,
            "line_items": [{"price": price.id, "quantity": 1}],
        }
    )
    return {
        "customer": customer,
        "price": price,
        "card": card,
        "intent": intent,
        "refund": refund,
        "link": link,
        "session": session,
    }


# (granted permissions, path, expand[] values, the permission the refusal names)
EXPANSIONS = [
    ({"payment_intents": "read"}, "/v1/payment_intents/{intent}", ["customer"], "customers:read"),
    ({"payment_intents": "read"}, "/v1/payment_intents/{intent}", ["payment_method"], "payment_methods:read"),
    ({"payment_intents": "read"}, "/v1/payment_intents", ["data.customer"], "customers:read"),
    ({"prices": "read"}, "/v1/prices/{price}", ["product"], "products:read"),
    ({"prices": "read"}, "/v1/prices", ["data.product"], "products:read"),
    ({"payment_methods": "read"}, "/v1/payment_methods/{card}", ["customer"], "customers:read"),
    ({"payment_methods": "read"}, "/v1/customers/{customer}/payment_methods", ["data.customer"], "customers:read"),
    (
        {"customers": "read"},
        "/v1/customers/{customer}",
        ["invoice_settings.default_payment_method"],
        "payment_methods:read",
    ),
    (
        {"customers": "read"},
        "/v1/customers",
        ["data.invoice_settings.default_payment_method"],
        "payment_methods:read",
    ),
    ({"refunds": "read"}, "/v1/refunds/{refund}", ["payment_intent"], "payment_intents:read"),
    ({"refunds": "read"}, "/v1/refunds", ["data.payment_intent"], "payment_intents:read"),
    ({"checkout_sessions": "read"}, "/v1/checkout/sessions/{session}", ["payment_intent"], "payment_intents:read"),
    (
        {"checkout_sessions": "read", "payment_intents": "read"},
        "/v1/checkout/sessions/{session}",
        ["payment_intent", "customer"],
        "customers:read",
    ),
    ({"checkout_sessions": "read"}, "/v1/checkout/sessions/{session}", ["payment_link"], "payment_links:read"),
    (
        {"checkout_sessions": "read"},
        "/v1/checkout/sessions/{session}/line_items",
        ["data.price.product"],
        "products:read",
    ),
    ({"payment_links": "read"}, "/v1/payment_links/{link}/line_items", ["data.price.product"], "products:read"),
]


@pytest.mark.parametrize(("granted", "path", "expand", "missing"), EXPANSIONS)
def test_an_expansion_needs_read_permission_on_what_it_expands(
    kassa, paying_shop, objects, granted, path, expand, missing
):
    key = factories.restricted_key(paying_shop.merchant, granted)
    url = kassa.url + path.format(**{name: obj.id for name, obj in objects.items()})
    headers = {"Authorization": f"Bearer {key}"}

    plain = requests.get(url, headers=headers, timeout=10)
    assert plain.status_code == 200  # the object itself is readable with this key

    expanded = requests.get(url, params={"expand[]": expand}, headers=headers, timeout=10)
    assert expanded.status_code == 403
    error = expanded.json()["error"]
    assert error["type"] == "permission_error"
    assert missing in error["message"]
    assert objects["customer"].email not in expanded.text


def test_an_expansion_with_the_permission_is_answered(kassa, paying_shop, objects):
    key = factories.restricted_key(paying_shop.merchant, {"payment_intents": "read", "customers": "read"})
    intent = kassa(key).v1.payment_intents.retrieve(objects["intent"].id, params={"expand": ["customer"]})
    assert intent.customer.email == "ann@secret.example"


def test_stripe_python_raises_permission_error_for_a_forbidden_expansion(kassa, paying_shop, objects):
    key = factories.restricted_key(paying_shop.merchant, {"payment_intents": "read"})
    with pytest.raises(stripe.PermissionError, match="customers:read"):
        kassa(key).v1.payment_intents.retrieve(objects["intent"].id, params={"expand": ["customer"]})


def test_the_default_card_expands_with_payment_methods_read(kassa, paying_shop, objects):
    key = factories.restricted_key(paying_shop.merchant, {"customers": "read", "payment_methods": "read"})
    expand = {"expand": ["invoice_settings.default_payment_method"]}
    customer = kassa(key).v1.customers.retrieve(objects["customer"].id, params=expand)
    assert customer.invoice_settings.default_payment_method.card.last4 == "4242"


def test_attach_and_detach_need_payment_methods_write(kassa, paying_shop, objects):
    card, customer = objects["card"], objects["customer"]
    reader = kassa(factories.restricted_key(paying_shop.merchant, {"payment_methods": "read"}))
    for call in (
        lambda: reader.v1.payment_methods.attach(card.id, params={"customer": customer.id}),
        lambda: reader.v1.payment_methods.detach(card.id),
    ):
        with pytest.raises(stripe.PermissionError, match="payment_methods:write"):
            call()
    writer = kassa(factories.restricted_key(paying_shop.merchant, {"payment_methods": "write"}))
    assert writer.v1.payment_methods.attach(card.id, params={"customer": customer.id}).customer == customer.id
    with pytest.raises(stripe.PermissionError, match="customers:read"):
        writer.v1.payment_methods.detach(card.id, params={"expand": ["customer"]})
    assert writer.v1.payment_methods.retrieve(card.id).customer == customer.id  # the refused detach did nothing
    assert writer.v1.payment_methods.detach(card.id).customer is None
    publishable = kassa(paying_shop.publishable_key.secret)
    with pytest.raises(stripe.PermissionError):
        publishable.v1.payment_methods.detach(card.id)


def test_an_expansion_on_a_write_needs_the_permission_too(kassa, paying_shop, objects):
    key = factories.restricted_key(paying_shop.merchant, {"payment_intents": "write"})
    with pytest.raises(stripe.PermissionError, match="customers:read"):
        kassa(key).v1.payment_intents.update(
            objects["intent"].id, params={"metadata": {"a": "b"}, "expand": ["customer"]}
        )
    assert (
        kassa(paying_shop.secret_key.secret).v1.payment_intents.retrieve(objects["intent"].id).metadata.to_dict() == {}
    )


# --- idempotency: scope and order ------------------------------------------------------


def _post(url, key, idempotency_key, data):
    return requests.post(
        url, data=data, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}, timeout=30
    )


def test_a_publishable_key_never_replays_a_secret_keys_response(kassa, paying_shop, objects):
    url = f"{kassa.url}/v1/checkout/sessions"
    body = {"payment_link": objects["link"].id, "expand[]": "customer"}
    first = _post(url, paying_shop.secret_key.secret, "order-1001", {"payment_link": objects["link"].id})
    assert first.status_code == 200

    replay_try = _post(url, paying_shop.publishable_key.secret, "order-1001", {"payment_link": objects["link"].id})
    assert replay_try.status_code == 200
    assert "Idempotent-Replayed" not in replay_try.headers
    assert replay_try.json()["id"] != first.json()["id"]  # its own session, not the secret key's
    assert "metadata" not in replay_try.json()

    # Other parameters: refused as a publishable key, not told that the key is in use.
    probe = _post(url, paying_shop.publishable_key.secret, "order-1001", body)
    assert probe.status_code == 403
    assert probe.json()["error"]["type"] == "permission_error"
    other = _post(url, paying_shop.publishable_key.secret, "order-1002", body)
    assert other.json() == {**probe.json()}  # the same answer whether or not the merchant used the key


def test_the_secret_key_still_replays_its_own_response(kassa, paying_shop, objects):
    url = f"{kassa.url}/v1/checkout/sessions"
    data = {"payment_link": objects["link"].id}
    first = _post(url, paying_shop.secret_key.secret, "order-7", data)
    again = _post(url, paying_shop.secret_key.secret, "order-7", data)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_a_restricted_keys_records_are_its_own(kassa, paying_shop, objects):
    """Restricted keys differ in what they may see: each key has its own idempotency scope."""
    granted = {"customers": "write"}
    one, two = (factories.restricted_key(paying_shop.merchant, granted) for _ in range(2))
    url = f"{kassa.url}/v1/customers"
    first = _post(url, one, "cust-1", {"email": "a@b.example"})
    second = _post(url, two, "cust-1", {"email": "other@b.example"})
    assert second.status_code == 200  # not an idempotency_error revealing that 'one' used the key
    assert second.json()["id"] != first.json()["id"]
    secret_replay = _post(url, paying_shop.secret_key.secret, "cust-1", {"email": "a@b.example"})
    assert "Idempotent-Replayed" not in secret_replay.headers


def test_a_refused_request_claims_no_idempotency_key(kassa, paying_shop, objects):
    """Authorization runs before the lookup: a request its key may not make leaves no record behind."""
    key = factories.restricted_key(paying_shop.merchant, {"payment_intents": "write"})
    refused = _post(
        f"{kassa.url}/v1/payment_intents/{objects['intent'].id}",
        key,
        "pi-update-1",
        {"metadata[a]": "b", "expand[]": "customer"},
    )
    assert refused.status_code == 403
    assert not IdempotencyKey.objects.filter(key="pi-update-1").exists()


def test_a_rolled_restricted_key_replays_what_its_predecessor_did(kassa, paying_shop, objects):
    """A retry across a key roll never runs twice: the new key replays the old key's answer."""
    from datetime import timedelta

    from merchants import services
    from merchants.models import APIKey

    old = factories.restricted_key(paying_shop.merchant, {"customers": "write"})
    url = f"{kassa.url}/v1/customers"
    first = _post(url, old, "signup-77", {"email": "roll@b.example"})
    old_key = next(k for k in APIKey.objects.filter(kind="restricted") if k.redacted.endswith(old[-4:]))
    new = services.api_key_roll(api_key=old_key, expires_in=timedelta(hours=1)).secret
    again = _post(url, new, "signup-77", {"email": "roll@b.example"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    newer = services.api_key_roll(api_key=APIKey.objects.get(rolled_from=old_key), expires_in=timedelta(hours=1)).secret
    assert _post(url, newer, "signup-77", {"email": "roll@b.example"}).json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    ("granted", "read", "write"),
    [
        ({}, "tax_rates:read", "tax_rates:write"),
        ({"tax_rates": "read"}, None, "tax_rates:write"),
        ({"tax_rates": "write"}, None, None),
    ],
)
def test_tax_rates_need_their_own_permission(kassa, paying_shop, granted, read, write):
    owner = kassa(paying_shop.secret_key.secret)
    rate = owner.v1.tax_rates.create(params={"display_name": "VAT", "percentage": "20", "inclusive": False})
    api = kassa(factories.restricted_key(paying_shop.merchant, {"products": "write", **granted}))
    for needed, call in (
        (read, lambda: api.v1.tax_rates.retrieve(rate.id)),
        (read, api.v1.tax_rates.list),
        (write, lambda: api.v1.tax_rates.update(rate.id, params={"display_name": "Changed"})),
        (write, lambda: api.v1.tax_rates.create(params={"display_name": "X", "percentage": 1, "inclusive": True})),
    ):
        if needed is None:
            call()
        else:
            with pytest.raises(stripe.PermissionError) as exc:
                call()
            assert needed in exc.value.user_message
    publishable = kassa(paying_shop.publishable_key.secret)
    with pytest.raises(stripe.PermissionError):
        publishable.v1.tax_rates.retrieve(rate.id)
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.tax_rates.retrieve(rate.id)
    assert exc.value.http_status == 404


@pytest.mark.parametrize(
    ("granted", "read", "write"),
    [
        ({}, "read", "write"),
        ({"invoices": "read", "invoiceitems": "read"}, None, "write"),
        ({"invoices": "write", "invoiceitems": "write"}, None, None),
    ],
)
def test_invoices_and_invoice_items_need_their_own_permissions(kassa, paying_shop, granted, read, write):
    owner = kassa(paying_shop.secret_key.secret)
    customer = owner.v1.customers.create(params={"email": "scope@example.com"})
    item = owner.v1.invoice_items.create(params={"customer": customer.id, "amount": 100, "currency": "eur"})
    invoice = owner.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api = kassa(factories.restricted_key(paying_shop.merchant, {"customers": "write", **granted}))
    for resource, needed, call in (
        ("invoiceitems", read, lambda: api.v1.invoice_items.retrieve(item.id)),
        ("invoiceitems", read, api.v1.invoice_items.list),
        ("invoices", read, lambda: api.v1.invoices.retrieve(invoice.id)),
        ("invoices", read, lambda: api.v1.invoices.line_items.list(invoice.id)),
        ("invoiceitems", write, lambda: api.v1.invoice_items.update(item.id, params={"description": "x"})),
        ("invoices", write, lambda: api.v1.invoices.update(invoice.id, params={"description": "x"})),
    ):
        if needed is None:
            call()
        else:
            with pytest.raises(stripe.PermissionError) as exc:
                call()
            assert f"{resource}:{needed}" in exc.value.user_message
    if granted:
        # Expanding the customer needs customers:read (granted here); the card needs payment_methods:read.
        api.v1.invoices.retrieve(invoice.id, params={"expand": ["customer"]})
        with pytest.raises(stripe.PermissionError) as exc:
            api.v1.invoices.retrieve(invoice.id, params={"expand": ["payments.data.payment.payment_intent"]})
        assert "payment_intents:read" in exc.value.user_message
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.invoices.retrieve(invoice.id)
    assert exc.value.http_status == 404


@pytest.mark.parametrize(
    ("granted", "read", "write"),
    [
        ({}, "test_clocks:read", "test_clocks:write"),
        ({"test_clocks": "read"}, None, "test_clocks:write"),
        ({"test_clocks": "write"}, None, None),
    ],
)
def test_test_clocks_need_their_own_permission(kassa, paying_shop, granted, read, write):
    owner = kassa(paying_shop.secret_key.secret)
    clock = owner.v1.test_helpers.test_clocks.create(params={"frozen_time": 1767225600})
    api = kassa(factories.restricted_key(paying_shop.merchant, {"customers": "write", **granted}))
    for needed, call in (
        (read, lambda: api.v1.test_helpers.test_clocks.retrieve(clock.id)),
        (read, api.v1.test_helpers.test_clocks.list),
        (write, lambda: api.v1.test_helpers.test_clocks.create(params={"frozen_time": 1767225600})),
        (write, lambda: api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": 1767229200})),
    ):
        if needed is None:
            call()
        else:
            with pytest.raises(stripe.PermissionError) as exc:
                call()
            assert needed in exc.value.user_message
    # Expanding a customer's clock needs the clocks' permission too.
    customer = api.v1.customers.create(params={"test_clock": clock.id})
    if read:
        with pytest.raises(stripe.PermissionError):
            api.v1.customers.retrieve(customer.id, params={"expand": ["test_clock"]})
    else:
        assert api.v1.customers.retrieve(customer.id, params={"expand": ["test_clock"]}).test_clock.id == clock.id
    publishable = kassa(paying_shop.publishable_key.secret)
    with pytest.raises(stripe.PermissionError):
        publishable.v1.test_helpers.test_clocks.retrieve(clock.id)
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert (exc.value.http_status, exc.value.code) == (400, "livemode_mismatch")


@pytest.mark.parametrize(
    ("granted", "needed"),
    [
        ({}, "billing_portal:write"),
        ({"billing_portal": "read"}, "billing_portal:write"),
        ({"billing_portal": "write"}, None),
    ],
)
def test_customer_portal_sessions_need_their_own_permission(kassa, paying_shop, granted, needed):
    owner = kassa(paying_shop.secret_key.secret)
    customer = owner.v1.customers.create(params={"email": "portal@example.com"})
    api = kassa(factories.restricted_key(paying_shop.merchant, {"customers": "write", **granted}))
    params = {"customer": customer.id, "return_url": "https://shop.example/account"}
    if needed is None:
        assert api.v1.billing_portal.sessions.create(params=params).customer == customer.id
    else:
        with pytest.raises(stripe.PermissionError) as exc:
            api.v1.billing_portal.sessions.create(params=params)
        assert needed in exc.value.user_message
    with pytest.raises(stripe.PermissionError):
        kassa(paying_shop.publishable_key.secret).v1.billing_portal.sessions.create(params=params)
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.billing_portal.sessions.create(params=params)
    assert (exc.value.http_status, exc.value.code) == (400, "resource_missing")


@pytest.mark.parametrize(
    ("granted", "read", "write"),
    [
        ({}, "read", "write"),
        ({"subscriptions": "read"}, None, "write"),
        ({"subscriptions": "write"}, None, None),
    ],
)
def test_subscriptions_and_their_items_need_the_subscriptions_permission(
    kassa, paying_shop, card_token, granted, read, write
):
    owner = kassa(paying_shop.secret_key.secret)
    customer = owner.v1.customers.create(params={"email": "scope@example.com"})
    product = owner.v1.products.create(params={"name": "Plan"})
    price = owner.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 900, "recurring": {"interval": "month"}}
    )
    sub = owner.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    item = sub["items"].data[0]
    api = kassa(factories.restricted_key(paying_shop.merchant, {"customers": "write", "prices": "write", **granted}))
    for needed, call in (
        (read, lambda: api.v1.subscriptions.retrieve(sub.id)),
        (read, api.v1.subscriptions.list),
        (read, lambda: api.v1.subscription_items.retrieve(item.id)),
        (read, lambda: api.v1.subscription_items.list(params={"subscription": sub.id})),
        (write, lambda: api.v1.subscriptions.update(sub.id, params={"metadata": {"k": "v"}})),
        (write, lambda: api.v1.subscription_items.update(item.id, params={"metadata": {"k": "v"}})),
        (write, lambda: api.v1.subscriptions.cancel(sub.id)),
    ):
        if needed is None:
            call()
        else:
            with pytest.raises(stripe.PermissionError) as exc:
                call()
            assert f"subscriptions:{needed}" in exc.value.user_message
    if granted:
        # The latest invoice is the invoices' to show: expanding it needs invoices:read.
        api.v1.subscriptions.retrieve(sub.id, params={"expand": ["customer"]})
        with pytest.raises(stripe.PermissionError) as exc:
            api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
        assert "invoices:read" in exc.value.user_message
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.subscriptions.retrieve(sub.id)
    assert exc.value.http_status == 404
