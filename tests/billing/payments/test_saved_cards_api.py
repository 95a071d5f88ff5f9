"""Saved cards through stripe-python, unmodified, against a real localstripe: attach, detach, the default card.

Saving, retrieving and listing cards is in test_api.py.
"""

import json

import pytest
import stripe

from billing.models import Customer, PaymentMethod
from webhooks.models import Event


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


@pytest.fixture
def customer(api):
    return api.v1.customers.create(params={"email": "payer@example.com", "name": "Ada"})


@pytest.fixture
def save_card(api, customer, card_token):
    def save(number: str = "4242424242424242", on=None) -> stripe.PaymentMethod:
        params = {"type": "card", "card": {"token": card_token(number)}, "customer": (on or customer).id}
        return api.v1.payment_methods.create(params=params)

    return save


def _events(type_: str) -> list[dict]:
    return [e.data for e in Event.objects.filter(type=type_).order_by("id")]


def _processor_cards(stripe_backend, customer_id: str) -> list[str]:
    processor_id = Customer.objects.get(public_id=customer_id).processor_id
    answer = json.loads(stripe_backend.request("GET", f"/v1/customers/{processor_id}/sources"))
    return [source["id"] for source in answer["data"]]


def test_saving_a_card_attaches_it_and_says_so(api, customer, save_card):
    card = save_card()
    [event] = _events("payment_method.attached")
    assert (event["object"]["id"], event["object"]["customer"]) == (card.id, customer.id)


def test_attach_to_its_own_customer_answers_the_card(api, customer, save_card):
    card = save_card()
    again = api.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    assert isinstance(again, stripe.PaymentMethod)
    assert (again.id, again.customer) == (card.id, customer.id)
    expanded = api.v1.payment_methods.attach(card.id, params={"customer": customer.id, "expand": ["customer"]})
    assert isinstance(expanded.customer, stripe.Customer)
    assert len(_events("payment_method.attached")) == 1  # nothing changed: no second event


def test_a_card_belongs_to_one_customer(api, customer, save_card):
    card = save_card()
    other = api.v1.customers.create(params={"email": "other@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.attach(card.id, params={"customer": other.id})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (
        400,
        "payment_method_unexpected_state",
        "customer",
    )
    assert "already been attached" in exc.value.user_message
    assert PaymentMethod.objects.get(public_id=card.id).customer.public_id == customer.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.attach(card.id, params={"customer": "cus_missing"})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "resource_missing", "customer")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.attach(card.id)
    assert (exc.value.http_status, exc.value.param) == (400, "customer")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.attach("pm_missing", params={"customer": customer.id})
    assert exc.value.http_status == 404


def test_detach_removes_the_card_here_and_at_the_processor(api, customer, save_card, stripe_backend):
    card = save_card()
    kept = save_card("5555555555554444")
    processor_card = PaymentMethod.objects.get(public_id=card.id).processor_id
    assert processor_card in _processor_cards(stripe_backend, customer.id)

    detached = api.v1.payment_methods.detach(card.id)
    assert isinstance(detached, stripe.PaymentMethod)
    assert (detached.id, detached.customer, detached.card.last4) == (card.id, None, "4242")
    assert _processor_cards(stripe_backend, customer.id) == [PaymentMethod.objects.get(public_id=kept.id).processor_id]
    assert [m.id for m in api.v1.payment_methods.list(params={"customer": customer.id}).data] == [kept.id]
    assert [m.id for m in api.v1.customers.payment_methods.list(customer.id).data] == [kept.id]
    assert api.v1.payment_methods.retrieve(card.id).customer is None

    [event] = _events("payment_method.detached")
    assert event["object"]["id"] == card.id
    assert event["object"]["customer"] is None
    assert event["previous_attributes"] == {"customer": customer.id}

    # Never again: not detached twice, not attached again, not charged.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.detach(card.id)
    assert (exc.value.http_status, exc.value.code) == (400, "payment_method_unexpected_state")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    assert (exc.value.http_status, exc.value.code) == (400, "payment_method_unexpected_state")
    assert "may not be used again" in exc.value.user_message
    assert len(_events("payment_method.detached")) == 1


def test_a_detached_card_cannot_pay(api, customer, save_card, stripe_backend):
    card = save_card()
    waiting = api.v1.payment_intents.create(
        params={"amount": 1500, "currency": "eur", "customer": customer.id, "payment_method": card.id}
    )
    api.v1.payment_methods.detach(card.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.confirm(waiting.id)
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (
        400,
        "payment_method_unexpected_state",
        "payment_method",
    )
    other = api.v1.payment_intents.create(params={"amount": 1500, "currency": "eur", "customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.payment_intents.confirm(other.id, params={"payment_method": card.id})
    assert exc.value.code == "payment_method_unexpected_state"
    for params in (
        {"customer": customer.id, "payment_method": card.id, "confirm": True},
        {"payment_method": card.id},
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.payment_intents.create(params={"amount": 1500, "currency": "eur", **params})
        assert (exc.value.code, exc.value.param) == ("payment_method_unexpected_state", "payment_method")
    remote = json.loads(stripe_backend.request("GET", "/v1/payment_intents?limit=100"))["data"]
    assert remote == []  # nothing was charged
    assert api.v1.payment_intents.retrieve(waiting.id).status == "requires_confirmation"


def test_the_default_card(api, customer, save_card):
    card = save_card()
    second = save_card("5555555555554444")
    assert customer.invoice_settings.default_payment_method is None

    updated = api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    assert updated.invoice_settings.default_payment_method == card.id
    [event] = _events("customer.updated")
    assert event["object"]["invoice_settings"]["default_payment_method"] == card.id
    assert event["previous_attributes"]["invoice_settings"]["default_payment_method"] is None

    expanded = api.v1.customers.retrieve(customer.id, params={"expand": ["invoice_settings.default_payment_method"]})
    assert isinstance(expanded.invoice_settings.default_payment_method, stripe.PaymentMethod)
    assert expanded.invoice_settings.default_payment_method.card.last4 == "4242"
    listed = api.v1.customers.list(params={"expand": ["data.invoice_settings.default_payment_method"]})
    assert listed.data[0].invoice_settings.default_payment_method.id == card.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.retrieve(customer.id, params={"expand": ["invoice_settings.footer"]})
    assert exc.value.param == "expand"

    # Another of their cards; the same again changes nothing; "" clears it.
    moved = api.v1.customers.update(
        customer.id,
        params={
            "invoice_settings": {"default_payment_method": second.id},
            "expand": ["invoice_settings.default_payment_method"],
        },
    )
    assert moved.invoice_settings.default_payment_method.id == second.id
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": second.id}})
    assert len(_events("customer.updated")) == 2
    cleared = api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": ""}})
    assert cleared.invoice_settings.default_payment_method is None
    assert len(_events("customer.updated")) == 3


def test_detaching_the_default_clears_it(api, customer, save_card):
    card = save_card()
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    api.v1.payment_methods.detach(card.id)
    assert api.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    last = _events("customer.updated")[-1]
    assert last["object"]["invoice_settings"]["default_payment_method"] is None
    assert last["previous_attributes"]["invoice_settings"]["default_payment_method"] == card.id
    assert Event.objects.filter(type="payment_method.detached").count() == 1


def test_the_default_must_be_the_customers_own_card(kassa, api, customer, save_card, other_shop, card_token):
    other = api.v1.customers.create(params={"email": "other@example.com"})
    theirs = save_card(on=other)
    detached = save_card()
    api.v1.payment_methods.detach(detached.id)
    for card_id in (theirs.id, detached.id):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card_id}})
        assert (exc.value.http_status, exc.value.code, exc.value.param) == (
            400,
            "resource_missing",
            "invoice_settings[default_payment_method]",
        )
        assert "must be attached to the customer" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": "pm_missing"}})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (
        400,
        "resource_missing",
        "invoice_settings[default_payment_method]",
    )
    # A new customer has no card yet; "" is fine.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.create(params={"invoice_settings": {"default_payment_method": theirs.id}})
    assert exc.value.param == "invoice_settings[default_payment_method]"
    fresh = api.v1.customers.create(
        params={"email": "new@example.com", "invoice_settings": {"default_payment_method": ""}}
    )
    assert fresh.invoice_settings.default_payment_method is None
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.customers.update(customer.id, params={"invoice_settings": {"footer": "Thanks"}})
    assert exc.value.http_status == 400
    assert Customer.objects.get(public_id=customer.id).default_payment_method is None
    assert not _events("customer.updated")


def test_another_merchants_cards_are_missing(kassa, api, customer, save_card, other_shop):
    card = save_card()
    other_api = kassa(other_shop.secret_key.secret)
    theirs = other_api.v1.customers.create(params={"email": "x@example.com"})
    for call in (
        lambda: other_api.v1.payment_methods.attach(card.id, params={"customer": theirs.id}),
        lambda: other_api.v1.payment_methods.detach(card.id),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert exc.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError) as exc:
        other_api.v1.customers.update(theirs.id, params={"invoice_settings": {"default_payment_method": card.id}})
    assert (exc.value.http_status, exc.value.code) == (400, "resource_missing")
    assert api.v1.payment_methods.retrieve(card.id).customer == customer.id
