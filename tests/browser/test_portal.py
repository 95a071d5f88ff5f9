"""A customer on the hosted customer portal, in Chromium, against localstripe and its Stripe.js mock.

The mock's card element is described in test_hosted_checkout.py.
"""

import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.catalogue import services as catalogue
from billing.models import Customer, Subscription
from billing.portal import services as portal
from tests import factories
from tests.browser.test_hosted_checkout import csp_violations, fill_card

pytestmark = pytest.mark.services

RETURN_URL = "https://shop.example/account"


@pytest.fixture
def payer(paying_shop, card_token):
    m = paying_shop.merchant
    customer = factories.customer(m, email="ada@example.com", name="Ada Lovelace")
    old = factories.saved_card(customer, card_token, "5555555555554444")
    customer = catalogue.customer_update(customer=customer, default_payment_method=old)
    tea = factories.price(m, unit_amount=4190, product=factories.product(m, name="Green tea"))
    customer.invoice = factories.open_invoice(m, customer=customer, price=tea)
    return customer


@pytest.fixture
def subscriber(payer):
    """Ada's Gold subscription (50.00 EUR a month, paid with her card); the portal lets her cancel it."""
    m = payer.merchant
    gold = factories.price(
        m, unit_amount=5000, product=factories.product(m, name="Gold plan"), recurring={"interval": "month"}
    )
    payer.subscription = factories.subscription(m, customer=payer, price=gold)
    configuration = portal.portal_configuration_for(merchant=m, livemode=False)
    portal.portal_configuration_update(
        configuration=configuration, subscription_cancel=True, cancellation_reasons=["too_expensive", "unused"]
    )
    return payer


def portal_url(customer, **options) -> str:
    session = portal.portal_session_create(
        merchant=customer.merchant,
        livemode=False,
        customer=customer,
        now=timezone.now(),
        return_url=RETURN_URL,
        **options,
    )
    return portal.portal_session_url(session)


def test_the_payer_updates_their_card_and_downloads_an_invoice(page, payer, tmp_path):
    violations = csp_violations(page)
    page.goto(portal_url(payer))
    expect(page.locator("#customer-name")).to_have_text("Ada Lovelace")
    expect(page.locator("#customer-email")).to_have_text("ada@example.com")
    expect(page.locator("#return-link")).to_have_attribute("href", RETURN_URL)
    expect(page.locator("#card-last4")).to_have_text("4444")
    row = page.locator(f'tr[data-number="{payer.invoice.number}"]')
    expect(row).to_contain_text("€41.90")
    expect(row).to_contain_text("Open")
    # Update card: the card goes to Stripe.js, only its token to Kassa.
    page.locator("#update-card-button").click()
    fill_card(page, "4242424242424242")
    page.locator("#pay-button").click()
    page.wait_for_url("**/portal/*?done=payment_method.update*")
    expect(page.locator("#payment_method-done")).to_have_text("Your card has been updated.")
    expect(page.locator("#card-last4")).to_have_text("4242")
    card = Customer.objects.get(pk=payer.pk).default_payment_method
    assert card.card_last4 == "4242"
    # The invoice's PDF, downloaded from the list.
    with page.expect_download() as download_info:
        row.locator(".invoice-pdf-link").click()
    path = tmp_path / "invoice.pdf"
    download_info.value.save_as(path)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert payer.invoice.number in text
    # The invoice's own page, one click away.
    row.locator(".invoice-page-link").click()
    expect(page.locator("#invoice-number")).to_have_text(payer.invoice.number)
    assert violations == []


def test_on_a_phone_in_french(browser, kassa_url, payer):
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 667}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(portal_url(payer))
        expect(page.locator("#return-link")).to_contain_text("Retourner sur Shop")
        expect(page.locator("#section-invoices h2")).to_have_text("Factures")
        expect(page.locator(f'tr[data-number="{payer.invoice.number}"]')).to_contain_text("41,90")
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


def test_the_payer_cancels_at_the_end_of_the_period_then_keeps_it(page, subscriber):
    violations = csp_violations(page)
    sub = subscriber.subscription
    page.goto(portal_url(subscriber))
    block = page.locator(f"#subscription-{sub.public_id}")
    expect(block).to_contain_text("Gold plan")
    expect(block).to_contain_text("€50.00 every month")
    expect(block.locator(".subscription-status")).to_have_text("Active")
    expect(block.locator(".subscription-next")).to_contain_text("Renews on")
    block.locator(".subscription-cancel summary").click()
    block.locator(".subscription-reason").select_option("too_expensive")
    block.locator(".subscription-comment").fill("Too pricey for me")
    block.get_by_role("button", name="Cancel at the end of the period").click()
    page.wait_for_url("**/portal/*?done=subscriptions.cancel*")
    expect(page.locator("#subscriptions-done")).to_contain_text("Your subscription will end")
    expect(block.locator(".subscription-next")).to_contain_text("Cancels on")
    sub = Subscription.objects.get(pk=sub.pk)
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert (sub.cancellation_feedback, sub.cancellation_comment) == ("too_expensive", "Too pricey for me")
    # Changed their mind.
    block.get_by_role("button", name="Keep my subscription").click()
    page.wait_for_url("**/portal/*?done=subscriptions.keep*")
    expect(block.locator(".subscription-next")).to_contain_text("Renews on")
    assert Subscription.objects.get(pk=sub.pk).cancel_at_period_end is False
    assert violations == []


def test_subscriptions_on_a_phone_in_french(browser, kassa_url, subscriber):
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 667}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(portal_url(subscriber))
        block = page.locator(f"#subscription-{subscriber.subscription.public_id}")
        expect(block).to_contain_text("50,00\xa0€ chaque mois")
        expect(page.locator("#section-subscriptions h2")).to_have_text("Abonnements")
        block.locator(".subscription-cancel summary").click()
        expect(block.get_by_role("button", name="Résilier à la fin de la période")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


def test_the_payer_changes_how_many_seats_they_pay_for(page, subscriber):
    portal.portal_configuration_update(
        configuration=portal.portal_configuration_for(merchant=subscriber.merchant, livemode=False),
        subscription_update_quantity=True,
        subscription_update_prices=[subscriber.subscription.items.get().price],  # its product is offered
    )
    violations = csp_violations(page)
    sub = subscriber.subscription
    page.goto(portal_url(subscriber))
    block = page.locator(f"#subscription-{sub.public_id}")
    block.locator(".subscription-quantity summary").click()
    field = block.locator(".subscription-quantity-input")
    expect(field).to_have_value("1")
    field.fill("0")  # the browser itself refuses it: nothing is sent
    block.get_by_role("button", name="Update quantity").click()
    assert field.evaluate("input => input.validity.rangeUnderflow") is True
    assert Subscription.objects.get(pk=sub.pk).items.get().quantity == 1
    field.fill("4")
    block.get_by_role("button", name="Update quantity").click()
    page.wait_for_url("**/portal/*?done=subscriptions.quantity*")
    expect(page.locator("#subscriptions-done")).to_contain_text("Your quantity has been changed.")
    expect(block).to_contain_text("4 × €50.00 every month")  # noqa: RUF001 (the multiplication sign)
    assert Subscription.objects.get(pk=sub.pk).items.get().quantity == 4
    assert violations == []
