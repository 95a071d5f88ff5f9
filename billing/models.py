"""The catalogue (products, prices) and customers.

Kassa keeps its own catalogue, as Stripe's shape: prices are immutable but
for ``active``, ``nickname``, ``lookup_key`` and ``metadata``; a product that
a price uses is archived (``active=false``) rather than deleted; a deleted
customer is kept as a tombstone (``deleted: true``) because payments will
point at it. Amounts are integers in the currency's minor unit.
"""

from django.db import models
from django.utils import timezone

from merchants.models import MerchantScoped


class Product(MerchantScoped):
    PREFIX = "prod"

    name = models.CharField(max_length=250)
    description = models.TextField(blank=True, null=True)
    active = models.BooleanField(default=True)
    images = models.JSONField(default=list, blank=True)
    url = models.URLField(max_length=2000, blank=True, null=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="product_list")]

    def __str__(self) -> str:
        return self.name


class Price(MerchantScoped):
    PREFIX = "price"

    class Type(models.TextChoices):
        ONE_TIME = "one_time"
        RECURRING = "recurring"

    class Interval(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        YEAR = "year"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices")
    currency = models.CharField(max_length=3)
    unit_amount = models.BigIntegerField()
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.ONE_TIME, editable=False)
    recurring_interval = models.CharField(max_length=8, choices=Interval.choices, blank=True, editable=False)
    recurring_interval_count = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    active = models.BooleanField(default=True)
    nickname = models.CharField(max_length=250, blank=True, null=True)
    lookup_key = models.CharField(max_length=200, blank=True, null=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="price_list")]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "lookup_key"],
                condition=models.Q(lookup_key__isnull=False),
                name="price_lookup_key_unique",
            ),
            models.CheckConstraint(condition=models.Q(unit_amount__gte=0), name="price_unit_amount_not_negative"),
        ]


class Customer(MerchantScoped):
    PREFIX = "cus"

    email = models.EmailField(max_length=512, blank=True, null=True)
    name = models.CharField(max_length=256, blank=True, null=True)
    phone = models.CharField(max_length=40, blank=True, null=True)
    description = models.TextField(blank=True, null=True)
    address = models.JSONField(blank=True, null=True)
    deleted = models.BooleanField(default=False, editable=False)
    # The matching customer at the processor, made when the customer first pays.
    processor_id = models.CharField(max_length=255, null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="customer_list")]

    def __str__(self) -> str:
        return self.name or self.email or self.public_id


# --- taking money -------------------------------------------------------------


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

    class Meta:
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
    client_secret = models.CharField(max_length=128, editable=False)
    processor_id = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)
    latest_charge = models.CharField(max_length=255, null=True, blank=True, editable=False)
    last_payment_error = models.JSONField(null=True, blank=True, editable=False)
    canceled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancellation_reason = models.CharField(max_length=32, null=True, blank=True, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
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


class PaymentIntentEvent(models.Model):
    """The timeline of a payment in the dashboard: created, 3-D Secure asked, succeeded, failed (why)."""

    payment_intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.kind


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
    customer_email = models.EmailField(blank=True, null=True)
    customer_details = models.JSONField(null=True, blank=True)
    billing_address_collection = models.CharField(max_length=16, default="auto")
    phone_number_collection = models.BooleanField(default=False)
    email_collection = models.BooleanField(default=True)
    payment_link = models.ForeignKey(
        PaymentLink, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    payment_intent = models.OneToOneField(
        PaymentIntent, null=True, blank=True, on_delete=models.PROTECT, related_name="checkout_session"
    )
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
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
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="refund_list")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["payment_intent", "request_key"],
                condition=models.Q(request_key__isnull=False),
                name="refund_request_key_unique",
            ),
        ]
