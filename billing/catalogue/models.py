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

    name = models.CharField(max_length=250, verbose_name=_("name"))
    description = models.TextField(blank=True, null=True, verbose_name=_("description"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    images = models.JSONField(default=list, blank=True, verbose_name=_("images"))
    url = models.URLField(max_length=2000, blank=True, null=True, verbose_name=_("URL"))
    # The price a client shows first (Stripe's ``default_price``): one of this product's prices.
    default_price = models.ForeignKey(
        "Price",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("default price"),
    )
    unit_label = models.CharField(max_length=12, blank=True, null=True, verbose_name=_("unit label"))
    shippable = models.BooleanField(null=True, blank=True, verbose_name=_("shippable"))
    statement_descriptor = models.CharField(
        max_length=22, blank=True, null=True, verbose_name=_("statement descriptor")
    )
    # Stored and shown as sent; Kassa computes no tax (README, Not done yet).
    tax_code = models.CharField(max_length=64, blank=True, null=True, verbose_name=_("tax code"))
    marketing_features = models.JSONField(
        default=list, blank=True, verbose_name=_("marketing features")
    )  # [{"name": "..."}], as Stripe's
    package_dimensions = models.JSONField(
        null=True, blank=True, verbose_name=_("package dimensions")
    )  # {"height", "length", "weight", "width"}
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="product_list")]

    def __str__(self) -> str:
        return self.name


class Price(MerchantScoped):
    PREFIX = "price"

    class Type(models.TextChoices):
        ONE_TIME = "one_time", _("One Time")
        RECURRING = "recurring", _("Recurring")

    class Interval(models.TextChoices):
        DAY = "day", _("Day")
        WEEK = "week", _("Week")
        MONTH = "month", _("Month")
        YEAR = "year", _("Year")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices", verbose_name=_("product"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    unit_amount = models.BigIntegerField(verbose_name=_("unit amount"))
    type = models.CharField(
        max_length=16, choices=Type.choices, default=Type.ONE_TIME, editable=False, verbose_name=_("type")
    )
    recurring_interval = models.CharField(
        max_length=8, choices=Interval.choices, blank=True, editable=False, verbose_name=_("recurring interval")
    )
    recurring_interval_count = models.PositiveSmallIntegerField(
        null=True, blank=True, editable=False, verbose_name=_("recurring interval count")
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    nickname = models.CharField(max_length=250, blank=True, null=True, verbose_name=_("nickname"))
    lookup_key = models.CharField(max_length=200, blank=True, null=True, verbose_name=_("lookup key"))

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

    email = models.EmailField(max_length=512, blank=True, null=True, verbose_name=_("email"))
    name = models.CharField(max_length=256, blank=True, null=True, verbose_name=_("name"))
    phone = models.CharField(max_length=40, blank=True, null=True, verbose_name=_("phone"))
    description = models.TextField(blank=True, null=True, verbose_name=_("description"))
    address = models.JSONField(blank=True, null=True, verbose_name=_("address"))
    deleted = models.BooleanField(default=False, editable=False, verbose_name=_("deleted"))
    # Stripe's preferred_locales: the languages the customer's invoices and emails are written in, first known wins.
    preferred_locales = models.JSONField(default=list, blank=True, verbose_name=_("preferred languages"))
    # The matching customer at the processor, made when the customer first pays.
    processor_id = models.CharField(
        max_length=255, null=True, blank=True, editable=False, verbose_name=_("processor ID")
    )
    # invoice_settings.default_payment_method: one of the customer's own saved cards (billing.payments
    # checks it; a name, not an import: the catalogue sits below payments).
    default_payment_method = models.ForeignKey(
        "billing.PaymentMethod",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("default payment method"),
    )
    # The test clock whose time the customer lives on (test mode only, set on create only): a name, not an
    # import, as billing.clocks sits above the catalogue.
    test_clock = models.ForeignKey(
        "billing.TestClock",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        editable=False,
        verbose_name=_("test clock"),
    )

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
