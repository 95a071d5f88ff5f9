"""Billing → Recurring payment in Chromium, under the dashboard's strict CSP: "every 30 days from 1 February,
50.00 EUR for John Doe" typed once, and the subscription's page shows it with its next invoice."""

import re
from datetime import UTC, datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.subscriptions.models import Subscription
from tests import factories
from tests.browser.test_dashboard_invoices import _with_strict_csp
from tests.browser.test_dashboard_login import log_in
from tests.browser.test_hosted_checkout import csp_violations

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
