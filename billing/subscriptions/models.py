"""Subscriptions (``sub_``) and their items (``si_``), in the shape of Stripe's API 2026-10-28.endive.

The current period lives on each item (``current_period_start``/``current_period_end``), as at Stripe
today; the subscription keeps a denormalised ``next_renewal_at`` (the end of its items' current period,
or the trial's end), indexed, which is all beat looks for. Periods are computed from the
``billing_cycle_anchor`` by billing/subscriptions/periods.py, never chained from the previous period.

One period, one invoice: the invoice made for a period carries ``subscription`` and
``subscription_period_start``, and a database constraint on invoices (billing/invoices/models.py) makes
a second ``subscription_create``/``subscription_cycle`` invoice for the same period impossible, whatever
workers, beat ticks or retries race for it.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped

from ..catalogue.models import Customer, Price
from ..invoices.models import Invoice, TaxRate
from ..payments.models import PaymentMethod


class Subscription(MerchantScoped):
    PREFIX = "sub"

    class Status(models.TextChoices):
        INCOMPLETE = "incomplete", _("Incomplete")
        INCOMPLETE_EXPIRED = "incomplete_expired", _("Incomplete, expired")
        TRIALING = "trialing", _("Trialing")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        UNPAID = "unpaid", _("Unpaid")
        CANCELED = "canceled", _("Canceled")
        PAUSED = "paused", _("Paused")

    class CancellationReason(models.TextChoices):
        CANCELLATION_REQUESTED = "cancellation_requested", _("Cancellation requested")
        PAYMENT_DISPUTED = "payment_disputed", _("Payment disputed")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")

    class PauseBehavior(models.TextChoices):
        KEEP_AS_DRAFT = "keep_as_draft", _("Keep invoices as drafts")
        MARK_UNCOLLECTIBLE = "mark_uncollectible", _("Mark invoices uncollectible")
        VOID = "void", _("Void invoices")

    class SaveDefaultPaymentMethod(models.TextChoices):
        OFF = "off", _("Off")
        ON_SUBSCRIPTION = "on_subscription", _("The card that pays becomes the default")

    customer = models.ForeignKey(  # indexed by subscription_customer
        Customer, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("customer"), db_index=False
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.INCOMPLETE, verbose_name=_("status")
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    description = models.CharField(max_length=500, blank=True, null=True, verbose_name=_("description"))
    collection_method = models.CharField(
        max_length=24,
        choices=Invoice.CollectionMethod.choices,
        default=Invoice.CollectionMethod.CHARGE_AUTOMATICALLY,
        verbose_name=_("collection method"),
    )
    days_until_due = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("days until due"))
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
    # payment_settings[save_default_payment_method]: on_subscription saves the card that pays one of its invoices
    # (on the hosted page too) on the customer and makes it the default_payment_method, as at Stripe.
    save_default_payment_method = models.CharField(
        max_length=16,
        choices=SaveDefaultPaymentMethod.choices,
        default=SaveDefaultPaymentMethod.OFF,
        verbose_name=_("save the paying card"),
    )
    # Kassa's own (the dashboard's "recurring payment" without a card): a send_invoice subscription that becomes
    # charge_automatically with the card once an invoice of it is paid by card (save_default_payment_method).
    charge_automatically_once_paid = models.BooleanField(
        default=False, editable=False, verbose_name=_("switch to automatic charging after the first payment")
    )
    # The instant periods are counted from (UTC); day_of_month is billing_cycle_anchor_config's, when given.
    billing_cycle_anchor = models.DateTimeField(verbose_name=_("billing cycle anchor"))
    billing_cycle_anchor_day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, editable=False, verbose_name=_("billing day of month")
    )
    start_date = models.DateTimeField(verbose_name=_("start date"))
    trial_start = models.DateTimeField(null=True, blank=True, verbose_name=_("trial start"))
    trial_end = models.DateTimeField(null=True, blank=True, verbose_name=_("trial end"))
    cancel_at_period_end = models.BooleanField(default=False, verbose_name=_("cancel at period end"))
    cancel_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancel at"))
    canceled_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("canceled"))
    ended_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("ended"))
    # cancellation_details
    cancellation_comment = models.TextField(blank=True, null=True, max_length=5000, verbose_name=_("comment"))
    cancellation_feedback = models.CharField(max_length=32, blank=True, null=True, verbose_name=_("feedback"))
    cancellation_reason = models.CharField(
        max_length=32,
        choices=CancellationReason.choices,
        blank=True,
        null=True,
        editable=False,
        verbose_name=_("cancellation reason"),
    )
    # pause_collection (null behavior: collection not paused)
    pause_behavior = models.CharField(
        max_length=20, choices=PauseBehavior.choices, blank=True, null=True, verbose_name=_("pause collection")
    )
    pause_resumes_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resumes at"))
    # payment_behavior=pending_if_incomplete: the change held until its invoice is paid (Stripe's pending_update,
    # with the items' entries to apply), that invoice, and when the change is dropped if still unpaid.
    pending_update = models.JSONField(null=True, blank=True, editable=False)
    pending_update_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    pending_update_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    latest_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("latest invoice")
    )
    # What beat looks for: the next time this subscription has work (a renewal, the trial's end, a
    # cancellation at the period's end); null once it has none (canceled, expired).
    next_renewal_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("next renewal"))
    # The notices already queued for the coming renewal / trial end (the period they were for), so each goes once.
    upcoming_notified_for = models.DateTimeField(null=True, blank=True, editable=False)
    trial_will_end_notified_for = models.DateTimeField(null=True, blank=True, editable=False)
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="subscription_list"),
            models.Index(fields=["customer", "-id"], name="subscription_customer"),
            # Beat: per merchant and mode, what is due, oldest first, in the order a run takes them (next_renewal_at,
            # then id: the first batch of a renewal day is read from the index's head, not sorted out of every
            # subscription due at that moment; without the id, a day of 10,000 due at one moment read all 10,000
            # for each batch of 50).
            models.Index(
                fields=["merchant", "livemode", "next_renewal_at", "id"],
                condition=models.Q(next_renewal_at__isnull=False),
                name="subscription_due_in_order",
            ),
            # Beat's tick and the notices: what is due (or soon), across merchants.
            models.Index(
                fields=["next_renewal_at"], condition=models.Q(next_renewal_at__isnull=False), name="subscription_next"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class SubscriptionItem(MerchantScoped):
    PREFIX = "si"

    subscription = models.ForeignKey(  # indexed by subscription_item_list
        Subscription, on_delete=models.CASCADE, related_name="items", verbose_name=_("subscription"), db_index=False
    )
    price = models.ForeignKey(Price, on_delete=models.PROTECT, related_name="+", verbose_name=_("price"))
    quantity = models.PositiveIntegerField(default=1, verbose_name=_("quantity"))
    current_period_start = models.DateTimeField(verbose_name=_("current period start"))
    current_period_end = models.DateTimeField(verbose_name=_("current period end"))
    tax_rates = models.ManyToManyField(TaxRate, blank=True, related_name="+", verbose_name=_("tax rates"))
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("subscription item")
        verbose_name_plural = _("subscription items")
        indexes = [
            models.Index(fields=["subscription", "id"], name="subscription_item_list"),
            models.Index(fields=["merchant"], name="subscription_item_merchant"),
        ]
        constraints = [
            # One item per price in a subscription, as at Stripe.
            models.UniqueConstraint(fields=["subscription", "price"], name="subscription_item_price_unique"),
        ]

    def __str__(self) -> str:
        return self.public_id
