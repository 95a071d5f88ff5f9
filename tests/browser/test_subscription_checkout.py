"""A payer subscribes through a payment link of a recurring price, in Chromium, against localstripe and its Stripe.js
mock: the first invoice paid with 4242 4242 4242 4242, the success page, the subscription active with the card as
its default."""

import pytest
from playwright.sync_api import expect

from billing.catalogue import services as catalogue
from billing.checkout import services as checkout
from billing.models import Invoice, Subscription
from tests.browser.test_hosted_checkout import fill_card, open_link

pytestmark = pytest.mark.services


@pytest.fixture
def club_link(paying_shop):
    m = paying_shop.merchant
    product = catalogue.product_create(merchant=m, livemode=False, name="Tea club")
    price = catalogue.price_create(
        merchant=m, livemode=False, product=product, currency="eur", unit_amount=900, recurring={"interval": "month"}
    )
    return checkout.payment_link_create(merchant=m, livemode=False, line_items=[{"price": price, "quantity": 1}])


def test_subscribing_through_a_link_with_a_card(page, kassa_url, club_link, stripe_backend):
    session = open_link(page, kassa_url, club_link)
    expect(page.locator("#line-items")).to_contain_text("Tea club")
    expect(page.locator("#line-items")).to_contain_text("€9.00 every month")
    expect(page.locator("#total")).to_have_text("€9.00")
    expect(page.locator("#subscription-then")).to_have_text("Then €9.00 every month")
    expect(page.locator("#pay-button")).to_have_text("Subscribe")
    page.fill("#email", "ada@example.com")
    page.fill("#name", "Ada Lovelace")
    fill_card(page, "4242424242424242")
    page.locator("#pay-button").click()
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    expect(page.locator("#page-title")).to_have_text("Subscription started")
    expect(page.locator("#page-body")).to_contain_text("Your subscription to Shop has started: €9.00 was paid today")
    subscription = Subscription.objects.get()
    expect(page.locator("#reference")).to_contain_text(subscription.public_id)
    session.refresh_from_db()
    assert (session.status, session.subscription) == ("complete", subscription)
    assert subscription.status == "active"
    assert subscription.default_payment_method.card_last4 == "4242"
    assert subscription.customer.email == "ada@example.com"
    assert subscription.customer.default_payment_method == subscription.default_payment_method
    assert Invoice.objects.get(subscription=subscription).status == "paid"


def test_a_declined_card_then_another_starts_one_subscription(page, kassa_url, club_link, stripe_backend):
    session = open_link(page, kassa_url, club_link)
    page.fill("#email", "ada@example.com")
    fill_card(page, "4000000000000341")  # taken, then declined when charged
    page.locator("#pay-button").click()
    expect(page.locator("#payment-message")).to_have_text("Your card was declined. Try another card.")
    assert Subscription.objects.get().status == "incomplete"
    fill_card(page, "4242424242424242")
    page.locator("#pay-button").click()
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    expect(page.locator("#page-title")).to_have_text("Subscription started")
    assert [s.status for s in Subscription.objects.all()] == ["active"]
