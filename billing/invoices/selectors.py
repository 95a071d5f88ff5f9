"""Reads, always scoped by merchant and mode (kassa.api.views.scoped), and the invoice's public addresses."""

import datetime

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from kassa.api.views import scoped
from kassa.batch import share, shared
from kassa.db import many, read_with

from .models import Invoice, InvoiceItem, InvoicePayment, TaxRate


def tax_rate_list(*, merchant, livemode: bool, active: bool | None = None, inclusive: bool | None = None) -> QuerySet:
    queryset = scoped(TaxRate, merchant=merchant, livemode=livemode)
    if active is not None:
        queryset = queryset.filter(active=active)
    if inclusive is not None:
        queryset = queryset.filter(inclusive=inclusive)
    return queryset


def _range(queryset: QuerySet, field: str, bounds: dict | None) -> QuerySet:
    """``due_date[gte]=…``-style filters (``{"eq": ts}`` for an exact second), as ``created`` has."""
    lookups = {"gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}
    for op, value in (bounds or {}).items():
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
        if op == "eq":
            queryset = queryset.filter(
                **{f"{field}__gte": moment, f"{field}__lt": moment + datetime.timedelta(seconds=1)}
            )
        else:
            queryset = queryset.filter(**{f"{field}{lookups[op]}": moment})
    return queryset


def invoice_list(
    *,
    merchant,
    livemode: bool,
    customer: str | None = None,
    status: str | None = None,
    collection_method: str | None = None,
    due_date: dict | None = None,
) -> QuerySet:
    queryset = scoped(Invoice, merchant=merchant, livemode=livemode).select_related(
        "customer__test_clock", "default_payment_method"
    )
    if customer:
        queryset = queryset.filter(customer__public_id=customer)
    if status:
        queryset = queryset.filter(status=status)
    if collection_method:
        queryset = queryset.filter(collection_method=collection_method)
    return _range(queryset, "due_date", due_date)


def invoice_item_list(
    *,
    merchant,
    livemode: bool,
    customer: str | None = None,
    invoice: str | None = None,
    pending: bool | None = None,
) -> QuerySet:
    queryset = scoped(InvoiceItem, merchant=merchant, livemode=livemode).select_related(
        "customer__test_clock", "invoice", "price"
    )
    if customer:
        queryset = queryset.filter(customer__public_id=customer)
    if invoice:
        queryset = queryset.filter(invoice__public_id=invoice)
    if pending is not None:
        queryset = queryset.filter(invoice__isnull=pending)
    return queryset


def invoice_payment_list(
    *,
    merchant,
    livemode: bool,
    invoice: str | None = None,
    status: str | None = None,
    payment_type: str | None = None,
    payment_intent: str | None = None,
) -> QuerySet:
    """The merchant's invoice payments in this mode (each one's merchant and mode are its invoice's).

    Every one Kassa makes is a PaymentIntent's (a payment made outside Kassa is recorded on the invoice and
    makes none), so ``payment_type="payment_intent"`` keeps them all; it is still a filter, not a given."""
    queryset = scoped(InvoicePayment, merchant=merchant, livemode=livemode).select_related("invoice", "payment_intent")
    if invoice:
        queryset = queryset.filter(invoice__public_id=invoice)
    if status:
        queryset = queryset.filter(status=status)
    if payment_type == "payment_intent":
        queryset = queryset.filter(payment_intent__isnull=False)
    if payment_intent:
        queryset = queryset.filter(payment_intent__public_id=payment_intent)
    return queryset


def _lines_query(queryset: QuerySet) -> QuerySet:
    return (
        queryset.select_related("price", "price__product", "subscription_item")
        .prefetch_related("tax_rates")
        .order_by("pk")
    )


def invoice_lines(invoice: Invoice) -> QuerySet:
    """An invoice's lines in the order they were added (Stripe lists them so).

    Each line's ``invoice`` is ``invoice`` itself (the related manager sets it), so the invoice and its
    subscription are not joined again: a renewal renders its invoice three times, and compiling those two wide
    joins was the largest single cost of a rendering (bench/renewals_profile.py)."""
    return _lines_query(invoice.items.all())


#: Where ``lines_prefetch`` puts the lines it read: an attribute of their own, not the ``items`` manager's cache,
#: so only readers that ask for them here (``invoice_lines_read``) ever use them.
_LINES_READ = "lines_read_with_invoice"


def lines_prefetch() -> Prefetch:
    """Read an invoice's lines with it (``prefetch_related(lines_prefetch(), "default_tax_rates")``), for its
    totals, its frozen taxes and its renderings (``invoice_lines_read``): once instead of once each. Only while
    nothing can add or remove a line of that instance: finalizing, under the invoice's row lock (a finalized
    invoice's lines never change again), and ``invoice_create`` for the new draft's totals and
    ``invoice.created``, which forgets them before it returns the draft (``lines_forget``)."""
    return Prefetch("items", queryset=_lines_query(InvoiceItem.objects.all()), to_attr=_LINES_READ)


def lines_made(invoice: Invoice, lines: list[tuple[InvoiceItem, list[TaxRate]]], default_tax_rates: list) -> None:
    """What ``prefetch_related_objects([invoice], lines_prefetch(), "default_tax_rates")`` would read, handed over
    instead of read back: the lines ``invoice_create`` has just inserted on its new draft (in the order of their
    ids, each with its price, product and subscription item in hand, and its tax rates) and the default tax rates
    it has just set. Nothing else can have written them since, in that same transaction."""
    for item, rates in lines:
        _prefetched(item, "tax_rates", rates)
    setattr(invoice, _LINES_READ, [item for item, _rates in lines])
    _prefetched(invoice, "default_tax_rates", default_tax_rates)


def _prefetched(obj, name: str, objects: list) -> None:
    """``objects`` as ``prefetch_related(name)`` leaves them on ``obj`` (``obj.<name>.all()`` reads nothing)."""
    queryset = getattr(obj, name).all()
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    obj._prefetched_objects_cache = {**getattr(obj, "_prefetched_objects_cache", {}), name: queryset}


def payments_read_with(invoice: Invoice, payments: list) -> None:
    """``payments``, all of the invoice's with their PaymentIntents, as read by the caller under the invoice's lock:
    its renderings in that transaction show them (the caller's copies, as it changes them) instead of reading them
    again (``InvoiceOut.get_payments``)."""
    _prefetched(invoice, "payments", payments)


def invoice_payments_read(invoice: Invoice) -> list[InvoicePayment]:
    """The invoice's payments with their PaymentIntents, in order: as read with it (``payments_read_with``), else
    now."""
    read = read_with(invoice, "payments")
    if read is not None:
        return read
    return list(invoice.payments.select_related("payment_intent").order_by("pk"))  # each one's invoice: this one


def invoice_open_payment(invoice: Invoice) -> InvoicePayment | None:
    """The invoice's open payment, with its PaymentIntent (one at most is open)."""
    return invoice.payments.filter(status=InvoicePayment.Status.OPEN).select_related("payment_intent").first()


def lines_read_with(invoice: Invoice) -> bool:
    """Whether the invoice's lines and default tax rates are read with it already (``lines_prefetch``, or handed
    over by ``lines_made``): then ``prefetch_related_objects`` would read nothing, but building its ``Prefetch``
    (a queryset of three joins) and walking it cost a fiftieth of a renewal."""
    return _LINES_READ in invoice.__dict__ and read_with(invoice, "default_tax_rates") is not None


def lines_forget(invoice: Invoice) -> None:
    """Drop what ``lines_prefetch`` read with ``invoice``, and its tax rates: from here on they are read when asked
    for (who holds it next may add a line)."""
    invoice.__dict__.pop(_LINES_READ, None)
    getattr(invoice, "_prefetched_objects_cache", {}).pop("default_tax_rates", None)


def invoice_lines_read(invoice: Invoice) -> list[InvoiceItem]:
    """``invoice_lines``, as read with the invoice when they were (``lines_prefetch``); an issued invoice's, as
    read earlier in the same batch (``issued_share``); else now."""
    cached = getattr(invoice, _LINES_READ, None)
    if cached is not None:
        return cached
    if invoice.status == Invoice.Status.DRAFT:
        return list(invoice_lines(invoice))
    return shared(("issued_lines", invoice.pk), lambda: list(invoice_lines(invoice)))


def invoice_default_tax_rates_read(invoice: Invoice) -> list[TaxRate]:
    """The invoice's default tax rates: as read with it when they were; an issued invoice's, as read earlier in
    the same batch (``issued_share``); else now."""
    read = read_with(invoice, "default_tax_rates")
    if read is not None:
        return read
    if invoice.status == Invoice.Status.DRAFT:
        return list(invoice.default_tax_rates.all())
    return shared(("issued_default_tax_rates", invoice.pk), lambda: list(invoice.default_tax_rates.all()))


def issued_share(invoice: Invoice) -> None:
    """Finalizing ``invoice`` (read with its lines and rates): they never change again, so inside a batch
    (``kassa.batch``: a renewal run) its later renderings (``invoice.paid`` once its charge succeeds,
    from another copy of the row) take them as read here instead of reading them again. Finalized again after a
    rollback, they are shared again from that reading."""
    share(("issued_lines", invoice.pk), invoice_lines_read(invoice))
    share(("issued_default_tax_rates", invoice.pk), many(invoice, "default_tax_rates"))


def invoice_urls(invoice: Invoice) -> tuple[str | None, str | None]:
    """(hosted_invoice_url, invoice_pdf): unguessable addresses by the invoice's token; none for a draft."""
    if invoice.status == Invoice.Status.DRAFT:
        return None, None
    base = f"{settings.KASSA_PUBLIC_URL.rstrip('/')}/invoices/{invoice.token}"
    return base, f"{base}/pdf"


def invoice_by_token(token: str) -> Invoice | None:
    """The hosted page's lookup (the token is the capability; drafts have no page)."""
    return (
        Invoice.objects.select_related("merchant", "customer")
        .exclude(status=Invoice.Status.DRAFT)
        .filter(token=token)
        .first()
    )
