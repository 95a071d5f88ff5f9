"""Dashboard pages for invoice items: listed pending or invoiced, a pending one made for a customer (from a
price, or a unit price in major units), deleted while pending or on a draft; every write calls the services."""

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa import money
from merchants.admin_base import ScopedAdmin, admin_link, errors_on_fields
from merchants.admin_lists import AmountSearchMixin, CreatedRangeFilter
from merchants.widgets import MoneyField

from ...catalogue.models import Customer, Price
from .. import services
from ..models import Invoice, InvoiceItem, TaxRate
from .parts import (
    CustomerChoiceField,
    PriceChoiceField,
    TaxRatesField,
    customer_label,
    prices_for,
    rate_label,
    tax_rates_for,
)

S = Invoice.Status

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
        return admin_link(item.customer, customer_label(item.customer))

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
            ((rate_label(rates, tax), money.format_amount(tax["amount"], item.currency)) for tax in item.taxes),
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
                    "prices": prices_for(merchant, livemode),
                    "tax_rates_choices": tax_rates_for(merchant, livemode),
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
