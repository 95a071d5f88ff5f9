"""Dashboard pages for invoices and invoice items; every write calls billing.invoices.services.

- An invoice is made on one page with its lines: rows from a price and a quantity, or a description, a
  unit price in major units and a quantity, each with its own tax rates. The invoice and its lines are
  written by the services inside the form's one transaction (ScopedAdmin's ServiceForm), so a line the
  services refuse leaves nothing written and the page comes back with the error on that line.
- A draft is edited (lines too) or deleted; from open on an invoice is a record: its page shows the
  seller as issued, the lines with tax per rate, the totals, the payments and the timeline, and buttons
  for what its status allows (Stripe's workflow: https://docs.stripe.com/invoicing/overview).
- Statuses in Stripe's dashboard's words: Draft, Scheduled (a draft that finalizes by itself), Open,
  Overdue (open, past its due date), Paid, Void, Uncollectible.
- Invoice items are listed whether pending or on an invoice; a pending one is made here for a customer
  (a later invoice takes it when asked to) and deleted while pending or on a draft.
"""

from datetime import datetime

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import InvalidRequest, KassaError
from merchants.admin_base import ScopedAdmin, admin_link, errors_on_fields, html_table, when
from merchants.admin_lists import AmountSearchMixin, CreatedRangeFilter, CsvExportMixin, csv_amount
from merchants.widgets import CurrencyField, MoneyField, copyable, parse_major

from ..catalogue import selectors as catalogue_selectors
from ..catalogue.admin import CustomerAdmin
from ..catalogue.models import Customer, Price
from ..payments.admin import PaymentIntentAdmin, status_badge
from . import numbering, selectors, services
from .models import Invoice, InvoiceItem, InvoicePayment, TaxRate

S = Invoice.Status
SEND = Invoice.CollectionMethod.SEND_INVOICE
CHARGE = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
#: lines a new invoice's form starts with; "Add line" (kassa/invoice-lines.js) adds more up to MAX_LINES
NEW_INVOICE_ROWS = 3
MAX_LINES = 50

# --- statuses in Stripe's words ------------------------------------------------------------------

DISPLAY_STATUSES = {
    "draft": _("Draft"),
    "scheduled": _("Scheduled"),
    "open": _("Open"),
    "overdue": _("Overdue"),
    "paid": _("Paid"),
    "void": _("Void"),
    "uncollectible": _("Uncollectible"),
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


def _money(amount: int | None, currency: str) -> str:
    return "—" if amount is None else money.format_amount(amount, currency)


def _date(value) -> str:
    return date_format(timezone.localtime(value), "DATE_FORMAT") if value else "—"


def _customer_label(customer: Customer) -> str:
    return customer.email or customer.name or customer.public_id


# --- form fields picking the merchant's own objects ------------------------------------------------


class CustomerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, customer):
        if customer.name and customer.email:
            return f"{customer.name} <{customer.email}>"
        return _customer_label(customer)


class PriceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, price):
        nickname = f" · {price.nickname}" if price.nickname else ""
        return f"{price.product.name}{nickname} — {money.format_amount(price.unit_amount, price.currency)}"


class TaxRatesField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, rate):
        kind = gettext("incl.") if rate.inclusive else gettext("excl.")
        return f"{rate.display_name} {rate.percentage_text} % ({kind})"


def _tax_rates(merchant, livemode: bool):
    return selectors.tax_rate_list(merchant=merchant, livemode=livemode, active=True).order_by("display_name", "pk")


def _prices(merchant, livemode: bool, currency: str | None = None):
    prices = catalogue_selectors.price_list(
        merchant=merchant, livemode=livemode, active=True, type=Price.Type.ONE_TIME, currency=currency
    )
    return prices.order_by("product__name", "unit_amount")


# --- an invoice's lines: one small form per row ---------------------------------------------------

# A service's parameter (the API's name) -> the line's field.
LINE_FIELD_MAP = {
    "pricing[price]": "price",
    "amount": "unit_amount",
    "quantity": "quantity",
    "tax_rates": "tax_rates",
    "description": "description",
}


class LineForm(forms.Form):
    """A line: a price and a quantity, or a description and a unit price (major units) and a quantity."""

    item = forms.CharField(required=False, widget=forms.HiddenInput)
    price = PriceChoiceField(queryset=Price.objects.none(), required=False, label=_("Price"))
    description = forms.CharField(required=False, max_length=500, label=_("Description"))
    unit_amount = forms.CharField(required=False, max_length=32, label=_("Unit price"))
    quantity = forms.IntegerField(min_value=1, max_value=money.MAX_AMOUNT, initial=1, label=_("Quantity"))
    tax_rates = TaxRatesField(queryset=TaxRate.objects.none(), required=False, label=_("Tax rates"))

    def __init__(self, *args, prices=None, tax_rates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["price"].queryset = prices if prices is not None else Price.objects.none()
        self.fields["tax_rates"].queryset = tax_rates if tax_rates is not None else TaxRate.objects.none()
        self.fields["description"].widget.attrs.update(size=24)
        self.fields["unit_amount"].widget.attrs.update(size=10, inputmode="decimal", autocomplete="off")
        self.fields["quantity"].widget.attrs.update({"class": "kassa-line-quantity"})
        #: the invoice's currency, set by the invoice's form before the lines are checked
        self.currency = None

    def clean(self):
        data = super().clean()
        price, typed = data.get("price"), (data.get("unit_amount") or "").strip()
        if price is not None and typed:
            raise forms.ValidationError(_("Pick a price or type a unit price, not both."))
        if price is None and not typed:
            if "unit_amount" not in self.errors:
                raise forms.ValidationError(_("Pick a price, or type a description and a unit price."))
            return data
        if price is None:
            if not (data.get("description") or "").strip():
                self.add_error("description", _("Say what this line is for."))
            try:
                data["unit_amount"] = parse_major(typed, self.currency or "eur", minimum=0)
            except forms.ValidationError as error:
                self.add_error("unit_amount", error)
        else:
            data["unit_amount"] = None
        return data

    def service_args(self) -> dict:
        """What invoice_item_create takes for this line (amount: unit price times quantity, as the API's amount)."""
        data = self.cleaned_data
        args = {
            "quantity": data["quantity"],
            "description": (data.get("description") or "").strip() or None,
            "tax_rates": list(data.get("tax_rates") or []),
        }
        if data.get("price") is not None:
            return {**args, "price": data["price"]}
        return {**args, "amount": data["unit_amount"] * data["quantity"], "currency": self.currency}


LineFormSet = forms.formset_factory(LineForm, extra=1, can_delete=True, max_num=MAX_LINES, validate_max=True)


def _line_initial(item: InvoiceItem) -> dict:
    unit = ""
    if item.price_id is None:
        # A line typed here has amount = unit price times quantity; one made through the API may not divide exactly.
        minor = item.amount // item.quantity if item.quantity and item.amount % item.quantity == 0 else item.amount
        unit = str(money.to_decimal(minor, item.currency))
    return {
        "item": item.public_id,
        "price": item.price_id,
        "description": item.description or "",
        "unit_amount": unit,
        "quantity": item.quantity,
        "tax_rates": [rate.pk for rate in item.tax_rates.all()],
    }


# --- the invoice's form -------------------------------------------------------------------------------

COLLECTION_CHOICES = [
    (CHARGE, _("Charge the customer's default card automatically")),
    (SEND, _("Email the invoice with a link to pay it")),
]
INVOICE_FIELD_MAP = {"due_date": "days_until_due", "pending_invoice_items_behavior": "include_pending"}


class InvoiceForm(forms.ModelForm):
    """The invoice's own fields; its lines are ``self.lines``, checked with it (``clean``)."""

    customer = CustomerChoiceField(queryset=Customer.objects.none(), label=_("Customer"))
    currency = CurrencyField()
    collection_method = forms.ChoiceField(
        choices=COLLECTION_CHOICES, widget=forms.RadioSelect, initial=SEND, label=_("Payment collection")
    )
    days_until_due = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=numbering.DAYS_UNTIL_DUE_MAX,
        label=_("Days until due"),
        help_text=_("For an emailed invoice: counted from when it is finalized."),
    )
    auto_advance = forms.BooleanField(
        required=False,
        label=_("Finalize automatically"),
        help_text=_(
            "One hour after it is made, Kassa finalizes the draft and, when charging automatically, charges "
            "the customer's default card."
        ),
    )
    include_pending = forms.BooleanField(
        required=False,
        label=_("Add the customer's pending invoice items"),
        help_text=_("Items made for this customer and not yet on an invoice, in the invoice's currency."),
    )
    description = forms.CharField(
        required=False,
        max_length=1500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Memo"),
        help_text=_("Shown to the customer on the invoice."),
    )
    footer = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), label=_("Footer")
    )
    default_tax_rates = TaxRatesField(
        queryset=TaxRate.objects.none(),
        required=False,
        label=_("Default tax rates"),
        help_text=_("Applied to every line that has no tax rates of its own."),
    )

    #: set per request by the admin: the merchant's customers, prices and tax rates in the mode in view
    customers = Customer.objects.none()
    prices = Price.objects.none()
    tax_rates = TaxRate.objects.none()
    new_rows = NEW_INVOICE_ROWS

    class Meta:
        model = Invoice
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a draft keeps its customer and currency; pending items join new invoices only
            for name in ("customer", "currency", "include_pending"):
                self.fields.pop(name, None)
        if "customer" in self.fields:
            self.fields["customer"].queryset = self.customers
        if "default_tax_rates" in self.fields:
            self.fields["default_tax_rates"].queryset = self.tax_rates
        lines = list(selectors.invoice_lines(self.instance)) if self.instance.pk else []
        formset = type("LineFormSet", (LineFormSet,), {"extra": 1 if lines else self.new_rows})
        self.lines = formset(
            self.data if self.is_bound else None,
            prefix="lines",
            initial=[_line_initial(item) for item in lines] or None,
            form_kwargs={"prices": self.prices, "tax_rates": self.tax_rates},
        )
        self.existing_lines = {item.public_id: item for item in lines}

    def clean(self):
        data = super().clean()
        currency = self.instance.currency if self.instance.pk else data.get("currency")
        for line in self.lines.forms:
            line.currency = currency
        if not self.lines.is_valid():
            raise forms.ValidationError(_("Correct the lines below."))
        return data

    def line_forms(self):
        """(row number from 1, line form) of the rows with something in them, in page order."""
        return [
            (n, line)
            for n, line in enumerate(self.lines.forms, start=1)
            if line.has_changed() or line.cleaned_data.get("item")
        ]


# --- the invoice's page: sections -----------------------------------------------------------------------


def _rate_names(invoice: Invoice) -> dict[str, TaxRate]:
    ids = {tax["tax_rate"] for tax in invoice.total_taxes or []}
    for item in invoice.items.all():
        ids |= {tax["tax_rate"] for tax in item.taxes or []}
    return {rate.public_id: rate for rate in TaxRate.objects.filter(merchant=invoice.merchant, public_id__in=ids)}


def _rate_label(rates: dict, tax: dict) -> str:
    rate = rates.get(tax["tax_rate"])
    name = f"{rate.display_name} {rate.percentage_text} %" if rate else tax["tax_rate"]
    return f"{name} ({gettext('incl.')})" if tax.get("inclusive") else name


def lines_table(invoice: Invoice) -> str:
    items = list(selectors.invoice_lines(invoice))
    if not items:
        return gettext("No lines yet.")
    rates = _rate_names(invoice)
    rows = []
    for item in items:
        name = item.description or (item.price.product.name if item.price_id else "—")
        unit = item.unit_amount if item.unit_amount is not None else None
        if unit is None and item.quantity and item.amount % item.quantity == 0:
            unit = item.amount // item.quantity
        taxes = format_html_join(
            "",
            "<div>{}: {}</div>",
            ((_rate_label(rates, tax), money.format_amount(tax["amount"], item.currency)) for tax in item.taxes or []),
        )
        rows.append(
            (
                name,
                item.quantity,
                _money(unit, item.currency),
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
    rates = _rate_names(invoice)
    rows = [(gettext("Subtotal"), money.format_amount(invoice.subtotal, currency))]
    for tax in invoice.total_taxes or []:
        label = gettext("%(rate)s on %(amount)s") % {
            "rate": _rate_label(rates, tax),
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
    address = address or {}
    city = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    return [
        part
        for part in (address.get("line1"), address.get("line2"), city, address.get("state"), address.get("country"))
        if part
    ]


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
    customer = format_html("<div>{}</div>", admin_link(invoice.customer, _customer_label(invoice.customer)))
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
            _money(payment.amount_paid, payment.currency),
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
    entries = [(invoice.created, gettext("Created"), "")]
    if invoice.finalized_at:
        entries.append((invoice.finalized_at, gettext("Finalized"), invoice.number or ""))
    if invoice.sent_at:
        entries.append((invoice.sent_at, gettext("Sent"), invoice.customer_email or ""))
    for payment in invoice.payments.select_related("payment_intent").order_by("pk"):
        details = payment.payment_intent.public_id if payment.payment_intent else ""
        entries.append((payment.created, gettext("Payment attempted"), details))
    if invoice.overdue_at:
        entries.append((invoice.overdue_at, gettext("Overdue"), ""))
    if invoice.marked_uncollectible_at:
        entries.append((invoice.marked_uncollectible_at, gettext("Marked uncollectible"), ""))
    if invoice.paid_at:
        what = gettext("Paid outside Kassa") if invoice.paid_out_of_band else gettext("Paid")
        entries.append((invoice.paid_at, what, invoice.out_of_band_note if invoice.paid_out_of_band else ""))
    if invoice.voided_at:
        entries.append((invoice.voided_at, gettext("Voided"), ""))
    entries.sort(key=lambda entry: entry[0])
    if invoice.last_finalization_error:
        entries.append((None, gettext("Automatic finalization failed"), invoice.last_finalization_error["message"]))
    if invoice.status == S.DRAFT and invoice.auto_advance and invoice.automatically_finalizes_at:
        entries.append((invoice.automatically_finalizes_at, gettext("Finalizes automatically"), ""))
    return entries


# --- invoices ----------------------------------------------------------------------------------------------


class MarkPaidForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Note"),
        help_text=_("How it was paid, for your records: a bank transfer's reference, a cheque's number…"),
    )


@admin.register(Invoice)
class InvoiceAdmin(AmountSearchMixin, CsvExportMixin, ScopedAdmin):
    form = InvoiceForm
    list_display = [
        "number_display",
        "customer_display",
        "status_display",
        "total_display",
        "remaining_display",
        "due_display",
        "created",
    ]
    list_display_links = ["number_display"]
    list_filter = [InvoiceStatusFilter, "collection_method", CreatedRangeFilter]
    search_fields = ["=public_id", "number", "customer__email", "=customer__public_id", "customer__name"]
    search_help_text = _("A number, an email, an id (in_…, cus_…) or an amount (12.50).")
    amount_search_fields = [("total", "currency"), ("amount_remaining", "currency")]
    list_select_related = ["customer"]
    csv_name = "invoices"

    class Media:
        css = {"all": ["kassa/invoices.css"]}
        js = ["kassa/invoice-lines.js"]

    # --- columns ---------------------------------------------------------------------------------
    @admin.display(description=_("Number"), ordering="number")
    def number_display(self, invoice):
        return invoice.number or format_html('<span class="kassa-draft-id">{}</span>', invoice.public_id)

    @admin.display(description=_("Customer"), ordering="customer__email")
    def customer_display(self, invoice):
        return _customer_label(invoice.customer)

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, invoice):
        return invoice_status_badge(invoice)

    @admin.display(description=_("Total"), ordering="total")
    def total_display(self, invoice):
        return money.format_amount(invoice.total, invoice.currency)

    @admin.display(description=_("Amount due"), ordering="amount_remaining")
    def remaining_display(self, invoice):
        return money.format_amount(invoice.amount_remaining, invoice.currency)

    @admin.display(description=_("Due"), ordering="due_date")
    def due_display(self, invoice):
        return _date(invoice.due_date)

    # --- the page's sections -----------------------------------------------------------------------
    @admin.display(description=_("Bill to"))
    def bill_to(self, invoice):
        return bill_to_block(invoice)

    @admin.display(description=_("Seller"))
    def seller(self, invoice):
        return seller_block(invoice)

    @admin.display(description=_("Lines"))
    def lines(self, invoice):
        return lines_table(invoice)

    @admin.display(description=_("Totals"))
    def totals(self, invoice):
        return totals_table(invoice)

    @admin.display(description=_("Payments"))
    def payments(self, invoice):
        return payments_table(invoice)

    @admin.display(description=_("Timeline"))
    def timeline_table(self, invoice):
        return html_table(
            "kassa-invoice-timeline",
            [_("When"), _("What"), _("Details")],
            ((when(moment), what, details) for moment, what, details in timeline(invoice)),
        )

    @admin.display(description=_("Payment collection"))
    def collection_display(self, invoice):
        return dict(COLLECTION_CHOICES)[invoice.collection_method]

    @admin.display(description=_("Currency"))
    def currency_display(self, invoice):
        return invoice.currency.upper()

    @admin.display(description=_("Hosted invoice page"))
    def hosted_link(self, invoice):
        hosted, _pdf = selectors.invoice_urls(invoice)
        if hosted is None:
            return gettext("Once the invoice is finalized.")
        return copyable(hosted, label=_("Hosted invoice page"), code_id="kassa-invoice-url")

    @admin.display(description=_("PDF"))
    def pdf_link(self, invoice):
        _hosted, pdf = selectors.invoice_urls(invoice)
        if pdf is None:
            return gettext("Once the invoice is finalized.")
        return format_html('<a href="{}" id="kassa-invoice-pdf">{}</a>', pdf, gettext("Download the PDF"))

    @admin.display(description=_("Number"))
    def number_shown(self, invoice):
        return invoice.number or gettext("Given when the invoice is finalized.")

    # --- which page: a form for a draft its writers edit, a record otherwise ---------------------------
    SUMMARY = ["number_shown", "status_display", "bill_to", "public_id"]
    DOCUMENT = [
        (_("Seller"), {"fields": ["seller"]}),
        (_("Lines"), {"fields": ["lines"]}),
        (_("Totals"), {"fields": ["totals"]}),
        (_("Payments"), {"fields": ["payments"]}),
        (_("Timeline"), {"fields": ["timeline_table"]}),
    ]

    def _editing(self, request, obj) -> bool:
        return obj is not None and obj.status == S.DRAFT and self._can_write(request)

    def get_fieldsets(self, request, obj=None):
        settings = [
            "collection_method",
            "days_until_due",
            "auto_advance",
            "description",
            "footer",
            "default_tax_rates",
        ]
        if obj is None:
            return [
                (None, {"fields": ["customer", "currency", *settings[:3], "include_pending"]}),
                (_("On the invoice"), {"fields": settings[3:]}),
            ]
        if self._editing(request, obj):
            return [
                (None, {"fields": [*self.SUMMARY, "currency_display", *settings[:3]]}),
                (_("On the invoice"), {"fields": settings[3:]}),
                (_("Totals"), {"fields": ["totals"], "description": _("As last saved.")}),
                (_("More"), {"fields": ["livemode", "created"], "classes": ["collapse"]}),
            ]
        return [
            (
                None,
                {
                    "fields": [
                        *self.SUMMARY,
                        "collection_display",
                        "due_date",
                        "hosted_link",
                        "pdf_link",
                        "description",
                        "footer",
                        "created",
                    ]
                },
            ),
            *self.DOCUMENT,
            (_("More"), {"fields": ["livemode", "metadata"], "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        if self._editing(request, obj):
            editable = set(flatten_fieldsets(self.get_fieldsets(request, None)))
            return [name for name in fields if name not in editable]
        return fields

    def has_change_permission(self, request, obj=None):
        # Anything but a draft is a record (its page still has the buttons its status allows).
        return self._can_write(request) and (obj is None or obj.status == S.DRAFT)

    def has_delete_permission(self, request, obj=None):
        return self._can_write(request) and (obj is None or obj.status == S.DRAFT)

    def get_form(self, request, obj=None, change=False, **kwargs):
        scope = self.scope(request)
        merchant = obj.merchant if obj is not None else scope.merchant
        livemode = obj.livemode if obj is not None else scope.livemode
        attrs = {}
        if merchant is not None:
            attrs = {
                "customers": Customer.objects.filter(merchant=merchant, livemode=livemode, deleted=False).order_by(
                    "email", "pk"
                ),
                "prices": _prices(merchant, livemode, obj.currency if obj is not None else None),
                "tax_rates": _tax_rates(merchant, livemode),
            }
        kwargs["form"] = type("InvoiceForm", (InvoiceForm,), attrs)
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)  # ?customer=<pk> from a customer's page
        scope = self.scope(request)
        if scope and scope.merchant is not None:
            settings = numbering.invoice_settings_for(scope.merchant)
            initial.setdefault("currency", scope.merchant.default_currency)
            initial.setdefault("days_until_due", settings.days_until_due)
            initial.setdefault("footer", settings.footer)
        return initial

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        context["invoice_lines"] = form.lines if (add or self._editing(request, obj)) else None
        context["max_lines"] = MAX_LINES
        if obj is not None and self._can_write(request):
            context["invoice_actions"] = self._actions_for(obj)
            if obj.status in (S.OPEN, S.UNCOLLECTIBLE):
                context["mark_paid_url"] = reverse("admin:billing_invoice_mark_paid", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _actions_for(self, invoice: Invoice) -> list[dict]:
        """The buttons the invoice's status allows (the services check again)."""
        actions = []

        def add(name, label, confirm=None):
            url = reverse(f"admin:billing_invoice_{name}", args=[invoice.pk])
            actions.append({"name": name, "label": label, "url": url, "confirm": confirm})

        if invoice.status == S.DRAFT:
            add("finalize", _("Finalize"))
        if invoice.status == S.OPEN and invoice.collection_method == SEND:
            add("send", _("Send invoice") if invoice.sent_at is None else _("Send again"))
        has_card = bool(invoice.default_payment_method_id or invoice.customer.default_payment_method_id)
        if invoice.status in (S.OPEN, S.UNCOLLECTIBLE) and invoice.collection_method == CHARGE and has_card:
            add("pay", _("Charge the default card"))
        if invoice.status == S.OPEN:
            add("uncollectible", _("Mark uncollectible"))
        if invoice.status in (S.OPEN, S.UNCOLLECTIBLE):
            add("void", _("Void"), confirm=_("Void this invoice? It keeps its number and takes no payment any more."))
        return actions

    # --- writes -------------------------------------------------------------------------------------
    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        now = timezone.now()
        collection = data.get("collection_method")
        with errors_on_fields(INVOICE_FIELD_MAP):
            if change:
                invoice = form.instance
                changes = {
                    name: data[name] for name in ("description", "footer", "auto_advance") if name in form.changed_data
                }
                if "default_tax_rates" in form.changed_data:
                    changes["default_tax_rates"] = list(data["default_tax_rates"])
                if {"collection_method", "days_until_due"} & set(form.changed_data):
                    changes["collection_method"] = collection
                    changes["days_until_due"] = data.get("days_until_due") if collection == SEND else None
                if changes:
                    invoice = services.invoice_update(invoice=invoice, now=now, **changes)
            else:
                merchant, livemode = self.current(request)
                invoice = services.invoice_create(
                    merchant=merchant,
                    livemode=livemode,
                    customer=data["customer"],
                    now=now,
                    currency=data["currency"],
                    collection_method=collection,
                    days_until_due=data.get("days_until_due") if collection == SEND else None,
                    auto_advance=data.get("auto_advance", False),
                    pending_invoice_items_behavior="include" if data.get("include_pending") else "exclude",
                    description=data.get("description") or None,
                    footer=data.get("footer") or "",
                    default_tax_rates=list(data.get("default_tax_rates") or []),
                )
        self._lines_save(form, invoice, now)
        return Invoice.objects.get(pk=invoice.pk)

    def _lines_save(self, form, invoice: Invoice, now: datetime) -> None:
        """Each line through the item services; a refused one is marked on its row and undoes everything."""
        for n, line in form.line_forms():
            existing = form.existing_lines.get(line.cleaned_data.get("item") or "")
            try:
                if existing is None:
                    if line.cleaned_data.get("DELETE"):
                        continue
                    services.invoice_item_create(
                        merchant=invoice.merchant,
                        livemode=invoice.livemode,
                        customer=invoice.customer,
                        invoice=invoice,
                        now=now,
                        **line.service_args(),
                    )
                elif line.cleaned_data.get("DELETE"):
                    services.invoice_item_delete(item=existing)
                elif line.has_changed():
                    services.invoice_item_update(item=existing, now=now, **self._line_changes(line, existing))
            except KassaError as exc:
                field = LINE_FIELD_MAP.get(exc.param or "")
                if exc.param == "currency":
                    field = "price" if line.cleaned_data.get("price") else "unit_amount"
                line.add_error(field if field in line.fields else None, exc.message)
                raise InvalidRequest(
                    gettext("Line %(number)d: %(message)s") % {"number": n, "message": exc.message}
                ) from exc

    @staticmethod
    def _line_changes(line: LineForm, item: InvoiceItem) -> dict:
        args = line.service_args()
        changed = set(line.changed_data)
        changes = {}
        if "price" in args:
            if "price" in changed or item.price_id is None:
                changes["price"] = args["price"]
        elif {"unit_amount", "quantity", "price"} & changed:
            changes["amount"] = args["amount"]
        if "quantity" in changed:
            changes["quantity"] = args["quantity"]
        if "description" in changed:
            changes["description"] = args["description"]
        if "tax_rates" in changed:
            changes["tax_rates"] = args["tax_rates"]
        return changes

    def save_related(self, request, form, formsets, change):
        """Nothing: the services wrote the invoice's tax rates and lines (a ModelForm's save_m2m would not)."""

    def delete_model(self, request, obj):
        services.invoice_delete(invoice=obj)

    def get_deleted_objects(self, objs, request):
        # Deleting a draft deletes it alone: its lines go back to the customer's pending items (the service).
        names = [format_html("{}: {}", Invoice._meta.verbose_name.capitalize(), str(obj)) for obj in objs]
        return names, {Invoice._meta.verbose_name_plural: len(objs)}, set(), []

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(
            request,
            gettext("Draft invoice %(invoice)s created for %(customer)s. Finalize it to give it its number.")
            % {"invoice": obj.public_id, "customer": _customer_label(obj.customer)},
        )
        return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[obj.pk]))

    def response_change(self, request, obj):
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_change(request, obj)
        self.message_user(request, gettext("Draft invoice %(invoice)s saved.") % {"invoice": obj.public_id})
        return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[obj.pk]))

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(
            request,
            gettext(
                "Draft invoice %(invoice)s deleted. Its lines are the customer's pending invoice items again: "
                "delete them under Invoice items, or let a later invoice take them."
            )
            % {"invoice": obj_display},
        )
        return HttpResponseRedirect(reverse("admin:billing_invoice_changelist"))

    # --- buttons ----------------------------------------------------------------------------------------
    def get_urls(self):
        buttons = [
            ("finalize", self.finalize_view),
            ("send", self.send_view),
            ("pay", self.pay_view),
            ("void", self.void_view),
            ("uncollectible", self.uncollectible_view),
            ("mark-paid", self.mark_paid_view),
        ]
        return [
            *(
                path(
                    f"<int:pk>/{route}/",
                    self.admin_site.admin_view(view),
                    name=f"billing_invoice_{route.replace('-', '_')}",
                )
                for route, view in buttons
            ),
            *super().get_urls(),
        ]

    def finalize_view(self, request, pk):
        def act(invoice):
            invoice = services.invoice_finalize(invoice=invoice, now=timezone.now())
            if invoice.status == S.PAID:
                return gettext("Invoice %(number)s finalized; with nothing to pay, it is paid.") % {
                    "number": invoice.number
                }
            return gettext("Invoice %(number)s finalized: it is open.") % {"number": invoice.number}

        return self.button_view(request, pk, act)

    def send_view(self, request, pk):
        def act(invoice):
            invoice = services.invoice_send(invoice=invoice, now=timezone.now())
            return gettext("Invoice %(number)s sent to %(email)s.") % {
                "number": invoice.number,
                "email": invoice.customer_email or _customer_label(invoice.customer),
            }

        return self.button_view(request, pk, act)

    def pay_view(self, request, pk):
        def act(invoice):
            invoice = services.invoice_pay(invoice=invoice, now=timezone.now(), off_session=True)
            if invoice.status == S.PAID:
                return gettext("Invoice %(number)s paid with the customer's card.") % {"number": invoice.number}
            return gettext("Invoice %(number)s: the payment is in progress.") % {"number": invoice.number}

        return self.button_view(request, pk, act)

    def void_view(self, request, pk):
        def act(invoice):
            invoice = services.invoice_void(invoice=invoice, now=timezone.now())
            return gettext("Invoice %(number)s voided.") % {"number": invoice.number}

        return self.button_view(request, pk, act)

    def uncollectible_view(self, request, pk):
        def act(invoice):
            invoice = services.invoice_mark_uncollectible(invoice=invoice, now=timezone.now())
            return gettext("Invoice %(number)s marked uncollectible; it can still be paid.") % {
                "number": invoice.number
            }

        return self.button_view(request, pk, act)

    def mark_paid_view(self, request, pk):
        """A small form: the note of a payment made outside Kassa (a bank transfer, a cheque, cash)."""
        invoice = self.object_for_write(request, pk)
        form = MarkPaidForm(request.POST if request.method == "POST" else None)
        payable = invoice.status in (S.OPEN, S.UNCOLLECTIBLE)
        if request.method == "POST" and payable and form.is_valid():
            try:
                invoice = services.invoice_pay(
                    invoice=invoice, now=timezone.now(), paid_out_of_band=True, note=form.cleaned_data["note"]
                )
            except KassaError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request, gettext("Invoice %(number)s marked paid outside Kassa.") % {"number": invoice.number}
                )
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[invoice.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Mark invoice %(number)s paid") % {"number": invoice.number or invoice.public_id},
            "opts": self.model._meta,
            "invoice": invoice,
            "form": form,
            "payable": payable,
            "remaining": money.format_amount(invoice.amount_remaining, invoice.currency),
        }
        return TemplateResponse(request, "admin/billing/invoice_mark_paid.html", context)


# --- invoice items ------------------------------------------------------------------------------------------


class PendingFilter(admin.SimpleListFilter):
    title = _("invoice")
    parameter_name = "pending"

    def lookups(self, request, model_admin):
        return [("1", _("Pending")), ("0", _("On an invoice"))]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(invoice__isnull=self.value() == "1")
        return queryset


class InvoiceItemForm(forms.ModelForm):
    customer = CustomerChoiceField(queryset=Customer.objects.none(), label=_("Customer"))
    price = PriceChoiceField(
        queryset=Price.objects.none(),
        required=False,
        label=_("Price"),
        help_text=_("A one-time price of your catalogue…"),
    )
    unit_amount = MoneyField(
        required=False,
        minimum=0,
        label=_("Or a unit price"),
        help_text=_("…or a unit price in the currency's own units (12.50 EUR, 1500 JPY), with a description."),
    )
    quantity = forms.IntegerField(min_value=1, max_value=money.MAX_AMOUNT, initial=1, label=_("Quantity"))
    description = forms.CharField(required=False, max_length=500, label=_("Description"))
    tax_rates = TaxRatesField(queryset=TaxRate.objects.none(), required=False, label=_("Tax rates"))

    customers = Customer.objects.none()
    prices = Price.objects.none()
    tax_rates_choices = TaxRate.objects.none()

    class Meta:
        model = InvoiceItem
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a draft keeps its customer and currency; pending items join new invoices only
            for name in ("customer", "currency", "include_pending"):
                self.fields.pop(name, None)
        if "customer" in self.fields:
            self.fields["customer"].queryset = self.customers
            self.fields["price"].queryset = self.prices
            self.fields["tax_rates"].queryset = self.tax_rates_choices

    def clean(self):
        data = super().clean()
        typed = data.get("unit_amount") is not None or "unit_amount" in self.errors
        if data.get("price") is not None and typed:
            raise forms.ValidationError(_("Pick a price or type a unit price, not both."))
        if data.get("price") is None and not typed:
            raise forms.ValidationError(_("Pick a price, or type a description and a unit price."))
        if typed and not (data.get("description") or "").strip():
            self.add_error("description", _("Say what this line is for."))
        return data


ITEM_FIELD_MAP = {"pricing[price]": "price", "amount": "unit_amount", "currency": "unit_amount"}


@admin.register(InvoiceItem)
class InvoiceItemAdmin(AmountSearchMixin, ScopedAdmin):
    form = InvoiceItemForm
    list_display = ["description_display", "amount_display", "customer_display", "invoice_display", "created"]
    list_display_links = ["description_display"]
    list_filter = [PendingFilter, CreatedRangeFilter]
    search_fields = [
        "=public_id",
        "customer__email",
        "=customer__public_id",
        "description",
        "=invoice__public_id",
        "invoice__number",
    ]
    search_help_text = _("An email, a description, an invoice number, an id (ii_…, cus_…, in_…) or an amount.")
    list_select_related = ["customer", "invoice", "price__product"]
    ADD_FIELDS = ["customer", "price", "unit_amount", "quantity", "description", "tax_rates"]
    SHOWN = [
        "public_id",
        "customer_display",
        "invoice_display",
        "description_display",
        "unit_display",
        "quantity",
        "amount_display",
        "taxes_display",
        "livemode",
        "created",
    ]

    @admin.display(description=_("Description"))
    def description_display(self, item):
        return item.description or (item.price.product.name if item.price_id else item.public_id)

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, item):
        return money.format_amount(item.amount, item.currency)

    @admin.display(description=_("Unit price"))
    def unit_display(self, item):
        if item.unit_amount is not None:
            return money.format_amount(item.unit_amount, item.currency)
        if item.quantity and item.amount % item.quantity == 0:
            return money.format_amount(item.amount // item.quantity, item.currency)
        return "—"

    @admin.display(description=_("Customer"), ordering="customer__email")
    def customer_display(self, item):
        return admin_link(item.customer, _customer_label(item.customer))

    @admin.display(description=_("Invoice"))
    def invoice_display(self, item):
        if item.invoice_id is None:
            return gettext("Pending")
        return admin_link(item.invoice, str(item.invoice))

    @admin.display(description=_("Taxes"))
    def taxes_display(self, item):
        if not item.taxes:
            return ", ".join(str(rate) for rate in item.tax_rates.all()) or "—"
        rates = {
            r.public_id: r
            for r in TaxRate.objects.filter(merchant=item.merchant, public_id__in=[t["tax_rate"] for t in item.taxes])
        }
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            ((_rate_label(rates, tax), money.format_amount(tax["amount"], item.currency)) for tax in item.taxes),
        )

    def get_fields(self, request, obj=None):
        return self.ADD_FIELDS if obj is None else self.SHOWN

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.SHOWN

    def has_change_permission(self, request, obj=None):
        return False  # an item's page is read-only; a draft's lines are edited on the invoice

    def has_delete_permission(self, request, obj=None):
        editable = obj is None or obj.invoice_id is None or obj.invoice.status == S.DRAFT
        return self._can_write(request) and editable

    def get_form(self, request, obj=None, change=False, **kwargs):
        scope = self.scope(request)
        if obj is None and scope is not None and scope.merchant is not None:
            merchant, livemode = scope.merchant, scope.livemode
            kwargs["form"] = type(
                "InvoiceItemForm",
                (InvoiceItemForm,),
                {
                    "customers": Customer.objects.filter(merchant=merchant, livemode=livemode, deleted=False),
                    "prices": _prices(merchant, livemode),
                    "tax_rates_choices": _tax_rates(merchant, livemode),
                },
            )
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        scope = self.scope(request)
        if scope and scope.merchant is not None:
            initial.setdefault("unit_amount", scope.merchant.default_currency)
        return initial

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        merchant, livemode = self.current(request)
        args = {
            "quantity": data["quantity"],
            "description": (data.get("description") or "").strip() or None,
            "tax_rates": list(data.get("tax_rates") or []),
        }
        if data.get("price") is not None:
            args["price"] = data["price"]
        else:
            args["amount"] = data["unit_amount"].amount * data["quantity"]
            args["currency"] = data["unit_amount"].currency
        with errors_on_fields(ITEM_FIELD_MAP):
            return services.invoice_item_create(
                merchant=merchant, livemode=livemode, customer=data["customer"], now=timezone.now(), **args
            )

    def save_related(self, request, form, formsets, change):
        """Nothing: the service set the item's tax rates."""

    def delete_model(self, request, obj):
        services.invoice_item_delete(item=obj)


# --- CSV export: stable English headers -----------------------------------------------------------------------

InvoiceAdmin.csv_columns = [
    ("id", lambda i: i.public_id),
    ("number", lambda i: i.number),
    ("created", lambda i: i.created),
    ("status", lambda i: str(DISPLAY_STATUSES[invoice_display_status(i, timezone.now())])),
    ("customer_id", lambda i: i.customer.public_id),
    ("customer_email", lambda i: i.customer_email or i.customer.email),
    ("collection_method", lambda i: i.collection_method),
    ("currency", lambda i: i.currency.upper()),
    ("subtotal", lambda i: csv_amount(i.subtotal, i.currency)),
    ("tax", lambda i: csv_amount(i.total - i.total_excluding_tax, i.currency)),
    ("total", lambda i: csv_amount(i.total, i.currency)),
    ("amount_paid", lambda i: csv_amount(i.amount_paid, i.currency)),
    ("amount_remaining", lambda i: csv_amount(i.amount_remaining, i.currency)),
    ("due_date", lambda i: i.due_date),
    ("finalized", lambda i: i.finalized_at),
    ("paid", lambda i: i.paid_at),
]


# --- a customer's page: their invoices; a payment's page: the invoice it pays ------------------------------------


def _customer_invoices(customer, *, new_link: bool = False) -> str:
    invoices = list(Invoice.objects.filter(customer=customer).order_by("-id")[:50])
    now = timezone.now()
    link = ""
    if new_link:
        url = reverse("admin:billing_invoice_add") + f"?customer={customer.pk}"
        link = format_html(
            '<p><a href="{}" class="button" id="kassa-customer-new-invoice">{}</a></p>', url, gettext("Create invoice")
        )
    if not invoices:
        return format_html("{}{}", gettext("None yet"), link)
    table = html_table(
        "kassa-customer-invoices",
        [_("Number"), _("Status"), _("Total"), _("Due"), _("Created")],
        (
            (
                admin_link(invoice, str(invoice)),
                invoice_status_badge(invoice, now),
                money.format_amount(invoice.total, invoice.currency),
                _date(invoice.due_date),
                when(invoice.created),
            )
            for invoice in invoices
        ),
    )
    return format_html("{}{}", table, link)


CustomerAdmin.add_history(
    "invoices_table",
    _("Invoices"),
    _customer_invoices,
    lambda customer: _customer_invoices(customer, new_link=True),
)


def _invoice_of(payment_intent) -> str | None:
    try:
        payment = payment_intent.invoice_payment
    except InvoicePayment.DoesNotExist:
        return None
    return admin_link(payment.invoice, gettext("Invoice %(number)s") % {"number": payment.invoice})


PaymentIntentAdmin.add_source(_invoice_of)
