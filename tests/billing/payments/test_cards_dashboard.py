"""A customer's saved cards in the dashboard: the default marked, "Make default" and "Remove" for writers."""

import json

import pytest
from django.test import Client

from billing.catalogue import services as catalogue
from merchants.models import Membership
from tests import factories
from webhooks.models import Event

CUSTOMERS = "/admin/billing/customer/"


@pytest.fixture
def cards(paying_shop, card_token):
    merchant = paying_shop.merchant
    customer = catalogue.customer_create(merchant=merchant, livemode=False, email="ada@example.com")
    first = factories.saved_card(customer, card_token)
    second = factories.saved_card(customer, card_token, "5555555555554444")
    return customer, first, second


def _page(client, customer) -> str:
    response = client.get(f"{CUSTOMERS}{customer.pk}/change/")
    assert response.status_code == 200
    return response.text


def test_a_writer_makes_a_card_the_default_then_removes_it(client, paying_shop, cards, stripe_backend):
    customer, first, second = cards
    client.force_login(paying_shop.owner)
    page = _page(client, customer)
    assert 'id="kassa-customer-actions"' in page
    assert page.count('class="kassa-card-default"') == 2
    assert page.count('class="kassa-card-remove"') == 2
    assert 'id="kassa-default-card"' not in page

    answer = client.post(f"{CUSTOMERS}{customer.pk}/cards/default/", {"payment_method": first.public_id}, follow=True)
    assert "is now the default card" in answer.text
    customer.refresh_from_db()
    assert customer.default_payment_method == first
    page = _page(client, customer)
    assert page.count('id="kassa-default-card"') == 1
    assert page.count('class="kassa-card-default"') == 1  # the default has no "Make default"
    assert Event.objects.filter(type="customer.updated").count() == 1

    answer = client.post(f"{CUSTOMERS}{customer.pk}/cards/remove/", {"payment_method": first.public_id}, follow=True)
    assert "can no longer be charged" in answer.text
    first.refresh_from_db()
    customer.refresh_from_db()
    assert (first.customer, customer.default_payment_method) == (None, None)
    sources = json.loads(stripe_backend.request("GET", f"/v1/customers/{customer.processor_id}/sources"))["data"]
    assert [s["id"] for s in sources] == [second.processor_id]
    assert first.public_id not in _page(client, customer)
    assert Event.objects.filter(type="payment_method.detached").count() == 1

    # A removed card, or another customer's, is refused with a message; nothing changes.
    other = catalogue.customer_create(merchant=paying_shop.merchant, livemode=False, email="bob@example.com")
    for card_id in (first.public_id, "pm_nothing"):
        answer = client.post(f"{CUSTOMERS}{other.pk}/cards/default/", {"payment_method": card_id}, follow=True)
        assert "This card is not saved on this customer." in answer.text
    answer = client.post(f"{CUSTOMERS}{other.pk}/cards/remove/", {"payment_method": second.public_id}, follow=True)
    assert "This card is not saved on this customer." in answer.text
    second.refresh_from_db()
    assert second.customer == customer
    # POST only.
    assert client.get(f"{CUSTOMERS}{customer.pk}/cards/default/").status_code == 405


def test_viewers_see_the_default_but_no_buttons(client, paying_shop, cards):
    customer, first, second = cards
    catalogue.customer_update(customer=customer, default_payment_method=first)
    client.force_login(factories.staff(paying_shop.merchant, Membership.Role.VIEWER))
    page = _page(client, customer)
    assert 'id="kassa-default-card"' in page
    assert "kassa-card-default" not in page
    assert "kassa-card-remove" not in page
    assert 'id="kassa-customer-actions"' not in page
    for action, card in (("default", second), ("remove", first)):
        response = client.post(f"{CUSTOMERS}{customer.pk}/cards/{action}/", {"payment_method": card.public_id})
        assert response.status_code == 403
    customer.refresh_from_db()
    first.refresh_from_db()
    assert (customer.default_payment_method, first.customer) == (first, customer)


def test_another_merchant_or_the_other_mode_cannot_touch_the_cards(client, paying_shop, other_shop, cards):
    customer, first, _second = cards
    others = Client()
    others.force_login(other_shop.owner)
    for action in ("default", "remove"):
        url = f"{CUSTOMERS}{customer.pk}/cards/{action}/"
        assert others.post(url, {"payment_method": first.public_id}).status_code == 404
    client.force_login(paying_shop.owner)
    client.post("/admin/switch/mode/", {"livemode": "1"})
    for action in ("default", "remove"):
        url = f"{CUSTOMERS}{customer.pk}/cards/{action}/"
        assert client.post(url, {"payment_method": first.public_id}).status_code == 404
    customer.refresh_from_db()
    first.refresh_from_db()
    assert (customer.default_payment_method, first.customer) == (None, customer)
