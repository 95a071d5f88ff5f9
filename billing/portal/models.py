"""The customer portal: a merchant's portal settings (Stripe's ``billing_portal.configuration``) and the
short-lived sessions (``billing_portal.session``) through which one customer manages their own billing.

A session's ``token`` (43 random characters, never its public id, which API logs and events carry)
is the payer's credential, as at Stripe: the URL must be opened within ``URL_LIFETIME`` of creation;
opening it binds the session to that browser (a cookie, pages.py) for ``SESSION_LENGTH``. Both
lengths are in services.py.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from merchants.models import MerchantScoped

from ..catalogue.models import Customer, Price


class PortalConfiguration(MerchantScoped):
    """What the portal offers a merchant's customers, one per merchant and mode (made on first use)."""

    PREFIX = "bpc"

    class CancellationReason(models.TextChoices):
        # Stripe's cancellation_reason.options.
        TOO_EXPENSIVE = "too_expensive", pgettext_lazy("cancellation reason", "It's too expensive")
        MISSING_FEATURES = "missing_features", pgettext_lazy("cancellation reason", "Some features are missing")
        SWITCHED_SERVICE = "switched_service", pgettext_lazy("cancellation reason", "I'm switching to another service")
        UNUSED = "unused", pgettext_lazy("cancellation reason", "I don't use it enough")
        CUSTOMER_SERVICE = "customer_service", pgettext_lazy("cancellation reason", "Customer service was poor")
        TOO_COMPLEX = "too_complex", pgettext_lazy("cancellation reason", "It's too complicated")
        LOW_QUALITY = "low_quality", pgettext_lazy("cancellation reason", "Quality was lower than expected")
        OTHER = "other", pgettext_lazy("cancellation reason", "Other reason")

    # features.*
    payment_method_update = models.BooleanField(default=True, verbose_name=_("customers may update their card"))
    invoice_history = models.BooleanField(default=True, verbose_name=_("customers see their invoices"))
    customer_update_email = models.BooleanField(default=False, verbose_name=_("customers may edit their email"))
    customer_update_address = models.BooleanField(
        default=False, verbose_name=_("customers may edit their billing address")
    )
    subscription_cancel = models.BooleanField(
        default=False, verbose_name=_("customers may cancel subscriptions at the end of the period")
    )
    cancellation_reasons = models.JSONField(default=list, blank=True, verbose_name=_("reasons offered when cancelling"))
    subscription_update = models.BooleanField(default=False, verbose_name=_("customers may switch between prices"))
    subscription_update_quantity = models.BooleanField(
        default=False, verbose_name=_("customers may change how many they subscribe to")
    )
    subscription_update_prices = models.ManyToManyField(
        Price, blank=True, related_name="+", verbose_name=_("prices customers may switch between")
    )
    # business_profile.*
    headline = models.CharField(max_length=60, blank=True, verbose_name=_("headline"))
    privacy_policy_url = models.URLField(max_length=2048, blank=True, verbose_name=_("privacy policy URL"))
    terms_of_service_url = models.URLField(max_length=2048, blank=True, verbose_name=_("terms of service URL"))
    default_return_url = models.URLField(max_length=2048, blank=True, verbose_name=_("default return URL"))
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("customer portal")
        verbose_name_plural = _("customer portal")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "livemode"], name="portal_configuration_one_per_mode")
        ]

    def __str__(self) -> str:
        return str(_("Customer portal"))


class PortalSession(MerchantScoped):
    PREFIX = "bps"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer"))
    configuration = models.ForeignKey(
        PortalConfiguration, on_delete=models.PROTECT, related_name="+", verbose_name=_("configuration")
    )
    return_url = models.URLField(max_length=2048, null=True, blank=True, verbose_name=_("return URL"))
    locale = models.CharField(max_length=16, null=True, blank=True, verbose_name=_("locale"))
    token = models.CharField(max_length=64, unique=True, editable=False)
    url_expires_at = models.DateTimeField(editable=False, verbose_name=_("URL expires at"))
    opened_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("opened at"))
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("customer portal session")
        verbose_name_plural = _("customer portal sessions")
        indexes = [models.Index(fields=["merchant"], name="portal_session_merchant")]
