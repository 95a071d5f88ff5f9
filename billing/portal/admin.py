"""Dashboard: Settings → Customer portal, one page per merchant and mode. Owners and admins change it, members
read it; every write calls ``services.portal_configuration_update``."""

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from merchants.admin_base import ScopedAdmin
from merchants.dashboard import MANAGE_ROLES

from ..catalogue.models import Price
from . import services
from .models import PortalConfiguration


class PortalConfigurationForm(forms.ModelForm):
    cancellation_reasons = forms.MultipleChoiceField(
        choices=PortalConfiguration.CancellationReason.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Reasons offered when cancelling"),
        help_text=_("The customer picks one when cancelling; none ticked: no question asked."),
    )

    privacy_policy_url = forms.URLField(
        required=False, max_length=2048, assume_scheme="https", label=_("Privacy policy URL")
    )
    terms_of_service_url = forms.URLField(
        required=False, max_length=2048, assume_scheme="https", label=_("Terms of service URL")
    )
    default_return_url = forms.URLField(
        required=False,
        max_length=2048,
        assume_scheme="https",
        label=_("Default return URL"),
        help_text=_('Where "Return to …" leads when a session names no return URL (the links in emails).'),
    )

    def clean(self):
        """Switching plans or changing quantities with no price listed would offer nothing: the portal changes only
        subscriptions to the products of the prices listed (``services.updatable``), so it says so here."""
        data = super().clean()
        changes = data.get("subscription_update") or data.get("subscription_update_quantity")
        if changes and not data.get("subscription_update_prices"):
            self.add_error(
                "subscription_update_prices",
                _(
                    "Tick the prices customers may change to: plans and quantities are changed only on subscriptions "
                    "to their products."
                ),
            )
        return data

    class Meta:
        model = PortalConfiguration
        fields = [*services.CONFIGURATION_FIELDS, "subscription_update_prices"]
        widgets = {"subscription_update_prices": forms.CheckboxSelectMultiple}
        help_texts = {
            "payment_method_update": _(
                "A new card becomes the customer's default card, as when you set it through the API."
            ),
            "headline": _("A line at the top of the portal, at most 60 characters."),
        }


@admin.register(PortalConfiguration)
class PortalConfigurationAdmin(ScopedAdmin):
    form = PortalConfigurationForm
    write_roles = MANAGE_ROLES
    list_display = ["merchant", "mode", "payment_method_update", "invoice_history", "updated"]
    search_fields = ["merchant__name", "headline"]
    fieldsets = [
        (
            _("What customers can do"),
            {
                "fields": [
                    "payment_method_update",
                    "invoice_history",
                    "customer_update_email",
                    "customer_update_address",
                ]
            },
        ),
        (
            _("Subscriptions"),
            {
                "description": _(
                    "Customers change the plan or the quantity only of subscriptions to the products of the prices "
                    "they may switch between."
                ),
                "fields": [
                    "subscription_cancel",
                    "cancellation_reasons",
                    "subscription_update",
                    "subscription_update_prices",
                    "subscription_update_quantity",
                ],
            },
        ),
        (
            _("Business information"),
            {"fields": ["headline", "privacy_policy_url", "terms_of_service_url", "default_return_url"]},
        ),
    ]

    def has_add_permission(self, request):
        return False  # made on the first visit here or the first session

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """A merchant has one portal per mode: its members go straight to the mode in view's."""
        scope = self.scope(request)
        if scope is not None and scope.merchant is not None:
            configuration = services.portal_configuration_for(merchant=scope.merchant, livemode=scope.livemode)
            return HttpResponseRedirect(reverse("admin:billing_portalconfiguration_change", args=[configuration.pk]))
        return super().changelist_view(request, extra_context)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "subscription_update_prices":
            scope = self.scope(request)
            prices = Price.objects.none()
            if scope is not None and scope.merchant is not None:
                prices = Price.objects.filter(
                    merchant=scope.merchant, livemode=scope.livemode, type=Price.Type.RECURRING, active=True
                ).select_related("product")
            kwargs["queryset"] = prices
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        changes = {name: data.get(name) for name in services.CONFIGURATION_FIELDS if name in form.changed_data}
        prices = None
        if "subscription_update_prices" in form.changed_data:
            prices = list(data.get("subscription_update_prices") or [])
        return services.portal_configuration_update(
            configuration=form.instance, subscription_update_prices=prices, **changes
        )

    def save_related(self, request, form, formsets, change):
        """Nothing: the prices were set by the service (Django's own save_m2m would write them past it)."""
