"""The dashboard's language switch in Chromium, under a strict CSP (the select submits itself from dashboard.js)."""

import re

import pytest
from playwright.sync_api import expect

from billing.models import PaymentIntent
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


def test_a_merchant_switches_the_dashboard_to_french_and_back(page, kassa_url, paying_shop, card_token):
    factories.paid_payment(paying_shop.merchant, card_token, amount=2500)
    payment = PaymentIntent.objects.get()
    page.route(re.compile(r"^http://[^/?]+/admin/"), _with_strict_csp)
    refused = csp_violations(page)

    log_in(page, kassa_url, paying_shop.owner.username)
    page.wait_for_url(f"{kassa_url}/admin/")
    expect(page.locator("#kassa-recent-payments h2")).to_have_text("Recent payments")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The header's switch: picking a language submits the form (no button needed with JavaScript).
    switch = page.locator("#kassa-language")
    expect(switch).to_be_visible()
    expect(page.locator("#kassa-language-switch button")).to_be_hidden()
    switch.select_option("fr")
    page.wait_for_url(f"{kassa_url}/admin/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#kassa-recent-payments h2")).to_have_text("Paiements récents")
    expect(page.locator("#kassa-recent-payments .kassa-status").first).to_have_text("Réussi")
    expect(page.locator("#kassa-volume h2")).to_have_text("Volume brut (test)")
    expect(page.locator("#kassa-language")).to_have_value("fr")

    # A payment's page, and the list, in French too.
    page.goto(f"{kassa_url}/admin/billing/paymentintent/{payment.pk}/change/")
    expect(page.locator("#content h1")).to_contain_text("paiement")
    expect(page.locator("#content")).to_contain_text("Réussi")
    expect(page.locator("#content")).to_contain_text("Chronologie")
    page.goto(f"{kassa_url}/admin/billing/paymentintent/")
    expect(page.locator("#result_list")).to_contain_text("Réussi")

    # And back to English, from the same switch on this page: the page comes back where it was.
    page.locator("#kassa-language").select_option("en")
    page.wait_for_url(f"{kassa_url}/admin/billing/paymentintent/")
    expect(page.locator("#result_list")).to_contain_text("Succeeded")
    expect(page.locator("#result_list")).not_to_contain_text("Réussi")
    assert refused == []


def test_the_login_page_has_the_switch_too(french_page, kassa_url, shop):
    french_page.goto(f"{kassa_url}/admin/login/?next=/admin/")
    expect(french_page.locator("#login-form input[type=submit]")).to_have_value("Connexion")  # the browser's
    french_page.locator("#kassa-language").select_option("en")
    french_page.wait_for_url(re.compile(r"/admin/login/"))
    expect(french_page.locator("#login-form input[type=submit]")).to_have_value("Log in")
