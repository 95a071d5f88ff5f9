"""The catalogue (products, prices) and customers.

Kassa keeps its own catalogue, as Stripe's shape: prices are immutable but
for ``active``, ``nickname``, ``lookup_key`` and ``metadata``; a product that
a price uses is archived (``active=false``) rather than deleted; a deleted
customer is kept as a tombstone (``deleted: true``) because payments will
point at it. Amounts are integers in the currency's minor unit.
"""

from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped


class Product(MerchantScoped):
    PREFIX = "prod"

    name = models.CharField(max_length=250)
    description = models.TextField(blank=True, null=True)
    active = models.BooleanField(default=True)
    images = models.JSONField(default=list, blank=True)
    url = models.URLField(max_length=2000, blank=True, null=True)
    # The price a client shows first (Stripe's ``default_price``): one of this product's prices.
    default_price = models.ForeignKey(
        "Price", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    unit_label = models.CharField(max_length=12, blank=True, null=True)
    shippable = models.BooleanField(null=True, blank=True)
    statement_descriptor = models.CharField(max_length=22, blank=True, null=True)
    # Stored and shown as sent; Kassa computes no tax (README, Not done yet).
    tax_code = models.CharField(max_length=64, blank=True, null=True)
    marketing_features = models.JSONField(default=list, blank=True)  # [{"name": "..."}], as Stripe's
    package_dimensions = models.JSONField(null=True, blank=True)  # {"height", "length", "weight", "width"}
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
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
        verbose_name = _("price")
        verbose_name_plural = _("prices")
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
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="customer_list"),
            # A payer's email is matched case-insensitively to their customer (billing.checkout.services).
            models.Index("merchant", "livemode", Upper("email"), name="customer_email_ci"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.public_id
