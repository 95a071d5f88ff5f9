"""An invoice made in Chromium under the dashboard's strict CSP: two lines (one in a row that "Add line"
adds, from invoice-lines.js), its totals in major units, then finalized with its number shown."""

import re

import pytest
from playwright.sync_api import expect

from billing.invoices import services
from billing.models import Invoice, InvoiceItem
from tests import factories
from tests.browser.test_dashboard_home import STRICT_CSP
from tests.browser.test_dashboard_login import log_in
from tests.browser.test_hosted_checkout import csp_violations

pytestmark = pytest.mark.services


def _with_strict_csp(route):
    """Pages (GET) as a strict deployment would send them; the forms' POSTs and their redirects left to the browser."""
    if route.request.method != "GET" or route.request.resource_type != "document":
        route.continue_()
        return
    response = route.fetch(max_redirects=0)
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})


def test_an_invoice_with_two_lines_is_made_and_finalized(page, kassa_url):
    shop = factories.merchant("Lantern", default_currency="eur")
    m = shop.merchant
    customer = factories.customer(m, email="ada@example.com", name="Ada Lovelace")
    tea = factories.price(m, unit_amount=1250, currency="eur", product=factories.product(m, name="Green tea"))
    services.tax_rate_create(merchant=m, livemode=False, display_name="TVA", percentage="20", inclusive=False)
    page.route(re.compile(r"^http://[^/?]+/admin/"), _with_strict_csp)
    refused = csp_violations(page)

    log_in(page, kassa_url, shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    page.goto(f"{kassa_url}/admin/billing/invoice/add/")
    page.select_option("#id_customer", str(customer.pk))
    expect(page.locator("#id_currency")).to_have_value("eur")  # the merchant's default
    page.get_by_label("Email the invoice with a link to pay it").check()
    page.get_by_label("TVA 20 % (excl.)").first.check()  # the invoice's default tax rate

    # The first row from a price, the second in a row "Add line" adds (the form starts with three).
    page.select_option("#id_lines-0-price", str(tea.pk))
    page.fill("#id_lines-0-quantity", "2")
    add = page.locator("[data-kassa-line-add]")
    expect(add).to_be_visible()
    add.click()
    expect(page.locator("[data-kassa-line]")).to_have_count(4)
    expect(page.locator("#id_lines-TOTAL_FORMS")).to_have_value("4")
    page.fill("#id_lines-3-description", "Tasting workshop")
    page.fill("#id_lines-3-unit_amount", "99.90")
    page.fill("#id_lines-3-quantity", "1")
    page.click("input[name=_save]")

    invoice = Invoice.objects.get()
    page.wait_for_url(f"{kassa_url}/admin/billing/invoice/{invoice.pk}/change/")
    expect(page.locator(".messagelist")).to_contain_text("Draft invoice")
    assert [(i.amount, i.description) for i in InvoiceItem.objects.filter(invoice=invoice).order_by("pk")] == [
        (2500, None),
        (9990, "Tasting workshop"),
    ]
    totals = page.locator("#kassa-invoice-totals")
    expect(totals).to_contain_text("124.90 EUR")  # subtotal
    expect(totals).to_contain_text("24.98 EUR")  # TVA 20 %
    expect(totals).to_contain_text("149.88 EUR")  # total
    expect(page.locator(".kassa-status")).to_have_text("Draft")

    page.click("#kassa-invoice-finalize button")
    page.wait_for_url(f"{kassa_url}/admin/billing/invoice/{invoice.pk}/change/")
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert invoice.number
    expect(page.locator(".messagelist")).to_contain_text(f"Invoice {invoice.number} finalized")
    expect(page.locator("#content h2, #content .readonly").first).to_be_visible()
    expect(page.locator("#content")).to_contain_text(invoice.number)
    expect(page.locator(".kassa-status").first).to_have_text("Open")
    expect(page.locator("#kassa-invoice-lines-table")).to_contain_text("Tasting workshop")
    expect(page.locator("#kassa-invoice-url")).to_contain_text(f"/invoices/{invoice.token}")
    assert refused == []
