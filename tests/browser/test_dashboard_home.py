"""The dashboard's home page, banner and lists in Chromium: what a merchant sees after logging in.

The payments are made by a payer on the real pay page (localstripe's Stripe.js
mock): one paid with 4242 4242 4242 4242, one declined with 4000 0000 0000 0002.
"""

import re

import pytest
from playwright.sync_api import expect

from billing.models import PaymentIntent
from billing.payments import services as payments
from merchants import services as merchant_services
from tests import factories
from tests.browser.test_dashboard_login import log_in
from tests.browser.test_hosted_checkout import csp_violations, fill_card, open_link

pytestmark = pytest.mark.services

# What a strict deployment would send: nothing inline, nothing from elsewhere.
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'"
LISTS = ["/admin/billing/paymentintent/", "/admin/billing/paymentlink/", "/admin/billing/refund/"]


def _pay_on_the_page(page, kassa_url, link, number, email):
    open_link(page, kassa_url, link)
    page.fill("#email", email)
    fill_card(page, number)
    page.click("#pay-button")


@pytest.fixture
def shop_with_payments(page, kassa_url, paying_shop):
    """The paying shop after a payer paid its link once and was declined once, on the pay page."""
    m = paying_shop.merchant
    link = factories.payment_link(m, price=factories.price(m, unit_amount=2500))
    _pay_on_the_page(page, kassa_url, link, "4242424242424242", "ann@example.com")
    page.wait_for_url("**/complete")
    _pay_on_the_page(page, kassa_url, link, "4000000000000002", "bob@example.com")
    expect(page.locator("#payment-message")).to_have_text("Your card was declined. Try another card.")
    paid = PaymentIntent.objects.get(status="succeeded")
    payments.refund_create(payment_intent=paid, amount=500)
    page.context.clear_cookies()
    return paying_shop


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth")


def test_a_new_merchant_lands_on_the_set_up_checklist(page, kassa_url, shop):
    log_in(page, kassa_url, shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    checklist = page.locator("#kassa-checklist")
    expect(checklist).to_be_visible()
    expect(checklist.locator("li")).to_have_count(4)
    expect(checklist.locator("li.kassa-done")).to_have_count(0)
    expect(page.locator("#kassa-no-payments")).to_be_visible()
    expect(page.locator("#kassa-volume-chart")).to_have_count(0)
    # Each item leads to where it is done.
    checklist.get_by_role("link", name="Create your first product").click()
    page.wait_for_url(f"{kassa_url}/admin/billing/product/add/")


def _with_strict_csp(route):
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})


def test_after_payments_the_home_page_shows_the_numbers_the_chart_and_the_decline(page, kassa_url, shop_with_payments):
    log_in(page, kassa_url, shop_with_payments.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    # The home page served under a strict CSP: the chart (an SVG image from Kassa) and the page still work.
    page.route(re.compile(r"^http://[^/?]+/admin/$"), _with_strict_csp)
    refused = csp_violations(page)
    page.goto(f"{kassa_url}/admin/")
    expect(page.locator("#kassa-volume-today .kassa-amount")).to_have_text("25.00 EUR")
    expect(page.locator("#kassa-volume-today")).to_contain_text("5.00 EUR refunded = 20.00 EUR net")
    chart = page.locator("#kassa-volume-chart")
    expect(chart).to_be_visible()
    page.wait_for_function("document.getElementById('kassa-volume-chart').complete")
    assert chart.evaluate("img => img.naturalWidth") > 0  # the SVG loaded, from Kassa itself
    expect(page.locator("#kassa-failed-count")).to_have_text("1")
    failed = page.locator("#kassa-failed-payments")
    expect(failed).to_contain_text("Your card was declined.")
    expect(failed).to_contain_text("bob@example.com")
    recent = page.locator("#kassa-recent-payments")
    expect(recent).to_contain_text("Partially refunded")
    expect(recent).to_contain_text("Failed")
    expect(page.locator("#kassa-new-customer-count")).to_have_text("2")
    assert refused == []
    # The decline opens on the payment's own page.
    failed.get_by_role("link", name="25.00 EUR").click()
    declined = PaymentIntent.objects.exclude(status="succeeded").get()
    page.wait_for_url(f"{kassa_url}/admin/billing/paymentintent/{declined.pk}/change/")


def test_the_banner_shows_in_a_mode_without_credentials_and_not_with_them(page, kassa_url, shop):
    log_in(page, kassa_url, shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    banner = page.locator("#kassa-payments-off")
    expect(banner).to_contain_text("no Stripe credentials for test mode")
    page.goto(f"{kassa_url}/admin/billing/product/")
    expect(banner).to_be_visible()
    page.locator("#kassa-payments-fix").click()
    page.wait_for_url(f"{kassa_url}/admin/merchants/processorcredential/add/")
    merchant_services.processor_credential_set(
        merchant=shop.merchant, livemode=False, secret_key="sk_test_banner", publishable_key="pk_test_banner"
    )
    page.goto(f"{kassa_url}/admin/billing/product/")
    expect(page.locator("#kassa-test-banner")).to_be_visible()
    expect(banner).to_have_count(0)
    page.get_by_role("button", name="View live data").click()
    expect(banner).to_contain_text("no Stripe credentials for live mode")


def test_no_horizontal_scroll_on_the_money_lists_at_1280_px(page, kassa_url, shop_with_payments):
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, kassa_url, shop_with_payments.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    assert _no_horizontal_scroll(page), "home"
    for url in LISTS:
        page.goto(kassa_url + url)
        expect(page.locator("#result_list tbody tr").first).to_be_visible()
        assert _no_horizontal_scroll(page), url
        # Nor inside the list: every column is in view without scrolling the table.
        results = page.locator("#changelist .results")
        assert results.evaluate("r => r.scrollWidth <= r.clientWidth"), url


def test_on_a_phone_the_lists_show_amount_status_customer_and_date(browser, kassa_url, shop_with_payments):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, kassa_url, shop_with_payments.owner.username)
        page.wait_for_url(f"{kassa_url}/admin/")
        assert _no_horizontal_scroll(page), "home"
        page.goto(f"{kassa_url}/admin/billing/paymentintent/")
        assert _no_horizontal_scroll(page)
        row = page.locator("#result_list tbody tr", has_text="ann@example.com")
        for text in ("25.00", "ann@example.com", re.compile(r"Succeeded|Partially refunded")):
            cell = row.get_by_text(text).first
            expect(cell).to_be_visible()
            box = cell.bounding_box()
            assert box["x"] >= 0, text
            assert box["x"] + box["width"] <= 390, text
    finally:
        context.close()
