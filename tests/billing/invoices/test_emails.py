"""The invoice email and the invoice receipt in Django's test outbox (billing/invoices/emails.py).

Invoices are made and sent through the invoice services (what the API and the
dashboard call) and paid on the hosted page against localstripe; the tasks
queued on commit run through Celery, eagerly.
"""

import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from billing.invoices import services as invoices
from billing.invoices import tasks
from billing.payments import emails as payment_emails
from merchants.models import EmailSent
from tests import factories
from tests.billing.invoices.hosted import open_invoice, pay_call, seller_settings


@pytest.fixture
def seller(paying_shop):
    seller_settings(paying_shop.merchant)
    return paying_shop.merchant


def parts(message) -> tuple[str, str]:
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return message.body, html


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def send(invoice):
    return invoices.invoice_send(invoice=invoice, now=timezone.now())


def test_sending_an_invoice_emails_its_link_and_its_pdf(seller, emails_on_commit, mailoutbox, settings):
    invoice = open_invoice(seller)
    with emails_on_commit():
        send(invoice)
    [message] = mailoutbox
    assert message.to == ["buyer@example.com"]
    assert message.subject == f"[Test] Invoice {invoice.number} from Shop SARL"
    assert message.reply_to == ["billing@shop.test"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    text, html = parts(message)
    link = f"{settings.KASSA_PUBLIC_URL.rstrip('/')}/invoices/{invoice.token}"
    for body in (text, html):
        assert link in body
        assert "€41.88" in body
        assert invoice.number in body
        assert invoice.public_id not in body  # the token is the link, never the id
    due = invoice.due_date
    assert f"{due:%B} {due.day}, {due.year}" in text
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    words = pdf_text(content)
    assert invoice.number in words
    assert "Shop SARL" in words
    assert "FR40303265045" in words
    assert EmailSent.objects.get(kind="invoice").recipient == "buyer@example.com"


def test_the_email_is_in_the_customers_preferred_language(seller, emails_on_commit, mailoutbox):
    customer = factories.customer(seller, email="client@example.fr", name="Jeanne", preferred_locales=["fr"])
    invoice = open_invoice(seller, customer=customer)
    assert invoice.language == "fr"
    with emails_on_commit():
        send(invoice)
    [message] = mailoutbox
    text, html = parts(message)
    assert message.subject == f"[Test] Facture {invoice.number} de Shop SARL"
    assert "41,88\u00a0€" in text
    assert "Montant dû" in text
    assert "Montant dû" in html
    assert "Voir et payer la facture" in html
    assert "Facture" in pdf_text(message.attachments[0][1])


def test_the_merchants_default_language_when_the_customer_has_none(seller, emails_on_commit, mailoutbox):
    seller_settings(seller, default_locale="fr")
    with emails_on_commit():
        send(open_invoice(seller))
    assert "Montant dû" in mailoutbox[0].body


def test_each_sending_is_emailed_once(seller, emails_on_commit, mailoutbox):
    invoice = open_invoice(seller)
    with emails_on_commit():
        invoice = send(invoice)
    # The task again (a retry, a duplicate message): nothing more.
    assert tasks.invoice_email_send.apply(args=[invoice.pk, invoice.sent_at.isoformat()]).get() == 0
    assert len(mailoutbox) == 1
    # The merchant sends it again on purpose: that is a new email.
    with emails_on_commit():
        send(invoice)
    assert len(mailoutbox) == 2


def test_automatic_collection_emails_a_send_invoice_invoice_as_it_is_finalized(seller, emails_on_commit, mailoutbox):
    draft = open_invoice(seller, finalize=False, auto_advance=True)
    assert mailoutbox == []
    with emails_on_commit():
        invoices.invoices_advance(now=timezone.now() + invoices.AUTO_FINALIZE_AFTER)
    draft.refresh_from_db()
    assert draft.status == "open"
    assert draft.sent_at is not None
    [message] = mailoutbox
    assert draft.number in message.subject
    assert message.attachments[0][2] == "application/pdf"


def test_a_charge_automatically_invoice_is_not_emailed_on_finalization(seller, emails_on_commit, mailoutbox):
    with emails_on_commit():
        open_invoice(seller, collection_method="charge_automatically")
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("locales", "words"),
    [
        ([], ["Your receipt from Shop SARL", "Thank you for paying invoice", "€41.88", "Visa •••• 4242"]),
        (["fr"], ["Votre reçu de Shop SARL", "Merci d\u2019avoir réglé la facture", "41,88\u00a0€", "Visa •••• 4242"]),
    ],
)
def test_paying_on_the_page_sends_one_receipt_with_its_pdf(
    client, seller, card_token, emails_on_commit, mailoutbox, locales, words
):
    customer = factories.customer(seller, email="buyer@example.com", name="Ada", preferred_locales=locales)
    invoice = open_invoice(seller, customer=customer)
    with emails_on_commit():
        assert pay_call(client, invoice, card_token()).status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    # One email to the payer: the invoice's receipt, not payments' generic one as well.
    [message] = [m for m in mailoutbox if m.to == ["buyer@example.com"]]
    text, html = parts(message)
    assert words[0] in message.subject
    assert f"{invoice.number}-R" in message.subject
    for word in words[1:]:
        assert word in text, word
        assert word in html, word
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"{invoice.number}-R.pdf", "application/pdf")
    assert f"{invoice.number}-R" in pdf_text(content)
    # Once: the task again sends nothing.
    assert tasks.invoice_receipt_send.apply(args=[invoice.pk]).get() == 0
    assert EmailSent.objects.filter(kind="invoice_receipt").count() == 1
    assert not EmailSent.objects.filter(kind="receipt").exists()


def test_an_invoice_payment_never_gets_the_generic_receipt_too(
    client, seller, card_token, emails_on_commit, mailoutbox
):
    """Even when its PaymentIntent carries a receipt_email (the generic receipt's trigger), one receipt goes."""
    invoice = open_invoice(seller)
    card = factories.saved_card(invoice.customer, card_token)
    with emails_on_commit():
        invoices.invoice_pay(invoice=invoice, now=timezone.now(), payment_method=card, off_session=True)
    intent = invoice.payments.get().payment_intent
    intent.receipt_email = "buyer@example.com"
    intent.save(update_fields=["receipt_email"])
    assert payment_emails.payment_emails_send_many([[intent.pk, "succeeded"]]) == (0, [], None)
    assert [m.subject for m in mailoutbox if m.to == ["buyer@example.com"]] == [
        f"[Test] Your receipt from Shop SARL [#{invoice.number}-R]"
    ]


def test_paid_outside_kassa_sends_no_receipt(seller, emails_on_commit, mailoutbox):
    invoice = open_invoice(seller)
    with emails_on_commit():
        invoices.invoice_pay(invoice=invoice, now=timezone.now(), paid_out_of_band=True)
    assert mailoutbox == []
