"""Selling through links and hosted checkout: payment links and checkout sessions, with their baskets."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped

from ..catalogue.models import Customer, Price
from ..payments.models import PaymentIntent


class Locale(models.TextChoices):
    """The hosted page's language, as Stripe Checkout's ``locale``: the languages Kassa has catalogs for.

    ``auto`` (or unset) lets the payer's pick and browser decide (billing/hosted/i18n.py).
    https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-locale
    """

    AUTO = "auto", _("Automatic (the payer's browser)")
    EN = "en", "English"
    FR = "fr", "Français"


class PaymentLink(MerchantScoped):
    PREFIX = "plink"

    class AfterCompletion(models.TextChoices):
        HOSTED_CONFIRMATION = "hosted_confirmation"
        REDIRECT = "redirect"

    class AddressCollection(models.TextChoices):
        AUTO = "auto"
        REQUIRED = "required"

    active = models.BooleanField(default=True)
    # The hosted page's address is /pay/<slug>: not the API id, so a link can be shared without naming it.
    slug = models.CharField(max_length=40, unique=True, editable=False)
    currency = models.CharField(max_length=3, editable=False)
    after_completion_type = models.CharField(
        max_length=24, choices=AfterCompletion.choices, default=AfterCompletion.HOSTED_CONFIRMATION
    )
    after_completion_redirect_url = models.URLField(max_length=2048, blank=True)
    after_completion_message = models.CharField(max_length=500, blank=True)
    billing_address_collection = models.CharField(
        max_length=16, choices=AddressCollection.choices, default=AddressCollection.AUTO
    )
    phone_number_collection = models.BooleanField(default=False)
    email_collection = models.BooleanField(default=True)
    # Blank: not set (``null`` in the API), which behaves as ``auto``. Sessions opened from the link copy it.
    locale = models.CharField(max_length=8, choices=Locale.choices, blank=True, default="")

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="payment_link_list")]


class PaymentLinkLineItem(models.Model):
    PREFIX = "li"

    public_id = models.CharField(max_length=64, unique=True, editable=False)
    payment_link = models.ForeignKey(PaymentLink, on_delete=models.CASCADE, related_name="line_items")
    price = models.ForeignKey(Price, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.price}"


class CheckoutSession(MerchantScoped):
    class Status(models.TextChoices):
        OPEN = "open"
        COMPLETE = "complete"
        EXPIRED = "expired"

    class PaymentStatus(models.TextChoices):
        UNPAID = "unpaid"
        PAID = "paid"

    mode = models.CharField(max_length=16, default="payment", editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID)
    currency = models.CharField(max_length=3)
    amount_subtotal = models.BigIntegerField()
    amount_total = models.BigIntegerField()
    success_url = models.URLField(max_length=5000, blank=True, null=True)
    cancel_url = models.URLField(max_length=5000, blank=True, null=True)
    client_reference_id = models.CharField(max_length=200, blank=True, null=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The customer was found or made from the payer's email (not given when the session was made).
    customer_matched = models.BooleanField(default=False, editable=False)
    customer_email = models.EmailField(blank=True, null=True)
    customer_details = models.JSONField(null=True, blank=True)
    billing_address_collection = models.CharField(max_length=16, default="auto")
    phone_number_collection = models.BooleanField(default=False)
    email_collection = models.BooleanField(default=True)
    locale = models.CharField(max_length=8, choices=Locale.choices, blank=True, default="")
    payment_link = models.ForeignKey(
        PaymentLink, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    payment_intent = models.OneToOneField(
        PaymentIntent, null=True, blank=True, on_delete=models.PROTECT, related_name="checkout_session"
    )
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("checkout session")
        verbose_name_plural = _("checkout sessions")
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="checkout_session_list"),
            models.Index(fields=["status", "expires_at"], name="checkout_session_expiry"),
        ]


class CheckoutSessionLineItem(models.Model):
    PREFIX = "li"

    public_id = models.CharField(max_length=64, unique=True, editable=False)
    session = models.ForeignKey(CheckoutSession, on_delete=models.CASCADE, related_name="line_items")
    price = models.ForeignKey(Price, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    description = models.CharField(max_length=250)
    currency = models.CharField(max_length=3)
    amount_subtotal = models.BigIntegerField()
    amount_total = models.BigIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.public_id
