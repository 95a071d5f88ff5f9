"""Reads of subscriptions, always scoped by merchant and mode (kassa.api.views.scoped)."""

import copy
from functools import cache

from django.db import connection
from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from kassa.api.views import scoped
from kassa.db import columns, select
from merchants.models import Merchant

from ..catalogue.models import Customer
from ..invoices.models import InvoiceItem
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
# A batch reads its due subscriptions with their items (prices, products), tax rates and merchant in a handful of
# statements for the whole batch, unlocked, instead of five statements a renewal. Each renewal then takes its
# row lock with a statement that reads the row itself again (every column: it is billed as it is now), and, in a
# second statement begun once it holds the lock, its customer as it is now with a fingerprint of its items and
# rates. The batch's copy of the items and rates is used only where that fingerprint, and the row's ``updated``,
# equal those read with the batch (taken before its items were read: a change committed between the two reads of
# the batch shows as a difference, never as a match); otherwise they are read again under the lock, as one renewal
# alone reads them. Why a second statement: in PostgreSQL's READ COMMITTED, the locking statement's subqueries see
# its snapshot from before it waited for the lock, so they could miss a change committed by the lock's previous
# holder; a statement begun after the lock sees every such commit. The fingerprint needs no writer's cooperation
# for a row added, removed or replaced: ids only grow (PostgreSQL's sequences; SQLite's AUTOINCREMENT), so a set's
# count and highest id change. An item edited in place has a new ``updated`` (its save) or, moved by a renewal
# (``items_period_set``, an update without ``updated``), a new period end; as every change of items is made by
# the subscription services under the subscription's row lock and saves the subscription, its ``updated`` changes
# too, which also covers an item's ``updated`` written by a host whose clock is behind. What the batch's copy
# keeps older than one renewal alone would read is the catalogue a renewal does not lock anyway: a product's name
# or a tax rate's display name or archiving, as of the batch's read (a batch is ``BATCH`` renewals: seconds, or
# the processor's time for as many charges).

_FINGERPRINT = ("fp_items", "fp_items_top", "fp_items_updated", "fp_items_end", "fp_rates", "fp_rates_top",
                "fp_defaults", "fp_defaults_top")  # fmt: skip


def _fingerprint_columns(subscription_id: str) -> tuple[tuple[str, str], ...]:
    """The fingerprint (``_FINGERPRINT``) of the items, their tax rates and the default tax rates of the
    subscription whose id is the SQL expression ``subscription_id``: ``(name, SQL expression)`` pairs."""
    quote = connection.ops.quote_name
    i = quote(SubscriptionItem._meta.db_table)
    item_rates = quote(SubscriptionItem.tax_rates.through._meta.db_table)
    defaults = quote(Subscription.default_tax_rates.through._meta.db_table)
    items = f"FROM {i} WHERE {i}.subscription_id = {subscription_id}"
    rates = f"FROM {item_rates} JOIN {i} ON {item_rates}.subscriptionitem_id = {i}.id"
    rates += f" WHERE {i}.subscription_id = {subscription_id}"
    default = f"FROM {defaults} WHERE {defaults}.subscription_id = {subscription_id}"
    return tuple(
        (name, f"(SELECT {value} {source})")
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


def _fingerprint(instance) -> tuple:
    return tuple(getattr(instance, name) for name in _FINGERPRINT)


@cache
def _owner_columns() -> tuple[tuple[str, str], ...]:
    """What the renewal's lock reads with the customer (``kassa.db.select``'s ``extra``): the fingerprint of the
    subscription whose id is the first ``%s``… values, and the customer's pending invoice items."""
    c = connection.ops.quote_name(Customer._meta.db_table)
    i = connection.ops.quote_name(InvoiceItem._meta.db_table)
    pending = f"(SELECT COUNT(*) FROM {i} WHERE {i}.customer_id = {c}.id AND {i}.invoice_id IS NULL)"  # noqa: S608 (names from the models)
    return (*_fingerprint_columns("%s"), ("pending_invoice_items", pending))


def subscriptions_renewal_read(pks: list[int]) -> dict[int, Subscription]:
    """The batch's read: the subscriptions ``pks`` (unlocked), by pk, each with its items, default tax rates and
    fingerprint, and its own copy of its merchant. One static statement and the prefetches: nothing for Django to
    compile per subscription."""
    if not pks:
        return {}
    s = connection.ops.quote_name(Subscription._meta.db_table)
    marks = ", ".join(["%s"] * len(pks))
    fingerprint = ", ".join(f"{sql} AS {name}" for name, sql in _fingerprint_columns(f"{s}.id"))
    sql = f"SELECT {columns(Subscription)}, {fingerprint} FROM {s} WHERE {s}.id IN ({marks})"  # noqa: S608 (names from the models)
    read = list(Subscription.objects.raw(sql, pks))
    prefetch_related_objects(read, "default_tax_rates", items_prefetch())
    merchants = Merchant.objects.in_bulk({subscription.merchant_id for subscription in read})
    for subscription in read:
        Subscription.merchant.field.set_cached_value(subscription, copy.copy(merchants[subscription.merchant_id]))
    return {subscription.pk: subscription for subscription in read}


def subscription_renewal_lock(pk: int, *, now, read: Subscription | None) -> Subscription | None:
    """The subscription ``pk`` if it is due at ``now`` and no one else holds it, row-locked (``skip_locked``) and
    read as it is now, with its customer as it is now (row-locked next, waiting for it); with ``read``'s merchant,
    items and tax rates where they are still what is there (``read``: the batch's ``subscriptions_renewal_read``),
    else read again. None: not due, or held."""
    # SQLite has no row locks: its write transaction (IMMEDIATE) already excludes every other writer. Both reads
    # through statements built once (kassa.db.select: a renewal makes them).
    due = [pk, connection.ops.adapt_datetimefield_value(now)]
    found = select(Subscription, "id = %s AND next_renewal_at <= %s", due, lock=True, skip_locked=True)
    if not found:
        return None
    (locked,) = found
    # The customer locked too, as the period's invoice would lock it next (invoice_create: its pending items are
    # taken once): locked here, it is read once, as it is once the lock is held (PostgreSQL's READ COMMITTED hands a
    # locked row's latest version), and invoicing is told so (``customer_locked``), with how many pending invoice
    # items the customer has (``pending_invoice_items``: none, the usual case, and invoicing reads none). The
    # subqueries' snapshot is this statement's, begun after the subscription's lock: whoever changes the items holds
    # that lock; an invoice item made for the customer while this statement waits for the customer's lock (making
    # one through the API takes no lock; or the lock's previous holder's, another subscription's renewal carrying a
    # credit forward) is one made during the renewal: the customer's next invoice takes it, nothing is lost.
    params = [pk] * len(_FINGERPRINT) + [locked.customer_id]
    (customer,) = select(Customer, "id = %s", params, lock=True, extra=_owner_columns())
    Subscription.customer.field.set_cached_value(locked, customer)
    current = read is not None and read.updated == locked.updated and _fingerprint(read) == _fingerprint(customer)
    if current:
        locked._prefetched_objects_cache = read._prefetched_objects_cache
        Subscription.merchant.field.set_cached_value(locked, read.merchant)
    else:
        prefetch_related_objects([locked], "merchant", "default_tax_rates", items_prefetch())
    return locked
