"""The hosted invoice page, its receipt view and PDFs through Django's test client (Chromium pays it in tests/browser).

Invoices are made through the invoice services (as the API and the dashboard
make them) and paid through the page's own calls against localstripe.
"""

import html as htmllib
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from babel.messages.pofile import read_po
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from billing.hosted import framing
from billing.invoices import documents_build, pages, pdf
from billing.invoices import services as invoices
from billing.invoices.selectors import invoice_urls
from billing.models import Invoice, PaymentMethod
from tests import factories
from tests.billing.invoices.hosted import open_invoice, pay_call, seller_settings
from tests.conftest import processor_payment_intents
from webhooks.models import Event

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}
TRANSLATE = r"{% translate ['\"]([^'\"]+)['\"](?: context ['\"]([^'\"]+)['\"])?"


@pytest.fixture
def seller(paying_shop):
    seller_settings(paying_shop.merchant)
    return paying_shop.merchant


@pytest.fixture
def invoice(seller):
    return open_invoice(seller)


def text_of(response) -> str:
    return htmllib.unescape(response.content.decode())


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def config_of(html: str) -> dict:
    return json.loads(re.search(r'id="kassa-checkout" type="application/json">(.*?)</script>', html).group(1))


def charges(stripe_backend) -> list[dict]:
    return processor_payment_intents(stripe_backend)


# --- what the page shows ----------------------------------------------------------------------


def test_the_page_shows_seller_buyer_lines_taxes_and_totals(client, invoice, settings):
    response = client.get(f"/invoices/{invoice.token}")
    assert response.status_code == 200
    html = text_of(response)
    for words in (
        # The seller's legal fields, as issued.
        "Shop SARL",
        "12 rue de la Paix",
        "75002 Paris",
        "France",
        "FR40303265045",
        "billing@shop.test",
        # The buyer, as billed.
        "Ada Lovelace",
        "1 Analytical Row",
        "United Kingdom",
        # Number, dates, status.
        f'Invoice <span id="invoice-number">{invoice.number}</span>',
        "Date of issue",
        f"Due {invoice.due_date:%B} {invoice.due_date.day}, {invoice.due_date.year}",
        "Open",
        # Lines: quantity, unit amount, tax per rate, amount.
        "Green tea",
        "€12.50",
        "€25.00",
        "Teapot",
        "€9.90",
        "TVA 20%",
        # Totals.
        '<dd id="subtotal">€34.90</dd>',
        "TVA 20% on €34.90</dt><dd>€6.98</dd>",
        '<dd id="total">€41.88</dd>',
        '<dd id="amount-due">€41.88</dd>',
        "Pay €41.88",
        "Pénalités de retard",  # the footer
    ):
        assert words in html, words
    assert invoice.public_id not in html  # the token is the address; the id stays in the API
    config = config_of(html)
    assert config["publishableKey"] == "pk_test_paying_shop"
    assert config["pageToken"] == framing.page_token(invoice)
    assert config["payUrl"] == f"/invoices/{invoice.token}/pay"
    assert f'<script src="{settings.STRIPE_JS_URL}" nonce="' in html
    assert f'href="/invoices/{invoice.token}/pdf"' in html
    assert "receipt.pdf" not in html  # no receipt before payment
    assert 'name="viewport"' in html
    assert "Test mode" in html
    # Framing refused, nothing cached, the language said.
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    # Scripts run only with this response's nonce: no inline script or handler, no eval.
    policy = {d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ") if d.strip()}
    (nonce,) = [v[7:-1] for v in policy["script-src"] if v.startswith("'nonce-")]
    assert not {"'unsafe-inline'", "'unsafe-eval'"} & set(policy["script-src"])
    assert policy["default-src"] == ["'none'"]
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'type="application/json"' in tag or f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"\son[a-z]+=", html)
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Language"] == "en"


def test_the_api_links_are_the_pages(invoice, settings):
    base = settings.KASSA_PUBLIC_URL.rstrip("/")
    assert invoice_urls(invoice) == (f"{base}/invoices/{invoice.token}", f"{base}/invoices/{invoice.token}/pdf")


def test_a_french_customer_reads_it_in_french(client, seller):
    customer = factories.customer(seller, email="client@example.fr", name="Jeanne", preferred_locales=["fr-FR"])
    invoice = open_invoice(seller, customer=customer)
    response = client.get(f"/invoices/{invoice.token}")
    html = text_of(response)
    assert response["Content-Language"] == "fr"
    assert '<html lang="fr">' in html
    for words in (
        "Facture",
        "Facturé à",
        "Numéro de TVA",
        "TVA 20\u00a0%",
        "Montant dû",
        "41,88\u00a0€",
        "Payer 41,88\u00a0€",
    ):
        assert words in html, words
    assert config_of(html)["locale"] == "fr"


def test_the_switch_changes_the_language_and_its_links_keep_it(client, invoice):
    html = text_of(client.get(f"/invoices/{invoice.token}"))
    assert f'href="/invoices/{invoice.token}?lang=fr"' in html
    response = client.get(f"/invoices/{invoice.token}?lang=fr")
    html = text_of(response)
    assert response["Content-Language"] == "fr"
    assert "Payer 41,88\u00a0€" in html
    assert f'href="/invoices/{invoice.token}/pdf?lang=fr"' in html
    assert config_of(html)["payUrl"] == f"/invoices/{invoice.token}/pay?lang=fr"
    assert "Facture" in pdf_text(client.get(f"/invoices/{invoice.token}/pdf?lang=fr").content)


def test_the_merchants_default_language_wins_over_the_browser(client, seller):
    seller_settings(seller, default_locale="fr")
    invoice = open_invoice(seller)
    assert client.get(f"/invoices/{invoice.token}", HTTP_ACCEPT_LANGUAGE="en-US")["Content-Language"] == "fr"


def test_every_invoice_page_word_has_its_french():
    french = {}
    for catalog in ("locale", "billing/locale"):
        with (django_settings.BASE_DIR / catalog / "fr/LC_MESSAGES/django.po").open("rb") as handle:
            french |= {(m.context, m.id): m.string for m in read_po(handle) if m.id and not m.fuzzy}
    words = {(None, str(message)) for message in pages.MESSAGES.values()}
    words |= {("invoice status", label._args[1]) for label in pages.STATUS_LABELS.values()}
    templates = [*(django_settings.BASE_DIR / "billing/templates/invoices").glob("*.html")]
    templates += [*(django_settings.BASE_DIR / "billing/templates/email").glob("invoice*")]
    for template in templates:
        found = re.findall(TRANSLATE, template.read_text())
        words |= {(context or None, word) for word, context in found}
    assert len(words) > 30
    for key in sorted(words, key=str):
        assert french.get(key), f"no French for {key!r}"


# --- what has no page ------------------------------------------------------------------------


def test_unknown_tokens_drafts_and_ids_are_the_same_404(client, seller, invoice):
    draft = open_invoice(seller, finalize=False)
    for token in ("nope", draft.token, invoice.public_id, invoice.token[:-1], "x" * 500):
        for suffix in ("", "/receipt"):
            response = client.get(f"/invoices/{token}{suffix}")
            assert response.status_code == 404, (token, suffix)
            html = text_of(response)
            assert "This invoice does not exist" in html
            assert "Shop" not in html
            assert "Green tea" not in html
        for suffix in ("/pdf", "/receipt.pdf"):
            assert client.get(f"/invoices/{token}{suffix}").status_code == 404
        assert pay_call(client, draft, "tok_x").status_code == 404
    assert invoice_urls(draft) == (None, None)


def test_another_merchants_invoice_is_found_only_by_its_own_token(client, invoice, other_shop):
    other = open_invoice(other_shop.merchant)
    assert other.token != invoice.token
    assert len(other.token) >= 40
    assert re.fullmatch(r"[A-Za-z0-9]+", other.token)
    html = text_of(client.get(f"/invoices/{other.token}"))
    assert "Other" in html
    assert "Shop SARL" not in html
    # Its page token opens nothing of this invoice.
    refused = pay_call(client, invoice, "tok_x", HTTP_X_KASSA_PAGE_TOKEN=framing.page_token(other))
    assert refused.status_code == 403


# --- PDFs ------------------------------------------------------------------------------------------


def test_the_invoice_pdf(client, invoice):
    response = client.get(f"/invoices/{invoice.token}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{invoice.number}.pdf"'
    text = pdf_text(response.content)
    for words in (invoice.number, "Shop SARL", "FR40303265045", "Green tea", "Teapot", "TVA 20%", "€41.88"):
        assert words in text, words
    # No receipt before it is paid.
    assert client.get(f"/invoices/{invoice.token}/receipt.pdf").status_code == 404


def test_the_pdf_link_works_for_the_merchants_server_without_a_login(invoice, settings):
    assert Client().get(invoice_urls(invoice)[1].removeprefix(settings.KASSA_PUBLIC_URL.rstrip("/"))).status_code == 200


# --- paying ---------------------------------------------------------------------------------------


def test_paying_with_a_card_then_the_receipt(client, invoice, card_token, stripe_backend):
    answer = pay_call(client, invoice, card_token())
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["status"] == "succeeded"
    assert body["next_url"] == f"/invoices/{invoice.token}/receipt"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("paid", 4188, 0)
    [remote] = charges(stripe_backend)
    assert (remote["status"], remote["amount"]) == ("succeeded", 4188)
    # The card paid this invoice only: charged on-session, never saved on the customer (nobody asked to).
    intent = invoice.payments.get().payment_intent
    card = PaymentMethod.objects.get()
    assert (card.customer, card.single_use_for, intent.payment_method) == (None, intent, card)
    assert not PaymentMethod.objects.filter(customer=invoice.customer).exists()
    assert not Event.objects.filter(type="payment_method.attached").exists()
    receipt = text_of(client.get(body["next_url"]))
    for words in (
        "Invoice paid",
        "Shop SARL has received your payment of €41.88",
        f"{invoice.number}-R",
        "Visa •••• 4242",
    ):
        assert words in receipt, words
    assert f'href="/invoices/{invoice.token}/receipt.pdf"' in receipt
    pdf = client.get(f"/invoices/{invoice.token}/receipt.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'inline; filename="{invoice.number}-R.pdf"'
    assert f"{invoice.number}-R" in pdf_text(pdf.content)
    # The page now says it is paid and takes no payment.
    page = text_of(client.get(f"/invoices/{invoice.token}"))
    assert 'id="payment-form"' not in page
    assert "kassa-checkout" not in page
    assert "Invoice paid" in page
    assert 'id="receipt-pdf"' in page


def test_a_paid_invoice_takes_no_second_payment(client, invoice, card_token, stripe_backend):
    assert pay_call(client, invoice, card_token()).json()["status"] == "succeeded"
    again = pay_call(client, invoice, card_token())
    assert again.status_code == 409
    assert again.json()["message"] == "This invoice is already paid. Nothing was charged."
    assert again.json()["next_url"] == f"/invoices/{invoice.token}/receipt"
    assert len(charges(stripe_backend)) == 1
    assert PaymentMethod.objects.count() == 1  # no card taken either


def test_a_void_invoice_says_so_and_takes_no_payment(client, invoice, card_token, stripe_backend):
    invoices.invoice_void(invoice=invoice, now=timezone.now())
    html = text_of(client.get(f"/invoices/{invoice.token}"))
    assert "This invoice was voided by Shop SARL" in html
    assert 'id="payment-form"' not in html
    answer = pay_call(client, invoice, card_token())
    assert answer.status_code == 409
    assert answer.json()["message"] == "This invoice can no longer be paid. Nothing was charged."
    assert charges(stripe_backend) == []
    assert client.get(f"/invoices/{invoice.token}/pdf").status_code == 200  # still on record


def test_uncollectible_can_still_be_paid_then_shows_paid(client, invoice, card_token, stripe_backend):
    invoices.invoice_mark_uncollectible(invoice=invoice, now=timezone.now())
    assert 'id="payment-form"' in text_of(client.get(f"/invoices/{invoice.token}"))
    assert pay_call(client, invoice, card_token()).json()["status"] == "succeeded"
    html = text_of(client.get(f"/invoices/{invoice.token}"))
    assert 'id="payment-form"' not in html
    assert "Invoice paid" in html
    assert pay_call(client, invoice, card_token()).status_code == 409
    assert len(charges(stripe_backend)) == 1


def test_a_card_declined_when_saved_leaves_the_invoice_open(client, invoice, card_token, stripe_backend):
    answer = pay_call(client, invoice, card_token("4000000000000002"), **FRENCH)
    assert answer.status_code == 402
    assert answer.json()["code"] == "card_declined"
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert not PaymentMethod.objects.filter(customer=invoice.customer).exists()
    assert [e.type for e in Event.objects.filter(type__startswith="invoice.payment")] == ["invoice.payment_failed"]
    # Then another card pays it.
    assert pay_call(client, invoice, card_token()).json()["status"] == "succeeded"


def test_a_declined_charge_says_why_and_another_card_pays(client, invoice, card_token, stripe_backend):
    answer = pay_call(client, invoice, card_token("4000000000009995"))
    assert answer.status_code == 402
    assert answer.json()["code"] == "card_declined" or answer.json()["code"] == "insufficient_funds"
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert not PaymentMethod.objects.filter(customer=invoice.customer).exists()
    # A card Stripe takes but whose charge is declined: taken for this payment only, not kept on the customer.
    assert pay_call(client, invoice, card_token("4000000000000341")).status_code == 402
    declined = PaymentMethod.objects.get(card_last4="0341")
    assert (declined.customer, declined.single_use_for) == (None, invoice.payments.get().payment_intent)
    assert pay_call(client, invoice, card_token()).json()["status"] == "succeeded"


def test_three_d_secure_through_the_page_calls(client, invoice, card_token, stripe_backend):
    body = pay_call(client, invoice, card_token("4000002500003155")).json()
    assert body["status"] == "requires_action"
    intent = invoice.payments.get().payment_intent
    assert body["client_secret"].startswith(intent.processor_id + "_secret_")
    # Pay again while 3-D Secure is pending: the same authentication, no card saved, no charge.
    again = pay_call(client, invoice, card_token()).json()
    assert (again["status"], again["client_secret"]) == ("requires_action", body["client_secret"])
    assert PaymentMethod.objects.count() == 1
    stripe_backend.authenticate(intent.processor_id, body["client_secret"], success=True)
    synced = pay_call(client, invoice, None, suffix="/sync").json()
    assert synced["status"] == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert len(charges(stripe_backend)) == 1


def test_failed_three_d_secure_then_another_card(client, invoice, card_token, stripe_backend):
    body = pay_call(client, invoice, card_token("4000002500003155")).json()
    intent = invoice.payments.get().payment_intent
    stripe_backend.authenticate(intent.processor_id, body["client_secret"], success=False)
    synced = pay_call(client, invoice, None, suffix="/sync")
    assert synced.status_code == 402
    assert synced.json()["code"] == "payment_intent_authentication_failure"
    assert pay_call(client, invoice, card_token()).json()["status"] == "succeeded"
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_pay_refuses_cross_site_requests(invoice):
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"/invoices/{invoice.token}/pay").status_code == 405
    assert client.post(f"/invoices/{invoice.token}/pay", "{}", content_type="application/json").status_code == 403
    assert pay_call(client, invoice, "tok_x", HTTP_ORIGIN="https://evil.example").status_code == 403
    assert pay_call(client, invoice, None, suffix="/sync", HTTP_ORIGIN="https://evil.example").status_code == 403
    allowed = pay_call(client, invoice, None)
    assert allowed.status_code == 400
    assert allowed.json()["message"] == "Check your card details."


def test_a_merchant_without_stripe_credentials_shows_the_invoice_without_a_form(client, shop):
    invoice = open_invoice(shop.merchant)
    html = text_of(client.get(f"/invoices/{invoice.token}"))
    assert "Green tea" in html
    assert 'id="payment-form"' not in html
    assert "Shop cannot take card payments at the moment" in html


def test_payers_racing_on_one_invoice_make_one_charge(live_server, invoice, card_token, stripe_backend):
    """Four submits at once (a double click, two tabs): one charge; the others are told the truth."""
    tokens = [card_token() for _ in range(4)]
    headers = {"X-Kassa-Page-Token": framing.page_token(invoice), "Origin": live_server.url}

    def pay(token):
        return requests.post(
            f"{live_server.url}/invoices/{invoice.token}/pay", json={"token": token}, headers=headers, timeout=60
        ).json()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(pay, tokens))
    assert len(charges(stripe_backend)) == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert any(a["status"] == "succeeded" for a in answers)
    for answer in answers:
        assert answer["status"] == "succeeded" or answer["code"] in ("payment_in_progress", "invoice_paid"), answer


def test_a_submit_that_read_the_invoice_just_before_another_paid_it_is_told_it_is_paid(
    invoice, card_token, stripe_backend
):
    """The race above, made to happen every time: a submit read the invoice open, then another submit's success
    committed before it looked for the invoice's open payment (there is none any more). Its answer is the invoice
    as it is now, paid, never "Something went wrong" (seen once in CI before the page re-read the invoice)."""
    stale = Invoice.objects.get(pk=invoice.pk)
    invoices.invoice_pay_with_card_token(invoice=invoice, now=timezone.now(), token=card_token())
    answer = json.loads(pages._answer(stale, "en", None).content)
    assert answer["status"] == "succeeded", answer
    assert answer["payment"]["status"] == Invoice.Status.PAID


def test_an_issued_invoice_keeps_its_tax_labels_when_the_rate_is_renamed(seller):
    """A draft reads its rates as they are; finalized, it keeps them as issued (renaming a rate changes no
    issued invoice: not its page, not its PDF, not the dashboard)."""
    draft = open_invoice(seller, finalize=False)
    rate = draft.default_tax_rates.get()
    invoices.tax_rate_update(tax_rate=rate, display_name="VAT")
    assert documents_build.invoice_document(Invoice.objects.get(pk=draft.pk)).total_taxes[0].label == "VAT 20%"
    issued = invoices.invoice_finalize(invoice=draft, now=timezone.now())
    invoices.tax_rate_update(tax_rate=rate, display_name="Sales tax")
    doc = documents_build.invoice_document(Invoice.objects.get(pk=issued.pk))
    assert doc.total_taxes[0].label == "VAT 20%"
    assert {label for line in doc.lines for label in line.tax_labels} == {"VAT 20%"}
    assert "VAT 20%" in pdf_text(pdf.invoice_pdf(doc))
    stored = Invoice.objects.get(pk=issued.pk).total_taxes[0]["rate"]
    assert stored == {
        "display_name": "VAT",
        "percentage": "20",
        "inclusive": False,
        "country": None,
        "state": None,
        "jurisdiction": None,
    }
