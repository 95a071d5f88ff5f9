"""Reads of subscriptions, always scoped by merchant and mode (kassa.api.views.scoped)."""

from django.db.models import Prefetch, QuerySet

from kassa.api.views import scoped

from ..invoices.selectors import _range
from .models import Subscription, SubscriptionItem

ENDED = (Subscription.Status.CANCELED, Subscription.Status.INCOMPLETE_EXPIRED)


def _items_query(items: QuerySet) -> QuerySet:
    return items.select_related("price__product").prefetch_related("tax_rates").order_by("pk")


def items_prefetch() -> Prefetch:
    """Read a subscription's items with it (``prefetch_related(items_prefetch())``), for ``subscription_items``."""
    return Prefetch("items", queryset=_items_query(SubscriptionItem.objects.all()))


def subscription_items(subscription: Subscription) -> list[SubscriptionItem]:
    """The subscription's items by id, each with its price, product and tax rates: those read with it
    (``items_prefetch``) when it was, else read now. A renewal reads them once for its pass (its lines, its
    period, its two renderings) instead of four times; whoever changes items on such an instance keeps the
    instances current (``items_period_set``)."""
    cached = items_read_with(subscription)
    return cached if cached is not None else list(_items_query(subscription.items.all()))


def items_read_with(subscription: Subscription) -> list[SubscriptionItem] | None:
    """The items read with the subscription (``items_prefetch``), None when they were not."""
    cached = getattr(subscription, "_prefetched_objects_cache", {}).get("items")
    return list(cached) if cached is not None else None


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
    # Each one's rendering shows its items and tax rates: read for the whole page at once, not per subscription.
    queryset = (
        scoped(Subscription, merchant=merchant, livemode=livemode)
        .select_related("customer__test_clock", "default_payment_method", "latest_invoice")
        .prefetch_related("default_tax_rates", items_prefetch())
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
