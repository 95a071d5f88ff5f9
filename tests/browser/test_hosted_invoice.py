"""A customer paying an invoice on its hosted page, in Chromium, against localstripe and its Stripe.js mock.

The mock's card element and 3-D Secure dialog are described in test_hosted_checkout.py.
"""

import io
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from billing.invoices import services as invoices
from billing.models import Invoice
from billing.payments import services as payments
from tests import factories
from tests.billing.invoices.hosted import open_invoice, seller_settings
from tests.browser.test_hosted_checkout import csp_violations, fill_card, pay_requests
from tests.conftest import processor_payment_intents
from webhooks.models import Event

pytestmark = pytest.mark.services


@pytest.fixture
def invoice(paying_shop):
    seller_settings(paying_shop.merchant)
    return open_invoice(paying_shop.merchant)


def open_page(page, kassa_url, invoice):
    page.goto(f"{kassa_url}/invoices/{invoice.token}")
    expect(page.locator("#invoice-number")).to_have_text(invoice.number)


def pdf_text(url: str) -> tuple[str, str]:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    return response.headers["Content-Type"], "\n".join(p.extract_text() for p in reader.pages)


def test_paying_an_invoice_with_a_card_then_the_receipt(page, kassa_url, invoice, stripe_backend):
    violations = csp_violations(page)
    open_page(page, kassa_url, invoice)
    expect(page.locator("#seller")).to_contain_text("Shop SARL")
    expect(page.locator("#seller-vat")).to_have_text("FR40303265045")
    expect(page.locator("#buyer")).to_contain_text("Ada Lovelace")
    expect(page.locator("#invoice-lines")).to_contain_text("Green tea")
    expect(page.locator("#invoice-totals")).to_contain_text("TVA 20% on €34.90")
    expect(page.locator("#amount-due")).to_have_text("€41.88")
    expect(page.locator("#pay-button")).to_have_text("Pay €41.88")
    requests_made = pay_requests(page)
    fill_card(page, "4242424242424242")
    # A double click makes one request: the button disables at once.
    page.locator("#pay-button").dblclick()
    page.wait_for_url(f"**/invoices/{invoice.token}/receipt")
    expect(page.locator("#page-title")).to_have_text("Invoice paid")
    expect(page.locator("#page-body")).to_contain_text("Shop SARL has received your payment of €41.88")
    expect(page.locator("#receipt-number")).to_have_text(f"{invoice.number}-R")
    expect(page.locator("#payment-method")).to_have_text("Visa •••• 4242")
    assert len(requests_made) == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", 4188)
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["status"], remote["amount"]) == ("succeeded", 4188)
    # The receipt PDF behind the link.
    href = page.locator("#receipt-pdf-main").get_attribute("href")
    content_type, text = pdf_text(f"{kassa_url}{href}")
    assert content_type == "application/pdf"
    assert f"{invoice.number}-R" in text
    # Back on the invoice: it is paid and takes no payment.
    page.goto(f"{kassa_url}/invoices/{invoice.token}")
    expect(page.locator("#invoice-status")).to_have_text("Paid")
    expect(page.locator("#pay-button")).to_have_count(0)
    expect(page.locator("#receipt-link")).to_be_visible()
    assert violations == []


def test_three_d_secure_completed(page, kassa_url, invoice, stripe_backend):
    violations = csp_violations(page)
    open_page(page, kassa_url, invoice)
    fill_card(page, "4000002500003155")
    page.click("#pay-button")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"**/invoices/{invoice.token}/receipt")
    expect(page.locator("#page-title")).to_have_text("Invoice paid")
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    intent = invoice.payments.get().payment_intent
    assert [e.kind for e in intent.timeline.all()] == ["created", "requires_action", "succeeded"]
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["id"], remote["status"]) == (intent.processor_id, "succeeded")
    assert violations == []


def test_a_declined_card_shows_why_and_the_invoice_stays_open(page, kassa_url, invoice, stripe_backend):
    open_page(page, kassa_url, invoice)
    fill_card(page, "4000000000000002")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_have_text("Your card was declined. Try another card.")
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("#pay-button")).to_have_text("Pay €41.88")
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert processor_payment_intents(stripe_backend) == []
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/invoices/{invoice.token}/receipt")
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_a_french_customer_on_a_phone(browser, kassa_url, paying_shop):
    seller_settings(paying_shop.merchant)
    customer = factories.customer(paying_shop.merchant, email="c@example.fr", name="Jeanne", preferred_locales=["fr"])
    invoice = open_invoice(paying_shop.merchant, customer=customer)
    context = browser.new_context(locale="en-GB", viewport={"width": 375, "height": 667}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{kassa_url}/invoices/{invoice.token}")
        expect(page.locator("#pay-button")).to_have_text("Payer 41,88\u00a0€")
        expect(page.locator("#invoice-title")).to_contain_text("Facture")
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # The switch to English, and the PDF link in that language.
        page.click("#language-en")
        expect(page.locator("#pay-button")).to_have_text("Pay €41.88")
        href = page.locator("#invoice-pdf").get_attribute("href")
        content_type, text = pdf_text(f"{kassa_url}{href}")
        assert content_type == "application/pdf"
        assert "Invoice" in text
        assert invoice.number in text
    finally:
        context.close()


def test_a_void_invoice_and_a_draft(page, kassa_url, paying_shop, invoice):
    invoices.invoice_void(invoice=invoice, now=timezone.now())
    page.goto(f"{kassa_url}/invoices/{invoice.token}")
    expect(page.locator("#no-payment")).to_contain_text("voided")
    expect(page.locator("#pay-button")).to_have_count(0)
    draft = open_invoice(paying_shop.merchant, finalize=False)
    assert Invoice.objects.get(pk=draft.pk).status == "draft"
    response = page.goto(f"{kassa_url}/invoices/{draft.token}")
    assert response.status == 404
    expect(page.locator("#page-title")).to_have_text("This invoice does not exist")


def _charged_by_beat_needing_authentication(merchant, card_token):
    """A charge_automatically invoice beat charged off-session on a saved card that asks for 3-D Secure."""
    seller_settings(merchant)
    customer = factories.customer(merchant, email="buyer@example.com", name="Ada Lovelace")
    card = payments.payment_method_create_from_token(customer=customer, token=card_token("4000002500003155"))
    invoice = open_invoice(
        merchant,
        customer=customer,
        collection_method="charge_automatically",
        auto_advance=True,
        default_payment_method=card,
        finalize=False,
    )
    invoices.invoices_advance(now=timezone.now() + timedelta(hours=1, seconds=1))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    assert invoice.payments.get().payment_intent.status == "requires_action"
    assert Event.objects.filter(type="invoice.payment_action_required").count() == 1
    return invoice


def test_the_payer_authenticates_a_payment_beat_started(page, kassa_url, paying_shop, card_token, stripe_backend):
    """invoice.payment_action_required: the payer opens the hosted page and confirms that payment (3-D Secure),
    with the PaymentIntent beat made: no card to type, no second attempt."""
    invoice = _charged_by_beat_needing_authentication(paying_shop.merchant, card_token)
    violations = csp_violations(page)
    open_page(page, kassa_url, invoice)
    expect(page.locator("#authenticate-note")).to_be_visible()
    expect(page.locator("#card-fields")).to_be_hidden()
    expect(page.locator("#pay-button")).to_have_text("Confirm the payment")
    requests_made = pay_requests(page)
    page.click("#pay-button")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"**/invoices/{invoice.token}/receipt")
    expect(page.locator("#page-title")).to_have_text("Invoice paid")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.attempt_count) == ("paid", 4188, 1)
    intent = invoice.payments.get().payment_intent
    assert intent.attempts.count() == 1
    [remote] = processor_payment_intents(stripe_backend)
    assert (remote["id"], remote["status"]) == (intent.processor_id, "succeeded")
    assert len(requests_made) == 1
    assert violations == []


def test_a_failed_authentication_then_a_card_pays(page, kassa_url, paying_shop, card_token, stripe_backend):
    invoice = _charged_by_beat_needing_authentication(paying_shop.merchant, card_token)
    open_page(page, kassa_url, invoice)
    page.click("#pay-button")
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#payment-message")).to_contain_text("authenticat")
    # Now the card form: another card pays it.
    expect(page.locator("#card-fields")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_text("Pay €41.88")
    fill_card(page, "4242424242424242")
    page.click("#pay-button")
    page.wait_for_url(f"**/invoices/{invoice.token}/receipt")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", 4188)
