"""Taking money: saved cards, PaymentIntents with their attempts and timeline, refunds."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped

from ..catalogue.models import Customer


class PaymentMethod(MerchantScoped):
    """A saved card of a customer: brand, last four, expiry; the processor's id inside."""

    PREFIX = "pm"

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_methods"
    )
    type = models.CharField(max_length=16, default="card", editable=False)
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    billing_details = models.JSONField(default=dict, blank=True)
    # The processor's card (card_…, a source attached to the customer) or PaymentMethod (pm_…).
    processor_id = models.CharField(max_length=255, editable=False)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="payment_method_list")]

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
        REQUIRES_PAYMENT_METHOD = "requires_payment_method"
        REQUIRES_CONFIRMATION = "requires_confirmation"
        REQUIRES_ACTION = "requires_action"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        CANCELED = "canceled"

    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.REQUIRES_PAYMENT_METHOD)
    amount_received = models.BigIntegerField(default=0)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment_method = models.ForeignKey(PaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=1000, blank=True, null=True)
    receipt_email = models.EmailField(blank=True, null=True)
    # The payer's language for the receipt: the hosted page's when paid there; empty (English) otherwise.
    receipt_language = models.CharField(max_length=8, blank=True, default="", editable=False)
    client_secret = models.CharField(max_length=128, editable=False)
    processor_id = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)
    latest_charge = models.CharField(max_length=255, null=True, blank=True, editable=False)
    last_payment_error = models.JSONField(null=True, blank=True, editable=False)
    canceled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancellation_reason = models.CharField(max_length=32, null=True, blank=True, editable=False)
    updated = models.DateTimeField(auto_now=True)

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
        PENDING = "pending"
        REQUIRES_ACTION = "requires_action"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        ERRORED = "errored"

    public_id = models.CharField(max_length=64, unique=True, editable=False)
    payment_intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="attempts")
    # The card this attempt charges: a retry under the same key must send exactly the same parameters.
    payment_method = models.ForeignKey(
        "PaymentMethod", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    processor_payment_intent_id = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    decline_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.public_id


class PaymentTimelineEntry(models.Model):
    """The timeline of a payment in the dashboard: created, 3-D Secure asked, succeeded, failed (why)."""

    payment_intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.kind


class Refund(MerchantScoped):
    """A refund of (part of) a succeeded PaymentIntent; pending until the processor answers.

    A pending refund already counts against the refundable amount, so two
    concurrent refunds can never together exceed what was captured.
    """

    PREFIX = "re"

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    class Reason(models.TextChoices):
        DUPLICATE = "duplicate"
        FRAUDULENT = "fraudulent"
        REQUESTED_BY_CUSTOMER = "requested_by_customer"

    payment_intent = models.ForeignKey(PaymentIntent, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, choices=Reason.choices, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    processor_id = models.CharField(max_length=255, null=True, blank=True, editable=False)
    failure_reason = models.CharField(max_length=500, null=True, blank=True)
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
