"""Dashboard pages for invoices; every write calls billing.invoices.services.

- An invoice is made on one page with its lines: rows from a price and a quantity, or a description, a
  unit price in major units and a quantity, each with its own tax rates. The invoice and its lines are
  written by the services inside the form's one transaction (ScopedAdmin's ServiceForm), so a line the
  services refuse leaves nothing written and the page comes back with the error on that line.
- A draft is edited (lines too) or deleted; from open on an invoice is a record: its page shows the
  seller as issued, the lines with tax per rate, the totals, the payments and the timeline
  (parts.py), and buttons for what its status allows (Stripe's workflow:
  https://docs.stripe.com/invoicing/overview).
- A customer's page lists their invoices; a payment's page links to the invoice it pays.
"""

from datetime import datetime

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import InvalidRequest, KassaError
from merchants.admin_base import ScopedAdmin, admin_link, errors_on_fields, html_table, when
from merchants.admin_lists import AmountSearchMixin, CreatedRangeFilter, CsvExportMixin, csv_amount
from merchants.widgets import CurrencyField, copyable, parse_major

from ...catalogue.admin import CustomerAdmin
from ...catalogue.models import Customer, Price
from ...payments.admin import PaymentIntentAdmin
from .. import numbering, selectors, services
from ..models import Invoice, InvoiceItem, InvoicePayment, TaxRate
from .parts import (
    DISPLAY_STATUSES,
    CustomerChoiceField,
    InvoiceStatusFilter,
    PriceChoiceField,
    TaxRatesField,
    bill_to_block,
    customer_label,
    day,
    invoice_display_status,
    invoice_status_badge,
    lines_table,
    payments_table,
    prices_for,
    seller_block,
    tax_rates_for,
    timeline,
    totals_table,
)

S = Invoice.Status
SEND = Invoice.CollectionMethod.SEND_INVOICE
CHARGE = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
#: lines a new invoice's form starts with; "Add line" (kassa/invoice-lines.js) adds more up to MAX_LINES
NEW_INVOICE_ROWS = 3
MAX_LINES = 50

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
        return customer_label(invoice.customer)

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
        return day(invoice.due_date)

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
                "prices": prices_for(merchant, livemode, obj.currency if obj is not None else None),
                "tax_rates": tax_rates_for(merchant, livemode),
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
            add(
                "void",
                _("Void invoice"),
                confirm=_("Void this invoice? It keeps its number and takes no payment any more."),
            )
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
            % {"invoice": obj.public_id, "customer": customer_label(obj.customer)},
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
                "email": invoice.customer_email or customer_label(invoice.customer),
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
                day(invoice.due_date),
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
