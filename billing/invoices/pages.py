"""The hosted invoice page ``/invoices/<token>``, its receipt view, its PDFs and its two JSON calls.

What shaped it:

- The invoice's ``token`` (43 random characters, not its public id, which
  API logs and events carry) is the payer's only credential, as Stripe's
  hosted invoice URL is: the lookups here are by token alone, never scoped by
  a merchant, and a draft has no page. An unknown token, a draft's, and a
  malformed one get the same 404 page, which names nothing.
- It is built as checkout's pay page (billing/checkout/pages.py): the same
  CSP, framing refusal, page token and ``Origin`` check on the JSON calls
  (billing/hosted/framing.py), the same stylesheet and the same script
  (``checkout.js``: Stripe.js ``createToken``, the server pays, 3-D Secure
  with ``confirmCardPayment`` when the server answers ``requires_action``,
  then ``/sync`` re-reads the processor). Card numbers never reach Kassa.
- Paying: the token's card pays this invoice only
  (``invoices.invoice_pay_with_card_token``: single-use for the invoice's
  PaymentIntent, never saved on the customer, who did not ask for it; a card
  refused there leaves the invoice open) — unless the invoice's subscription
  saves the card that pays it (``save_default_payment_method``), which the
  page says above the button; on-session (the payer is here for
  3-D Secure). The service lets one
  payment be in flight per invoice, so a double click makes one charge; the
  page's answer always comes from the rows after the processor's state was
  applied. A paid or void invoice takes no payment and says what it is.
- Language: the payer's pick on the page's switch (``?lang=``, carried in the
  page's links and calls), else the invoice's (``Invoice.language``: the
  customer's preferred_locales or the merchant's default), else the browser's.
- Everything shown comes from ``documents_build.invoice_document``, the same
  document the PDFs and emails read.
"""

import base64
import json
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kassa import money
from kassa.errors import CardError, IdempotencyConflict, KassaError, ProcessorError
from merchants.models import Merchant
from merchants.selectors import payments_readiness

from ..hosted import attempts, framing, i18n
from ..payments import services as payments
from ..payments.models import PaymentIntent
from . import documents_build, hooks, numbering, pdf, selectors
from . import services as invoices
from .models import Invoice, InvoicePayment

logger = logging.getLogger(__name__)

PAYABLE = (Invoice.Status.OPEN, Invoice.Status.UNCOLLECTIBLE)
IN_FLIGHT = (PaymentIntent.Status.REQUIRES_ACTION, PaymentIntent.Status.PROCESSING)
TOKEN_MAX = 64  # Invoice.token's column
NAME_MAX = 256
# What checkout.js says itself (the rest comes in the server's answers).
SCRIPT_TEXTS = ("processing", "authenticating", "card_incomplete", "network_error", "generic_error")

# The invoice page's own words (checkout's shared ones are in billing/hosted/i18n.py).
MESSAGES = {
    "page_title": _("Invoice %(number)s from %(merchant)s"),
    "receipt_title": _("Receipt for invoice %(number)s"),
    "pay": _("Pay %(amount)s"),
    "authenticate": _("Confirm the payment"),
    "authenticate_note": _(
        "Your bank asks you to confirm the payment of %(amount)s with your card ending in %(last4)s (3-D Secure)."
    ),
    "save_note": _("Your card will be saved with %(merchant)s to pay this subscription's next invoices automatically."),
    "paid_title": _("Invoice paid"),
    "paid_body": _("Thank you! %(merchant)s has received your payment of %(amount)s."),
    "paid_on": _("Paid on %(date)s"),
    "void_note": _("This invoice was voided by %(merchant)s. Nothing is due and it cannot be paid."),
    "paid_note": _("This invoice has been paid. Nothing more is due."),
    "due_on": _("Due %(date)s"),
    "overdue": _("Overdue since %(date)s"),
    "not_payable": _("This invoice can no longer be paid. Nothing was charged."),
    "already_paid": _("This invoice is already paid. Nothing was charged."),
    "unavailable": _("%(merchant)s cannot take card payments at the moment. Contact them to pay this invoice."),
    "not_found_title": _("This invoice does not exist"),
    "not_found_body": _("Check the address you were given, or ask the seller for a new link."),
}
STATUS_LABELS = {
    Invoice.Status.OPEN: pgettext_lazy("invoice status", "Open"),
    Invoice.Status.PAID: pgettext_lazy("invoice status", "Paid"),
    Invoice.Status.VOID: pgettext_lazy("invoice status", "Void"),
    # Written off by the merchant, still payable: the payer sees it as due.
    Invoice.Status.UNCOLLECTIBLE: pgettext_lazy("invoice status", "Open"),
}


def text(key: str, **values) -> str:
    return i18n.fill(MESSAGES, key, **values)


# --- reads ---------------------------------------------------------------------------


def _find(token: str) -> Invoice | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    return selectors.invoice_by_token(token)


def _open_payment(invoice: Invoice) -> InvoicePayment | None:
    return (
        invoice.payments.filter(status=InvoicePayment.Status.OPEN)
        .select_related("payment_intent__merchant", "payment_intent__payment_method")
        .first()
    )


def _current(invoice: Invoice) -> Invoice:
    """The invoice as the server knows it now: a payment in flight (3-D Secure, processing) is re-read from the
    processor first (payments applies it and the invoice's hooks mark it paid); otherwise the rows are the truth."""
    payment = _open_payment(invoice)
    if payment is not None and payment.payment_intent is not None and payment.payment_intent.status in IN_FLIGHT:
        payments.payment_intent_current(payment_intent=payment.payment_intent)
        return selectors.invoice_by_token(invoice.token) or invoice
    return invoice


def _waiting_for_authentication(invoice: Invoice) -> PaymentIntent | None:
    """The invoice's PaymentIntent when it waits for the card holder's 3-D Secure, else None."""
    payment = _open_payment(invoice)
    intent = payment.payment_intent if payment is not None else None
    return intent if intent is not None and intent.status == PaymentIntent.Status.REQUIRES_ACTION else None


def _language(request: HttpRequest, invoice: Invoice | None) -> str:
    """The payer's pick, else the invoice's language, else the browser's (billing/hosted/i18n.py)."""
    if invoice is not None and invoice.language in i18n.LANGUAGES:
        return i18n.chosen_language(request) or invoice.language
    return i18n.language_for(request)


def _url(name: str, invoice: Invoice, pick: str | None) -> str:
    return framing.with_embed(reverse(f"invoices:{name}", args=[invoice.token]), None, lang=pick)


def _publishable_key(invoice: Invoice) -> str | None:
    if invoice.merchant.status != Merchant.Status.ACTIVE:
        return None
    return payments_readiness(merchant=invoice.merchant, livemode=invoice.livemode).publishable_key or None


# --- what the page shows ----------------------------------------------------------------


def _logo(invoice: Invoice) -> str | None:
    """The merchant's logo as a ``data:`` URL (the pages' CSP allows images from Kassa and ``data:`` only)."""
    invoice_settings = numbering.invoice_settings_for(invoice.merchant)
    if not invoice_settings.logo or invoice_settings.logo_content_type not in ("image/png", "image/jpeg"):
        return None
    encoded = base64.b64encode(bytes(invoice_settings.logo)).decode()
    return f"data:{invoice_settings.logo_content_type};base64,{encoded}"


def _context(request: HttpRequest, invoice: Invoice, language: str) -> dict:
    """What the invoice page and the receipt view both show, from the one document the PDFs print."""
    doc = documents_build.invoice_document(invoice, language=language)
    pick = i18n.picked(request)

    def amount(value: int) -> str:
        return money.format_localised(value, doc.currency, language)

    def day(value) -> str:
        return documents_build.format_day(value, language) if value else ""

    lines = [
        {
            "description": line.description,
            "period": line.period,
            "quantity": line.quantity,
            "unit_amount": amount(line.unit_amount) if line.unit_amount is not None else "",
            "taxes": ", ".join(line.tax_labels),
            "amount": amount(line.amount),
        }
        for line in doc.lines
    ]
    taxes = [
        {
            "label": str(_("%(tax)s (included)") % {"tax": tax.label}) if tax.inclusive else tax.label,
            "taxable_amount": amount(tax.taxable_amount),
            "amount": amount(tax.amount),
        }
        for tax in doc.total_taxes
    ]
    status_note = ""
    if invoice.status == Invoice.Status.PAID:
        status_note = text("paid_on", date=day(doc.paid_at)) if doc.paid_at else text("paid_note")
    elif invoice.status == Invoice.Status.VOID:
        status_note = text("void_note", merchant=doc.seller.name)
    elif doc.due:
        overdue = invoice.due_date is not None and invoice.due_date < timezone.now()
        status_note = text("overdue", date=day(doc.due)) if overdue else text("due_on", date=day(doc.due))
    return {
        "language_switch": i18n.switch(request, language),
        "title": text("page_title", number=doc.number, merchant=doc.seller.name),
        "merchant_name": invoice.merchant.name,
        "livemode": invoice.livemode,
        "doc": doc,
        "logo": _logo(invoice),
        "status": invoice.status,
        "status_label": STATUS_LABELS.get(invoice.status, invoice.status),
        "status_note": status_note,
        "issued": day(doc.issued),
        "due": day(doc.due),
        "paid_at": day(doc.paid_at),
        "lines": lines,
        "taxes": taxes,
        "subtotal": amount(doc.subtotal),
        "total": amount(doc.total),
        "amount_paid": amount(doc.amount_paid),
        "amount_remaining": amount(doc.amount_remaining),
        "invoice_pdf_url": _url("pdf", invoice, pick),
        "receipt_pdf_url": _url("receipt_pdf", invoice, pick) if invoice.status == Invoice.Status.PAID else None,
        "receipt_url": _url("receipt", invoice, pick) if invoice.status == Invoice.Status.PAID else None,
        "page_url": _url("page", invoice, pick),
    }


def _not_found(request: HttpRequest, language: str) -> HttpResponse:
    return framing.message_page(
        request, language, status=404, title=text("not_found_title"), body=text("not_found_body")
    )


def _open(request: HttpRequest, token: str):
    """The invoice a page names (as it now stands) and its language, active from here on; or the 404 to answer."""
    invoice = _find(token)
    language = _language(request, invoice)
    translation.activate(language)
    if invoice is None:
        return None, language, _not_found(request, language)
    return _current(invoice), language, None


@never_cache
@require_GET
@i18n.in_payer_language
def invoice_page(request: HttpRequest, token: str) -> HttpResponse:
    """The invoice: seller, buyer, lines, taxes per rate, totals, status; the card form while it can be paid."""
    invoice, language, missing = _open(request, token)
    if missing is not None:
        return missing
    context = _context(request, invoice, language)
    pick = i18n.picked(request)  # carried in the page's calls: they answer in the language the payer reads
    payable = invoice.status in PAYABLE and invoice.amount_remaining > 0
    publishable_key = _publishable_key(invoice) if payable else None
    context |= {"payable": payable, "pay_form": False}
    if payable and publishable_key is None:
        context["unavailable"] = text("unavailable", merchant=invoice.merchant.name)
    elif payable:
        pay_label = text("pay", amount=context["amount_remaining"])
        # A payment waiting for the card holder's authentication (beat charged a saved card off-session and
        # the bank asked for 3-D Secure; invoice.payment_action_required): the form confirms that payment,
        # with its own PaymentIntent (the pay call answers its client secret), before any other card.
        waiting = _waiting_for_authentication(invoice)
        context |= {
            "pay_form": True,
            "pay_label": pay_label,
            "authenticate": waiting is not None,
            "authenticate_label": text("authenticate"),
            "authenticate_note": text(
                "authenticate_note",
                amount=context["amount_remaining"],
                last4=getattr(waiting.payment_method, "card_last4", "") if waiting else "",
            ),
            "secure_note": i18n.text("secure_note", merchant=invoice.merchant.name),
            # A subscription that saves the card that pays (save_default_payment_method): the payer is told first.
            "save_note": text("save_note", merchant=invoice.merchant.name)
            if waiting is None and hooks.card_kept(invoice=invoice)
            else "",
            "stripe_js_url": settings.STRIPE_JS_URL,
            "config": {
                "publishableKey": publishable_key,
                "locale": language,
                "payUrl": framing.with_embed(reverse("invoices:pay", args=[invoice.token]), None, lang=pick),
                "syncUrl": framing.with_embed(reverse("invoices:sync", args=[invoice.token]), None, lang=pick),
                "pageToken": framing.page_token(invoice),
                "embed": False,
                "origin": None,
                "authenticate": waiting is not None,
                "text": {key: i18n.text(key) for key in SCRIPT_TEXTS} | {"pay": pay_label},
            },
        }
    return framing.page(request, "invoices/page.html", context, language=language)


@never_cache
@require_GET
@i18n.in_payer_language
def receipt_page(request: HttpRequest, token: str) -> HttpResponse:
    """After payment: what was paid, when, with which card, and the receipt PDF. Unpaid: back to the invoice."""
    invoice, language, missing = _open(request, token)
    if missing is not None:
        return missing
    if invoice.status != Invoice.Status.PAID:
        return framing.headers(redirect(_url("page", invoice, i18n.picked(request))), language=language)
    context = _context(request, invoice, language)
    doc = context["doc"]
    context |= {
        "title": text("receipt_title", number=doc.number),
        "heading": text("paid_title"),
        "body": text("paid_body", merchant=doc.seller.name, amount=context["amount_paid"]),
    }
    return framing.page(request, "invoices/receipt.html", context, language=language)


def _pdf_response(content: bytes, filename: str, language: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Content-Language"] = language
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


def _pdf_invoice(request: HttpRequest, token: str) -> tuple[Invoice, str]:
    invoice = _find(token)
    if invoice is None:
        raise Http404  # the same page as any unknown address: it names nothing
    return invoice, _language(request, invoice)


@require_GET
def invoice_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The invoice as PDF (the API's ``invoice_pdf``): what the merchant's server or the payer downloads."""
    invoice, language = _pdf_invoice(request, token)
    content = pdf.invoice_pdf(documents_build.invoice_document(invoice, language=language))
    return _pdf_response(content, f"{invoice.number}.pdf", language)


@require_GET
def receipt_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The receipt as PDF, once the invoice is paid (before that, there is none: 404)."""
    invoice, language = _pdf_invoice(request, token)
    if invoice.status != Invoice.Status.PAID:
        raise Http404
    doc = documents_build.invoice_document(invoice, language=language)
    return _pdf_response(pdf.receipt_pdf(doc), f"{doc.receipt_number or invoice.number}.pdf", language)


# --- the page's JSON calls ---------------------------------------------------------------


def _answer(invoice: Invoice, language: str, pick: str | None) -> JsonResponse:
    """The page's next step, from the server's rows alone (after the processor's state was applied)."""
    payment = _open_payment(invoice)
    intent = payment.payment_intent if payment is not None else None
    data = {
        "payment": {"status": invoice.status, "amount_remaining": invoice.amount_remaining},
        "client_secret": None,
        "next_url": None,
    }
    if invoice.status == Invoice.Status.PAID:
        body = {"status": "succeeded", "message": text("paid_title"), "next_url": _url("receipt", invoice, pick)}
        return framing.json_answer(data | body, language=language)
    if invoice.status not in PAYABLE:
        body = {"status": "failed", "code": "invoice_not_payable", "message": text("not_payable")}
        return framing.json_answer(
            data | body | {"next_url": _url("page", invoice, pick)}, language=language, status=409
        )
    if intent is not None and intent.status == PaymentIntent.Status.REQUIRES_ACTION:
        client_secret = payments.processor_client_secret(intent)
        if not client_secret:
            return _failed(invoice, language, code="processor_error", key="processor_error", status=502)
        body = {"status": "requires_action", "message": i18n.text("authenticating"), "client_secret": client_secret}
        return framing.json_answer(data | body, language=language)
    if intent is not None and payments.payment_intent_in_flight(intent):
        # Another submit's attempt is at the processor: one charge at a time, and this one waits.
        return _failed(invoice, language, code="payment_in_progress", key="payment_in_progress", status=409)
    if intent is not None and intent.status == PaymentIntent.Status.PROCESSING:
        body = {"status": "processing", "message": i18n.text("still_processing")}
        return framing.json_answer(data | body, language=language, status=202)
    error = (intent.last_payment_error if intent is not None else None) or {}
    if not error:
        # The invoice was read before its payment: another submit's success committed in between (its payment is
        # no longer open, the invoice read is). Answer from the invoice as it is now, never a false failure.
        current = _find(invoice.token)
        if current is not None and current.status != invoice.status:
            return _answer(current, language, pick)
        return _failed(invoice, language, code="generic_error", key="generic_error", status=400)
    code = error.get("code") if error.get("code") in i18n.MESSAGES else "card_declined"
    return _failed(invoice, language, code=code, key=code, status=402)


def _failed(invoice: Invoice, language: str, *, code: str, key: str, status: int) -> JsonResponse:
    body = {"status": "failed", "code": code, "message": i18n.text(key)}
    payment = {"status": invoice.status, "amount_remaining": invoice.amount_remaining}
    return framing.json_answer(
        body | {"payment": payment, "client_secret": None, "next_url": None}, language=language, status=status
    )


def _message_for(error: KassaError) -> str:
    """The catalogue key for a service error: by its stable code, never its English words."""
    if isinstance(error, CardError):
        return error.code if error.code in i18n.MESSAGES else "card_declined"
    if isinstance(error, IdempotencyConflict):
        return "payment_in_progress"
    if isinstance(error, ProcessorError):
        return "processor_error"
    if error.code == "processor_not_configured":
        return "processor_not_configured"
    return "generic_error"


def _for_call(request: HttpRequest, token: str):
    invoice = _find(token)
    language = _language(request, invoice)
    translation.activate(language)
    if invoice is None:
        missing = {"status": "failed", "message": text("not_found_title")}
        return None, language, framing.json_answer(missing, language=language, status=404)
    return invoice, language, framing.cross_site_refusal(request, invoice, language)


def _read_body(request: HttpRequest) -> tuple[dict, str | None]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}, "generic_error"
    if not isinstance(body, dict):
        return {}, "generic_error"
    token, name = body.get("token"), body.get("name")
    if not isinstance(token, str) or not token or len(token) > 255:
        return {}, "card_incomplete"
    if name is not None and not isinstance(name, str):
        return {}, "generic_error"
    if name and len(name) > NAME_MAX:
        return {}, "field_too_long"
    return {"token": token, "name": (name or "").strip() or None}, None


def _in_flight(invoice: Invoice) -> bool:
    payment = _open_payment(invoice)
    intent = payment.payment_intent if payment is not None else None
    return intent is not None and (intent.status in IN_FLIGHT or payments.payment_intent_in_flight(intent))


@csrf_exempt  # Cross-site calls are refused by framing.cross_site_refusal instead (billing/checkout/pages.py says why).
@never_cache
@require_POST
@i18n.in_payer_language
def invoice_pay(request: HttpRequest, token: str) -> JsonResponse:
    """Pay with a Stripe.js token: answers succeeded, requires_action (with the processor's client secret) or failed."""
    invoice, language, refusal = _for_call(request, token)
    if refusal is not None:
        return refusal
    pick = i18n.picked(request)
    invoice = _current(invoice)
    if invoice.status == Invoice.Status.PAID:
        return framing.json_answer(
            {"status": "failed", "code": "invoice_paid", "message": text("already_paid"), "client_secret": None}
            | {"next_url": _url("receipt", invoice, pick), "payment": {"status": invoice.status}},
            language=language,
            status=409,
        )
    if invoice.status not in PAYABLE or _in_flight(invoice):
        # Void, or a payment already waiting for 3-D Secure or being made: say so rather than save another card.
        return _answer(invoice, language, pick)
    if _publishable_key(invoice) is None:
        return _failed(invoice, language, code="processor_not_configured", key="processor_not_configured", status=400)
    fields, problem = _read_body(request)
    if problem is not None:
        return _failed(invoice, language, code=problem, key=problem, status=400)
    wait = attempts.card_attempt_wait(request, invoice)
    if wait is not None:  # card testing (billing/hosted/attempts.py): Stripe is not asked
        failed = _failed(invoice, language, code="too_many_attempts", key="too_many_attempts", status=429)
        return attempts.refused(failed, wait)
    try:
        invoices.invoice_pay_with_card_token(
            invoice=invoice,
            now=timezone.now(),
            token=fields["token"],
            billing_details={"name": fields["name"]} if fields["name"] else None,
        )
    except KassaError as exc:
        logger.info("Invoice %s payment on its page: %s (%s)", invoice.public_id, exc.code, type(exc).__name__)
        invoice = _find(token) or invoice
        if invoice.status not in PAYABLE or _in_flight(invoice):
            # 3-D Secure asked for, or another submit (a double click, a second tab) got there first.
            return _answer(invoice, language, pick)
        key = _message_for(exc)
        status = {CardError: 402, IdempotencyConflict: 409, ProcessorError: 502}.get(type(exc), 400)
        return _failed(invoice, language, code=exc.code or key, key=key, status=status)
    return _answer(_find(token) or invoice, language, pick)


@csrf_exempt  # As invoice_pay.
@never_cache
@require_POST
@i18n.in_payer_language
def invoice_sync(request: HttpRequest, token: str) -> JsonResponse:
    """After Stripe.js's 3-D Secure step: the server re-reads the processor and answers as ``invoice_pay`` does."""
    invoice, language, refusal = _for_call(request, token)
    if refusal is not None:
        return refusal
    return _answer(_current(invoice), language, i18n.picked(request))
