"""What the invoices' dashboard pages show: statuses in Stripe's words, and an invoice's page's sections.

Read-only rendering only (the forms and the buttons are in invoices.py and invoice_items.py):
the lines with tax per rate, the totals, the seller as issued, the payments and the timeline of the
invoice's transitions, each an html_table as the other pages have them.
"""

from datetime import datetime

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kassa import money
from merchants.admin_base import admin_link, html_table, when

from ...catalogue import selectors as catalogue_selectors
from ...catalogue.models import Customer, Price
from ...payments.admin import status_badge
from .. import selectors
from ..documents_build import address_lines
from ..models import Invoice, InvoicePayment, TaxRate

S = Invoice.Status

# --- statuses in Stripe's words ------------------------------------------------------------------

DISPLAY_STATUSES = {  # "invoice status": French agrees them with "facture" (Payée, not the payment's Payé)
    "draft": pgettext_lazy("invoice status", "Draft"),
    "scheduled": pgettext_lazy("invoice status", "Scheduled"),
    "open": pgettext_lazy("invoice status", "Open"),
    "overdue": pgettext_lazy("invoice status", "Overdue"),
    "paid": pgettext_lazy("invoice status", "Paid"),
    "void": pgettext_lazy("invoice status", "Void"),
    "uncollectible": pgettext_lazy("invoice status", "Uncollectible"),
}


def invoice_display_status(invoice: Invoice, now: datetime) -> str:
    """The status word's code: a draft that finalizes by itself is scheduled, an open one past due is overdue."""
    if invoice.status == S.DRAFT and invoice.auto_advance and invoice.automatically_finalizes_at:
        return "scheduled"
    if invoice.status == S.OPEN and invoice.due_date is not None and invoice.due_date < now:
        return "overdue"
    return invoice.status


def invoice_status_badge(invoice: Invoice, now: datetime | None = None) -> str:
    code = invoice_display_status(invoice, now or timezone.now())
    badge = format_html('<span class="kassa-status kassa-status--{}">{}</span>', code, DISPLAY_STATUSES[code])
    if code == "scheduled":
        return format_html(
            '{} <span class="kassa-note-inline">{}</span>',
            badge,
            gettext("finalizes %(when)s") % {"when": when(invoice.automatically_finalizes_at)},
        )
    return badge


def invoices_filter_display_status(queryset, code: str, now: datetime):
    scheduled = Q(status=S.DRAFT, auto_advance=True, automatically_finalizes_at__isnull=False)
    overdue = Q(status=S.OPEN, due_date__lt=now)
    if code == "scheduled":
        return queryset.filter(scheduled)
    if code == "overdue":
        return queryset.filter(overdue)
    return queryset.filter(status=code)


class InvoiceStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return list(DISPLAY_STATUSES.items())

    def queryset(self, request, queryset):
        if self.value() in DISPLAY_STATUSES:
            return invoices_filter_display_status(queryset, self.value(), timezone.now())
        return queryset


def money_or_dash(amount: int | None, currency: str) -> str:
    return "—" if amount is None else money.format_amount(amount, currency)


def day(value) -> str:
    return date_format(timezone.localtime(value), "DATE_FORMAT") if value else "—"


def customer_label(customer: Customer) -> str:
    return customer.email or customer.name or customer.public_id


# --- form fields picking the merchant's own objects ------------------------------------------------


class CustomerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, customer):
        if customer.name and customer.email:
            return f"{customer.name} <{customer.email}>"
        return customer_label(customer)


class PriceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, price):
        nickname = f" · {price.nickname}" if price.nickname else ""
        return f"{price.product.name}{nickname} — {money.format_amount(price.unit_amount, price.currency)}"


class TaxRatesField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, rate):
        kind = gettext("incl.") if rate.inclusive else gettext("excl.")
        return f"{rate.display_name} {rate.percentage_text} % ({kind})"


def tax_rates_for(merchant, livemode: bool):
    return selectors.tax_rate_list(merchant=merchant, livemode=livemode, active=True).order_by("display_name", "pk")


def prices_for(merchant, livemode: bool, currency: str | None = None):
    prices = catalogue_selectors.price_list(
        merchant=merchant, livemode=livemode, active=True, type=Price.Type.ONE_TIME, currency=currency
    )
    return prices.order_by("product__name", "unit_amount")


# --- the invoice's page: sections -----------------------------------------------------------------------


def rate_names(invoice: Invoice) -> dict[str, TaxRate]:
    ids = {tax["tax_rate"] for tax in invoice.total_taxes or []}
    for item in invoice.items.all():
        ids |= {tax["tax_rate"] for tax in item.taxes or []}
    return {rate.public_id: rate for rate in TaxRate.objects.filter(merchant=invoice.merchant, public_id__in=ids)}


def rate_label(rates: dict, tax: dict) -> str:
    rate, copy = rates.get(tax["tax_rate"]), tax.get("rate")  # an issued invoice's rate as issued
    if copy:
        name = f"{copy['display_name']} {copy['percentage']} %"
    else:
        name = f"{rate.display_name} {rate.percentage_text} %" if rate else tax["tax_rate"]
    return f"{name} ({gettext('incl.')})" if tax.get("inclusive") else name


def lines_table(invoice: Invoice) -> str:
    items = list(selectors.invoice_lines(invoice))
    if not items:
        return gettext("No lines yet.")
    rates = rate_names(invoice)
    rows = []
    for item in items:
        name = item.description or (item.price.product.name if item.price_id else "—")
        unit = item.unit_amount if item.unit_amount is not None else None
        if unit is None and item.quantity and item.amount % item.quantity == 0:
            unit = item.amount // item.quantity
        taxes = format_html_join(
            "",
            "<div>{}: {}</div>",
            ((rate_label(rates, tax), money.format_amount(tax["amount"], item.currency)) for tax in item.taxes or []),
        )
        rows.append(
            (
                name,
                item.quantity,
                money_or_dash(unit, item.currency),
                money.format_amount(item.amount, item.currency),
                taxes or "—",
            )
        )
    return html_table(
        "kassa-invoice-lines-table",
        [_("Description"), _("Quantity"), _("Unit price"), _("Amount"), _("Taxes")],
        rows,
    )


def totals_table(invoice: Invoice) -> str:
    currency = invoice.currency
    rates = rate_names(invoice)
    rows = [(gettext("Subtotal"), money.format_amount(invoice.subtotal, currency))]
    for tax in invoice.total_taxes or []:
        label = gettext("%(rate)s on %(amount)s") % {
            "rate": rate_label(rates, tax),
            "amount": money.format_amount(tax["taxable_amount"], currency),
        }
        rows.append((label, money.format_amount(tax["amount"], currency)))
    rows += [
        (gettext("Total"), money.format_amount(invoice.total, currency)),
        (gettext("Amount paid"), money.format_amount(invoice.amount_paid, currency)),
        (gettext("Amount remaining"), money.format_amount(invoice.amount_remaining, currency)),
    ]
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    return format_html('<table class="kassa-table" id="kassa-invoice-totals"><tbody>{}</tbody></table>', body)


def _address_lines(address: dict | None) -> list[str]:
    """An address as the invoice prints it, in the dashboard's language (the country named)."""
    return address_lines(address, (translation.get_language() or "en").split("-")[0])


def seller_block(invoice: Invoice) -> str:
    issuer = invoice.issuer
    if not issuer:
        url = reverse("admin:billing_invoicesettings_changelist")
        return format_html(
            '{} <a href="{}">{}</a>',
            gettext("Copied from your invoice settings when the invoice is finalized."),
            url,
            gettext("Invoice settings"),
        )
    lines = [issuer.get("legal_name"), *_address_lines(issuer.get("address"))]
    if issuer.get("vat_number"):
        lines.append(gettext("VAT number: %(number)s") % {"number": issuer["vat_number"]})
    if issuer.get("support_email"):
        lines.append(issuer["support_email"])
    return format_html_join("", "<div>{}</div>", ((line,) for line in lines if line)) or "—"


def bill_to_block(invoice: Invoice) -> str:
    customer = format_html("<div>{}</div>", admin_link(invoice.customer, customer_label(invoice.customer)))
    if invoice.status == S.DRAFT:
        return customer
    lines = [invoice.customer_name, invoice.customer_email, *_address_lines(invoice.customer_address)]
    return format_html("{}{}", customer, format_html_join("", "<div>{}</div>", ((line,) for line in lines if line)))


PAYMENT_STATUS = {
    InvoicePayment.Status.OPEN: _("In progress"),
    InvoicePayment.Status.PAID: _("Paid"),
    InvoicePayment.Status.CANCELED: _("Canceled"),
}


def payments_table(invoice: Invoice) -> str:
    payments = list(invoice.payments.select_related("payment_intent").order_by("pk"))
    rows = [
        (
            admin_link(payment.payment_intent) if payment.payment_intent else "—",
            status_badge(payment.payment_intent) if payment.payment_intent else PAYMENT_STATUS[payment.status],
            money.format_amount(payment.amount_requested, payment.currency),
            money_or_dash(payment.amount_paid, payment.currency),
            when(payment.created),
        )
        for payment in payments
    ]
    if invoice.paid_out_of_band:
        rows.append(
            (
                gettext("Paid outside Kassa"),
                invoice.out_of_band_note or "—",
                "—",
                "—",
                when(invoice.paid_at),
            )
        )
    if not rows:
        return gettext("None yet")
    return html_table(
        "kassa-invoice-payments",
        [_("Payment"), _("Status"), _("Amount"), _("Paid"), _("When")],
        rows,
    )


def timeline(invoice: Invoice) -> list[tuple[datetime, str, str]]:
    """(when, what, details) of the invoice's transitions, oldest first; a scheduled finalization last."""
    entries = [(invoice.created, pgettext("invoice status", "Created"), "")]
    if invoice.finalized_at:
        entries.append((invoice.finalized_at, gettext("Finalized"), invoice.number or ""))
    if invoice.sent_at:
        entries.append((invoice.sent_at, gettext("Sent"), invoice.customer_email or ""))
    for payment in invoice.payments.select_related("payment_intent").order_by("pk"):
        details = payment.payment_intent.public_id if payment.payment_intent else ""
        entries.append((payment.created, gettext("Payment attempted"), details))
    if invoice.overdue_at:
        entries.append((invoice.overdue_at, gettext("Overdue"), ""))
    if invoice.dunning_started_at:
        entries.append(
            (
                invoice.dunning_started_at,
                gettext("Automatic payment failed"),
                gettext("Retried on the schedule of Settings → Failed payments."),
            )
        )
    if invoice.dunning_exhausted_at:
        emailed = invoice.collection_method == Invoice.CollectionMethod.SEND_INVOICE  # its days overdue passed
        what = gettext("Final actions: unpaid after the due date") if emailed else gettext("Retries exhausted")
        entries.append((invoice.dunning_exhausted_at, what, ""))
    if invoice.marked_uncollectible_at:
        entries.append((invoice.marked_uncollectible_at, gettext("Marked uncollectible"), ""))
    if invoice.paid_at:
        what = gettext("Paid outside Kassa") if invoice.paid_out_of_band else pgettext("invoice status", "Paid")
        entries.append((invoice.paid_at, what, invoice.out_of_band_note if invoice.paid_out_of_band else ""))
    if invoice.voided_at:
        entries.append((invoice.voided_at, gettext("Voided"), ""))
    entries.sort(key=lambda entry: entry[0])
    if invoice.last_finalization_error:
        entries.append((None, gettext("Automatic finalization failed"), invoice.last_finalization_error["message"]))
    return entries + _upcoming(invoice)


def _upcoming(invoice: Invoice) -> list[tuple[datetime, str, str]]:
    """What beat will do to the invoice next: finalize it, charge it, retry it, or wait for the customer."""
    entries = []
    if invoice.status == S.DRAFT and invoice.auto_advance and invoice.automatically_finalizes_at:
        entries.append((invoice.automatically_finalizes_at, gettext("Finalizes automatically"), ""))
    if invoice.status == S.OPEN and invoice.auto_advance and invoice.next_payment_attempt:
        what = gettext("Next retry") if invoice.dunning_started_at else gettext("Charged automatically")
        entries.append((invoice.next_payment_attempt, what, ""))
    elif (
        invoice.status == S.OPEN
        and invoice.auto_advance
        and invoice.dunning_ends_at
        and not invoice.dunning_exhausted_at
    ):
        if invoice.collection_method == Invoice.CollectionMethod.SEND_INVOICE:
            # A subscription's emailed invoice overdue: the merchant's deadline (DunningSettings.overdue_days).
            what = gettext("Final actions if still unpaid")
            return [*entries, (invoice.dunning_ends_at, what, gettext("Settings → Failed payments."))]
        # A hard decline, no card, or 3-D Secure: no blind retry, the payer was asked to act.
        entries.append(
            (
                invoice.dunning_ends_at,
                gettext("Retries end"),
                gettext("Waiting for the customer: a new card, or 3-D Secure on the hosted invoice page."),
            )
        )
    return entries
