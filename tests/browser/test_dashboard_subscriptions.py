"""Billing → Recurring payment in Chromium, under the dashboard's strict CSP: "every 30 days from 1 February,
50.00 EUR for John Doe" typed once, and the subscription's page shows it with its next invoice."""

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.catalogue.models import Customer
from billing.subscriptions.models import Subscription
from merchants.models import EmailSent
from tests import factories
from tests.browser.test_dashboard_invoices import _with_strict_csp
from tests.browser.test_dashboard_login import log_in
from tests.browser.test_hosted_checkout import csp_violations, fill_card

pytestmark = pytest.mark.services


def test_every_30_days_from_1_february_50_eur_for_john_doe(page, kassa_url):
    shop = factories.merchant("Lantern", default_currency="eur")
    february = timezone.localdate().replace(month=2, day=1)
    if february <= timezone.localdate():
        february = february.replace(year=february.year + 1)
    page.route(re.compile(r"^http://[^/?]+/admin/"), _with_strict_csp)
    refused = csp_violations(page)

    log_in(page, kassa_url, shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    # From the menu's Billing group, as a merchant finds it.
    page.locator(".app-kassa-billing").get_by_role("link", name="Recurring payment").click()
    page.wait_for_url(f"{kassa_url}/admin/billing/subscription/recurring/")
    expect(page.locator("#kassa-recurring-collection")).to_contain_text("emailed to them with a link")
    page.get_by_label("Subscriber's name").fill("John Doe")
    page.get_by_label("Subscriber's email").fill("john@example.com")
    expect(page.locator("#id_amount_currency")).to_have_value("eur")  # the merchant's default
    page.fill("#id_amount", "50.00")
    expect(page.get_by_label("Every (days)")).to_have_value("30")
    page.get_by_label("Starting on").fill(february.isoformat())
    page.get_by_role("button", name="Create recurring payment").click()

    subscription = Subscription.objects.get()
    page.wait_for_url(f"{kassa_url}/admin/billing/subscription/{subscription.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text("50.00 EUR every 30 days from")
    expect(page.locator(".field-price_display")).to_contain_text("50.00 EUR every 30 days")
    expect(page.locator("#kassa-subscription-preview")).to_contain_text("50.00 EUR")
    assert subscription.customer.name == "John Doe"
    assert subscription.billing_cycle_anchor == datetime(february.year, 2, 1, tzinfo=UTC)
    assert subscription.collection_method == "send_invoice"
    # The list has it, with the shortcut's button beside Add.
    page.goto(f"{kassa_url}/admin/billing/subscription/")
    expect(page.locator("#result_list")).to_contain_text("john@example.com")
    expect(page.locator("#kassa-recurring-payment")).to_be_visible()
    assert refused == []


def test_recurring_payment_without_a_card_is_charged_automatically_after_the_payer_pays_online(
    page, kassa_url, kassa, paying_shop, emails_on_commit, stripe_backend
):
    """The box (ticked by default): the first invoice is emailed, the payer pays it on its hosted page, and from
    then on the subscription charges that card off-session (a test clock's month later: paid, no email asking)."""
    api = kassa(paying_shop.secret_key.secret)
    start = int(timezone.now().timestamp())
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": start})
    made = api.v1.customers.create(params={"email": "john@example.com", "name": "John Doe", "test_clock": clock.id})
    customer = Customer.objects.get(public_id=made.id)

    log_in(page, kassa_url, paying_shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    page.goto(f"{kassa_url}/admin/billing/subscription/recurring/?customer={customer.pk}")
    expect(page.get_by_label("Switch to automatic charging after the first payment")).to_be_checked()
    page.select_option("#id_amount_currency", "eur")
    page.fill("#id_amount", "50.00")
    page.get_by_role("button", name="Create recurring payment").click()
    subscription = Subscription.objects.get()
    page.wait_for_url(f"{kassa_url}/admin/billing/subscription/{subscription.pk}/change/")
    expect(page.locator(".field-collection_display")).to_contain_text(
        "charged automatically once the payer has paid an invoice online"
    )
    assert (subscription.collection_method, subscription.save_default_payment_method) == (
        "send_invoice",
        "on_subscription",
    )

    # The payer, on the invoice's hosted page (the link its email carries), is told the card is kept, and pays.
    first = subscription.latest_invoice
    page.goto(f"{kassa_url}/invoices/{first.token}")
    expect(page.locator("#save-card-note")).to_contain_text("Your card will be saved with Shop")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/invoices/{first.token}/receipt")
    subscription.refresh_from_db()
    assert (subscription.status, subscription.collection_method) == ("active", "charge_automatically")
    card = subscription.default_payment_method
    assert (card.customer_id, card.card_last4) == (customer.pk, "4242")

    # A month later on the clock: the renewal is charged off-session to that card, and only a receipt is emailed.
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 31 * 86400})
    subscription.refresh_from_db()
    renewal = subscription.latest_invoice
    assert (renewal.billing_reason, renewal.status, renewal.amount_paid) == ("subscription_cycle", "paid", 5000)
    attempt = renewal.payments.get().payment_intent.attempts.get()
    assert (attempt.payment_method_id, attempt.off_session) == (card.pk, True)
    kinds = set(EmailSent.objects.filter(key__contains=renewal.public_id).values_list("kind", flat=True))
    assert kinds == {"invoice_receipt"}
