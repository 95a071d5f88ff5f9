"""Reads of payments, always scoped by merchant and mode (kassa.api.views.scoped)."""

from django.db.models import QuerySet

from kassa.api.views import scoped

from .models import PaymentAttempt, PaymentIntent, PaymentMethod, Refund


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
