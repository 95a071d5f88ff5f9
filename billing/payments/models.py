"""Taking money: saved cards, PaymentIntents with their attempts and timeline, refunds."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from merchants.models import MerchantScoped

from ..catalogue.models import Customer


class PaymentMethod(MerchantScoped):
    """A saved card of a customer: brand, last four, expiry; the processor's id inside."""

    PREFIX = "pm"

    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment_methods",
        verbose_name=_("customer"),
    )
    type = models.CharField(max_length=16, default="card", editable=False, verbose_name=_("type"))
    card_brand = models.CharField(max_length=32, blank=True, verbose_name=_("card brand"))
    card_last4 = models.CharField(max_length=4, blank=True, verbose_name=_("card last 4"))
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("card exp month"))
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("card exp year"))
    billing_details = models.JSONField(default=dict, blank=True, verbose_name=_("billing details"))
    # A card taken to pay this one PaymentIntent and not saved (no setup_future_usage): ``customer`` stays
    # null, as at Stripe, and only this PaymentIntent may charge it. The processor holds it on the
    # PaymentIntent's customer, through which Kassa charges, until that payment is settled.
    single_use_for = models.ForeignKey(
        "PaymentIntent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("single use for"),
    )
    # The processor's card (card_…, a source attached to the customer) or PaymentMethod (pm_…).
    processor_id = models.CharField(max_length=255, editable=False, verbose_name=_("processor ID"))
    # The processor's customer (cus_…) that holds it: a single-use card stays on the customer it was
    # taken for even when its PaymentIntent's payer changes, and is detached from there once settled.
    # Blank on cards saved before it was recorded (their customer's, or their PaymentIntent's, holds them).
    processor_customer = models.CharField(
        max_length=255, blank=True, editable=False, verbose_name=_("processor customer")
    )

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="payment_method_list")]
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")

    def __str__(self) -> str:
        return f"{self.card_brand} •••• {self.card_last4}"


class PaymentIntent(MerchantScoped):
    """Kassa's record of one payment; the processor's PaymentIntent id inside.

    ``status`` moves forward only (``ORDER``): a late or repeated signal never
    moves it back. It becomes ``succeeded`` only from the processor's own
    state, read on the server.
    """

    PREFIX = "pi"

    class Status(models.TextChoices):
        REQUIRES_PAYMENT_METHOD = "requires_payment_method", _("Requires Payment Method")
        REQUIRES_CONFIRMATION = "requires_confirmation", _("Requires Confirmation")
        REQUIRES_ACTION = "requires_action", _("Requires Action")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        CANCELED = "canceled", _("Canceled")

    amount = models.BigIntegerField(verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.REQUIRES_PAYMENT_METHOD, verbose_name=_("status")
    )
    amount_received = models.BigIntegerField(default=0, verbose_name=_("amount received"))
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer")
    )
    payment_method = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payment method"),
    )
    description = models.CharField(max_length=1000, blank=True, null=True, verbose_name=_("description"))
    # Stripe's: "off_session" or "on_session" keeps the card saved on the customer once the payment succeeds.
    setup_future_usage = models.CharField(
        max_length=16, null=True, blank=True, editable=False, verbose_name=_("setup future usage")
    )
    receipt_email = models.EmailField(blank=True, null=True, verbose_name=_("receipt email"))
    # The payer's language for the receipt: the hosted page's when paid there; empty (English) otherwise.
    receipt_language = models.CharField(
        max_length=8, blank=True, default="", editable=False, verbose_name=_("receipt language")
    )
    client_secret = models.CharField(max_length=128, editable=False)
    processor_id = models.CharField(
        max_length=255, null=True, blank=True, unique=True, editable=False, verbose_name=_("processor ID")
    )
    latest_charge = models.CharField(
        max_length=255, null=True, blank=True, editable=False, verbose_name=_("latest charge")
    )
    last_payment_error = models.JSONField(null=True, blank=True, editable=False, verbose_name=_("last payment error"))
    canceled_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("canceled at"))
    cancellation_reason = models.CharField(
        max_length=32, null=True, blank=True, editable=False, verbose_name=_("cancellation reason")
    )
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="payment_intent_list")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_intent_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(amount_received__lte=models.F("amount")), name="payment_intent_received_le_amount"
            ),
        ]


class PaymentAttempt(models.Model):
    """One try at confirming a PaymentIntent with the processor: the two-phase record.

    Written and committed before the processor is called; its ``public_id`` is
    the idempotency key sent with the call, so a retry of the same attempt can
    never charge twice. The result is recorded under a row lock afterwards.
    """

    PREFIX = "payatt"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        REQUIRES_ACTION = "requires_action", _("Requires Action")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ERRORED = "errored", _("Errored")

    public_id = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("ID"))
    payment_intent = models.ForeignKey(
        PaymentIntent, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("payment")
    )
    # The card this attempt charges: a retry under the same key must send exactly the same parameters.
    payment_method = models.ForeignKey(
        "PaymentMethod",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payment method"),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    # Stripe's off_session: the payer is not there, so a card asking for authentication fails instead.
    off_session = models.BooleanField(default=False, editable=False, verbose_name=_("off session"))
    processor_payment_intent_id = models.CharField(
        max_length=255, blank=True, verbose_name=_("processor payment intent id")
    )
    error_code = models.CharField(max_length=64, blank=True, verbose_name=_("error code"))
    decline_code = models.CharField(max_length=64, blank=True, verbose_name=_("decline code"))
    error_message = models.CharField(max_length=500, blank=True, verbose_name=_("error message"))
    created = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.public_id


class PaymentTimelineEntry(models.Model):
    """The timeline of a payment in the dashboard: created, 3-D Secure asked, succeeded, failed (why)."""

    payment_intent = models.ForeignKey(
        PaymentIntent, on_delete=models.CASCADE, related_name="timeline", verbose_name=_("payment")
    )
    kind = models.CharField(max_length=40, verbose_name=_("kind"))
    message = models.CharField(max_length=500, blank=True, verbose_name=_("message"))
    created = models.DateTimeField(default=timezone.now, verbose_name=_("created"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.kind


#: What a refund records when its answer never came and the processor has none of it (payments' reconciler): stored
#: in English, as the processor's own reasons are; shown to members in their language (emails.py).
REFUND_NOT_MADE = gettext_noop("The payment processor has no record of this refund: nothing was refunded.")


class Refund(MerchantScoped):
    """A refund of (part of) a succeeded PaymentIntent; pending until the processor answers.

    A pending refund already counts against the refundable amount, so two
    concurrent refunds can never together exceed what was captured.
    """

    PREFIX = "re"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    class Reason(models.TextChoices):
        DUPLICATE = "duplicate", _("Duplicate")
        FRAUDULENT = "fraudulent", _("Fraudulent")
        REQUESTED_BY_CUSTOMER = "requested_by_customer", _("Requested By Customer")

    payment_intent = models.ForeignKey(
        PaymentIntent, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    amount = models.BigIntegerField(verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    reason = models.CharField(max_length=32, choices=Reason.choices, null=True, blank=True, verbose_name=_("reason"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    processor_id = models.CharField(
        max_length=255, null=True, blank=True, editable=False, verbose_name=_("processor ID")
    )
    failure_reason = models.CharField(max_length=500, null=True, blank=True, verbose_name=_("failure reason"))
    # Set by forms that may be submitted twice (the dashboard): one refund per key and payment.
    request_key = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="refund_list")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["payment_intent", "request_key"],
                condition=models.Q(request_key__isnull=False),
                name="refund_request_key_unique",
            ),
        ]
