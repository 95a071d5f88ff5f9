"""Selling through links and hosted checkout: payment links and checkout sessions, with their baskets."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped

from ..catalogue.models import Customer, Price
from ..invoices.models import Invoice
from ..payments.models import PaymentIntent, PaymentMethod
from ..subscriptions.models import Subscription


class Locale(models.TextChoices):
    """The hosted page's language, as Stripe Checkout's ``locale``: the languages Kassa has catalogs for.

    ``auto`` (or unset) lets the payer's pick and browser decide (billing/hosted/i18n.py).
    https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-locale
    """

    AUTO = "auto", _("Automatic (the payer's browser)")
    EN = "en", "English"
    FR = "fr", "Français"


class SetupFutureUsage(models.TextChoices):
    """Stripe's ``setup_future_usage``: the card a payment is made with stays saved on the customer afterwards.

    https://docs.stripe.com/api/payment_intents/object#payment_intent_object-setup_future_usage
    """

    OFF_SESSION = "off_session", _("Saved for charges without the payer (off session)")
    ON_SESSION = "on_session", _("Saved for the payer's next payments (on session)")


class PaymentLink(MerchantScoped):
    PREFIX = "plink"

    class AfterCompletion(models.TextChoices):
        HOSTED_CONFIRMATION = "hosted_confirmation", _("Hosted Confirmation")
        REDIRECT = "redirect", _("Redirect")

    class AddressCollection(models.TextChoices):
        AUTO = "auto", _("Auto")
        REQUIRED = "required", _("Required")

    active = models.BooleanField(default=True, verbose_name=_("active"))
    # The hosted page's address is /pay/<slug>: not the API id, so a link can be shared without naming it.
    slug = models.CharField(max_length=40, unique=True, editable=False, verbose_name=_("slug"))
    currency = models.CharField(max_length=3, editable=False, verbose_name=_("currency"))
    after_completion_type = models.CharField(
        max_length=24,
        choices=AfterCompletion.choices,
        default=AfterCompletion.HOSTED_CONFIRMATION,
        verbose_name=_("after payment"),
    )
    after_completion_redirect_url = models.URLField(max_length=2048, blank=True, verbose_name=_("redirect URL"))
    after_completion_message = models.CharField(max_length=500, blank=True, verbose_name=_("confirmation message"))
    billing_address_collection = models.CharField(
        max_length=16,
        choices=AddressCollection.choices,
        default=AddressCollection.AUTO,
        verbose_name=_("billing address collection"),
    )
    phone_number_collection = models.BooleanField(default=False, verbose_name=_("phone number collection"))
    email_collection = models.BooleanField(default=True, verbose_name=_("email collection"))
    # Blank: not set (``null`` in the API), which behaves as ``auto``. Sessions opened from the link copy it.
    locale = models.CharField(max_length=8, choices=Locale.choices, blank=True, default="", verbose_name=_("locale"))
    # Blank: the card is used for this payment only. Sessions opened from the link copy it to their PaymentIntent.
    setup_future_usage = models.CharField(
        max_length=16, choices=SetupFutureUsage.choices, blank=True, default="", verbose_name=_("save the card")
    )
    # A link of recurring prices makes subscriptions: what they are made with (``trial_period_days``,
    # ``description``, ``metadata``), copied to each session it opens. Null for a link of one-time prices.
    subscription_data = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="payment_link_list")]


class PaymentLinkLineItem(models.Model):
    PREFIX = "li"

    public_id = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("ID"))
    payment_link = models.ForeignKey(
        PaymentLink, on_delete=models.CASCADE, related_name="line_items", verbose_name=_("payment link")
    )
    price = models.ForeignKey(Price, on_delete=models.PROTECT, related_name="+", verbose_name=_("price"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.price}"


class CheckoutSession(MerchantScoped):
    class Mode(models.TextChoices):
        PAYMENT = "payment", _("Payment")
        # Saves a card on the customer, charging nothing (Stripe's setup mode, without a SetupIntent: see services).
        SETUP = "setup", _("Save a card")
        # The payer pays the first invoice of a subscription to recurring prices (services.py).
        SUBSCRIPTION = "subscription", _("Subscription")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        COMPLETE = "complete", _("Complete")
        EXPIRED = "expired", _("Expired")

    class PaymentStatus(models.TextChoices):
        UNPAID = "unpaid", _("Unpaid")
        PAID = "paid", _("Paid")
        NO_PAYMENT_REQUIRED = "no_payment_required", _("No payment required")

    mode = models.CharField(
        max_length=16, choices=Mode.choices, default=Mode.PAYMENT, editable=False, verbose_name=_("mode")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    payment_status = models.CharField(
        max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID, verbose_name=_("payment status")
    )
    # Setup mode: no amounts, and a currency only when the merchant gave one (null in the API otherwise).
    currency = models.CharField(max_length=3, blank=True, verbose_name=_("currency"))
    amount_subtotal = models.BigIntegerField(null=True, blank=True, verbose_name=_("amount subtotal"))
    amount_total = models.BigIntegerField(null=True, blank=True, verbose_name=_("amount total"))
    success_url = models.URLField(max_length=5000, blank=True, null=True, verbose_name=_("success URL"))
    cancel_url = models.URLField(max_length=5000, blank=True, null=True, verbose_name=_("cancel URL"))
    client_reference_id = models.CharField(max_length=200, blank=True, null=True, verbose_name=_("client reference ID"))
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    # The customer was found or made from the payer's email (not given when the session was made).
    customer_matched = models.BooleanField(default=False, editable=False, verbose_name=_("customer matched"))
    customer_email = models.EmailField(blank=True, null=True, verbose_name=_("customer email"))
    customer_details = models.JSONField(null=True, blank=True, verbose_name=_("customer details"))
    billing_address_collection = models.CharField(
        max_length=16, default="auto", verbose_name=_("billing address collection")
    )
    phone_number_collection = models.BooleanField(default=False, verbose_name=_("phone number collection"))
    email_collection = models.BooleanField(default=True, verbose_name=_("email collection"))
    locale = models.CharField(max_length=8, choices=Locale.choices, blank=True, default="", verbose_name=_("locale"))
    # Stripe's customer_creation, as asked: Kassa finds or makes a customer either way (a card is saved on one).
    customer_creation = models.CharField(
        max_length=16, default="if_required", editable=False, verbose_name=_("customer creation")
    )
    # payment_intent_data[setup_future_usage], given to the session's PaymentIntent when it is made.
    setup_future_usage = models.CharField(
        max_length=16, choices=SetupFutureUsage.choices, blank=True, default="", verbose_name=_("save the card")
    )
    payment_link = models.ForeignKey(
        PaymentLink,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sessions",
        verbose_name=_("payment link"),
    )
    payment_intent = models.OneToOneField(
        PaymentIntent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="checkout_session",
        verbose_name=_("payment"),
    )
    # Setup mode: the card the payer saved (Stripe keeps it on the session's SetupIntent, which Kassa has not).
    saved_payment_method = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("saved card"),
    )
    # Subscription mode: what the subscription is made with (``trial_period_days``, ``description``,
    # ``metadata``); the subscription and its first invoice, made when the payer first pays (the API shows them
    # once the session is complete).
    subscription_data = models.JSONField(null=True, blank=True, editable=False)
    subscription = models.ForeignKey(
        Subscription,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("subscription"),
    )
    invoice = models.ForeignKey(
        Invoice,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("invoice"),
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("checkout session")
        verbose_name_plural = _("checkout sessions")
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="checkout_session_list"),
            models.Index(fields=["status", "expires_at"], name="checkout_session_expiry"),
        ]


class CheckoutSessionLineItem(models.Model):
    PREFIX = "li"

    public_id = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("ID"))
    session = models.ForeignKey(
        CheckoutSession, on_delete=models.CASCADE, related_name="line_items", verbose_name=_("session")
    )
    price = models.ForeignKey(Price, on_delete=models.PROTECT, related_name="+", verbose_name=_("price"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))
    description = models.CharField(max_length=250, verbose_name=_("description"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    amount_subtotal = models.BigIntegerField(verbose_name=_("amount subtotal"))
    amount_total = models.BigIntegerField(verbose_name=_("amount total"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.public_id
