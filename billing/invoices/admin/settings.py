"""Dashboard pages for tax rates and the merchant's invoice settings; every write calls a service."""

from django import forms
from django.contrib import admin
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kassa import metadata
from merchants.admin_base import ScopedAdmin, errors_on_fields
from merchants.dashboard import MANAGE_ROLES
from merchants.widgets import MetadataField

from ...hosted.i18n import countries
from .. import numbering, services
from ..models import DunningSettings, InvoiceSettings, TaxRate

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


# --- the merchant's invoice settings -------------------------------------------------------------

SETTINGS_FORM_FIELDS = list(numbering.SETTINGS_FIELDS)


class InvoiceSettingsForm(forms.ModelForm):
    country = forms.TypedChoiceField(choices=_country_choices, required=False, coerce=str.upper, label=_("Country"))
    prefix = forms.CharField(
        max_length=12,
        label=_("Invoice number prefix"),
        help_text=_(
            "3 to 12 capital letters or digits. Numbers read PREFIX-0001, PREFIX-0002, … A prefix that has "
            "numbered an invoice can never be chosen again; a new prefix counts from 1."
        ),
    )
    next_number = forms.IntegerField(
        min_value=1,
        max_value=99_999_999,
        label=_("Next invoice number"),
        help_text=_("For the mode in view (test and live count separately). It can only be raised."),
    )
    logo_file = forms.FileField(
        required=False,
        label=_("Logo"),
        help_text=_("A PNG or JPEG image of at most 512 KB, shown on invoices, their page and their emails."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    logo_remove = forms.BooleanField(required=False, label=_("Remove the logo"))

    class Meta:
        model = InvoiceSettings
        fields = SETTINGS_FORM_FIELDS


@admin.register(InvoiceSettings)
class InvoiceSettingsAdmin(ScopedAdmin):
    """One page per merchant: what its invoices say about it. Owners and admins change it."""

    form = InvoiceSettingsForm
    mode_scoped = False
    write_roles = MANAGE_ROLES
    list_display = ["merchant", "legal_name", "prefix", "vat_number", "country"]
    search_fields = ["legal_name", "prefix", "vat_number", "merchant__name"]
    fieldsets = [
        (
            _("Seller"),
            {
                "fields": [
                    "legal_name",
                    "address_line1",
                    "address_line2",
                    "postal_code",
                    "city",
                    "state",
                    "country",
                    "vat_number",
                    "support_email",
                    "logo_preview",
                    "logo_file",
                    "logo_remove",
                ]
            },
        ),
        (_("Numbering"), {"fields": ["prefix", "next_number", "next_number_preview"]}),
        (_("Defaults"), {"fields": ["footer", "days_until_due", "default_locale"]}),
    ]
    readonly_fields = ["logo_preview", "next_number_preview"]

    def has_add_permission(self, request):
        return False  # made with the merchant's first invoice or first visit here

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """A merchant has one settings page: its members go straight to it."""
        scope = self.scope(request)
        if scope is not None and scope.merchant is not None:
            settings = numbering.invoice_settings_for(scope.merchant)
            return HttpResponseRedirect(reverse("admin:billing_invoicesettings_change", args=[settings.pk]))
        return super().changelist_view(request, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            livemode = self.scope(request).livemode
            form_class.base_fields["prefix"].initial = obj.prefix
            form_class.base_fields["next_number"].initial = numbering.next_number(
                merchant=obj.merchant, livemode=livemode
            )
        return form_class

    @admin.display(description=_("Logo in use"))
    def logo_preview(self, settings):
        if not settings.logo:
            return _("No logo yet.")
        url = reverse("admin:billing_invoicesettings_logo", args=[settings.pk])
        return format_html('<img src="{}" alt="" class="kassa-invoice-logo" height="48">', url)

    @admin.display(description=_("Next number"))
    def next_number_preview(self, settings):
        return _("The next finalized invoice is numbered as shown above, in the mode in view.")

    def get_urls(self):
        return [
            path("<int:pk>/logo/", self.admin_site.admin_view(self.logo_view), name="billing_invoicesettings_logo"),
            *super().get_urls(),
        ]

    def logo_view(self, request, pk):
        settings = get_object_or_404(self.get_queryset(request), pk=pk)
        if not settings.logo:
            raise Http404
        response = HttpResponse(bytes(settings.logo), content_type=settings.logo_content_type)
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        merchant = form.instance.merchant
        changes = {name: data.get(name) for name in SETTINGS_FORM_FIELDS if name in form.changed_data}
        logo = data.get("logo_file")
        with errors_on_fields({"logo": "logo_file"}):
            if logo:
                numbering.logo_size_check(logo.size)
            settings = numbering.invoice_settings_update(
                merchant=merchant,
                logo=logo.read() if logo else None,
                logo_remove=bool(data.get("logo_remove")),
                **changes,
            )
        if "prefix" in form.changed_data:
            settings = numbering.invoice_prefix_set(merchant=merchant, prefix=data["prefix"])
        if "next_number" in form.changed_data:
            numbering.invoice_next_number_set(
                merchant=merchant, livemode=self.scope(request).livemode, next_number=data["next_number"]
            )
        return settings


# --- dunning: what happens when an automatic charge fails ------------------------------------------------


class RetryDaysField(forms.CharField):
    """The schedule as the merchant types it: ``1, 3, 5, 7`` (days after the first failure); empty: no retry."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(day) for day in value)
        return value

    def to_python(self, value):
        text = (super().to_python(value) or "").replace(";", ",")
        parts = [part.strip() for part in text.split(",") if part.strip()]
        try:
            return [int(part) for part in parts]
        except ValueError:
            raise forms.ValidationError(
                _("Give whole numbers of days separated by commas, e.g. 1, 3, 5, 7."), code="invalid"
            ) from None


class DunningSettingsForm(forms.ModelForm):
    retry_days = RetryDaysField(
        required=False,
        label=_("Retry schedule"),
        help_text=_(
            "Days after the first failed charge on which the card is tried again, e.g. 1, 3, 5, 7: up to 8 "
            "retries, each 1 to 60 days, in increasing order. Empty: no retry. A card the bank refuses for good "
            "(lost, stolen, expired…) is not retried: the customer is asked for a new card."
        ),
    )
    subscription_action = forms.ChoiceField(
        choices=DunningSettings.SubscriptionAction.choices,
        widget=forms.RadioSelect,
        label=_("Then the subscription"),
        help_text=_("Applies to subscriptions' invoices."),
    )
    invoice_action = forms.ChoiceField(
        choices=DunningSettings.InvoiceAction.choices, widget=forms.RadioSelect, label=_("Then the invoice")
    )
    overdue_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services.OVERDUE_DAYS_MAX,
        label=_("Days after the due date"),
        help_text=_(
            "A subscription's invoice sent to the customer (not charged automatically) makes the subscription past "
            "due once its due date passes. Still unpaid this many days after it, the invoice and its subscription get "
            "the actions below, as after a last failed retry. Empty: never, the subscription stays past due."
        ),
    )

    class Meta:
        model = DunningSettings
        fields = ["retry_days", "overdue_days", "subscription_action", "invoice_action"]


@admin.register(DunningSettings)
class DunningSettingsAdmin(ScopedAdmin):
    """One page per merchant and mode: the retry schedule and what happens after the last try. Owners and admins
    change it; other members read it."""

    form = DunningSettingsForm
    write_roles = MANAGE_ROLES
    list_display = ["merchant", "schedule", "subscription_action", "invoice_action", "mode"]
    fieldsets = [
        (_("Retries"), {"fields": ["retry_days"]}),
        (_("Invoices sent to customers"), {"fields": ["overdue_days"]}),
        (_("After the last retry fails"), {"fields": ["subscription_action", "invoice_action"]}),
        (None, {"fields": ["emails"]}),
    ]
    readonly_fields = ["emails"]

    def has_add_permission(self, request):
        return False  # made on the first visit here (or the first failed charge), for each mode

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """A merchant has one page per mode: its members go straight to the one of the mode in view."""
        scope = self.scope(request)
        if scope is not None and scope.merchant is not None:
            settings = services.dunning_settings_for(merchant=scope.merchant, livemode=scope.livemode)
            return HttpResponseRedirect(reverse("admin:billing_dunningsettings_change", args=[settings.pk]))
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("Retry schedule"))
    def schedule(self, settings):
        return ", ".join(str(day) for day in settings.retry_days) or "—"

    @admin.display(description=_("Emails"))
    def emails(self, settings):
        return _(
            "Each failed charge emails the customer, in the invoice's language, a link to update their card and "
            "pay (or to confirm the payment when their bank asks for 3-D Secure). A new default card retries the "
            "customer's past-due invoices at once."
        )

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        return services.dunning_settings_update(
            merchant=form.instance.merchant,
            livemode=form.instance.livemode,
            retry_days=data["retry_days"],
            subscription_action=data["subscription_action"],
            invoice_action=data["invoice_action"],
            overdue_days=data["overdue_days"],
        )
