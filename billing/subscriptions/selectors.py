"""Reads of subscriptions, always scoped by merchant and mode (kassa.api.views.scoped)."""

from django.db.models import QuerySet

from kassa.api.views import scoped

from ..invoices.selectors import _range
from .models import Subscription, SubscriptionItem

ENDED = (Subscription.Status.CANCELED, Subscription.Status.INCOMPLETE_EXPIRED)


def subscription_list(
    *,
    merchant,
    livemode: bool,
    customer: str | None = None,
    price: str | None = None,
    status: str | None = None,
    collection_method: str | None = None,
    current_period_start: dict | None = None,
    current_period_end: dict | None = None,
) -> QuerySet:
    """As Stripe lists them: by default every subscription but the canceled ones; ``status=all`` for every one,
    ``ended`` for the canceled and expired."""
    queryset = scoped(Subscription, merchant=merchant, livemode=livemode).select_related(
        "customer__test_clock", "default_payment_method", "latest_invoice"
    )
    if customer:
        queryset = queryset.filter(customer__public_id=customer)
    if price:
        queryset = queryset.filter(items__price__public_id=price)
    if status == "ended":
        queryset = queryset.filter(status__in=ENDED)
    elif status and status != "all":
        queryset = queryset.filter(status=status)
    elif not status:
        queryset = queryset.exclude(status=Subscription.Status.CANCELED)
    if collection_method:
        queryset = queryset.filter(collection_method=collection_method)
    queryset = _range(queryset, "items__current_period_start", current_period_start)
    queryset = _range(queryset, "items__current_period_end", current_period_end)
    return queryset.distinct()


def subscription_item_list(*, merchant, livemode: bool, subscription: str | None = None) -> QuerySet:
    queryset = scoped(SubscriptionItem, merchant=merchant, livemode=livemode).select_related(
        "subscription", "price__product"
    )
    if subscription:
        queryset = queryset.filter(subscription__public_id=subscription)
    return queryset
