"""A payer declined then paying through a link, and the merchant seeing it all in the dashboard, in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import Customer, PaymentIntent
from tests import factories
from tests.browser.test_dashboard_login import log_in
from tests.browser.test_hosted_checkout import fill_card, open_link

pytestmark = pytest.mark.services


def _pay(page, kassa_url, link, number, email="Ada@Example.com"):
    open_link(page, kassa_url, link)
    page.fill("#email", email)
    fill_card(page, number)
    page.click("#pay-button")


def test_a_decline_and_a_repeat_payer_as_the_merchant_sees_them(browser, page, kassa_url, paying_shop):
    m = paying_shop.merchant
    price = factories.price(m, unit_amount=1250, product=factories.product(m, name="Green tea"))
    # A link that keeps the payer's card (its "save the card" box), so their customer page shows it.
    link = factories.payment_link(m, price=price, quantity=2, setup_future_usage="off_session")

    # The payer: declined when charged (the card was accepted, the charge refused), then another card.
    _pay(page, kassa_url, link, "4000000000000341")
    expect(page.locator("#payment-message")).to_contain_text("declined")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(re.compile(r"/complete$"))
    # The same payer again through the link (the email typed in other letters), and once more, declined.
    _pay(page, kassa_url, link, "4242424242424242", email="ada@example.com")
    page.wait_for_url(re.compile(r"/complete$"))
    _pay(page, kassa_url, link, "4000000000000341", email="ada@example.com")
    expect(page.locator("#payment-message")).to_contain_text("declined")
    assert Customer.objects.filter(merchant=m).count() == 1
    failed = PaymentIntent.objects.get(status="requires_payment_method")

    # The merchant.
    context = browser.new_context(locale="en-US")
    merchant = context.new_page()
    log_in(merchant, kassa_url, paying_shop.owner.username)
    merchant.wait_for_url(f"{kassa_url}/admin/")
    merchant.goto(f"{kassa_url}/admin/billing/paymentintent/")
    row = merchant.locator("#result_list tbody tr", has_text=failed.public_id)
    expect(row.locator(".kassa-status")).to_have_text("Failed")
    expect(merchant.locator("#result_list .kassa-status", has_text="Succeeded")).to_have_count(2)
    merchant.locator("#changelist-filter").get_by_role("link", name="Failed").click()
    expect(merchant.locator("#result_list tbody tr")).to_have_count(1)
    row = merchant.locator("#result_list tbody tr").first
    row.locator("a").first.click()
    timeline = merchant.locator("#kassa-timeline")
    expect(timeline).to_contain_text("Failed")
    expect(timeline).to_contain_text("Your card was declined.")
    expect(timeline).to_contain_text("card_declined")

    # The payer is one customer with their history.
    merchant.goto(f"{kassa_url}/admin/billing/customer/")
    expect(merchant.locator("#result_list tbody tr")).to_have_count(1)
    merchant.locator("#result_list tbody tr a").first.click()
    payments = merchant.locator("#kassa-customer-payments tbody tr")
    expect(payments).to_have_count(3)
    expect(merchant.locator("#kassa-customer-payments")).to_contain_text("Failed")
    expect(merchant.locator("#kassa-customer-cards")).to_contain_text("•••• 4242")
    # Refused when charged: a card is kept only once its payment succeeds.
    expect(merchant.locator("#kassa-customer-cards")).not_to_contain_text("0341")
    expect(merchant.locator(".field-total_spent")).to_contain_text("50.00 EUR")
    context.close()
