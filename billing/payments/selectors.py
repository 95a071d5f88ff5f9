"""Reads of payments, always scoped by merchant and mode (kassa.api.views.scoped).

A payment's status as a person reads it (``payment_display_status``) is the
one Stripe's dashboard shows, not the API's: Succeeded, Partially refunded,
Refunded, Incomplete, Failed, Processing, Canceled. One function decides it
for every list, page, the home page and the CSV export;
``payments_filter_display_status`` is the same rule in SQL, for filters.

- Failed: waiting for a payment method after a decline (``last_payment_error``
  set); Incomplete: waiting for a payment method with no decline, for a
  confirmation, or for 3-D Secure.
- Refunded / Partially refunded count succeeded refunds only (money that went
  back); a pending refund leaves the payment Succeeded until it settles.
"""

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from kassa.api.views import scoped

from .models import PaymentAttempt, PaymentIntent, PaymentMethod, Refund

S = PaymentIntent.Status

#: code -> label, in the order a filter lists them
DISPLAY_STATUSES = {
    "succeeded": _("Succeeded"),
    "partially_refunded": _("Partially refunded"),
    "refunded": _("Refunded"),
    "incomplete": _("Incomplete"),
    "failed": _("Failed"),
    "processing": _("Processing"),
    "canceled": _("Canceled"),
}


def payment_intent_list(*, merchant, livemode: bool, customer: str | None = None) -> QuerySet:
    queryset = scoped(PaymentIntent, merchant=merchant, livemode=livemode).select_related("customer", "payment_method")
    if customer:
        queryset = queryset.filter(customer__public_id=customer)
    return queryset


def refund_list(*, merchant, livemode: bool, payment_intent: str | None = None) -> QuerySet:
    queryset = scoped(Refund, merchant=merchant, livemode=livemode).select_related("payment_intent")
    if payment_intent:
        queryset = queryset.filter(payment_intent__public_id=payment_intent)
    return queryset


def payment_method_list(*, merchant, livemode: bool, customer=None) -> QuerySet:
    queryset = scoped(PaymentMethod, merchant=merchant, livemode=livemode).select_related("customer")
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    return queryset


def payment_in_flight(payment_intent: PaymentIntent | None) -> bool:
    """A payment that may still succeed: waiting on 3-D Secure, processing, or an attempt not yet settled."""
    if payment_intent is None:
        return False
    if payment_intent.status in (PaymentIntent.Status.REQUIRES_ACTION, PaymentIntent.Status.PROCESSING):
        return True
    unsettled = [PaymentAttempt.Status.PENDING, PaymentAttempt.Status.ERRORED]
    return payment_intent.attempts.filter(status__in=unsettled).exists()


# --- statuses as people read them -----------------------------------------------------------


def payments_with_refunds(queryset: QuerySet) -> QuerySet:
    """``amount_refunded`` on each payment: its succeeded refunds, in one subquery (no join to skew sums)."""
    refunded = (
        Refund.objects.filter(payment_intent=OuterRef("pk"), status=Refund.Status.SUCCEEDED)
        .values("payment_intent")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return queryset.annotate(amount_refunded=Coalesce(Subquery(refunded, output_field=IntegerField()), Value(0)))


def payment_amount_refunded(payment: PaymentIntent) -> int:
    """What went back to the payer: the ``payments_with_refunds`` annotation, or asked now."""
    annotated = getattr(payment, "amount_refunded", None)
    if annotated is not None:
        return annotated
    return sum(payment.refunds.filter(status=Refund.Status.SUCCEEDED).values_list("amount", flat=True))


def payment_display_status(payment: PaymentIntent) -> tuple[str, str]:
    """(code, label) in Stripe's dashboard's words: ("failed", "Failed"), ("partially_refunded", …) …"""
    status = payment.status
    if status == S.SUCCEEDED:
        refunded = payment_amount_refunded(payment)
        if refunded <= 0:
            code = "succeeded"
        elif refunded >= payment.amount_received:
            code = "refunded"
        else:
            code = "partially_refunded"
    elif status == S.REQUIRES_PAYMENT_METHOD and payment.last_payment_error:
        code = "failed"
    elif status in (S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION, S.REQUIRES_ACTION):
        code = "incomplete"
    elif status == S.PROCESSING:
        code = "processing"
    else:
        code = "canceled"
    return code, str(DISPLAY_STATUSES[code])


def payments_filter_display_status(queryset: QuerySet, code: str) -> QuerySet:
    """The payments whose ``payment_display_status`` is ``code`` (the same rule, in SQL)."""
    if code in ("succeeded", "refunded", "partially_refunded"):
        queryset = payments_with_refunds(queryset).filter(status=S.SUCCEEDED)
        if code == "succeeded":
            return queryset.filter(amount_refunded__lte=0)
        if code == "refunded":
            return queryset.filter(amount_refunded__gt=0, amount_refunded__gte=F("amount_received"))
        return queryset.filter(amount_refunded__gt=0, amount_refunded__lt=F("amount_received"))
    declined = Q(status=S.REQUIRES_PAYMENT_METHOD, last_payment_error__isnull=False)
    if code == "failed":
        return queryset.filter(declined)
    if code == "incomplete":
        waiting = [S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION, S.REQUIRES_ACTION]
        return queryset.filter(status__in=waiting).exclude(declined)
    if code == "processing":
        return queryset.filter(status=S.PROCESSING)
    if code == "canceled":
        return queryset.filter(status=S.CANCELED)
    return queryset


# --- a customer's history ------------------------------------------------------------------------


def customer_payments(customer) -> QuerySet:
    """The customer's payments, newest first (the customer is already the merchant's, in its mode)."""
    return payments_with_refunds(
        PaymentIntent.objects.filter(customer=customer, merchant_id=customer.merchant_id, livemode=customer.livemode)
    ).order_by("-id")


def customer_refunds(customer) -> QuerySet:
    return (
        Refund.objects.filter(
            payment_intent__customer=customer, merchant_id=customer.merchant_id, livemode=customer.livemode
        )
        .select_related("payment_intent")
        .order_by("-id")
    )


def customer_total_spent(customer) -> dict[str, int]:
    """{currency: minor units} received from the customer, net of succeeded refunds; zero totals left out."""
    totals: dict[str, int] = {}
    received = (
        PaymentIntent.objects.filter(customer=customer, merchant_id=customer.merchant_id, livemode=customer.livemode)
        .filter(status=S.SUCCEEDED)
        .values("currency")
        .annotate(total=Sum("amount_received"))
    )
    for row in received:
        totals[row["currency"]] = row["total"] or 0
    refunded = customer_refunds(customer).filter(status=Refund.Status.SUCCEEDED).values("currency")
    for row in refunded.annotate(total=Sum("amount")).order_by():
        totals[row["currency"]] = totals.get(row["currency"], 0) - (row["total"] or 0)
    return {currency: amount for currency, amount in sorted(totals.items()) if amount}


def payer_email(payment: PaymentIntent) -> str:
    """Who paid, by email: the customer's, else the receipt address the payer or the API gave ("" if neither)."""
    return (payment.customer.email if payment.customer else None) or payment.receipt_email or ""
