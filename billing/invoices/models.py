"""Invoicing's models: tax rates, the merchant's invoice settings and numbering, invoice items and invoices.

A tax rate is Stripe's: a name shown to customers, a percentage stored as a
Decimal with Stripe's precision (up to 4 decimal places, 0 to 100), and
whether it is included in prices or added on top. The percentage and
``inclusive`` never change once made (invoices refer to the rate); a rate
is archived (``active=false``), never deleted.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, MerchantScoped

from ..catalogue.models import Customer, Price
from ..payments.models import PaymentIntent, PaymentMethod


class TaxRate(MerchantScoped):
    PREFIX = "txr"

    #: Stripe's high-level tax types (stripe-python's TaxRate.tax_type).
    TAX_TYPES = (
        "admissions_tax",
        "amusement_tax",
        "attendance_tax",
        "communications_tax",
        "digital_excise_tax",
        "entertainment_tax",
        "get_fund",
        "gross_receipts_tax",
        "gst",
        "hospitality_tax",
        "hst",
        "igst",
        "jct",
        "lease_tax",
        "luxury_tax",
        "mass_transit_parking_tax",
        "nhil",
        "parking_tax",
        "pst",
        "qst",
        "resort_tax",
        "retail_delivery_fee",
        "rst",
        "sales_tax",
        "service_tax",
        "tourism_tax",
        "utility_users_tax",
        "vat",
    )

    display_name = models.CharField(max_length=50, verbose_name=_("display name"))
    # Stripe's precision: up to 4 decimal places, 0 to 100 (never a float).
    percentage = models.DecimalField(max_digits=7, decimal_places=4, editable=False, verbose_name=_("percentage"))
    inclusive = models.BooleanField(editable=False, verbose_name=_("inclusive"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    country = models.CharField(max_length=2, blank=True, null=True, verbose_name=_("country"))
    state = models.CharField(max_length=3, blank=True, null=True, verbose_name=_("state"))
    jurisdiction = models.CharField(max_length=50, blank=True, null=True, verbose_name=_("jurisdiction"))
    description = models.TextField(blank=True, null=True, verbose_name=_("description"))
    tax_type = models.CharField(max_length=32, blank=True, null=True, verbose_name=_("tax type"))

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="tax_rate_list")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percentage__gte=0, percentage__lte=100), name="tax_rate_percentage_0_to_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} {self.percentage_text}%"

    @property
    def percentage_text(self) -> str:
        """``20``, ``5.5``, ``19.6``: the percentage without trailing zeros (never in exponent form)."""
        text = format(self.percentage.normalize(), "f") if self.percentage is not None else ""
        return text


class InvoiceSettings(models.Model):
    """What a merchant's invoices say about the seller, and their defaults (one row per merchant, both modes).

    The seller's fields are copied onto each invoice when it is finalized (``Invoice.issuer``): an issued
    invoice keeps the name and address it was issued with, whatever the settings become later.
    """

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="invoice_settings", verbose_name=_("merchant")
    )
    legal_name = models.CharField(max_length=200, blank=True, verbose_name=_("legal name"))
    address_line1 = models.CharField(max_length=200, blank=True, verbose_name=_("address line 1"))
    address_line2 = models.CharField(max_length=200, blank=True, verbose_name=_("address line 2"))
    postal_code = models.CharField(max_length=20, blank=True, verbose_name=_("postal code"))
    city = models.CharField(max_length=100, blank=True, verbose_name=_("city"))
    state = models.CharField(max_length=100, blank=True, verbose_name=_("state or region"))
    country = models.CharField(max_length=2, blank=True, verbose_name=_("country"))
    vat_number = models.CharField(max_length=32, blank=True, verbose_name=_("VAT number"))
    support_email = models.EmailField(blank=True, verbose_name=_("support email"))
    # A small PNG or JPEG shown on the hosted page and the PDF (checked and capped by the services).
    logo = models.BinaryField(null=True, blank=True, editable=False, verbose_name=_("logo"))
    logo_content_type = models.CharField(max_length=20, blank=True, editable=False)
    # The prefix of the next finalized invoice's number (its own gap-free sequence per mode: InvoiceNumbering).
    prefix = models.CharField(max_length=12, verbose_name=_("invoice number prefix"))
    footer = models.TextField(blank=True, max_length=5000, verbose_name=_("default footer"))
    days_until_due = models.PositiveSmallIntegerField(default=30, verbose_name=_("default days until due"))
    default_locale = models.CharField(
        max_length=8, default="en", choices=[("en", "English"), ("fr", "Français")], verbose_name=_("default language")
    )
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("invoice settings")
        verbose_name_plural = _("invoice settings")

    def __str__(self) -> str:
        return self.legal_name or str(self.merchant)

    def issuer(self) -> dict:
        """The seller as an invoice shows it (``Invoice.issuer``, copied at finalization; a draft reads it live)."""
        return {
            "legal_name": self.legal_name,
            "address": {
                "line1": self.address_line1,
                "line2": self.address_line2,
                "postal_code": self.postal_code,
                "city": self.city,
                "state": self.state,
                "country": self.country,
            },
            "vat_number": self.vat_number,
            "support_email": self.support_email,
            "footer": self.footer,
        }


def default_retry_days() -> list[int]:
    """Stripe's default custom schedule: retries 1, 3, 5 and 7 days after the first failure."""
    return [1, 3, 5, 7]


class DunningSettings(models.Model):
    """What Kassa does when an automatic charge of an invoice fails: one row per merchant **and mode**.

    A row of its own rather than fields on ``InvoiceSettings`` (one row for both modes: what invoices say
    about the seller is the same in both): a merchant tries a schedule in test mode, on a test clock, before
    live invoices follow it, and the page is a setting of its own in the dashboard (*Settings → Failed
    payments*). The services (``dunning_settings_update``) check the schedule; the model only stores it.
    """

    class SubscriptionAction(models.TextChoices):
        CANCEL = "cancel", _("Cancel the subscription")
        UNPAID = "unpaid", _("Mark the subscription as unpaid")
        PAST_DUE = "past_due", _("Leave the subscription past due")

    class InvoiceAction(models.TextChoices):
        LEAVE_OPEN = "leave_open", _("Leave the invoice open")
        MARK_UNCOLLECTIBLE = "mark_uncollectible", _("Mark the invoice as uncollectible")

    merchant = models.ForeignKey(  # indexed by dunning_settings_one_per_mode
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant"), db_index=False
    )
    livemode = models.BooleanField(default=False, editable=False, verbose_name=_("live mode"))
    # Days after the first failed attempt, strictly increasing, 0 to 8 of them, each 1 to 60.
    retry_days = models.JSONField(default=default_retry_days, blank=True, verbose_name=_("retry schedule"))
    subscription_action = models.CharField(
        max_length=16,
        choices=SubscriptionAction.choices,
        default=SubscriptionAction.CANCEL,
        verbose_name=_("subscription after the last retry"),
    )
    invoice_action = models.CharField(
        max_length=24,
        choices=InvoiceAction.choices,
        default=InvoiceAction.LEAVE_OPEN,
        verbose_name=_("invoice after the last retry"),
    )
    # Invoices sent to customers (send_invoice, never charged): days after the due date at which one still unpaid
    # gets the same final actions (Stripe's "Manage invoices sent to customers"); None: never (it stays past due).
    overdue_days = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("days after the due date until the final actions")
    )
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("failed payments settings")
        verbose_name_plural = _("failed payments settings")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "livemode"], name="dunning_settings_one_per_mode"),
        ]

    def __str__(self) -> str:
        return str(self.merchant)


class InvoicePrefix(models.Model):
    """A number prefix and the merchant that took it: a prefix once used is never anyone else's (unique)."""

    prefix = models.CharField(max_length=12, unique=True, verbose_name=_("prefix"))
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant"))
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("invoice number prefix")
        verbose_name_plural = _("invoice number prefixes")

    def __str__(self) -> str:
        return self.prefix


class InvoiceNumbering(models.Model):
    """The gap-free counter of one prefix in one mode: locked and raised in the finalizing transaction.

    A number is taken only when an invoice is finalized, in the same transaction that finalizes it, under
    this row's lock: a rolled-back finalization gives its number back, and two finalizations queue on the
    lock, so numbers have no gap and no duplicate.
    """

    merchant = models.ForeignKey(  # indexed by invoice_numbering_unique
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant"), db_index=False
    )
    livemode = models.BooleanField(verbose_name=_("live mode"))
    prefix = models.CharField(max_length=12, verbose_name=_("prefix"))
    next_number = models.PositiveIntegerField(default=1, verbose_name=_("next number"))

    class Meta:
        verbose_name = _("invoice numbering")
        verbose_name_plural = _("invoice numbering")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "livemode", "prefix"], name="invoice_numbering_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} {self.next_number}"


class Invoice(MerchantScoped):
    PREFIX = "in"

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")
        UNCOLLECTIBLE = "uncollectible", _("Uncollectible")

    class CollectionMethod(models.TextChoices):
        CHARGE_AUTOMATICALLY = "charge_automatically", _("Charge automatically")
        SEND_INVOICE = "send_invoice", _("Send invoice")

    class BillingReason(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SUBSCRIPTION_CREATE = "subscription_create", _("Subscription created")
        SUBSCRIPTION_CYCLE = "subscription_cycle", _("Subscription renewal")
        SUBSCRIPTION_UPDATE = "subscription_update", _("Subscription change")

    customer = models.ForeignKey(  # indexed by invoice_customer
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer"), db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    collection_method = models.CharField(
        max_length=24,
        choices=CollectionMethod.choices,
        default=CollectionMethod.CHARGE_AUTOMATICALLY,
        verbose_name=_("collection method"),
    )
    billing_reason = models.CharField(
        max_length=24, choices=BillingReason.choices, default=BillingReason.MANUAL, verbose_name=_("billing reason")
    )
    auto_advance = models.BooleanField(default=False, verbose_name=_("automatic collection"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    description = models.TextField(blank=True, null=True, verbose_name=_("memo"))
    footer = models.TextField(blank=True, null=True, verbose_name=_("footer"))
    days_until_due = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("days until due"))
    due_date = models.DateTimeField(null=True, blank=True, verbose_name=_("due date"))
    number = models.CharField(max_length=40, null=True, blank=True, editable=False, verbose_name=_("number"))
    # The hosted page's and the PDF's unguessable address part (not the public id, which API logs carry).
    token = models.CharField(max_length=64, unique=True, editable=False)
    default_payment_method = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("default payment method"),
    )
    default_tax_rates = models.ManyToManyField(
        TaxRate, blank=True, related_name="+", verbose_name=_("default tax rates")
    )
    # Totals, kept current by the services after every change (integers in the currency's minor unit).
    subtotal = models.BigIntegerField(default=0, verbose_name=_("subtotal"))
    subtotal_excluding_tax = models.BigIntegerField(default=0, verbose_name=_("subtotal excluding tax"))
    total = models.BigIntegerField(default=0, verbose_name=_("total"))
    total_excluding_tax = models.BigIntegerField(default=0, verbose_name=_("total excluding tax"))
    # [{"tax_rate": "txr_…", "amount": 200, "taxable_amount": 1000, "inclusive": false}, …] per rate
    total_taxes = models.JSONField(default=list, blank=True, editable=False, verbose_name=_("taxes"))
    amount_due = models.BigIntegerField(default=0, verbose_name=_("amount due"))
    amount_paid = models.BigIntegerField(default=0, verbose_name=_("amount paid"))
    amount_remaining = models.BigIntegerField(default=0, verbose_name=_("amount remaining"))
    attempted = models.BooleanField(default=False, editable=False, verbose_name=_("attempted"))
    attempt_count = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("attempts"))
    next_payment_attempt = models.DateTimeField(null=True, blank=True, editable=False)
    # A draft with auto_advance is finalized by beat at this time (created + 1 hour, as at Stripe).
    automatically_finalizes_at = models.DateTimeField(null=True, blank=True, editable=False)
    finalized_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("finalized"))
    paid_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("paid"))
    voided_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("voided"))
    marked_uncollectible_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("marked uncollectible")
    )
    paid_out_of_band = models.BooleanField(default=False, editable=False, verbose_name=_("paid outside Kassa"))
    out_of_band_note = models.CharField(max_length=500, blank=True, editable=False, verbose_name=_("payment note"))
    sent_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("sent"))
    overdue_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("overdue notified"))
    period_start = models.DateTimeField(verbose_name=_("period start"))
    period_end = models.DateTimeField(verbose_name=_("period end"))
    # Copied from the customer and the merchant's settings at finalization (Stripe's customer_* fields;
    # issuer: the seller's legal name, address, VAT number, support email and footer as issued).
    customer_email = models.CharField(max_length=512, null=True, blank=True, editable=False)
    customer_name = models.CharField(max_length=256, null=True, blank=True, editable=False)
    customer_phone = models.CharField(max_length=40, null=True, blank=True, editable=False)
    customer_address = models.JSONField(null=True, blank=True, editable=False)
    issuer = models.JSONField(null=True, blank=True, editable=False)
    # The language of the hosted page, the PDF and the emails: the customer's preferred_locales or the merchant's.
    language = models.CharField(max_length=8, blank=True, editable=False)
    last_finalization_error = models.JSONField(null=True, blank=True, editable=False)
    # Dunning (services/dunning.py): the first failed automatic attempt, which the retry schedule counts from;
    # the scheduled retries made since; when the final action falls due (the last retry's day); when it was taken.
    dunning_started_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("first failure"))
    dunning_retries = models.PositiveSmallIntegerField(default=0, editable=False, verbose_name=_("retries made"))
    dunning_ends_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last retry due"))
    dunning_exhausted_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("retries exhausted")
    )
    # The key of the latest automatic attempt claimed (services/collection.py): counted once, made once.
    automatic_attempt_key = models.CharField(max_length=64, blank=True, editable=False)
    # The subscription that made this invoice and the period it bills (parent.subscription_details): a name,
    # not an import, as billing.subscriptions sits above invoicing.
    subscription = models.ForeignKey(
        "billing.Subscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
        editable=False,
        verbose_name=_("subscription"),
    )
    subscription_period_start = models.DateTimeField(null=True, blank=True, editable=False)
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="invoice_list"),
            models.Index(fields=["customer", "-id"], name="invoice_customer"),
            # What beat looks for: drafts to finalize, open invoices past due.
            models.Index(
                fields=["automatically_finalizes_at"],
                condition=models.Q(status="draft", auto_advance=True),
                name="invoice_to_finalize",
            ),
            models.Index(
                fields=["due_date"], condition=models.Q(status="open", overdue_at__isnull=True), name="invoice_overdue"
            ),
            # Automatic charges and retries due, and dunning ending for invoices waiting for a new card.
            models.Index(
                fields=["next_payment_attempt"], condition=models.Q(status="open"), name="invoice_attempt_due"
            ),
            models.Index(
                fields=["dunning_ends_at"],
                condition=models.Q(status="open", dunning_exhausted_at__isnull=True),
                name="invoice_dunning_ends",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "livemode", "number"],
                condition=models.Q(number__isnull=False),
                name="invoice_number_unique",
            ),
            # A draft has no number; anything finalized has one.
            models.CheckConstraint(
                condition=models.Q(status="draft", number__isnull=True)
                | (~models.Q(status="draft") & models.Q(number__isnull=False)),
                name="invoice_numbered_when_finalized",
            ),
            models.CheckConstraint(condition=models.Q(amount_paid__gte=0), name="invoice_amount_paid_not_negative"),
            # One period, one invoice: whatever races (two workers, two beats, a retried task), a
            # subscription's period is invoiced once; the loser's insert does nothing (invoicing's
            # PeriodInvoiced, kassa.db.insert_unless) and it moves on.
            models.UniqueConstraint(
                fields=["subscription", "subscription_period_start"],
                condition=models.Q(billing_reason__in=["subscription_create", "subscription_cycle"]),
                name="invoice_one_per_subscription_period",
            ),
        ]

    def __str__(self) -> str:
        return self.number or self.public_id


class InvoiceItem(MerchantScoped):
    """An invoice item (``ii_``): pending on its customer until an invoice takes it, then one of its lines (``il_``)."""

    PREFIX = "ii"
    LINE_PREFIX = "il"

    customer = models.ForeignKey(  # indexed by invoice_item_pending
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("customer"), db_index=False
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="items", verbose_name=_("invoice")
    )
    line_id = models.CharField(max_length=64, unique=True, editable=False)
    price = models.ForeignKey(
        Price, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("price")
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    unit_amount = models.BigIntegerField(null=True, blank=True, verbose_name=_("unit amount"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))
    amount = models.BigIntegerField(verbose_name=_("amount"))
    description = models.CharField(max_length=500, blank=True, null=True, verbose_name=_("description"))
    tax_rates = models.ManyToManyField(TaxRate, blank=True, related_name="+", verbose_name=_("tax rates"))
    # [{"tax_rate": "txr_…", "amount": 200, "taxable_amount": 1000, "inclusive": false}, …], kept by the services
    taxes = models.JSONField(default=list, blank=True, editable=False, verbose_name=_("taxes"))
    period_start = models.DateTimeField(verbose_name=_("period start"))
    period_end = models.DateTimeField(verbose_name=_("period end"))
    discountable = models.BooleanField(default=True, verbose_name=_("discountable"))
    proration = models.BooleanField(default=False, editable=False, verbose_name=_("proration"))
    # The subscription item this line bills (parent.subscription_item_details): a name, as above. An item
    # removed from its subscription leaves its past lines (they still name the subscription through the invoice).
    subscription_item = models.ForeignKey(
        "billing.SubscriptionItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("subscription item"),
    )
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("invoice item")
        verbose_name_plural = _("invoice items")
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="invoice_item_list"),
            models.Index(fields=["customer", "invoice"], name="invoice_item_pending"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="invoice_item_quantity_not_negative"),
        ]


class InvoicePayment(models.Model):
    """One payment of an invoice (Stripe's ``inpay_``): the PaymentIntent that collects it, or the record of
    a payment made outside Kassa."""

    PREFIX = "inpay"
    #: its merchant and mode are its invoice's (kassa.api.views.scoped)
    SCOPED_THROUGH = "invoice"

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        CANCELED = "canceled", _("Canceled")

    public_id = models.CharField(max_length=64, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments", verbose_name=_("invoice"))
    payment_intent = models.OneToOneField(
        PaymentIntent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_payment",
        verbose_name=_("payment"),
    )
    is_default = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, verbose_name=_("status"))
    amount_requested = models.BigIntegerField(verbose_name=_("amount requested"))
    amount_paid = models.BigIntegerField(null=True, blank=True, verbose_name=_("amount paid"))
    currency = models.CharField(max_length=3)
    created = models.DateTimeField(verbose_name=_("created"))
    paid_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invoice payment")
        verbose_name_plural = _("invoice payments")
        constraints = [
            # At most one payment in progress per invoice: two `pay` calls meet here, never make two charges.
            models.UniqueConstraint(
                fields=["invoice"], condition=models.Q(status="open"), name="invoice_payment_one_open"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id
