"""Dashboard pages for tax rates; every write calls billing.invoices.services."""

from django import forms
from django.contrib import admin
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from kassa import metadata
from merchants.admin_base import ScopedAdmin
from merchants.widgets import MetadataField

from ..hosted.i18n import countries
from . import services
from .models import TaxRate

FORM_FIELDS = ["display_name", "country", "state", "jurisdiction", "tax_type", "description", "active", "metadata"]

INCLUSIVE_CHOICES = [
    ("exclusive", _("Exclusive: added on top of the price")),
    ("inclusive", _("Inclusive: already included in the price")),
]


def _country_choices():
    language = (translation.get_language() or "en").split("-")[0]
    try:
        named = countries(language)
    except ValueError:  # a language Babel does not know: English names
        named = countries("en")
    return [("", "—"), *((code, f"{name} ({code})") for code, name in named)]


def _tax_type_label(code: str) -> str:
    """Stripe's codes as words: ``vat`` → VAT, ``sales_tax`` → Sales tax."""
    return code.upper() if "_" not in code else code.replace("_", " ").capitalize()


class TaxRateFormBase(forms.ModelForm):
    country = forms.TypedChoiceField(
        choices=_country_choices,
        required=False,
        coerce=str.upper,
        label=_("Country"),
        help_text=_("Where the tax applies (optional)."),
    )
    tax_type = forms.ChoiceField(
        choices=[("", "—"), *((t, _tax_type_label(t)) for t in TaxRate.TAX_TYPES)],
        required=False,
        label=_("Tax type"),
    )
    metadata = MetadataField()

    def clean_country(self):
        # A pasted code in lower case is fine; the list holds only real ISO 3166-1 codes.
        return (self.cleaned_data.get("country") or "").upper() or None


class TaxRateCreateForm(TaxRateFormBase):
    percentage = forms.DecimalField(
        min_value=0,
        max_value=100,
        max_digits=7,
        decimal_places=4,
        label=_("Percentage"),
        help_text=_("In percent, up to 4 decimal places: 20 for 20 %, 5.5 for 5.5 %. It cannot change later."),
    )
    inclusive = forms.TypedChoiceField(
        choices=INCLUSIVE_CHOICES,
        coerce=lambda value: value == "inclusive",
        widget=forms.RadioSelect,
        initial="exclusive",
        label=_("Tax behavior"),
        help_text=_("It cannot change later."),
    )

    class Meta:
        model = TaxRate
        fields = FORM_FIELDS


class TaxRateChangeForm(TaxRateFormBase):
    class Meta:
        model = TaxRate
        fields = FORM_FIELDS


@admin.register(TaxRate)
class TaxRateAdmin(ScopedAdmin):
    list_display = ["display_name", "rate", "behaviour", "country", "jurisdiction", "active", "public_id", "created"]
    list_filter = ["active", "inclusive"]
    search_fields = ["display_name", "public_id", "jurisdiction", "description", "country"]

    @admin.display(description=_("Rate"), ordering="percentage")
    def rate(self, tax_rate):
        return f"{tax_rate.percentage_text} %"

    @admin.display(description=_("Tax behavior"), ordering="inclusive")
    def behaviour(self, tax_rate):
        return _("Inclusive") if tax_rate.inclusive else _("Exclusive")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TaxRateChangeForm if obj else TaxRateCreateForm
        # percentage and inclusive are the create form's own fields: the model never edits them.
        kwargs["fields"] = FORM_FIELDS
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["display_name", "percentage", "inclusive", *FORM_FIELDS[1:]]
        return ["public_id", "rate", "behaviour", "livemode", "created", *FORM_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return ["public_id", "rate", "behaviour", "livemode", "created"] if obj else []

    def get_changeform_initial_data(self, request):
        return {"inclusive": "exclusive", **super().get_changeform_initial_data(request)}

    def has_delete_permission(self, request, obj=None):
        return False  # tax rates are archived (active=false), never deleted, as at Stripe

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        values = {name: data.get(name) for name in FORM_FIELDS}
        for name in ("state", "jurisdiction", "description", "tax_type", "country"):
            values[name] = values[name] or None
        if change:
            changed = {name: values[name] for name in form.changed_data if name in values}
            if "metadata" in changed:
                # The form holds the whole new metadata: unset what was removed.
                changed["metadata"] = metadata.replace(form.instance.metadata, data["metadata"])
            return services.tax_rate_update(tax_rate=form.instance, **changed)
        merchant, livemode = self.current(request)
        return services.tax_rate_create(
            merchant=merchant,
            livemode=livemode,
            percentage=data["percentage"],
            inclusive=data["inclusive"],
            **values,
        )
