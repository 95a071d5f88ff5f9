"""Saved cards, PaymentIntents and refunds through stripe-python, unmodified, against a real localstripe.

Checkout (payment links, sessions, the publishable key, CORS) is in test_checkout_api.py.
"""

import time

import pytest
import stripe

from tests import factories
from tests.conftest import processor_payment_intents


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def customer(api):
    return api.v1.customers.create(params={"email": "payer@example.com", "name": "Ada"})


@pytest.fixture
def save_card(api, customer, card_token):
    """What a client app does with a Stripe.js token: save the card on its customer."""

    def save(number: str = "4242424242424242", **params) -> stripe.PaymentMethod:
        params = {"type": "card", "card": {"token": card_token(number)}, "customer": customer.id, **params}
        return api.v1.payment_methods.create(params=params)

    return save


@pytest.fixture
def paid(api, customer, save_card):
    """A succeeded payment of 20.00 EUR."""
    card = save_card()
    return api.v1.payment_intents.create(
        params={"amount": 2000, "currency": "eur", "customer": customer.id, "payment_method": card.id, "confirm": True}
    )


# --- payment methods ----------------------------------------------------------------


def test_save_a_card_retrieve_and_list_it(api, customer, save_card):
    card = save_card(billing_details={"name": "Ada Lovelace", "address": {"city": "London", "country": "GB"}})
    assert isinstance(card, stripe.PaymentMethod)
    assert card.id.startswith("pm_")
    assert (card.type, card.customer, card.livemode) == ("card", customer.id, False)
    assert (card.card.brand, card.card.last4, card.card.exp_month, card.card.exp_year) == ("visa", "4242", 12, 2034)
    assert card.billing_details.name == "Ada Lovelace"
    assert card.billing_details.address.city == "London"
    assert card.billing_details.address.line1 is None

    again = api.v1.payment_methods.retrieve(card.id, params={"expand": ["customer"]})
    assert isinstance(again.customer, stripe.Customer)
    assert again.customer.email == "payer@example.com"
    second = save_card("5555555555554444")
    assert second.card.last4 == "4444"
    listed = api.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [m.id for m in listed.data] == [second.id, card.id]
    assert [m.id for m in api.v1.customers.payment_methods.list(customer.id).data] == [second.id, card.id]
    page = api.v1.customers.payment_methods.list(customer.id, params={"limit": 1})
    assert ([m.id for m in page.data], page.has_more) == ([second.id], True)


def test_a_card_needs_a_customer_and_a_token(api, customer, card_token):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.create(params={"type": "card", "card": {"token": card_token()}})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "parameter_missing", "customer")
    assert "attached to that customer" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.create(
            params={
                "type": "card",
                "customer": customer.id,
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
            }
        )
    assert exc.value.param == "card[number]"
    assert "Stripe.js" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.list()
    assert (exc.value.code, exc.value.param) == ("parameter_missing", "customer")


def test_a_card_refused_when_attached_is_a_card_error(api, save_card):
    with pytest.raises(stripe.CardError) as exc:
        save_card("4000000000000002")
    assert (exc.value.http_status, exc.value.code) == (402, "card_declined")


# --- PaymentIntents -----------------------------------------------------------------


def test_create_and_confirm_with_a_saved_card(api, customer, save_card, stripe_backend):
    card = save_card()
    intent = api.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "EUR",
            "customer": customer.id,
            "payment_method": card.id,
            "confirm": True,
            "description": "Order 42",
            "receipt_email": "receipts@example.com",
            "metadata": {"order": "42"},
        }
    )
    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.id.startswith("pi_")
    assert (intent.status, intent.amount, intent.amount_received, intent.currency) == ("succeeded", 2000, 2000, "eur")
    assert (intent.customer, intent.payment_method) == (customer.id, card.id)
    assert (intent.description, intent.receipt_email, intent.metadata.to_dict()) == (
        "Order 42",
        "receipts@example.com",
        {"order": "42"},
    )
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.latest_charge
    assert (intent.next_action, intent.last_payment_error, intent.canceled_at) == (None, None, None)
    assert (intent.capture_method, intent.confirmation_method, intent.payment_method_types) == (
        "automatic",
        "automatic",
        ["card"],
    )
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["status"], remote["amount"], remote["currency"]) == ("succeeded", 2000, "eur")

    expanded = api.v1.payment_intents.retrieve(intent.id, params={"expand": ["customer", "payment_method"]})
    assert isinstance(expanded.customer, stripe.Customer)
    assert isinstance(expanded.payment_method, stripe.PaymentMethod)
    assert expanded.payment_method.card.last4 == "4242"


def test_create_then_confirm_update_and_list(api, customer, save_card):
    intent = api.v1.payment_intents.create(params={"amount": 1500, "currency": "usd", "customer": customer.id})
    assert (intent.status, intent.payment_method, intent.amount_received) == ("requires_payment_method", None, 0)
    updated = api.v1.payment_intents.update(
        intent.id, params={"description": "Blue mug", "receipt_email": "m@example.com", "metadata": {"sku": "M1"}}
    )
    assert (updated.description, updated.receipt_email, updated.metadata.to_dict()) == (
        "Blue mug",
        "m@example.com",
        {"sku": "M1"},
    )
    cleared = api.v1.payment_intents.update(intent.id, params={"description": "", "metadata": {"sku": ""}})
    assert (cleared.description, cleared.metadata.to_dict()) == (None, {})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.update(intent.id, params={"amount": 1})
    assert exc.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.confirm(intent.id)
    assert exc.value.param == "payment_method"

    card = save_card()
    confirmed = api.v1.payment_intents.confirm(intent.id, params={"payment_method": card.id})
    assert (confirmed.status, confirmed.amount_received, confirmed.payment_method) == ("succeeded", 1500, card.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.confirm(intent.id)
    assert exc.value.code == "payment_intent_unexpected_state"

    someone_else = api.v1.customers.create(params={"email": "other@example.com"})
    other = api.v1.payment_intents.create(params={"amount": 300, "currency": "usd", "customer": someone_else.id})
    assert [i.id for i in api.v1.payment_intents.list().data] == [other.id, intent.id]
    assert [i.id for i in api.v1.payment_intents.list(params={"customer": customer.id}).data] == [intent.id]
    now = int(time.time())
    assert len(api.v1.payment_intents.list(params={"created": {"gte": now - 60}}).data) == 2
    assert api.v1.payment_intents.list(params={"created": {"gt": now + 60}}).data == []
    listed = api.v1.payment_intents.list(params={"expand": ["data.customer"], "limit": 1})
    assert (listed.data[0].customer.email, listed.has_more) == ("other@example.com", True)


def test_a_refused_card_is_a_card_error_and_the_payment_can_be_retried(api, customer, save_card):
    refused = save_card("4000000000000341")  # attaches, then declines when charged
    with pytest.raises(stripe.CardError) as exc:
        api.v1.payment_intents.create(
            params={
                "amount": 990,
                "currency": "eur",
                "customer": customer.id,
                "payment_method": refused.id,
                "confirm": True,
            }
        )
    assert (exc.value.http_status, exc.value.code) == (402, "card_declined")
    assert "declined" in exc.value.user_message
    # As at Stripe, the error carries the PaymentIntent as it now stands.
    carried = exc.value.error.payment_intent
    assert (carried.status, carried.last_payment_error.code) == ("requires_payment_method", "card_declined")

    intent = api.v1.payment_intents.retrieve(carried.id)
    assert (intent.status, intent.amount_received) == ("requires_payment_method", 0)
    assert (intent.last_payment_error.type, intent.last_payment_error.code) == ("card_error", "card_declined")

    good = save_card()
    paid = api.v1.payment_intents.confirm(intent.id, params={"payment_method": good.id})
    assert (paid.status, paid.amount_received, paid.last_payment_error) == ("succeeded", 990, None)


def test_a_card_asking_for_3d_secure_leaves_requires_action(api, customer, save_card):
    card = save_card("4000002500003155")
    intent = api.v1.payment_intents.create(
        params={"amount": 700, "currency": "eur", "customer": customer.id, "payment_method": card.id, "confirm": True}
    )
    assert intent.status == "requires_action"
    assert intent.next_action.type == "use_stripe_sdk"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.confirm(intent.id)
    assert exc.value.code == "payment_intent_unexpected_state"


@pytest.mark.parametrize("success", [True, False])
def test_3d_secure_is_finished_in_the_browser_and_seen_through_the_api(
    api, customer, save_card, stripe_backend, success
):
    card = save_card("4000002500003155")
    intent = api.v1.payment_intents.create(
        params={"amount": 700, "currency": "eur", "customer": customer.id, "payment_method": card.id, "confirm": True}
    )
    secret = intent.next_action.use_stripe_sdk.client_secret
    # What Stripe.js's handleCardAction(secret) does in the payer's browser with the merchant's Stripe key:
    stripe_backend.authenticate(secret.split("_secret_")[0], secret, success=success)
    after = api.v1.payment_intents.retrieve(intent.id)
    if success:
        assert (after.status, after.amount_received, after.next_action) == ("succeeded", 700, None)
    else:
        assert after.status == "requires_payment_method"
        assert after.last_payment_error.code == "payment_intent_authentication_failure"


def test_cancel_an_unpaid_payment(api, customer, paid):
    intent = api.v1.payment_intents.create(params={"amount": 500, "currency": "eur", "customer": customer.id})
    canceled = api.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "requested_by_customer"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "requested_by_customer")
    assert abs(canceled.canceled_at - time.time()) < 60
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.cancel(intent.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.cancel(paid.id)
    assert "succeeded" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "bored"})
    assert exc.value.param == "cancellation_reason"


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"currency": "eur"}, "amount", "parameter_missing"),
        ({"amount": 0, "currency": "eur"}, "amount", "amount_too_small"),
        ({"amount": "1.5", "currency": "eur"}, "amount", "parameter_invalid_integer"),
        ({"amount": 100, "currency": "xyz"}, "currency", "parameter_invalid_currency"),
        ({"amount": 100, "currency": "eur", "confirm": True}, "payment_method", "parameter_missing"),
        ({"amount": 100, "currency": "eur", "receipt_email": "nope"}, "receipt_email", "email_invalid"),
        ({"amount": 100, "currency": "eur", "capture_method": "manual"}, "capture_method", "parameter_unknown"),
        ({"amount": 100, "currency": "eur", "customer": "cus_nope"}, "customer", "resource_missing"),
    ],
)
def test_payment_intent_parameters_are_checked(api, params, param, code):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.create(params=params)
    assert (exc.value.http_status, exc.value.param, exc.value.code) == (400, param, code)
    assert api.v1.payment_intents.list().data == []


# --- refunds ------------------------------------------------------------------------


def test_partial_and_full_refunds_never_exceed_the_payment(api, paid, stripe_backend):
    partial = api.v1.refunds.create(
        params={"payment_intent": paid.id, "amount": 500, "reason": "requested_by_customer", "metadata": {"t": "1"}}
    )
    assert isinstance(partial, stripe.Refund)
    assert partial.id.startswith("re_")
    assert (partial.status, partial.amount, partial.currency, partial.reason) == (
        "succeeded",
        500,
        "eur",
        "requested_by_customer",
    )
    assert (partial.payment_intent, partial.charge, partial.metadata.to_dict()) == (
        paid.id,
        paid.latest_charge,
        {"t": "1"},
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.refunds.create(params={"payment_intent": paid.id, "amount": 1501})
    assert (exc.value.http_status, exc.value.param, exc.value.code) == (400, "amount", "amount_too_large")
    rest = api.v1.refunds.create(params={"payment_intent": paid.id})
    assert (rest.status, rest.amount, rest.reason) == ("succeeded", 1500, None)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.refunds.create(params={"payment_intent": paid.id, "amount": 1})
    assert exc.value.code == "charge_already_refunded"

    remote = stripe.StripeClient("sk_test_x", base_addresses={"api": stripe_backend.url})
    assert sorted(r.amount for r in remote.v1.refunds.list().data) == [500, 1500]

    assert [r.id for r in api.v1.refunds.list(params={"payment_intent": paid.id}).data] == [rest.id, partial.id]
    expanded = api.v1.refunds.retrieve(partial.id, params={"expand": ["payment_intent"]})
    assert isinstance(expanded.payment_intent, stripe.PaymentIntent)
    assert expanded.payment_intent.amount_received == 2000
    updated = api.v1.refunds.update(partial.id, params={"metadata": {"t": "", "note": "damaged"}})
    assert updated.metadata.to_dict() == {"note": "damaged"}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.refunds.update(partial.id, params={"amount": 1})
    assert exc.value.code == "parameter_unknown"


def test_only_a_succeeded_payment_can_be_refunded(api, customer):
    unpaid = api.v1.payment_intents.create(params={"amount": 500, "currency": "eur", "customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.refunds.create(params={"payment_intent": unpaid.id})
    assert (exc.value.code, exc.value.param) == ("charge_not_refundable", "payment_intent")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.refunds.create(params={"payment_intent": unpaid.id, "reason": "changed_mind"})
    assert exc.value.param == "reason"
    assert api.v1.refunds.list().data == []


# --- whose objects, which mode, which key ---------------------------------------------


def test_another_merchants_objects_are_missing(kassa, api, other_shop, customer, save_card, paid):
    card = save_card()
    refund = api.v1.refunds.create(params={"payment_intent": paid.id, "amount": 100})
    theirs = kassa(other_shop.secret_key.secret)
    for call in (
        lambda: theirs.v1.payment_intents.retrieve(paid.id),
        lambda: theirs.v1.payment_intents.update(paid.id, params={"metadata": {"a": "b"}}),
        lambda: theirs.v1.payment_intents.confirm(paid.id),
        lambda: theirs.v1.payment_intents.cancel(paid.id),
        lambda: theirs.v1.refunds.retrieve(refund.id),
        lambda: theirs.v1.payment_methods.retrieve(card.id),
        lambda: theirs.v1.customers.payment_methods.list(customer.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")
    for call, param in (
        (lambda: theirs.v1.refunds.create(params={"payment_intent": paid.id}), "payment_intent"),
        (
            lambda: theirs.v1.payment_intents.create(params={"amount": 1, "currency": "eur", "customer": customer.id}),
            "customer",
        ),
        (
            lambda: theirs.v1.payment_intents.create(
                params={"amount": 1, "currency": "eur", "payment_method": card.id}
            ),
            "payment_method",
        ),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "resource_missing", param)
    assert theirs.v1.payment_intents.list().data == []
    assert theirs.v1.refunds.list().data == []


def test_a_merchant_without_stripe_credentials_gets_a_clear_error(kassa, other_shop, card_token):
    api = kassa(other_shop.secret_key.secret)
    customer = api.v1.customers.create(params={"email": "p@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.create(params={"type": "card", "card": {"token": card_token()}, "customer": customer.id})
    assert (exc.value.http_status, exc.value.code) == (400, "processor_not_configured")
    assert "Stripe credentials" in exc.value.user_message
    intent = api.v1.payment_intents.create(params={"amount": 100, "currency": "eur", "customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.confirm(intent.id)
    assert (exc.value.http_status, exc.value.code) == (400, "processor_not_configured")
    assert api.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_a_test_key_never_sees_live_objects(kassa, api, paying_shop):
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    live_customer = live.v1.customers.create(params={"email": "live@example.com"})
    live_intent = live.v1.payment_intents.create(
        params={"amount": 100, "currency": "eur", "customer": live_customer.id}
    )
    assert live_intent.livemode is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.retrieve(live_intent.id)
    assert exc.value.http_status == 404
    assert "live mode" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.create(params={"amount": 100, "currency": "eur", "customer": live_customer.id})
    assert exc.value.param == "customer"
    assert api.v1.payment_intents.list().data == []
    assert [i.id for i in live.v1.payment_intents.list().data] == [live_intent.id]
    # Live mode has no Stripe credentials here: a clear error, never the test credentials.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        live.v1.payment_intents.confirm(live_intent.id)
    assert exc.value.code == "processor_not_configured"
    assert "live mode" in exc.value.user_message


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.v1.payment_intents.list(),
        lambda c: c.v1.payment_intents.create(params={"amount": 100, "currency": "eur"}),
        lambda c: c.v1.payment_intents.retrieve("pi_x"),
        lambda c: c.v1.refunds.list(),
        lambda c: c.v1.refunds.create(params={"payment_intent": "pi_x"}),
        lambda c: c.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_x"}}),
        lambda c: c.v1.payment_methods.list(params={"customer": "cus_x"}),
    ],
)
def test_a_publishable_key_cannot_touch_payments(kassa, shop, call):
    with pytest.raises(stripe.PermissionError) as exc:
        call(kassa(shop.publishable_key.secret))
    assert exc.value.http_status == 403


def test_restricted_keys_get_what_they_were_granted(kassa, api, paying_shop, paid):
    reader = kassa(factories.restricted_key(paying_shop.merchant, {"payment_intents": "read"}))
    assert [i.id for i in reader.v1.payment_intents.list().data] == [paid.id]
    with pytest.raises(stripe.PermissionError) as exc:
        reader.v1.payment_intents.cancel(paid.id)
    assert "payment_intents:write" in str(exc.value)
    with pytest.raises(stripe.PermissionError) as exc:
        reader.v1.refunds.create(params={"payment_intent": paid.id})
    assert "refunds:write" in str(exc.value)
    refunder = kassa(factories.restricted_key(paying_shop.merchant, {"refunds": "write"}))
    assert refunder.v1.refunds.create(params={"payment_intent": paid.id, "amount": 1}).amount == 1
