"""Saving a card in Chromium: a setup-mode session's page, a payment link that keeps the card, the dashboard's box.

The card is typed into localstripe's Stripe.js mock and tokenized there (``createToken``); Kassa sees the token.
"""

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from billing.checkout import services as checkout
from billing.models import CheckoutSession, PaymentIntent, PaymentLink, PaymentMethod
from billing.payments import services as payments
from tests import factories
from tests.browser.test_hosted_checkout import fill_card, open_link
from webhooks.models import Event

pytestmark = pytest.mark.services


def _setup_session(merchant, **options) -> CheckoutSession:
    return checkout.checkout_session_create(
        merchant=merchant, livemode=False, mode="setup", now=timezone.now(), **options
    )


def test_saving_a_card_then_charging_it_off_session(page, kassa_url, paying_shop):
    m = paying_shop.merchant
    session = _setup_session(m, success_url=None)
    page.goto(f"{kassa_url}/pay/session/{session.public_id}")
    expect(page.locator("#summary-title")).to_have_text("Save your card")
    expect(page.locator("#setup-body")).to_have_text(
        "Shop will keep your card to charge it later. Nothing is charged now."
    )
    expect(page.locator("#pay-button")).to_have_text("Save card")
    expect(page.locator("#total")).to_have_count(0)
    page.fill("#email", "ann@example.com")
    page.fill("#name", "Ann Example")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    expect(page.locator("#page-title")).to_have_text("Card saved")
    expect(page.locator("#page-body")).to_have_text(
        "Shop has saved your Visa card ending in 4242. Nothing was charged."
    )

    session.refresh_from_db()
    assert (session.status, session.payment_status, session.payment_intent) == (
        "complete",
        "no_payment_required",
        None,
    )
    card = PaymentMethod.objects.get()
    assert (card.customer, card.card_last4, card.billing_details["name"]) == (
        session.customer,
        "4242",
        "Ann Example",
    )
    assert session.customer.email == "ann@example.com"
    assert not PaymentIntent.objects.exists()  # nothing was charged
    types = list(Event.objects.order_by("id").values_list("type", flat=True))
    assert {"payment_method.attached", "checkout.session.completed"} <= set(types)

    # Later, without the payer: the saved card pays off session.
    charged = payments.payment_intent_create_and_confirm(
        now=timezone.now(),
        merchant=m,
        livemode=False,
        amount=1500,
        currency="eur",
        customer=session.customer,
        payment_method=card,
        off_session=True,
    )
    assert (charged.status, charged.amount_received) == ("succeeded", 1500)


def test_a_card_declined_when_saved_shows_why_and_the_session_stays_open(page, kassa_url, paying_shop):
    session = _setup_session(paying_shop.merchant)
    page.goto(f"{kassa_url}/pay/session/{session.public_id}")
    page.fill("#email", "ann@example.com")
    fill_card(page, "4000000000000002")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text("Your card was declined. Try another card.")
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#pay-button")).to_have_text("Save card")
    session.refresh_from_db()
    assert session.status == "open"
    assert not PaymentMethod.objects.exists()
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    assert PaymentMethod.objects.get().customer_id is not None


def test_the_setup_page_in_french(french_page, kassa_url, paying_shop):
    session = _setup_session(paying_shop.merchant)
    french_page.goto(f"{kassa_url}/pay/session/{session.public_id}")
    expect(french_page.locator("#summary-title")).to_have_text("Enregistrer votre carte")
    expect(french_page.locator("#pay-button")).to_have_text("Enregistrer la carte")
    french_page.fill("#email", "anne@example.com")
    fill_card(french_page, "4000000000000002")
    french_page.click("#pay-button")
    expect(french_page.locator("#payment-message")).to_have_text("Votre carte a été refusée. Essayez une autre carte.")
    fill_card(french_page, "4242424242424242")
    french_page.click("#pay-button")
    french_page.wait_for_url("**/complete")
    expect(french_page.locator("#page-title")).to_have_text("Carte enregistrée")
    expect(french_page.locator("#page-body")).to_contain_text("se terminant par 4242")


def test_a_payment_link_that_keeps_the_card(page, kassa_url, paying_shop):
    m = paying_shop.merchant
    price = factories.price(m, unit_amount=1250, currency="eur", product=factories.product(m, name="Tea"))
    link = factories.payment_link(m, price=price, setup_future_usage="off_session")
    session = open_link(page, kassa_url, link)
    expect(page.locator("#save-card-notice")).to_have_text("Shop will save this card for your future payments.")
    page.fill("#email", "payer@example.com")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    intent = PaymentIntent.objects.get()
    assert (intent.status, intent.setup_future_usage) == ("succeeded", "off_session")
    card = PaymentMethod.objects.get()
    assert (card.customer_id, card.pk) == (intent.customer_id, intent.payment_method_id)
    # Without the option, the next payer's card pays once and is not kept.
    plain = factories.payment_link(m, price=price)
    open_link(page, kassa_url, plain)
    expect(page.locator("#save-card-notice")).to_have_count(0)
    page.fill("#email", "payer@example.com")
    fill_card(page, "5555555555554444")
    page.click("#pay-button")
    page.wait_for_url("**/complete")
    assert list(intent.customer.payment_methods.values_list("card_last4", flat=True)) == ["4242"]


def _logged_in(page, base, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


def test_the_dashboards_checkbox_saves_the_card(page, kassa_url, shop):
    _logged_in(page, kassa_url, shop.owner)
    page.goto(f"{kassa_url}/admin/billing/paymentlink/add/")
    page.select_option("#id_amount_currency", "eur")
    page.fill("#id_amount", "30")
    page.fill("#id_amount_description", "Membership")
    box = page.get_by_label("Save the card for later charges")
    expect(box).not_to_be_checked()
    box.check()
    page.click("input[name=_save]")
    page.wait_for_url("**/change/")
    link = PaymentLink.objects.get()
    assert link.setup_future_usage == "off_session"
    expect(page.get_by_label("Save the card for later charges")).to_be_checked()

    page.get_by_label("Save the card for later charges").uncheck()
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_be_visible()
    link.refresh_from_db()
    assert link.setup_future_usage == ""
    page.goto(f"{kassa_url}/admin/billing/paymentlink/{link.pk}/change/")
    expect(page.get_by_label("Save the card for later charges")).not_to_be_checked()
