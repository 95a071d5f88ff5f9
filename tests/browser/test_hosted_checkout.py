"""A payer on the hosted pages, in Chromium, against localstripe and its Stripe.js mock.

The mock's card element is five plain inputs (placeholders ``number``,
``exp_month``, ``exp_year``, ``cvc``, ``postal_code``); its 3-D Secure dialog
has the buttons "Complete authentication" and "Fail authentication"
(localstripe/localstripe-v3.js).
"""

import re

import pytest
from playwright.sync_api import expect

from billing.catalogue import services as catalogue
from billing.checkout import services as checkout
from billing.models import CheckoutSession, PaymentIntent
from tests import factories
from tests.conftest import processor_payment_intents

pytestmark = pytest.mark.services


@pytest.fixture
def make_link(paying_shop):
    def make(amount=1250, currency="eur", quantity=2, name="Tea", **options):
        m = paying_shop.merchant
        price = factories.price(m, unit_amount=amount, currency=currency, product=factories.product(m, name=name))
        return factories.payment_link(m, price=price, quantity=quantity, **options)

    return make


def fill_card(scope, number, *, exp_month="12", exp_year="34", cvc="123", postal_code="75001"):
    card = scope.locator("#card-element")
    for field, value in (
        ("number", number),
        ("exp_month", exp_month),
        ("exp_year", exp_year),
        ("cvc", cvc),
        ("postal_code", postal_code),
    ):
        card.locator(f'input[placeholder="{field}"]').fill(value)


def open_link(page, kassa_url, link):
    page.goto(f"{kassa_url}/pay/{link.slug}")
    page.wait_for_url(re.compile(r"/pay/session/cs_test_\w+$"))
    return CheckoutSession.objects.get(public_id=page.url.rsplit("/", 1)[1])


def csp_violations(page) -> list[str]:
    """What the browser reports the Content-Security-Policy refused, as it happens."""
    seen = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def pay_requests(page) -> list[str]:
    """The page's calls to Kassa's pay endpoint, as the browser made them."""
    seen = []
    page.on("request", lambda r: seen.append(r.url) if r.method == "POST" and r.url.endswith("/pay") else None)
    return seen


def test_paying_a_link_with_a_card(page, kassa_url, make_link, stripe_backend):
    link = make_link()
    session = open_link(page, kassa_url, link)
    expect(page.locator("#merchant-name")).to_have_text("Shop")
    expect(page.locator("#line-items")).to_contain_text("Tea")
    expect(page.locator("#line-items")).to_contain_text("Qty 2")
    expect(page.locator("#total")).to_have_text("€25.00")
    requests = pay_requests(page)
    page.fill("#email", "payer@example.com")
    page.fill("#name", "Ada Lovelace")
    fill_card(page, "4242424242424242")
    # A double click makes one request: the button disables at once.
    page.locator("#pay-button").dblclick()
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    expect(page.locator("#page-title")).to_have_text("Payment successful")
    expect(page.locator("#page-body")).to_contain_text("Shop has received your payment of €25.00")
    assert len(requests) == 1
    intent = PaymentIntent.objects.get()
    assert (intent.status, intent.amount_received, intent.currency) == ("succeeded", 2500, "eur")
    expect(page.locator("#reference")).to_contain_text(intent.public_id)
    session.refresh_from_db()
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.customer.email == "payer@example.com"
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["id"], remote["status"], remote["amount"]) == (intent.processor_id, "succeeded", 2500)
    # Opening the session again shows the completion, not a second payment form.
    page.goto(f"{kassa_url}/pay/session/{session.public_id}")
    expect(page.locator("#page-title")).to_have_text("Payment successful")


def test_three_d_secure_completed(page, kassa_url, make_link, stripe_backend):
    """The whole flow, Stripe.js and its 3-D Secure dialog included, runs under the enforced CSP without a violation."""
    violations = csp_violations(page)
    session = open_link(page, kassa_url, make_link())
    page.fill("#email", "payer@example.com")
    fill_card(page, "4000002500003155")
    page.click("#pay-button")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    expect(page.locator("#page-title")).to_have_text("Payment successful")
    intent = PaymentIntent.objects.get()
    assert intent.status == "succeeded"
    assert [e.kind for e in intent.timeline.all()] == ["created", "requires_action", "succeeded"]
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["id"], remote["status"]) == (intent.processor_id, "succeeded")
    assert violations == []


def test_three_d_secure_failed_then_another_card(page, kassa_url, make_link, stripe_backend):
    session = open_link(page, kassa_url, make_link())
    page.fill("#email", "payer@example.com")
    fill_card(page, "4000002500003155")
    page.click("#pay-button")
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#payment-message")).to_have_text(
        "The authentication with your bank failed. Try again or use another card."
    )
    expect(page.locator("#pay-button")).to_be_enabled()
    session.refresh_from_db()
    assert session.status == "open"
    assert PaymentIntent.objects.get().status == "requires_payment_method"
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    intent = PaymentIntent.objects.get()
    assert intent.status == "succeeded"
    statuses = sorted(remote["status"] for remote in processor_payment_intents(stripe_backend))
    assert statuses == ["requires_payment_method", "succeeded"]


def test_a_declined_card_shows_a_message_and_the_session_stays_payable(page, kassa_url, make_link):
    session = open_link(page, kassa_url, make_link())
    page.fill("#email", "payer@example.com")
    fill_card(page, "4000000000000002")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text("Your card was declined. Try another card.")
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#pay-button")).to_have_text("Pay €25.00")
    assert re.search(r"/pay/session/cs_test_\w+$", page.url)
    session.refresh_from_db()
    assert session.status == "open"
    # Refused when Stripe was asked to save it: the merchant's PaymentIntent says why, as at Stripe.
    declined = PaymentIntent.objects.get()
    assert (declined.status, declined.last_payment_error["code"]) == ("requires_payment_method", "card_declined")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/pay/session/{session.public_id}/complete")
    paid = PaymentIntent.objects.get()
    assert (paid.status, paid.last_payment_error) == ("succeeded", None)


def test_too_many_cards_on_one_page_are_refused_with_a_message_and_stripe_is_not_asked(
    page, kassa_url, make_link, settings, stripe_backend
):
    """Card testing (billing/hosted/attempts.py): past the page's limit the payer reads why, in the page's own
    message box, and the card goes nowhere."""
    settings.KASSA_CARD_ATTEMPTS_PER_PAGE = "1/h"
    session = open_link(page, kassa_url, make_link())
    page.fill("#email", "payer@example.com")
    fill_card(page, "4000000000000002")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text("Your card was declined. Try another card.")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text(
        "Too many card attempts. Nothing was charged; try again later."
    )
    expect(page.locator("#pay-button")).to_be_enabled()
    session.refresh_from_db()
    assert session.status == "open"
    assert [remote["status"] for remote in processor_payment_intents(stripe_backend)] == []


def test_a_links_prefilled_email_is_in_the_email_field_and_can_be_changed(page, kassa_url, make_link):
    link = make_link()
    page.goto(f"{kassa_url}/pay/{link.slug}?prefilled_email=ada%40example.com")
    page.wait_for_url(re.compile(r"/pay/session/cs_test_\w+$"))
    expect(page.locator("#email")).to_have_value("ada@example.com")
    page.fill("#email", "grace@example.com")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url("**/complete")
    assert PaymentIntent.objects.get().receipt_email == "grace@example.com"


def test_a_jpy_link_shows_no_decimals(phone_page, kassa_url, make_link):
    link = make_link(amount=5000, currency="jpy", quantity=1, name="Matcha")
    open_link(phone_page, kassa_url, link)
    expect(phone_page.locator("#total")).to_have_text("¥5,000")
    expect(phone_page.locator("#pay-button")).to_have_text("Pay ¥5,000")
    assert ".00" not in phone_page.locator("main").inner_text()
    # On a phone the page fits the screen: no sideways scrolling.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_french_browser_gets_the_french_page(french_page, kassa_url, make_link):
    open_link(french_page, kassa_url, make_link())
    expect(french_page.locator("html")).to_have_attribute("lang", "fr")
    expect(french_page.locator("#summary-title")).to_have_text("Votre commande")
    expect(french_page.locator("#total")).to_have_text("25,00\xa0€")
    expect(french_page.locator("#pay-button")).to_have_text("Payer 25,00\xa0€")
    french_page.fill("#email", "payeur@example.com")
    fill_card(french_page, "4000000000000002")
    french_page.click("#pay-button")
    expect(french_page.locator("#payment-message")).to_have_text("Votre carte a été refusée. Essayez une autre carte.")


def test_the_language_switch_goes_to_french_and_back(page, kassa_url, make_link, stripe_backend):
    """An English browser; the payer picks French on the page, is refused in French, goes back, pays in French."""
    violations = csp_violations(page)
    session = open_link(page, kassa_url, make_link(quantity=1))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#total")).to_have_text("€12.50")
    page.click("#language-fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#summary-title")).to_have_text("Votre commande")
    expect(page.locator("#total")).to_have_text("12,50\xa0€")
    expect(page.locator("#pay-button")).to_have_text("Payer 12,50\xa0€")
    expect(page.locator("#language-switch [aria-current]")).to_have_text("Français")
    # The pay call speaks the language the payer sees, over the browser's English.
    page.fill("#email", "payeur@example.com")
    fill_card(page, "4000000000000002")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text("Votre carte a été refusée. Essayez une autre carte.")
    page.click("#language-en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#total")).to_have_text("€12.50")
    expect(page.locator("#pay-button")).to_have_text("Pay €12.50")
    page.click("#language-fr")
    # The pick is remembered: reopening the page without ?lang= stays French.
    page.goto(f"{kassa_url}/pay/session/{session.public_id}")
    expect(page.locator("#pay-button")).to_have_text("Payer 12,50\xa0€")
    page.fill("#email", "payeur@example.com")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(re.compile(rf"/pay/session/{session.public_id}/complete"))
    expect(page.locator("#page-title")).to_have_text("Paiement réussi")
    expect(page.locator("#page-body")).to_contain_text("a bien reçu votre paiement de 12,50\xa0€")
    assert violations == []


def test_a_session_in_french_is_french_whatever_the_browser(page, kassa_url, make_link):
    open_link(page, kassa_url, make_link(quantity=1, locale="fr"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#summary-title")).to_have_text("Votre commande")
    expect(page.locator("#total")).to_have_text("12,50\xa0€")
    expect(page.locator("#language-switch")).to_have_count(0)


def test_the_product_description_is_under_its_name(phone_page, kassa_url, make_link):
    link = make_link(quantity=1, name="Sencha")
    catalogue.product_update(
        product=link.line_items.get().price.product, description="Loose-leaf green tea from Shizuoka, 100 g."
    )
    open_link(phone_page, kassa_url, link)
    expect(phone_page.locator(".line-description")).to_contain_text("Sencha")
    expect(phone_page.locator(".line-product-description")).to_have_text("Loose-leaf green tea from Shizuoka, 100 g.")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375


def test_an_inactive_link_and_an_unknown_session(page, kassa_url, make_link):
    link = make_link()
    checkout.payment_link_update(payment_link=link, active=False)
    response = page.goto(f"{kassa_url}/pay/{link.slug}")
    assert response.status == 410
    expect(page.locator("#page-title")).to_have_text("This payment link is no longer active")
    response = page.goto(f"{kassa_url}/pay/session/cs_test_unknown")
    assert response.status == 404


def test_the_content_security_policy_stops_an_injected_script(page, kassa_url, make_link):
    """What an injected <script> (a stored XSS, a hostile extension of the page) would be: refused."""
    violations = csp_violations(page)
    open_link(page, kassa_url, make_link())
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = true';"
        " document.body.appendChild(s); }"
    )
    assert page.evaluate("() => window.injected === true") is False
    assert any("script-src" in v for v in violations)
