"""The invoice email (link and PDF) and the receipt of a paid invoice (receipt PDF), to the invoice's customer.

- When: the invoice email when a ``send_invoice`` invoice is sent (``invoice_send``, or finalized by automatic
  collection, as at Stripe); the receipt when a card payment pays an invoice (payments' success hook, registered
  in billing/apps.py). Both by a task queued on commit and owed until it ran (``merchants.emails.email_task_queue``),
  never inside the transaction. An invoice paid outside Kassa gets no receipt (Kassa took no money), as at Stripe.
- Once: each email has a key in the ``EmailSent`` ledger (merchants.emails): ``invoice:in_…:sent:<when>`` (a
  merchant's deliberate re-send is a new email, a retried task is not), ``invoice_receipt:in_…`` (one receipt per
  invoice). An invoice's payment gets this receipt instead of payments' generic one (``receipt_replaces``).
- To whom, in which language: the invoice's ``customer_email`` and ``language`` (copied at finalization: the
  customer's preferred_locales or the merchant's default); From as every Kassa email, Reply-To the seller's
  support email.
- What: the seller, the number, the amount, the due date, the hosted page's link; the PDF attached, made from
  the same document as the page (documents_build).
- Dunning (services/dunning.py): each failed automatic attempt emails the payer once (key
  ``invoice_dunning:<attempt key>``), worded by what it asks of them (``declined``: the next try's date;
  ``card``: a new card; ``action``: 3-D Secure), with the link to give a card and pay (the task passes it:
  ``card_update_url``, the hosted invoice page by default). No PDF: the page has it.
"""

from kassa import mail, money
from merchants import emails as merchant_emails

from ..payments.models import PaymentIntent
from . import documents_build, pdf, selectors
from .models import Invoice, InvoicePayment

PDF = "application/pdf"


def invoice_email_queue(*, invoice: Invoice) -> None:
    """After this transaction commits, email ``invoice`` (just sent: its ``sent_at`` names this sending)."""
    merchant_emails.email_task_queue("billing.tasks.invoice_email_send", invoice.pk, invoice.sent_at.isoformat())


def invoice_receipt_queue(*, payment_intent: PaymentIntent, invoice: Invoice) -> None:
    """Part of payments' success hook (``invoice_payment_succeeded``): the PaymentIntent pays ``invoice``; when its
    merchant sends receipts, the receipt is sent once this commits (no task at all for a merchant who does not: a
    renewal day queues none)."""
    if payment_intent.merchant.receipts_enabled:  # the invoice's merchant (read with the PaymentIntent's answer)
        merchant_emails.email_task_queue("billing.tasks.invoice_receipt_send", invoice.pk)


def receipt_replaces(payment_intent: PaymentIntent) -> bool:
    """payments' receipt check: an invoice's PaymentIntent gets the invoice's receipt, not the generic one."""
    return InvoicePayment.objects.filter(payment_intent=payment_intent).exists()


def _context(invoice: Invoice, doc) -> dict:
    language = doc.language
    hosted_url, pdf_url = selectors.invoice_urls(invoice)
    support_email = doc.seller.email or invoice.merchant.support_email or ""
    return {
        **merchant_emails.merchant_context(invoice.merchant),
        "seller_name": doc.seller.name,
        "support_email": support_email,
        "livemode": invoice.livemode,
        "number": doc.number,
        "amount_due": money.format_localised(doc.amount_remaining, doc.currency, language),
        "total": money.format_localised(doc.total, doc.currency, language),
        "amount_paid": money.format_localised(doc.amount_paid, doc.currency, language),
        "due_date": documents_build.format_day(doc.due, language) if doc.due else "",
        "paid_date": documents_build.format_day(doc.paid_at, language) if doc.paid_at else "",
        "payment_summary": doc.payment_summary or "",
        "receipt_number": doc.receipt_number or "",
        "hosted_url": hosted_url,
        "pdf_url": pdf_url,
        "memo": doc.description or "",
    }


def invoice_email_send(*, invoice: Invoice, sending: str) -> int:
    """The invoice email of one sending (``sending``: its ``sent_at``), with the invoice PDF; 1 if sent now."""
    if invoice.status != Invoice.Status.OPEN or not invoice.customer_email:
        return 0  # paid or voided before the task ran, or nobody to send it to
    doc = documents_build.invoice_document(invoice)
    attachment = mail.Attachment(f"{doc.number}.pdf", pdf.invoice_pdf(doc), PDF)
    return int(
        merchant_emails.email_send_once(
            key=f"invoice:{invoice.public_id}:sent:{sending}",
            kind="invoice",
            merchant=invoice.merchant,
            to=invoice.customer_email,
            template="email/invoice",
            context=_context(invoice, doc),
            language=doc.language,
            reply_to=doc.seller.email or invoice.merchant.support_email or None,
            attachments=[attachment],
        )
    )


def invoice_receipt_send(*, invoice: Invoice) -> int:
    """The receipt of a paid invoice, with the receipt PDF (once per invoice); 1 if sent now."""
    merchant = invoice.merchant
    if invoice.status != Invoice.Status.PAID or invoice.paid_out_of_band or not invoice.customer_email:
        return 0
    if not merchant.receipts_enabled:
        return 0
    doc = documents_build.invoice_document(invoice)
    attachment = mail.Attachment(f"{doc.receipt_number or doc.number}.pdf", pdf.receipt_pdf(doc), PDF)
    return int(
        merchant_emails.email_send_once(
            key=f"invoice_receipt:{invoice.public_id}",
            kind="invoice_receipt",
            merchant=merchant,
            to=invoice.customer_email,
            template="email/invoice_receipt",
            context=_context(invoice, doc),
            language=doc.language,
            reply_to=doc.seller.email or merchant.support_email or None,
            attachments=[attachment],
        )
    )


DUNNING_KINDS = ("declined", "card", "action")


def invoice_dunning_email_send(*, invoice: Invoice, kind: str, attempt: str, final: bool, link: str | None) -> int:
    """The payer's email about one failed automatic attempt (``attempt``: its key); 1 if sent now."""
    if kind not in DUNNING_KINDS:
        raise ValueError(f"Unknown dunning email kind: {kind}")
    if invoice.status != Invoice.Status.OPEN and not (final and invoice.status == Invoice.Status.UNCOLLECTIBLE):
        return 0  # paid or voided before the task ran
    if not invoice.customer_email or not link:
        return 0
    doc = documents_build.invoice_document(invoice)
    context = _context(invoice, doc)
    next_attempt = invoice.next_payment_attempt if kind == "declined" and not final else None
    context.update(
        {
            "kind": kind,
            "has_card": bool(invoice.default_payment_method_id or invoice.customer.default_payment_method_id),
            "final": final,
            "card_update_url": link,
            "next_attempt": documents_build.format_day(next_attempt, doc.language) if next_attempt else "",
        }
    )
    return int(
        merchant_emails.email_send_once(
            key=f"invoice_dunning:{attempt}",
            kind="invoice_payment_failed",
            merchant=invoice.merchant,
            to=invoice.customer_email,
            template="email/invoice_payment_failed",
            context=context,
            language=doc.language,
            reply_to=doc.seller.email or invoice.merchant.support_email or None,
        )
    )
