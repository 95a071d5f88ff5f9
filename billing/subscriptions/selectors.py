"""Reads of subscriptions, always scoped by merchant and mode (kassa.api.views.scoped)."""

import copy

from django.db import connection
from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from kassa.api.views import scoped
from merchants.models import Merchant

from ..catalogue.models import Customer
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


# --- a renewal batch's read (services/renewal.py) --------------------------------------------------------------
#
# A batch reads its due subscriptions, with their customers, merchants, items (prices, products) and tax rates, in
# a handful of statements for the whole batch instead of five a renewal, unlocked; each renewal then locks its row
# with one statement that reads the row itself again (every column: whatever changed since, the renewal sees it)
# and a fingerprint of what hangs off it. The batch's copy of the items and rates is used only where the
# fingerprint taken under the lock equals the one taken with the batch's read (before its items were read: a
# change committed between the two reads shows as a difference, never as a match); otherwise they are read again
# under the lock, as one renewal alone reads them. The fingerprint needs no writer's cooperation: ids only grow,
# so the count and the highest id of a set of rows change whenever a row is added, removed or replaced; an item
# changed in place has a new ``updated`` (every save) or, moved by a renewal (``items_period_set``, an update
# without ``updated``), a new period end. The prices, products and tax rates themselves are not locked by a
# renewal, read in the batch or alone: the batch reads them a few seconds earlier, no less consistently.

_FINGERPRINT = ("fp_items", "fp_items_top", "fp_items_updated", "fp_items_end", "fp_rates", "fp_rates_top",
                "fp_defaults", "fp_defaults_top")  # fmt: skip


def _fingerprinted_sql(where: str, *, lock: bool) -> str:
    """Every column of the subscriptions ``where`` selects, and the fingerprint (``_FINGERPRINT``) of each one's
    items, their tax rates and its default tax rates. One static statement: nothing for Django to compile."""
    s = Subscription._meta.db_table
    i = SubscriptionItem._meta.db_table
    item_rates = SubscriptionItem.tax_rates.through._meta.db_table
    defaults = Subscription.default_tax_rates.through._meta.db_table
    columns = ", ".join(f"{s}.{field.column}" for field in Subscription._meta.concrete_fields)
    items = f"FROM {i} WHERE {i}.subscription_id = {s}.id"
    rates = f"FROM {item_rates} JOIN {i} ON {item_rates}.subscriptionitem_id = {i}.id"
    rates += f" WHERE {i}.subscription_id = {s}.id"
    default = f"FROM {defaults} WHERE {defaults}.subscription_id = {s}.id"
    # SQLite has no row locks: its write transaction (IMMEDIATE) already excludes every other writer.
    skip_locked = lock and connection.features.has_select_for_update_skip_locked
    locking = f" FOR UPDATE OF {s} SKIP LOCKED" if skip_locked else ""
    prints = ", ".join(
        f"(SELECT {value} {source}) AS {name}"
        for value, source, name in (
            ("COUNT(*)", items, "fp_items"),
            (f"MAX({i}.id)", items, "fp_items_top"),
            (f"MAX({i}.updated)", items, "fp_items_updated"),
            (f"MAX({i}.current_period_end)", items, "fp_items_end"),
            ("COUNT(*)", rates, "fp_rates"),
            (f"MAX({item_rates}.id)", rates, "fp_rates_top"),
            ("COUNT(*)", default, "fp_defaults"),
            (f"MAX({defaults}.id)", default, "fp_defaults_top"),
        )
    )
    return f"SELECT {columns}, {prints} FROM {s} WHERE {where}{locking}"  # noqa: S608 (names from the models)


def fingerprint(subscription: Subscription) -> tuple:
    return tuple(getattr(subscription, name) for name in _FINGERPRINT)


def subscriptions_renewal_read(pks: list[int]) -> dict[int, Subscription]:
    """The batch's read: the subscriptions ``pks`` (unlocked) with what a renewal reads of them, by pk. Each has
    its own copy of its customer and merchant (a renewal writes on them), its items and its default tax rates."""
    if not pks:
        return {}
    marks = ", ".join(["%s"] * len(pks))
    sql = _fingerprinted_sql(f"{Subscription._meta.db_table}.id IN ({marks})", lock=False)
    read = list(Subscription.objects.raw(sql, pks))
    prefetch_related_objects(read, "default_tax_rates", items_prefetch())
    customers = Customer.objects.in_bulk({subscription.customer_id for subscription in read})
    merchants = Merchant.objects.in_bulk({subscription.merchant_id for subscription in read})
    for subscription in read:
        Subscription.customer.field.set_cached_value(subscription, copy.copy(customers[subscription.customer_id]))
        Subscription.merchant.field.set_cached_value(subscription, copy.copy(merchants[subscription.merchant_id]))
    return {subscription.pk: subscription for subscription in read}


def subscription_renewal_lock(pk: int, *, now, read: Subscription | None) -> Subscription | None:
    """The subscription ``pk`` if it is due at ``now`` and no one else holds it, row-locked (``skip_locked``), as
    it is now; with ``read``'s customer, merchant, items and tax rates where the fingerprint says they are still
    what it is now (``read``: the batch's ``subscriptions_renewal_read``), else read again. None: not due, or held."""
    where = f"{Subscription._meta.db_table}.id = %s AND {Subscription._meta.db_table}.next_renewal_at <= %s"
    params = [pk, connection.ops.adapt_datetimefield_value(now)]
    locked = next(iter(Subscription.objects.raw(_fingerprinted_sql(where, lock=True), params)), None)
    if locked is None:
        return None
    if read is not None and fingerprint(read) == fingerprint(locked):
        locked._prefetched_objects_cache = read._prefetched_objects_cache
        Subscription.customer.field.set_cached_value(locked, read.customer)
        Subscription.merchant.field.set_cached_value(locked, read.merchant)
    else:
        prefetch_related_objects([locked], "customer", "merchant", "default_tax_rates", items_prefetch())
    return locked
