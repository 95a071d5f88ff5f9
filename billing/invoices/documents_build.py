"""What an invoice says, decided once from its rows: ``invoice_document(invoice) -> InvoiceDocument``.

The hosted page, the PDFs and the emails all read this one document, so they
never disagree. An issued invoice shows the seller as issued (``issuer``,
copied at finalization) and the buyer as billed (``customer_*``); only a
draft, which nobody outside the dashboard sees, reads the merchant's current
settings and customer. The logo is the merchant's current one (it is not
part of what an invoice legally says).

Tax labels are the rate's name and percentage in the document's language:
``VAT 20%``, ``TVA 20 %``, ``TVA 5,5 %``; an issued invoice's as issued (the
copy of each rate its taxes took at finalization), a draft's as the rate is now. Dates are calendar dates in Kassa's
time zone (``TIME_ZONE``). A receipt's number is the invoice's number with
``-R`` (one receipt per paid invoice).
"""

from datetime import datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import numbering
from .documents import DocumentLine, InvoiceDocument, Party, TaxLine
from .models import Invoice, InvoicePayment, TaxRate

#: How card brands are written (the processor's lower-case codes).
CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american express": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "diners club": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
}


def _day(moment: datetime | None):
    return timezone.localdate(moment) if moment else None


def address_lines(address: dict | None, language: str) -> list[str]:
    """``{"line1", "line2", "postal_code", "city", "state", "country"}`` as printed lines, the country named."""
    if not address:
        return []
    lines = [address.get("line1") or "", address.get("line2") or ""]
    lines.append(" ".join(part for part in (address.get("postal_code"), address.get("city")) if part))
    lines.append(address.get("state") or "")
    country = (address.get("country") or "").upper()
    if country:
        lines.append(Locale.parse(language).territories.get(country, country))
    return [line for line in lines if line.strip()]


def _seller(invoice: Invoice, settings, language: str) -> Party:
    issuer = invoice.issuer or settings.issuer()  # as issued; a draft shows the settings as they stand
    return Party(
        name=issuer.get("legal_name") or invoice.merchant.name,
        address=address_lines(issuer.get("address"), language),
        email=issuer.get("support_email") or None,
        vat_number=issuer.get("vat_number") or None,
    )


def _buyer(invoice: Invoice, language: str) -> Party:
    if invoice.status == Invoice.Status.DRAFT:
        customer = invoice.customer
        name, email, phone, address = customer.name, customer.email, customer.phone, customer.address
    else:
        name, email, phone = invoice.customer_name, invoice.customer_email, invoice.customer_phone
        address = invoice.customer_address
    return Party(
        name=name or email or "",
        address=address_lines(address, language),
        email=email or None,
        phone=phone or None,
    )


def tax_label(rate: TaxRate | None, language: str) -> str:
    """``VAT 20%`` / ``TVA 20 %``: the rate's name and its percentage as the reader writes numbers."""
    if rate is None:
        return _("Tax")
    return _label(rate.display_name, rate.percentage, language)


def _label(name: str, percentage: Decimal, language: str) -> str:
    number = format_decimal(percentage.normalize(), locale=language, group_separator=False)
    return _("%(name)s %(percentage)s%%") % {"name": name, "percentage": number}


def _tax_label(tax: dict, rates: dict, language: str) -> str:
    """An issued invoice's tax entry names its rate as issued (the copy taken at finalization); a draft's,
    the rate as it is now."""
    copy = tax.get("rate")
    if copy:
        return _label(copy["display_name"], Decimal(copy["percentage"]), language)
    return tax_label(rates.get(tax["tax_rate"]), language)


def card_summary(brand: str, last4: str) -> str:
    """``Visa •••• 4242``."""
    name = CARD_BRANDS.get((brand or "").lower(), (brand or _("Card")).capitalize())
    return f"{name} •••• {last4}" if last4 else name


def paying_payment(invoice: Invoice) -> InvoicePayment | None:
    """The payment that paid the invoice (its latest paid one), with its card."""
    return (
        invoice.payments.filter(status=InvoicePayment.Status.PAID)
        .select_related("payment_intent__payment_method")
        .order_by("-paid_at", "-pk")
        .first()
    )


def payment_summary(invoice: Invoice) -> str | None:
    """How a paid invoice was paid: ``Visa •••• 4242``, or that it was paid outside Kassa; None if unpaid."""
    if invoice.status != Invoice.Status.PAID:
        return None
    if invoice.paid_out_of_band:
        return _("Paid by other means")
    payment = paying_payment(invoice)
    card = payment.payment_intent.payment_method if payment and payment.payment_intent else None
    return card_summary(card.card_brand, card.card_last4) if card else None


def receipt_number(invoice: Invoice) -> str | None:
    return f"{invoice.number}-R" if invoice.status == Invoice.Status.PAID and invoice.number else None


def _period(item, language: str) -> str | None:
    start, end = _day(item.period_start), _day(item.period_end)
    if start is None or end is None or start == end:
        return None
    return _("%(start)s to %(end)s") % {"start": format_day(start, language), "end": format_day(end, language)}


def format_day(day, language: str) -> str:
    """A date as the reader writes it in full (``1 December 2026``, ``1 décembre 2026``)."""
    return format_date(day, format="long", locale=language)


def invoice_document(invoice: Invoice, *, language: str | None = None) -> InvoiceDocument:
    """The invoice as its page, PDFs and emails show it, in ``language`` (default: the invoice's own)."""
    settings = numbering.invoice_settings_for(invoice.merchant)
    language = language or invoice.language or settings.default_locale or "en"
    with translation.override(language):
        items = list(invoice.items.prefetch_related("tax_rates").order_by("pk"))
        rate_ids = {tax["tax_rate"] for tax in invoice.total_taxes or []}
        rate_ids |= {tax["tax_rate"] for item in items for tax in item.taxes or []}
        rates = {
            rate.public_id: rate for rate in TaxRate.objects.filter(merchant=invoice.merchant, public_id__in=rate_ids)
        }
        lines = [
            DocumentLine(
                description=item.description or "",
                quantity=item.quantity,
                unit_amount=item.unit_amount,
                amount=item.amount,
                tax_labels=[_tax_label(tax, rates, language) for tax in item.taxes or []],
                period=_period(item, language),
            )
            for item in items
        ]
        total_taxes = [
            TaxLine(
                label=_tax_label(tax, rates, language),
                inclusive=bool(tax.get("inclusive")),
                taxable_amount=tax.get("taxable_amount", 0),
                amount=tax.get("amount", 0),
            )
            for tax in invoice.total_taxes or []
        ]
        return InvoiceDocument(
            language=language,
            number=invoice.number or "",
            status=invoice.status,
            currency=invoice.currency,
            issued=_day(invoice.finalized_at or invoice.created),
            due=_day(invoice.due_date),
            paid_at=_day(invoice.paid_at),
            seller=_seller(invoice, settings, language),
            buyer=_buyer(invoice, language),
            lines=lines,
            subtotal=invoice.subtotal,
            total_taxes=total_taxes,
            total=invoice.total,
            amount_paid=invoice.amount_paid,
            amount_remaining=invoice.amount_remaining,
            seller_logo=bytes(settings.logo) if settings.logo else None,
            description=invoice.description or None,
            footer=invoice.footer or None,
            livemode=invoice.livemode,
            payment_summary=payment_summary(invoice),
            receipt_number=receipt_number(invoice),
        )
