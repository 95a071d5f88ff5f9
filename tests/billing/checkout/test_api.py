"""Payment links and checkout sessions through stripe-python, unmodified; the publishable key and CORS."""

import time

import pytest
import requests
import stripe
from django.conf import settings
from django.utils import timezone

from billing.checkout import services as checkout
from billing.models import CheckoutSession
from tests import factories


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def publishable(kassa, paying_shop):
    return kassa(paying_shop.publishable_key.secret)


@pytest.fixture
def tea(api):
    return api.v1.prices.create(params={"product_data": {"name": "Green tea"}, "currency": "eur", "unit_amount": 1250})


@pytest.fixture
def mug(api):
    return api.v1.prices.create(params={"product_data": {"name": "Mug"}, "currency": "eur", "unit_amount": 800})


@pytest.fixture
def link(api, tea):
    return api.v1.payment_links.create(params={"line_items": [{"price": tea.id, "quantity": 2}]})


# --- payment links ------------------------------------------------------------------


def test_payment_link_lifecycle(api, tea, mug):
    link = api.v1.payment_links.create(
        params={
            "line_items": [{"price": tea.id, "quantity": 2}, {"price": mug.id}],
            "after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/thanks"}},
            "billing_address_collection": "required",
            "phone_number_collection": {"enabled": True},
            "email_collection": False,
            "metadata": {"campaign": "spring"},
        }
    )
    assert isinstance(link, stripe.PaymentLink)
    assert link.id.startswith("plink_")
    assert link.url.startswith(f"{settings.KASSA_PUBLIC_URL}/pay/")
    assert link.id not in link.url  # the hosted address does not name the API object
    assert (link.active, link.currency, link.livemode, link.metadata.to_dict()) == (
        True,
        "eur",
        False,
        {"campaign": "spring"},
    )
    assert (link.after_completion.type, link.after_completion.redirect.url) == (
        "redirect",
        "https://shop.example/thanks",
    )
    assert (link.billing_address_collection, link.phone_number_collection.enabled, link.email_collection) == (
        "required",
        True,
        False,
    )

    assert api.v1.payment_links.retrieve(link.id).url == link.url
    items = api.v1.payment_links.line_items.list(link.id)
    assert [type(i) for i in items.data] == [stripe.LineItem, stripe.LineItem]
    assert [(i.description, i.quantity, i.amount_subtotal, i.amount_total, i.currency) for i in items.data] == [
        ("Green tea", 2, 2500, 2500, "eur"),
        ("Mug", 1, 800, 800, "eur"),
    ]
    assert [i.price.id for i in items.data] == [tea.id, mug.id]
    first = api.v1.payment_links.line_items.list(link.id, params={"limit": 1, "expand": ["data.price.product"]})
    assert (first.has_more, first.data[0].price.product.name) == (True, "Green tea")
    rest = api.v1.payment_links.line_items.list(link.id, params={"starting_after": first.data[0].id})
    assert ([i.price.id for i in rest.data], rest.has_more) == ([mug.id], False)

    updated = api.v1.payment_links.update(
        link.id,
        params={
            "active": False,
            "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Merci!"}},
            "metadata": {"campaign": "", "batch": "2"},
        },
    )
    assert (updated.active, updated.after_completion.type) == (False, "hosted_confirmation")
    assert updated.after_completion.hosted_confirmation.custom_message == "Merci!"
    assert updated.metadata.to_dict() == {"batch": "2"}
    other = api.v1.payment_links.create(params={"line_items": [{"price": mug.id}]})
    assert other.after_completion.type == "hosted_confirmation"
    assert [pl.id for pl in api.v1.payment_links.list().data] == [other.id, link.id]
    assert [pl.id for pl in api.v1.payment_links.list(params={"active": False}).data] == [link.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_links.update(link.id, params={"line_items": [{"price": mug.id}]})
    assert exc.value.code == "parameter_unknown"


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({}, "line_items", "parameter_missing"),
        ({"line_items": [{"price": "price_nope"}]}, "line_items[0][price]", "resource_missing"),
        ({"line_items": [{"price": "{tea}", "quantity": 0}]}, "line_items[0][quantity]", None),
        ({"line_items": [{"price": "{tea}"}, {"price": "{usd}"}]}, "line_items", None),
        ({"line_items": [{"price": "{tea}"}], "after_completion": {"type": "redirect"}}, None, "parameter_missing"),
        (
            {
                "line_items": [{"price": "{tea}"}],
                "after_completion": {"type": "redirect", "redirect": {"url": "ftp://x"}},
            },
            "after_completion[redirect][url]",
            "url_invalid",
        ),
        ({"line_items": [{"price": "{tea}"}], "billing_address_collection": "never"}, None, "parameter_invalid"),
        ({"line_items": [{"price": "{tea}"}], "allow_promotion_codes": True}, "allow_promotion_codes", None),
    ],
)
def test_payment_link_parameters_are_checked(api, tea, params, param, code):
    usd = api.v1.prices.create(params={"product_data": {"name": "Dollar"}, "currency": "usd", "unit_amount": 1})
    for item in params.get("line_items", []):
        item["price"] = item["price"].format(tea=tea.id, usd=usd.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_links.create(params=params)
    assert exc.value.http_status == 400
    if param:
        assert exc.value.param == param
    if code:
        assert exc.value.code == code
    assert api.v1.payment_links.list().data == []


def test_a_payment_link_from_an_amount_and_a_description(api):
    """``payment_links.create`` with ``price_data`` (declared by stripe-python): Kassa makes the product and price."""
    link = api.v1.payment_links.create(
        params={
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 4900,
                        "product_data": {"name": "Consultation", "images": ["https://shop.example/c.png"]},
                    },
                    "quantity": 2,
                }
            ]
        }
    )
    assert isinstance(link, stripe.PaymentLink)
    assert link.active is True
    [item] = api.v1.payment_links.line_items.list(link.id).data
    assert (item.description, item.quantity, item.amount_total, item.currency) == ("Consultation", 2, 9800, "eur")
    product = api.v1.products.retrieve(item.price.product)
    assert (product.name, product.images) == ("Consultation", ["https://shop.example/c.png"])
    # The link's price is its own (not a catalogue price), and the link keeps working with it.
    session = api.v1.checkout.sessions.create(params={"payment_link": link.id})
    assert session.amount_total == 9800


def test_a_line_item_needs_exactly_one_of_price_and_price_data(api, tea):
    for item in ({"quantity": 1}, {"price": tea.id, "price_data": {"currency": "eur", "unit_amount": 1}}):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.payment_links.create(params={"line_items": [item]})
        assert refused.value.http_status == 400
    assert not api.v1.payment_links.list().data


# --- checkout sessions --------------------------------------------------------------


def test_stripes_checkout_quick_start_call(api):
    """Stripe's Checkout quick-start, as written there: product_data with a description and images."""
    session = api.v1.checkout.sessions.create(
        params={
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 2000,
                        "product_data": {
                            "name": "T-shirt",
                            "description": "Comfortable cotton t-shirt",
                            "images": ["https://example.com/t-shirt.png"],
                        },
                    },
                    "quantity": 1,
                }
            ],
            "mode": "payment",
            "success_url": "https://example.com/success",
            "cancel_url": "https://example.com/cancel",
        }
    )
    assert (session.amount_total, session.currency, session.status) == (2000, "usd", "open")
    [item] = api.v1.checkout.sessions.line_items.list(session.id).data
    product = api.v1.products.retrieve(item.price.product)
    assert (product.description, product.images) == ("Comfortable cotton t-shirt", ["https://example.com/t-shirt.png"])


def test_checkout_session_with_price_data(api):
    expires_at = int(time.time()) + 3600
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "jpy",
                        "unit_amount": 1500,
                        "product_data": {"name": "Matcha", "description": "Ceremonial grade"},
                    },
                    "quantity": 3,
                }
            ],
            "success_url": "https://shop.example/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://shop.example/cart",
            "client_reference_id": "order-42",
            "customer_email": "payer@example.com",
            "expires_at": expires_at,
            "metadata": {"order": "42"},
        }
    )
    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_")
    assert session.url == f"{settings.KASSA_PUBLIC_URL}/pay/session/{session.id}"
    assert session.success_url == "https://shop.example/done?session={CHECKOUT_SESSION_ID}"
    assert (session.amount_subtotal, session.amount_total, session.currency) == (4500, 4500, "jpy")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.customer, session.customer_email, session.customer_details) == (None, "payer@example.com", None)
    assert (session.client_reference_id, session.cancel_url, session.expires_at) == (
        "order-42",
        "https://shop.example/cart",
        expires_at,
    )
    assert (session.payment_intent, session.payment_link, session.livemode) == (None, None, False)
    assert session.metadata.to_dict() == {"order": "42"}

    [item] = api.v1.checkout.sessions.line_items.list(session.id).data
    assert isinstance(item, stripe.LineItem)
    assert (item.description, item.quantity, item.amount_total, item.currency) == ("Matcha", 3, 4500, "jpy")
    # An inline price exists for this basket only, as at Stripe.
    assert (item.price.unit_amount, item.price.active) == (1500, False)
    assert api.v1.checkout.sessions.retrieve(session.id).amount_total == 4500


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"line_items": [{"price": "{tea}"}]}, "mode", "parameter_missing"),
        ({"mode": "donation", "line_items": [{"price": "{tea}"}]}, "mode", "parameter_invalid"),
        # Subscription mode needs a recurring price (tea is one-time).
        ({"mode": "subscription", "line_items": [{"price": "{tea}"}]}, "line_items", None),
        ({"mode": "payment"}, "line_items", "parameter_missing"),
        ({"mode": "payment", "line_items": [{"quantity": 1}]}, "line_items[0][price]", "parameter_missing"),
        ({"mode": "payment", "line_items": [{"price": "{tea}"}], "expires_at": "{soon}"}, "expires_at", None),
        (
            {
                "mode": "payment",
                "line_items": [{"price": "{tea}"}],
                "customer": "{customer}",
                "customer_email": "a@b.c",
            },
            "customer_email",
            "parameters_exclusive",
        ),
        ({"mode": "payment", "line_items": [{"price": "{tea}"}], "success_url": "javascript:x"}, "success_url", None),
        ({"mode": "payment", "line_items": [{"price": "{tea}"}], "payment_link": "{link}"}, "line_items", None),
    ],
)
def test_checkout_session_parameters_are_checked(api, tea, link, params, param, code):
    customer = api.v1.customers.create(params={"email": "c@example.com"})
    values = {"tea": tea.id, "link": link.id, "customer": customer.id, "soon": str(int(time.time()) + 600)}
    params = {k: v.format(**values) if isinstance(v, str) else v for k, v in params.items()}
    for item in params.get("line_items", []):
        if "price" in item:
            item["price"] = item["price"].format(**values)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params=params)
    assert (exc.value.http_status, exc.value.param) == (400, param)
    if code:
        assert exc.value.code == code
    assert api.v1.checkout.sessions.list().data == []


def test_a_paid_session_shows_its_payment(api, tea, card_token):
    customer = api.v1.customers.create(params={"email": "known@example.com"})
    session = api.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": tea.id, "quantity": 2}], "customer": customer.id}
    )
    assert session.customer == customer.id
    other = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    # The payer pays on the hosted page (its service, as the page calls it).
    checkout.checkout_session_pay(
        now=timezone.now(), session=CheckoutSession.objects.get(public_id=session.id), token=card_token()
    )

    paid = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent", "customer"]})
    assert (paid.status, paid.payment_status, paid.url) == ("complete", "paid", None)
    assert isinstance(paid.payment_intent, stripe.PaymentIntent)
    assert (paid.payment_intent.status, paid.payment_intent.amount_received) == ("succeeded", 2500)
    assert isinstance(paid.customer, stripe.Customer)
    assert paid.customer_details.email == "known@example.com"
    plain = api.v1.checkout.sessions.retrieve(session.id)
    assert plain.payment_intent == paid.payment_intent.id

    assert [s.id for s in api.v1.checkout.sessions.list().data] == [other.id, session.id]
    assert [s.id for s in api.v1.checkout.sessions.list(params={"status": "complete"}).data] == [session.id]
    by_intent = api.v1.checkout.sessions.list(params={"payment_intent": plain.payment_intent})
    assert [s.id for s in by_intent.data] == [session.id]
    assert [s.id for s in api.v1.checkout.sessions.list(params={"customer": customer.id}).data] == [session.id]
    listed = api.v1.checkout.sessions.list(params={"expand": ["data.payment_intent"], "status": "complete"})
    assert listed.data[0].payment_intent.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.expire(session.id)
    assert exc.value.code == "checkout_session_not_open"
    refund = api.v1.refunds.create(params={"payment_intent": paid.payment_intent.id, "amount": 1250})
    assert refund.status == "succeeded"


def test_expire_an_open_session(api, tea):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    expired = api.v1.checkout.sessions.expire(session.id)
    assert isinstance(expired, stripe.checkout.Session)
    assert (expired.status, expired.payment_status, expired.url) == ("expired", "unpaid", None)
    assert api.v1.checkout.sessions.retrieve(session.id).status == "expired"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.expire(session.id)
    assert exc.value.code == "checkout_session_not_open"
    assert [s.id for s in api.v1.checkout.sessions.list(params={"status": "expired"}).data] == [session.id]


# --- the publishable key ------------------------------------------------------------


def test_a_publishable_key_starts_a_session_from_an_active_link(api, publishable, link):
    session = publishable.v1.checkout.sessions.create(params={"payment_link": link.id})
    assert isinstance(session, stripe.checkout.Session)
    assert (session.payment_link, session.amount_total, session.currency, session.status) == (
        link.id,
        2500,
        "eur",
        "open",
    )
    assert session.url == f"{settings.KASSA_PUBLIC_URL}/pay/session/{session.id}"
    # The secret key sees it, with the link it came from.
    seen = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_link"]})
    assert isinstance(seen.payment_link, stripe.PaymentLink)
    assert [s.id for s in api.v1.checkout.sessions.list(params={"payment_link": link.id}).data] == [session.id]
    # A secret key may do the same.
    assert api.v1.checkout.sessions.create(params={"payment_link": link.id}).payment_link == link.id


@pytest.mark.parametrize(
    "params",
    [
        {"payment_link": "{link}", "customer_email": "p@example.com"},
        {"payment_link": "{link}", "metadata": {"a": "b"}},
        {"payment_link": "{link}", "expand": ["payment_link"]},
        {"mode": "payment", "line_items": [{"price": "{tea}"}]},
        {},
    ],
)
def test_a_publishable_key_can_do_nothing_else_on_sessions(publishable, api, link, tea, params):
    params = {k: v.format(link=link.id) if isinstance(v, str) else v for k, v in params.items()}
    for item in params.get("line_items", []):
        item["price"] = tea.id
    with pytest.raises(stripe.PermissionError) as exc:
        publishable.v1.checkout.sessions.create(params=params)
    assert exc.value.http_status == 403
    assert "payment_link" in exc.value.user_message
    assert api.v1.checkout.sessions.list().data == []


def test_a_publishable_key_cannot_use_an_inactive_or_foreign_link(kassa, publishable, api, link, other_shop):
    api.v1.payment_links.update(link.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        publishable.v1.checkout.sessions.create(params={"payment_link": link.id})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "payment_link_inactive", "payment_link")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        kassa(other_shop.publishable_key.secret).v1.checkout.sessions.create(params={"payment_link": link.id})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "resource_missing", "payment_link")
    assert api.v1.checkout.sessions.list().data == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.v1.checkout.sessions.list(),
        lambda c: c.v1.checkout.sessions.retrieve("cs_test_x"),
        lambda c: c.v1.checkout.sessions.expire("cs_test_x"),
        lambda c: c.v1.checkout.sessions.line_items.list("cs_test_x"),
        lambda c: c.v1.payment_links.list(),
        lambda c: c.v1.payment_links.retrieve("plink_x"),
        lambda c: c.v1.payment_links.create(params={"line_items": [{"price": "price_x"}]}),
        lambda c: c.v1.payment_links.line_items.list("plink_x"),
    ],
)
def test_a_publishable_key_is_refused_everywhere_else(publishable, call):
    with pytest.raises(stripe.PermissionError) as exc:
        call(publishable)
    assert exc.value.http_status == 403


def test_session_creation_answers_cors_for_browser_pages(kassa, paying_shop, link):
    url = f"{kassa.url}/v1/checkout/sessions"
    origin = {"Origin": "https://client-app.example"}
    preflight = requests.options(
        url,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
        timeout=10,
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    allowed_headers = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers
    assert {m.strip() for m in preflight.headers["Access-Control-Allow-Methods"].split(",")} >= {"POST", "OPTIONS"}
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0

    auth = {**origin, "Authorization": f"Bearer {paying_shop.publishable_key.secret}"}
    created = requests.post(url, data={"payment_link": link.id}, headers=auth, timeout=10)
    assert created.status_code == 200
    assert created.headers["Access-Control-Allow-Origin"] == "*"
    assert created.json()["payment_link"] == link.id
    refused = requests.post(url, data={"payment_link": link.id, "mode": "payment"}, headers=auth, timeout=10)
    assert refused.status_code == 403
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # the page can read why
    assert refused.json()["error"]["type"] == "permission_error"

    # No other endpoint answers CORS.
    secret = {**origin, "Authorization": f"Bearer {paying_shop.secret_key.secret}"}
    for other in (f"{kassa.url}/v1/payment_links", f"{kassa.url}/v1/payment_intents"):
        assert "Access-Control-Allow-Origin" not in requests.options(other, headers=origin, timeout=10).headers
        assert "Access-Control-Allow-Origin" not in requests.get(other, headers=secret, timeout=10).headers
    assert "Access-Control-Allow-Origin" not in requests.get(url, headers=secret, timeout=10).headers


# --- whose objects, which mode ------------------------------------------------------


def test_another_merchants_links_and_sessions_are_missing(kassa, api, other_shop, link, tea):
    session = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    customer = api.v1.customers.create(params={"email": "c@example.com"})
    theirs = kassa(other_shop.secret_key.secret)
    for call in (
        lambda: theirs.v1.payment_links.retrieve(link.id),
        lambda: theirs.v1.payment_links.update(link.id, params={"active": False}),
        lambda: theirs.v1.payment_links.line_items.list(link.id),
        lambda: theirs.v1.checkout.sessions.retrieve(session.id),
        lambda: theirs.v1.checkout.sessions.line_items.list(session.id),
        lambda: theirs.v1.checkout.sessions.expire(session.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    for params, param in (
        ({"mode": "payment", "line_items": [{"price": tea.id}]}, "line_items[0][price]"),
        ({"payment_link": link.id}, "payment_link"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            theirs.v1.checkout.sessions.create(params=params)
        assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "resource_missing", param)
    mine = theirs.v1.prices.create(params={"product_data": {"name": "X"}, "currency": "eur", "unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        theirs.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": mine.id}], "customer": customer.id}
        )
    assert (exc.value.code, exc.value.param) == ("resource_missing", "customer")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        theirs.v1.payment_links.create(params={"line_items": [{"price": tea.id}]})
    assert exc.value.param == "line_items[0][price]"
    assert theirs.v1.payment_links.list().data == []
    assert theirs.v1.checkout.sessions.list().data == []
    assert api.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert api.v1.payment_links.retrieve(link.id).active is True


def test_a_test_key_never_sees_live_links_or_sessions(kassa, api, paying_shop):
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    price = live.v1.prices.create(params={"product_data": {"name": "Live"}, "currency": "eur", "unit_amount": 100})
    live_link = live.v1.payment_links.create(params={"line_items": [{"price": price.id}]})
    live_session = live.v1.checkout.sessions.create(params={"payment_link": live_link.id})
    assert (live_link.livemode, live_session.livemode) == (True, True)
    assert live_session.id.startswith("cs_live_")
    for call in (
        lambda: api.v1.payment_links.retrieve(live_link.id),
        lambda: api.v1.checkout.sessions.retrieve(live_session.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert exc.value.http_status == 404
        assert "live mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params={"payment_link": live_link.id})
    assert exc.value.param == "payment_link"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        kassa(paying_shop.publishable_key.secret).v1.checkout.sessions.create(params={"payment_link": live_link.id})
    assert exc.value.param == "payment_link"
    assert api.v1.payment_links.list().data == []
    assert api.v1.checkout.sessions.list().data == []
    assert [s.id for s in live.v1.checkout.sessions.list().data] == [live_session.id]


def test_a_publishable_key_gets_no_merchant_internals_back(kassa, paying_shop):
    from billing.catalogue import services
    from billing.checkout import services as checkout

    m = paying_shop.merchant
    price = services.price_create(
        merchant=m, livemode=False, product_data={"name": "X"}, currency="usd", unit_amount=500
    )
    link = checkout.payment_link_create(
        merchant=m, livemode=False, line_items=[{"price": price}], metadata={"internal_cost": "42"}
    )
    session = kassa(paying_shop.publishable_key.secret).v1.checkout.sessions.create(
        params={"payment_link": link.public_id}
    )
    assert session.url
    assert "metadata" not in session
    assert "customer" not in session


# --- locale: the hosted page's language ------------------------------------------------


def test_a_session_and_a_link_in_french_through_stripe_python(api, tea, client):
    session = api.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": tea.id}], "locale": "fr"}
    )
    assert session.locale == "fr"
    assert api.v1.checkout.sessions.retrieve(session.id).locale == "fr"
    assert CheckoutSession.objects.get(public_id=session.id).locale == "fr"
    page = client.get(session.url.removeprefix(settings.KASSA_PUBLIC_URL), HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "fr"
    # Unset is null, as at Stripe; auto is kept as sent.
    plain = api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}]})
    assert plain.locale is None
    auto = api.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": tea.id}], "locale": "auto"}
    )
    assert auto.locale == "auto"

    link = api.v1.payment_links.create(params={"line_items": [{"price": tea.id}], "locale": "fr"})
    assert link.locale == "fr"
    assert api.v1.payment_links.retrieve(link.id).locale == "fr"
    # A session opened from the link has the link's language.
    from_link = api.v1.checkout.sessions.create(params={"payment_link": link.id})
    assert from_link.locale == "fr"
    assert api.v1.payment_links.update(link.id, params={"locale": "en"}).locale == "en"
    assert api.v1.payment_links.update(link.id, params={"locale": ""}).locale is None  # unset, as at Stripe
    assert api.v1.payment_links.create(params={"line_items": [{"price": tea.id}]}).locale is None


@pytest.mark.parametrize("locale", ["de", "fr-CA", "xx", "FR"])
def test_a_locale_kassa_has_no_translation_for_is_refused(api, tea, link, locale):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": tea.id}], "locale": locale})
    assert (exc.value.http_status, exc.value.param, exc.value.code) == (400, "locale", "parameter_invalid")
    assert f"`{locale}` is not a locale Kassa supports yet; use one of: auto, en, fr." in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_links.update(link.id, params={"locale": locale})
    assert (exc.value.param, exc.value.code) == ("locale", "parameter_invalid")
    assert api.v1.checkout.sessions.list().data == []
    assert api.v1.payment_links.retrieve(link.id).locale is None
