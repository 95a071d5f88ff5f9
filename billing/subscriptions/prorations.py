"""Proration invoice items: what a subscription update credits and charges, pending or invoiced at once.

The amounts are billing/subscriptions/proration.py's (pure); this module turns a change of a subscription's
items into lines and writes them:

- ``proration_behavior=create_prorations`` (Stripe's default): each line becomes a *pending* invoice item of
  the customer (``proration=true``, ``parent.subscription_item_details``), which the subscription's next
  invoice takes (the renewal takes the customer's pending items, as at Stripe);
- ``always_invoice``: the same items, then at once an invoice (``billing_reason=subscription_update``) that
  takes them, finalized and charged as the subscription's other invoices are;
- ``none``: nothing (the caller does not call in).

A caller snapshots the items *before* changing them (``items_snapshot``), changes them, then calls
``subscription_prorations_create`` with the snapshot: the credit is always for the price and quantity in
force until the change — after an earlier change in the same period, that change's — never for what the
period was first invoiced at (Lago #1776). ``prorations_between`` is the same computation without writing,
for ``invoices.create_preview``.

Kassa keeps no customer balance: an always_invoice change whose lines add up to a credit (a downgrade) is
not invoiced at once — its items stay pending and lower the next invoice — rather than making an invoice
below zero whose credit would be lost.
"""

from datetime import datetime

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from kassa.errors import InvalidRequest
from kassa.ids import public_id
from webhooks.services.outbox import event_emit

from ..catalogue.models import Price
from ..invoices import services as invoices
from ..invoices.models import Invoice, InvoiceItem, InvoiceSettings
from ..invoices.selectors import lines_forget
from ..invoices.services.common import totals_refresh
from . import periods
from .collection import invoice_collect, invoice_collection_begin
from .models import Subscription, SubscriptionItem
from .proration import Charge, ProrationLine, price_prorates, proration_lines

#: An item of a snapshot: a subscription item's id (or, in a preview, any key of an item to be added).
Key = int | str


def charge_of(price: Price, quantity: int) -> Charge:
    return Charge(
        unit_amount=price.unit_amount,
        quantity=quantity,
        currency=price.currency,
        product_name=price.product.name,
        price=price,
    )


def items_snapshot(subscription: Subscription) -> dict[Key, Charge]:
    """What each item of the subscription charges now, by item id (taken before the items change)."""
    items = subscription.items.select_related("price__product").order_by("pk")
    return {item.pk: charge_of(item.price, item.quantity) for item in items}


def invoice_language(customer) -> str:
    """The language the customer's invoices are written in (read only: no settings row is made here)."""
    settings = InvoiceSettings.objects.filter(merchant_id=customer.merchant_id).first()
    return invoices.customer_language(customer, settings.default_locale if settings else "en")


def prorates_at(subscription: Subscription, at: datetime) -> bool:
    """Whether a change at ``at`` prorates: not in a trial (nothing was charged for it), nor once ended."""
    if subscription.status in (Subscription.Status.TRIALING, Subscription.Status.INCOMPLETE_EXPIRED):
        return False
    return not (subscription.trial_end is not None and at < subscription.trial_end)


def prorations_between(
    *,
    before: dict[Key, Charge],
    after: dict[Key, Charge],
    period_start: datetime,
    period_end: datetime,
    at: datetime,
    language: str,
    until: datetime | None = None,
) -> list[tuple[Key, ProrationLine]]:
    """The proration lines of going from ``before`` to ``after`` at ``at``, item by item (an item in ``before``
    only was removed, in ``after`` only added), in the items' order, each item's credit before its charge.
    ``until``: where the time billed ends when ``cancel_at`` cut the period short (``period_end`` is then the
    period's uncut end)."""
    lines = []
    for key in [*before, *(key for key in after if key not in before)]:
        old, new = before.get(key), after.get(key)
        old = old if old is not None and price_prorates(old.price) else None
        new = new if new is not None and price_prorates(new.price) else None
        if old is None and new is None:
            continue
        for line in proration_lines(
            period_start=period_start, period_end=period_end, at=at, old=old, new=new, language=language, until=until
        ):
            lines.append((key, line))
    return lines


def proration_item_build(
    *, subscription: Subscription, subscription_item: SubscriptionItem | None, line: ProrationLine, now: datetime
) -> InvoiceItem:
    """The pending invoice item of one proration line, unsaved (the preview shows it as it would be)."""
    return InvoiceItem(
        public_id=public_id(InvoiceItem.PREFIX),
        line_id=public_id(InvoiceItem.LINE_PREFIX),
        merchant_id=subscription.merchant_id,
        livemode=subscription.livemode,
        created=now,
        customer=subscription.customer,
        invoice=None,
        price=line.price,
        currency=line.currency,
        # Stripe gives a proration's unit amount as amount / quantity (pricing.unit_amount_decimal): none stored.
        unit_amount=None,
        quantity=line.quantity,
        amount=line.amount,
        description=line.description,
        period_start=line.period_start,
        period_end=line.period_end,
        discountable=False,
        proration=True,
        subscription_item=subscription_item,
    )


@transaction.atomic
def subscription_prorations_create(
    *, subscription: Subscription, before: dict[Key, Charge], at: datetime, now: datetime, ending: bool = False
) -> list[InvoiceItem]:
    """Pending proration items for the change from ``before`` (``items_snapshot`` taken before it) to the
    subscription's items as they are now (``ending``: to none, a cancellation with ``prorate``), at ``at`` (the
    change's time, or ``proration_date``), in the items' current period. ``invoiceitem.created`` for each, as
    at Stripe. Nothing in a trial."""
    items = {item.pk: item for item in subscription.items.select_related("price__product").order_by("pk")}
    if not items and not before:
        return []
    if not prorates_at(subscription, at):
        return []
    period_item = next(iter(items.values()), None)
    if period_item is None:
        # Every item removed: the period is the one they had (kept on the subscription's last invoice's lines).
        return []
    start, end = period_item.current_period_start, period_item.current_period_end
    full_end = period_end_uncut(subscription, period_item)
    if not start <= at < end:
        raise InvalidRequest(
            f"proration_date must fall within the current period ({int(start.timestamp())} to {int(end.timestamp())}).",
            param="proration_date",
        )
    after = {} if ending else {pk: charge_of(item.price, item.quantity) for pk, item in items.items()}
    lines = prorations_between(
        before=before,
        after=after,
        period_start=start,
        period_end=full_end,
        at=at,
        language=invoice_language(subscription.customer),
        until=end,
    )
    return _proration_items_save(subscription, items, lines, now)


def _proration_items_save(subscription: Subscription, items: dict, lines: list, now: datetime) -> list[InvoiceItem]:
    made = []
    for key, line in lines:
        item = proration_item_build(subscription=subscription, subscription_item=items.get(key), line=line, now=now)
        item.save()
        rates = list(items[key].tax_rates.all()) if key in items else []
        if rates:
            item.tax_rates.set(rates)
        event_emit(type="invoiceitem.created", obj=item)
        made.append(item)
    return made


def period_end_uncut(subscription: Subscription, item: SubscriptionItem) -> datetime:
    """The end of the item's current period as the anchor gives it: later than ``current_period_end`` when a
    ``cancel_at`` inside the period cut it short (the whole period stays what a second of it is worth)."""
    if subscription.cancel_at is None or item.current_period_end != subscription.cancel_at:
        return item.current_period_end
    _start, end = periods.period_at(
        anchor=subscription.billing_cycle_anchor,
        interval=item.price.recurring_interval,
        count=item.price.recurring_interval_count or 1,
        at=item.current_period_start,
        start=item.current_period_start,
        day_of_month=subscription.billing_cycle_anchor_day_of_month,
    )
    return max(end, item.current_period_end)


@transaction.atomic
def subscription_billed_until_prorations_create(
    *, subscription: Subscription, billed_until: datetime, period_end: datetime, now: datetime
) -> list[InvoiceItem]:
    """``cancel_at`` moved inside the current period (or out of it): the period now ends at ``billed_until``
    instead of the items' ``current_period_end`` (``period_end``: the period's uncut end). Earlier: each item's
    "Unused time on … after <billed_until>" credit up to the old end; later: its "Remaining time on … after
    <old end>" charge up to ``billed_until``. Nothing in a trial."""
    items = {item.pk: item for item in subscription.items.select_related("price__product").order_by("pk")}
    if not items or not prorates_at(subscription, now):
        return []
    first = next(iter(items.values()))
    start, old_end = first.current_period_start, first.current_period_end
    if billed_until == old_end:
        return []
    language = invoice_language(subscription.customer)
    lines = []
    for pk, item in items.items():
        charge = charge_of(item.price, item.quantity)
        if not price_prorates(item.price):
            continue
        if billed_until < old_end:
            made = proration_lines(
                period_start=start,
                period_end=period_end,
                at=billed_until,
                until=old_end,
                old=charge,
                new=None,
                language=language,
            )
        else:
            made = proration_lines(
                period_start=start,
                period_end=period_end,
                at=old_end,
                until=billed_until,
                old=None,
                new=charge,
                language=language,
            )
        lines.extend((pk, line) for line in made)
    return _proration_items_save(subscription, items, lines, now)


def pending_prorations(subscription: Subscription):
    """The subscription's proration items no invoice has taken yet."""
    return InvoiceItem.objects.filter(
        customer_id=subscription.customer_id,
        invoice__isnull=True,
        proration=True,
        subscription_item__subscription=subscription,
    )


def subscription_proration_invoice(*, subscription: Subscription, now: datetime) -> Invoice | None:
    """``always_invoice``: an invoice now (``billing_reason=subscription_update``) taking the customer's pending
    items, finalized and, for ``charge_automatically``, charged off-session like the subscription's other
    invoices (a declined card leaves it open, and the subscription's status follows it through invoicing's
    hooks), by the rule its renewals follow (``collection.invoice_collection_begin``: kept as a draft, voided or
    uncollectible while collection is paused, never attempted once unpaid). None when the pending lines add up to
    a credit or nothing: they wait for the next invoice."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        pending = InvoiceItem.objects.filter(
            customer_id=subscription.customer_id, invoice__isnull=True, currency=subscription.currency
        )
        if not pending_prorations(subscription).exists() or sum(item.amount for item in pending) <= 0:
            return None
        send = subscription.collection_method == Invoice.CollectionMethod.SEND_INVOICE
        invoice = invoices.invoice_create(
            merchant=subscription.merchant,
            livemode=subscription.livemode,
            customer=subscription.customer,
            now=now,
            collection_method=subscription.collection_method,
            days_until_due=subscription.days_until_due if send else None,
            pending_invoice_items_behavior="include",
            default_payment_method=subscription.default_payment_method,
            default_tax_rates=list(subscription.default_tax_rates.all()),
            currency=subscription.currency,
            description=subscription.description,
            billing_reason=Invoice.BillingReason.SUBSCRIPTION_UPDATE,
            subscription=subscription,
        )
        subscription.latest_invoice = invoice
        subscription.save(update_fields=["latest_invoice", "updated"])
        # Collected as the subscription's renewals are: not while its collection is paused, nor once it is unpaid.
        then = invoice_collection_begin(subscription, invoice, now=now)
    if then is not None:
        # After the commit, as a renewal's: charged by invoicing's first automatic attempt, keyed by the invoice
        # (beat's invoices_advance would make the same one, never a second charge), or voided; a decline leaves it
        # open to dunning, and the update itself stands, as at Stripe with payment_behavior=allow_incomplete.
        invoice_collect(*then, now=now)
    invoice.refresh_from_db()
    return invoice


def subscription_final_invoice(*, subscription: Subscription, now: datetime) -> Invoice | None:
    """A cancellation with ``invoice_now``, inside its transaction (the caller holds the subscription's lock): a
    final invoice now (``billing_reason=subscription_update``, Stripe's for an invoice a change makes) taking
    everything pending for the customer in the subscription's currency — the cancellation's own prorations, an
    earlier change's, invoice items — finalized. Lines that add up to a credit get the line bringing the
    invoice to zero (paid as it is finalized) and the credit stays pending for the customer's next invoice:
    Kassa's stand-in for Stripe's customer balance, which such an invoice credits. None when nothing is
    pending. The caller charges it (``charge_automatically``) once committed; ``send_invoice`` emails it as it
    is finalized when the customer has an email."""
    pending = InvoiceItem.objects.filter(
        customer_id=subscription.customer_id, invoice__isnull=True, currency=subscription.currency
    )
    if not pending.exists():
        return None
    return _final_invoice_make(
        subscription, now=now, billing_reason=Invoice.BillingReason.SUBSCRIPTION_UPDATE, collect=True
    )


def subscription_ending_invoice(
    *, subscription: Subscription, ended_at: datetime, now: datetime, collect: bool = True
) -> Invoice | None:
    """The renewal pass ending a subscription at its scheduled end (``cancel_at``, or the period's end with
    ``cancel_at_period_end``), inside its transaction under the lock: the subscription's pending prorations (an
    earlier change's, a ``cancel_at``'s credit) and the customer's other pending items in its currency, in a
    final invoice, finalized; the caller collects it once committed, per the collection method. Stripe: "If
    you've set the subscription to cancel at the end of the period, any pending prorations are also left in
    place and collected at the end of the period" (https://docs.stripe.com/api/subscriptions/cancel).

    ``billing_reason=subscription_cycle``: the invoice is made by the period's end reached, not by a request that
    changed the subscription (``subscription_update`` is for those: an update with ``always_invoice``, a cancel
    with ``invoice_now``). It is keyed, as a renewal's would be, by the period that would have followed
    (``subscription_period_start=ended_at``): the one-invoice-per-period constraint makes a second final invoice
    impossible whatever runs twice, and the charge is keyed by the invoice.

    None when there is nothing to bill: no pending proration of this subscription, or the pending lines add up
    to a credit or nothing (they wait for the customer's next invoice, as an ``always_invoice`` credit does).
    ``collect`` False (an ``unpaid`` subscription's invoices are not attempted): finalized and left open."""
    pending = InvoiceItem.objects.filter(
        customer_id=subscription.customer_id, invoice__isnull=True, currency=subscription.currency
    )
    if not pending_prorations(subscription).exists() or sum(item.amount for item in pending) <= 0:
        return None
    return _final_invoice_make(
        subscription,
        now=now,
        billing_reason=Invoice.BillingReason.SUBSCRIPTION_CYCLE,
        period_start=ended_at,
        collect=collect,
    )


def _final_invoice_make(
    subscription: Subscription,
    *,
    now: datetime,
    billing_reason: str,
    collect: bool,
    period_start: datetime | None = None,
) -> Invoice:
    """A subscription's last invoice, taking what is pending for the customer, finalized (its latest invoice)."""
    send = subscription.collection_method == Invoice.CollectionMethod.SEND_INVOICE
    invoice = invoices.invoice_create(
        merchant=subscription.merchant,
        livemode=subscription.livemode,
        customer=subscription.customer,
        now=now,
        collection_method=subscription.collection_method,
        days_until_due=subscription.days_until_due if send else None,
        pending_invoice_items_behavior="include",
        default_payment_method=subscription.default_payment_method,
        default_tax_rates=list(subscription.default_tax_rates.all()),
        currency=subscription.currency,
        description=subscription.description,
        billing_reason=billing_reason,
        subscription=subscription,
        subscription_period_start=period_start,
    )
    credit_carry_forward(invoice=invoice, now=now)
    subscription.latest_invoice = invoice
    subscription.save(update_fields=["latest_invoice", "updated"])
    return invoices.invoice_finalize(
        invoice=invoice, now=now, auto_advance=collect and (not send or bool(subscription.customer.email))
    )


def credit_carry_build(*, customer, merchant_id: int, livemode: bool, currency: str, credit: int, now: datetime):
    """The two items that carry ``credit`` (> 0) forward, unsaved: the line bringing an invoice to zero and
    the pending credit the next invoice takes (the preview shows the first as it would be)."""
    language = invoice_language(customer)
    with translation.override(language):
        carried = gettext("Credit carried to your next invoice")
        pending = gettext("Credit from your previous invoice")
    fields = {
        "merchant_id": merchant_id,
        "livemode": livemode,
        "created": now,
        "customer": customer,
        "currency": currency,
        "quantity": 1,
        "period_start": now,
        "period_end": now,
        "discountable": False,
    }
    line = InvoiceItem(
        public_id=public_id(InvoiceItem.PREFIX),
        line_id=public_id(InvoiceItem.LINE_PREFIX),
        amount=credit,
        description=carried,
        **fields,
    )
    item = InvoiceItem(
        public_id=public_id(InvoiceItem.PREFIX),
        line_id=public_id(InvoiceItem.LINE_PREFIX),
        amount=-credit,
        description=pending,
        **fields,
    )
    return line, item


def credit_carry_forward(*, invoice: Invoice, now: datetime) -> InvoiceItem | None:
    """A renewal whose credits (a downgrade's unused time) outweigh its charges: Kassa keeps no customer
    balance to hold the difference, so the draft gets a line bringing it to zero ("Credit carried to your next
    invoice") and the customer a pending item of the same credit, which their next invoice takes. Every
    proration line stays as computed (the table's amounts); nothing is lost, nothing refunded. None when the
    draft is not below zero. (With tax rates the lines' taxes are rounded each, so the total may end a unit
    away from zero.)"""
    totals_refresh(invoice)  # the lines were added through other copies of the row: its totals from them
    if invoice.subtotal >= 0:
        return None
    line, item = credit_carry_build(
        customer=invoice.customer,
        merchant_id=invoice.merchant_id,
        livemode=invoice.livemode,
        currency=invoice.currency,
        credit=-invoice.subtotal,
        now=now,
    )
    line.invoice = invoice
    line.save()
    lines_forget(invoice)  # a line more than were read with it (invoice_create's lines_kept)
    totals_refresh(invoice)
    item.save()
    event_emit(type="invoiceitem.created", obj=item)
    return item
