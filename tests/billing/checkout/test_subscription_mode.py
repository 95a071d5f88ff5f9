"""Checkout in mode=subscription: the API through stripe-python, and the hosted page's calls through the test client,
against localstripe. The payer pays the subscription's first invoice (or starts its trial) with their card, which
becomes the subscription's and the customer's default."""

import json

import pytest
import stripe
from django.utils import timezone

from billing.catalogue import services as catalogue
from billing.checkout import services as checkout
from billing.models import CheckoutSession, Invoice, PaymentMethod, Subscription
from tests.billing.checkout.test_pages import FRENCH, page_url, post_json, text_of
from tests.conftest import processor_payment_intents
from webhooks.models import Event

MONTHLY = {"interval": "month"}


@pytest.fixture
def plan(paying_shop):
    """A 9.00 EUR monthly plan of the paying shop."""
    m = paying_shop.merchant
    product = catalogue.product_create(merchant=m, livemode=False, name="Tea club")
    return catalogue.price_create(
        merchant=m, livemode=False, product=product, currency="eur", unit_amount=900, recurring=MONTHLY
    )


def _link(plan, quantity=1, **options):
    return checkout.payment_link_create(
        merchant=plan.merchant, livemode=False, line_items=[{"price": plan, "quantity": quantity}], **options
    )


def _open(client, link) -> CheckoutSession:
    opened = client.get(f"/pay/{link.slug}")
    assert opened.status_code == 302
    return CheckoutSession.objects.get(pk=CheckoutSession.objects.latest("id").pk)


def _pay(client, session, card_token, number="4242424242424242", email="ada@example.com", **headers):
    return post_json(client, session, "/pay", {"token": card_token(number), "email": email, "name": "Ada"}, **headers)


def _events(type_: str) -> list[dict]:
    return [json.loads(e.data) if isinstance(e.data, str) else e.data for e in Event.objects.filter(type=type_)]


# --- the hosted page ----------------------------------------------------------------------


def test_the_page_says_what_is_paid_today_and_then_every_month(client, plan):
    session = _open(client, _link(plan, quantity=2))
    assert (session.mode, session.amount_total) == ("subscription", 1800)
    page = text_of(client.get(page_url(session)))
    assert "Total due today" in page
    assert "Then €18.00 every month" in page
    assert "Subscribe" in page
    assert "will save this card and charge it for each period until you cancel" in page
    french = text_of(client.get(page_url(session), **FRENCH))
    assert "Total à payer aujourd\u2019hui" in french
    assert "Puis 18,00\u00a0€ chaque mois" in french
    assert "S\u2019abonner" in french


def test_paying_the_first_invoice_starts_the_subscription_with_the_card_as_default(client, plan, card_token):
    session = _open(client, _link(plan, subscription_data={"metadata": {"plan": "club"}, "description": "Club"}))
    answer = _pay(client, session, card_token)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "succeeded"
    session.refresh_from_db()
    assert (session.status, session.payment_status, session.amount_total) == ("complete", "paid", 900)
    subscription = Subscription.objects.get()
    assert session.subscription == subscription
    assert (subscription.status, subscription.metadata, subscription.description) == (
        "active",
        {"plan": "club"},
        "Club",
    )
    assert subscription.customer.email == "ada@example.com"
    card = subscription.default_payment_method
    assert card is not None
    assert (card.customer_id, card.card_last4) == (subscription.customer_id, "4242")
    assert subscription.customer.default_payment_method == card  # the customer's default too
    invoice = Invoice.objects.get()
    assert (session.invoice, invoice.status, invoice.amount_paid, invoice.subscription) == (
        invoice,
        "paid",
        900,
        subscription,
    )
    assert answer.json()["payment"]["subscription"] == subscription.public_id
    completed = Event.objects.get(type="checkout.session.completed").data
    assert (completed["object"]["subscription"], completed["object"]["invoice"]) == (
        subscription.public_id,
        invoice.public_id,
    )
    assert Event.objects.filter(type="customer.subscription.created").count() == 1
    success = client.get(page_url(session, "/complete"))
    assert success.status_code == 200
    assert "Subscription started" in text_of(success)
    assert subscription.public_id in text_of(success)


def test_a_trial_charges_nothing_and_saves_the_card(client, plan, card_token, stripe_backend):
    session = _open(client, _link(plan, subscription_data={"trial_period_days": 14}))
    assert session.amount_total == 0
    page = text_of(client.get(page_url(session)))
    assert "14 days free" in page
    assert "Start trial" in page
    before = len(processor_payment_intents(stripe_backend))
    answer = _pay(client, session, card_token)
    assert answer.json()["status"] == "succeeded", answer.json()
    session.refresh_from_db()
    assert (session.status, session.payment_status, session.amount_total) == ("complete", "no_payment_required", 0)
    subscription = Subscription.objects.get()
    assert subscription.status == "trialing"
    assert subscription.trial_end is not None
    assert subscription.default_payment_method.card_last4 == "4242"
    assert subscription.customer.default_payment_method == subscription.default_payment_method
    assert len(processor_payment_intents(stripe_backend)) == before  # nothing charged
    assert "Trial started" in text_of(client.get(page_url(session, "/complete")))


def test_a_declined_card_leaves_the_session_open_and_another_card_starts_the_same_subscription(
    client, plan, card_token
):
    session = _open(client, _link(plan))
    # A card the processor refuses to take at all starts nothing.
    refused = _pay(client, session, card_token, "4000000000000002")
    assert (refused.status_code, refused.json()["code"]) == (402, "card_declined")
    assert not Subscription.objects.exists()
    # A card taken, then declined when the first invoice is charged (4000000000000341).
    declined = _pay(client, session, card_token, "4000000000000341")
    assert (declined.status_code, declined.json()["code"]) == (402, "card_declined")
    session.refresh_from_db()
    assert session.status == "open"
    subscription = Subscription.objects.get()
    assert subscription.status == "incomplete"  # not started: the session does not name it
    assert not PaymentMethod.objects.filter(customer=subscription.customer).exists()  # the declined card is gone
    assert client.get(page_url(session)).status_code == 200  # still payable
    paid = _pay(client, session, card_token)
    assert paid.json()["status"] == "succeeded", paid.json()
    session.refresh_from_db()
    subscription.refresh_from_db()
    assert (session.status, session.subscription, subscription.status) == ("complete", subscription, "active")
    assert Subscription.objects.count() == 1
    assert Invoice.objects.get().status == "paid"
    assert subscription.default_payment_method.card_last4 == "4242"
    assert list(PaymentMethod.objects.filter(customer=subscription.customer)) == [subscription.default_payment_method]


def test_three_d_secure_then_the_subscription_is_active(client, plan, card_token, stripe_backend):
    session = _open(client, _link(plan))
    body = _pay(client, session, card_token, "4000002500003155").json()
    assert body["status"] == "requires_action", body
    assert Subscription.objects.get().status == "incomplete"
    assert client.get(page_url(session, "/complete"))["Location"] == page_url(session)
    intent_id = body["payment"]["payment_intent"]
    from billing.models import PaymentIntent

    intent = PaymentIntent.objects.get(public_id=intent_id)
    stripe_backend.authenticate(intent.processor_id, body["client_secret"], success=True)
    synced = post_json(client, session, "/sync").json()
    assert synced["status"] == "succeeded", synced
    assert Subscription.objects.get().status == "active"
    session.refresh_from_db()
    assert (session.status, session.payment_status) == ("complete", "paid")


def test_an_abandoned_session_ends_the_subscription_a_declined_payer_started(client, plan, card_token):
    session = _open(client, _link(plan))
    assert _pay(client, session, card_token, "4000000000000341").status_code == 402
    assert Subscription.objects.get().status == "incomplete"
    checkout.checkout_session_expire(session=session)
    subscription = Subscription.objects.get()
    assert subscription.status == "incomplete_expired"
    assert Invoice.objects.get().status == "void"


# --- the API (stripe-python) ------------------------------------------------------------


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def monthly(api):
    return api.v1.prices.create(
        params={"product_data": {"name": "Club"}, "currency": "eur", "unit_amount": 900, "recurring": MONTHLY}
    )


def test_a_subscription_session_through_the_api(api, monthly, client, card_token):
    customer = api.v1.customers.create(params={"email": "grace@example.com"})
    session = api.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": monthly.id, "quantity": 2}],
            "customer": customer.id,
            "subscription_data": {"trial_period_days": 7, "metadata": {"via": "api"}},
            "success_url": "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}",
        }
    )
    assert (session.mode, session.status, session.amount_total, session.currency) == ("subscription", "open", 0, "eur")
    assert (session.subscription, session.invoice) == (None, None)
    local = CheckoutSession.objects.get(public_id=session.id)
    assert _pay(client, local, card_token, email="grace@example.com").json()["status"] == "succeeded"
    done = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert (done.status, done.payment_status, done.customer) == ("complete", "no_payment_required", customer.id)
    assert done.subscription.status == "trialing"
    assert done.subscription.metadata.to_dict() == {"via": "api"}
    assert done.subscription["items"].data[0].quantity == 2
    assert done.invoice.startswith("in_")
    assert api.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == (
        done.subscription.default_payment_method
    )


def test_modes_and_prices_must_agree(api, monthly):
    one_time = api.v1.prices.create(params={"product_data": {"name": "Mug"}, "currency": "eur", "unit_amount": 800})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": monthly.id}]})
    assert "You specified `payment` mode but passed a recurring price" in exc.value.user_message
    assert exc.value.param == "line_items[0][price]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params={"mode": "subscription", "line_items": [{"price": one_time.id}]})
    assert "at least one recurring price in `subscription` mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{"price": one_time.id}],
                "subscription_data": {"trial_period_days": 3},
            }
        )
    assert "subscription_data can only be used in `subscription` mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(params={"mode": "subscription"})
    assert exc.value.param == "line_items"
    yearly = api.v1.prices.create(
        params={
            "product_data": {"name": "Y"},
            "currency": "eur",
            "unit_amount": 9000,
            "recurring": {"interval": "year"},
        }
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.checkout.sessions.create(
            params={"mode": "subscription", "line_items": [{"price": monthly.id}, {"price": yearly.id}]}
        )
    assert "same billing interval" in exc.value.user_message


def test_a_payment_link_with_a_recurring_price_makes_subscription_sessions(api, monthly, kassa, paying_shop):
    link = api.v1.payment_links.create(
        params={
            "line_items": [{"price": monthly.id}],
            "subscription_data": {"trial_period_days": 30, "description": "Club"},
        }
    )
    assert link.subscription_data.trial_period_days == 30
    assert link.subscription_data.description == "Club"
    one_time = api.v1.prices.create(params={"product_data": {"name": "Mug"}, "currency": "eur", "unit_amount": 800})
    plain = api.v1.payment_links.create(params={"line_items": [{"price": one_time.id}]})
    assert plain.subscription_data is None
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_links.create(
            params={"line_items": [{"price": one_time.id}], "subscription_data": {"trial_period_days": 3}}
        )
    assert exc.value.param == "subscription_data"
    publishable = kassa(paying_shop.publishable_key.secret)
    session = publishable.v1.checkout.sessions.create(params={"payment_link": link.id})
    assert (session.mode, session.amount_total) == ("subscription", 0)
    updated = api.v1.payment_links.update(link.id, params={"subscription_data": {"trial_period_days": 7}})
    assert (updated.subscription_data.trial_period_days, updated.subscription_data.description) == (7, None)
    made = CheckoutSession.objects.get(public_id=session.id)
    assert made.subscription_data["trial_period_days"] == 30  # a session keeps what its link said when it opened
    assert made.expires_at > timezone.now()


def test_payers_racing_on_one_subscription_session_make_one_subscription_and_one_charge(
    live_server, plan, card_token, stripe_backend
):
    """Four submits at once (a double click, a second tab): one subscription, one invoice, one charge, and the card
    that paid is its default; the others are told where the session stands."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from billing.hosted import framing

    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=_link(plan))
    tokens = [card_token() for _ in range(4)]
    headers = {"X-Kassa-Page-Token": framing.page_token(session), "Origin": live_server.url}

    def pay(token):
        return requests.post(
            f"{live_server.url}{page_url(session, '/pay')}",
            json={"token": token, "email": "race@example.com"},
            headers=headers,
            timeout=60,
        ).json()

    before = len(processor_payment_intents(stripe_backend))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(pay, tokens))
    assert sum(a["status"] == "succeeded" for a in answers) >= 1, answers
    for answer in answers:
        assert answer["status"] == "succeeded" or answer["code"] == "payment_in_progress", answer
    subscription = Subscription.objects.get()
    assert subscription.status == "active"
    assert Invoice.objects.count() == 1
    assert len(processor_payment_intents(stripe_backend)) == before + 1
    intent = CheckoutSession.objects.get(pk=session.pk).invoice.payments.get(status="paid").payment_intent
    assert subscription.default_payment_method == intent.payment_method
    assert subscription.customer.default_payment_method == intent.payment_method
    # The cards that did not pay are not kept.
    assert list(PaymentMethod.objects.filter(customer=subscription.customer)) == [intent.payment_method]


def test_a_restricted_key_expands_the_subscription_only_with_subscriptions_read(
    api, monthly, kassa, paying_shop, client, card_token
):
    session = api.v1.checkout.sessions.create(params={"mode": "subscription", "line_items": [{"price": monthly.id}]})
    assert _pay(client, CheckoutSession.objects.get(public_id=session.id), card_token).json()["status"] == "succeeded"
    from tests import factories

    sessions_only = kassa(factories.restricted_key(paying_shop.merchant, {"checkout_sessions": "read"}))
    assert sessions_only.v1.checkout.sessions.retrieve(session.id).subscription.startswith("sub_")
    with pytest.raises(stripe.PermissionError) as exc:
        sessions_only.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    assert "subscriptions:read" in exc.value.user_message
    with pytest.raises(stripe.PermissionError) as exc:
        sessions_only.v1.checkout.sessions.retrieve(session.id, params={"expand": ["invoice"]})
    assert "invoices:read" in exc.value.user_message
    both = kassa(
        factories.restricted_key(
            paying_shop.merchant, {"checkout_sessions": "read", "subscriptions": "read", "invoices": "read"}
        )
    )
    expanded = both.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription", "invoice"]})
    assert (expanded.subscription.status, expanded.invoice.status) == ("active", "paid")
