"""``invoices.create_preview``: the next invoice of a customer or a subscription, computed, never written.

A selector: it reads the subscription, its items and the customer's pending invoice items, and builds an
*unsaved* invoice and unsaved lines with the very functions the writes use — the proration lines of
billing/subscriptions/prorations.py, a period's lines (services.common.period_lines, built as
invoices.invoice_subscription_line_build builds them), the first period and its stub (services.create), a
trial's end moved (services.changes.trial_end_moved), the invoice's taxes and totals of
billing/invoices/services/totals.py — so the preview is the invoice that the same change, creation or renewal
will make (tests hold them equal). Nothing is saved, no settings row is made, no event is recorded.

Which invoice, as at Stripe (https://docs.stripe.com/api/invoices/create_preview):

- a customer only: their pending invoice items (none: ``invoice_upcoming_none``);
- a customer and ``subscription_details[items]``, no subscription: the first invoice of that new subscription,
  with ``[trial_end]`` and ``[billing_cycle_anchor]`` (a time: the stub to it) as ``subscription_create`` takes
  them;
- a subscription: its next renewal — the customer's pending items, the prorations a proposed change
  (``subscription_details[items]``) would make at ``proration_date`` (default: now, on the customer's test
  clock if any), then the next period's lines for the items as changed; with ``[trial_end]``, the invoice the
  trial's new end brings (``now``: at once); with ``[billing_cycle_anchor]=now``, the invoice the cycle reset
  makes at once (the unused time credited, a period from now); ending with its period, the final invoice its
  pending prorations make (prorations.subscription_ending_invoice), if any;
- with ``proration_behavior=always_invoice``: the invoice the change makes at once (pending items and its
  prorations) — unless those add up to a credit, which waits for the renewal (prorations.py says why).

What-ifs, none written: ``invoice_items`` (new one-off items, checked as ``invoice_item_create`` checks them,
joining the pending ones), an item's ``price_data`` (a recurring price checked as ``price_create`` checks it),
``subscription_details[cancel_at_period_end]`` and ``[cancel_at]``. Not taken: an existing pending item's
change (``invoice_items[][invoiceitem]``).

Its id starts ``upcoming_in_`` and it is ``draft`` with ``billing_reason=upcoming``, as Stripe's.
"""

import copy
from dataclasses import dataclass
from datetime import datetime

from kassa.errors import InvalidRequest
from kassa.ids import public_id

from ..catalogue import services as catalogue
from ..catalogue.models import Customer, Price
from ..catalogue.selectors import customer_now
from ..invoices import services as invoicing
from ..invoices.models import Invoice, InvoiceItem, InvoiceSettings
from ..invoices.services.totals import item_taxes, totals_values
from .models import Subscription
from .prorations import (
    Key,
    charge_of,
    credit_carry_build,
    invoice_language,
    period_end_uncut,
    prorates_at,
    proration_item_build,
    prorations_between,
)
from .services.changes import anchor_now_alone_check, anchor_now_check, trial_end_moved
from .services.common import ENDED, period_after, period_lines, period_until_cancel
from .services.create import anchor_check, first_period, first_period_unbilled, items_check, trial_end_check

PREFIX = "upcoming_in"
BEHAVIORS = ("create_prorations", "always_invoice", "none")
#: ``cancel_at`` not given: the subscription's own.
KEEP = object()


@dataclass
class ItemChange:
    """One entry of ``subscription_details[items]``: an item of the subscription (``id``) to change or delete,
    or (no ``id``) an item to add."""

    id: str | None = None
    price: Price | None = None
    quantity: int | None = None
    deleted: bool = False
    #: ``price_data``: ``currency``, ``product`` (a Product), ``recurring``, ``unit_amount``; shown, never saved.
    price_data: dict | None = None


def _none(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invoice_upcoming_none")


def _items_after(subscription: Subscription, items, changes: list[ItemChange]) -> dict[Key, object]:
    """The items as they would be after ``changes``: key → (price, quantity, the item or None)."""
    after: dict[Key, object] = {item.pk: (item.price, item.quantity, item) for item in items}
    by_public_id = {item.public_id: item for item in items}
    for index, change in enumerate(changes):
        param = f"subscription_details[items][{index}]"
        if change.id is not None:
            item = by_public_id.get(change.id)
            if item is None:
                raise InvalidRequest(
                    f"No such subscription item: '{change.id}' on subscription {subscription.public_id}.",
                    code="resource_missing",
                    param=f"{param}[id]",
                )
            if change.deleted:
                after.pop(item.pk, None)
                continue
            price, quantity, _ = after[item.pk]
            after[item.pk] = (change.price or price, quantity if change.quantity is None else change.quantity, item)
            continue
        if change.deleted:
            raise InvalidRequest("deleted needs the id of the item to delete.", param=f"{param}[deleted]")
        if change.price is None:
            raise InvalidRequest("A new item needs a price.", code="parameter_missing", param=f"{param}[price]")
        after[f"new-{index}"] = (change.price, 1 if change.quantity is None else change.quantity, None)
    prices = [price.pk or price.public_id for price, _, _ in after.values()]
    if len(set(prices)) != len(prices):
        raise InvalidRequest(
            "A subscription cannot have the same price on two items.", param="subscription_details[items]"
        )
    reference = items[0].price if items else None
    for price, _, _ in after.values():
        if price.type != Price.Type.RECURRING:
            raise InvalidRequest(
                f"The price {price.public_id} is a one-time price; a subscription takes recurring prices only.",
                param="subscription_details[items]",
            )
        if price.currency != subscription.currency:
            raise InvalidRequest(
                f"The price {price.public_id} is in {price.currency.upper()}; the subscription is in "
                f"{subscription.currency.upper()}.",
                param="subscription_details[items]",
            )
        if reference is not None and (price.recurring_interval, price.recurring_interval_count or 1) != (
            reference.recurring_interval,
            reference.recurring_interval_count or 1,
        ):
            raise InvalidRequest(
                "Kassa does not preview a change to another billing interval (it would reset the billing cycle).",
                param="subscription_details[items]",
            )
    return after


def _lines_built(subscription: Subscription, lines: list[dict], now: datetime) -> list[InvoiceItem]:
    """A period's lines (services.common.period_lines) as the invoice would have them, unsaved."""
    built = []
    for line in lines:
        item = invoicing.invoice_subscription_line_build(
            merchant_id=subscription.merchant_id,
            livemode=subscription.livemode,
            customer_id=subscription.customer_id,
            line=line,
            now=now,
        )
        item.customer = subscription.customer
        item.preview_tax_rates = list(line["tax_rates"])
        built.append(item)
    return built


def invoice_preview(
    *,
    merchant,
    livemode: bool,
    now: datetime,
    customer: Customer | None = None,
    subscription: Subscription | None = None,
    items: list[ItemChange] | None = None,
    proration_behavior: str = "create_prorations",
    proration_date: datetime | None = None,
    invoice_items: list[dict] | None = None,
    cancel_at_period_end: bool | None = None,
    cancel_at=KEEP,
    trial_end: datetime | str | None = None,
    billing_cycle_anchor: datetime | str | None = None,
) -> Invoice:
    """The unsaved preview invoice; its lines are ``invoice.preview_lines`` (each with ``taxes``).

    ``invoice_items``: ``invoice_item_create``'s keyword arguments (``price``, ``amount``, ``currency``,
    ``quantity``, ``description``, ``tax_rates``, ``metadata``) of items to add. ``cancel_at_period_end`` (None:
    the subscription's own) and ``cancel_at`` (a time, None for none; ``KEEP``: the subscription's own).
    ``trial_end`` ("now" or a time) and ``billing_cycle_anchor`` ("now", "unchanged" or, for a new subscription,
    a time): as ``subscription_update`` / ``subscription_create`` take them. No ``subscription`` but ``items``: the
    first invoice of a new subscription of ``customer``."""
    if subscription is None and customer is None:
        raise InvalidRequest(
            "Give a customer or a subscription to preview.", code="parameter_missing", param="customer"
        )
    if subscription is not None:
        if customer is not None and customer.pk != subscription.customer_id:
            raise InvalidRequest(
                f"Subscription {subscription.public_id} is not customer {customer.public_id}'s.", param="subscription"
            )
        customer = subscription.customer
    if subscription is None and not items and (trial_end is not None or billing_cycle_anchor is not None):
        raise InvalidRequest(
            "subscription_details[trial_end] and [billing_cycle_anchor] need a subscription to change, or "
            "subscription_details[items] for a new one.",
            code="parameter_missing",
            param="subscription_details[items]",
        )
    if proration_behavior not in BEHAVIORS:
        raise InvalidRequest(f"proration_behavior must be one of {', '.join(BEHAVIORS)}.", param="proration_behavior")
    at = customer_now(customer=customer, now=now)
    _prices_built(items or [], merchant=merchant, livemode=livemode)
    added = _items_built(invoice_items or [], merchant=merchant, livemode=livemode, customer=customer, now=at)
    settings = InvoiceSettings.objects.filter(merchant=merchant).first()
    pending = list(
        InvoiceItem.objects.filter(customer=customer, invoice__isnull=True)
        .select_related("price__product", "subscription_item")
        .prefetch_related("tax_rates")
        .order_by("pk")
    )
    for line in pending:
        line.preview_tax_rates = list(line.tax_rates.all())
    pending += added
    invoice = Invoice(
        public_id=public_id(PREFIX),
        merchant=merchant,
        livemode=livemode,
        created=at,
        customer=customer,
        status=Invoice.Status.DRAFT,
        billing_reason="upcoming",
        auto_advance=True,
        footer=(settings.footer or None) if settings else None,
        period_start=at,
        period_end=at,
        language=invoice_language(customer),
    )
    defaults: list = []
    if subscription is None and items:
        lines = _new_subscription_lines(
            merchant=merchant,
            livemode=livemode,
            customer=customer,
            invoice=invoice,
            added=added,
            items=items,
            proration_behavior=proration_behavior,
            trial_end=trial_end,
            billing_cycle_anchor=billing_cycle_anchor,
            cancel_at=None if cancel_at is KEEP else cancel_at,
            at=at,
        )
    elif subscription is None:
        currency = pending[0].currency if pending else merchant.default_currency
        lines = [line for line in pending if line.currency == currency]
        if not lines:
            raise _none(f"No upcoming invoice: customer {customer.public_id} has no pending invoice items.")
        invoice.currency = currency
    else:
        lines = _subscription_lines(
            subscription=subscription,
            invoice=invoice,
            pending=pending,
            items=items or [],
            proration_behavior=proration_behavior,
            proration_date=proration_date,
            at=at,
            ends_at_period_end=subscription.cancel_at_period_end
            if cancel_at_period_end is None
            else cancel_at_period_end,
            cancel_at=subscription.cancel_at if cancel_at is KEEP else cancel_at,
            trial_end=trial_end,
            billing_cycle_anchor=billing_cycle_anchor,
            given=[
                name
                for name, given in (
                    ("trial_end", trial_end is not None),
                    ("cancel_at", cancel_at is not KEEP),
                    ("cancel_at_period_end", cancel_at_period_end is not None),
                )
                if given
            ],
        )
        defaults = list(subscription.default_tax_rates.all())
    _items_currency_check(added, invoice.currency)
    for line in lines:
        line.preview_invoice = invoice  # what the line's parent and subscription are read from
        line.taxes = item_taxes(line, sorted(line.preview_tax_rates, key=lambda rate: rate.pk) or defaults)
    values = totals_values([(line.amount, line.taxes) for line in lines])
    for name, value in values.items():
        setattr(invoice, name, value)
    invoice.preview_lines = lines
    invoice.preview_default_tax_rates = defaults
    return invoice


def _prices_built(changes: list[ItemChange], *, merchant, livemode: bool) -> None:
    """Each change's ``price_data`` made into its (unsaved) ``price``, checked as ``price_create`` checks one."""
    for index, change in enumerate(changes):
        if change.price_data is None:
            continue
        param = f"subscription_details[items][{index}]"
        if change.price is not None:
            raise InvalidRequest(f"Give either {param}[price] or {param}[price_data].", param=f"{param}[price]")
        data = change.price_data
        try:
            change.price = catalogue.price_build(
                merchant=merchant,
                livemode=livemode,
                currency=data.get("currency") or "",
                unit_amount=data.get("unit_amount"),
                product=data["product"],
                recurring=data.get("recurring"),
            )
        except InvalidRequest as exc:
            exc.param = _nested(f"{param}[price_data]", exc.param)
            raise


def _nested(prefix: str, param: str | None) -> str:
    """``recurring[interval]`` under ``prefix``: ``prefix[recurring][interval]``."""
    if not param:
        return prefix
    head, bracket, rest = param.partition("[")
    return f"{prefix}[{head}]{bracket}{rest}"


def _items_currency_check(added: list[InvoiceItem], currency: str) -> None:
    for index, line in enumerate(added):
        if line.currency != currency:
            raise InvalidRequest(
                f"The item is in {line.currency.upper()}; the invoice previewed is in {currency.upper()}.",
                param=f"invoice_items[{index}][currency]",
            )


def _items_built(entries: list[dict], *, merchant, livemode: bool, customer, now: datetime) -> list[InvoiceItem]:
    """The ``invoice_items`` to add, unsaved, each checked as ``invoice_item_create`` checks one."""
    built = []
    for index, entry in enumerate(entries):
        try:
            line, rates = invoicing.invoice_item_build(
                merchant=merchant, livemode=livemode, customer=customer, now=now, **entry
            )
        except InvalidRequest as exc:
            exc.param = _nested(f"invoice_items[{index}]", exc.param)
            raise
        line.preview_tax_rates = rates
        built.append(line)
    return built


def _new_subscription_lines(
    *,
    merchant,
    livemode,
    customer,
    invoice,
    added,
    items,
    proration_behavior,
    trial_end,
    billing_cycle_anchor,
    cancel_at,
    at,
) -> list[InvoiceItem]:
    """The first invoice ``subscription_create`` would make for ``items`` (its rules, on an unsaved subscription):
    the trial's zero lines, the stub to a later anchor (its share, or nothing with ``proration_behavior=none``),
    or a full period, cut short at a ``cancel_at`` inside it; with the ``invoice_items`` given (a first invoice
    takes no pending item, as at Stripe)."""
    entries = []
    for index, change in enumerate(items):
        if change.id is not None or change.deleted:
            raise InvalidRequest(
                "A new subscription's items take a price and a quantity (no id: there is no subscription yet).",
                param=f"subscription_details[items][{index}][id]",
            )
        entries.append({"price": change.price, "quantity": 1 if change.quantity is None else change.quantity})
    try:
        checked = items_check(entries, merchant=merchant, livemode=livemode)
        trial = trial_end_check(now=at, trial_end=trial_end, trial_period_days=None)
        anchor, day = anchor_check(
            now=at,
            trial_end=trial,
            billing_cycle_anchor=_anchor_for_new(billing_cycle_anchor, at),
            day_of_month=None,
        )
    except InvalidRequest as exc:
        exc.param = _nested("subscription_details", exc.param)
        raise
    first_price = checked[0][0]
    subscription = Subscription(
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        currency=first_price.currency,
        billing_cycle_anchor=anchor,
        billing_cycle_anchor_day_of_month=day,
        trial_end=trial,
    )
    start, end = first_period(subscription, first_price, at)
    end, whole_end = period_until_cancel(cancel_at, start, end)
    lines = period_lines(
        subscription=subscription,
        items=[(None, price, quantity, rates) for price, quantity, _metadata, rates in checked],
        start=start,
        end=end,
        trial=bool(trial),
        unbilled=first_period_unbilled(subscription, start, proration_behavior),
        whole_end=whole_end,
    )
    invoice.currency = subscription.currency
    invoice.collection_method = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
    invoice.subscription_period_start = start
    return [*added, *_lines_built(subscription, lines, at)]


def _anchor_for_new(billing_cycle_anchor, at: datetime) -> datetime | None:
    """A new subscription's ``billing_cycle_anchor``: a time; ``now`` is the start (the default), and ``unchanged``
    keeps the default too."""
    if billing_cycle_anchor in (None, "unchanged", "now"):
        return None
    return billing_cycle_anchor


def _final_lines(subscription, invoice, lines, prorations, cancel_at, period_start, renews_at) -> list[InvoiceItem]:
    """A subscription ending with its period: the final invoice its end makes when it has pending prorations
    adding up to a charge (prorations.subscription_ending_invoice's rule), else none. A what-if ``cancel_at``
    inside the period would first credit the time it cuts, which the preview does not compute: none shown."""
    ends_at = cancel_at if cancel_at is not None and cancel_at <= renews_at else renews_at
    cut_here = cancel_at is not None and period_start < cancel_at < renews_at
    own = [
        line
        for line in lines
        if line.proration
        and line.subscription_item_id is not None
        and line.subscription_item.subscription_id == subscription.pk
    ]
    if cut_here or not (own or prorations) or sum(line.amount for line in lines) <= 0:
        raise _none(f"No upcoming invoice: subscription {subscription.public_id} ends with its current period.")
    invoice.created = invoice.period_start = invoice.period_end = ends_at
    return lines


def _proration_lines_built(subscription, invoice, current, after, when, at) -> list[InvoiceItem]:
    """The proration lines of going from the ``current`` items to ``after`` at ``when``, unsaved."""
    changed = prorations_between(
        before={item.pk: charge_of(item.price, item.quantity) for item in current},
        after={key: charge_of(price, quantity) for key, (price, quantity, _) in after.items()},
        period_start=current[0].current_period_start,
        period_end=period_end_uncut(subscription, current[0]),
        at=when,
        language=invoice.language,
        until=current[0].current_period_end,
    )
    by_key = {item.pk: item for item in current}
    built = []
    for key, proration in changed:
        item = by_key.get(key)
        line = proration_item_build(subscription=subscription, subscription_item=item, line=proration, now=at)
        line.preview_tax_rates = list(item.tax_rates.all()) if item is not None else []
        built.append(line)
    return built


def _cycle_reset_lines(subscription, invoice, lines, current, after, proration_behavior, when, at):
    """``billing_cycle_anchor=now``: the invoice the update makes at once (services.changes._cycle_reset): what
    is pending, the unused time of every current item credited (per ``proration_behavior``), and the new period
    from now of the items as changed; a net credit carried, as a renewal carries it."""
    if proration_behavior != "none" and prorates_at(subscription, when):
        lines = [*lines, *_proration_lines_built(subscription, invoice, current, {}, when, at)]
    if not after:
        raise _none("No upcoming invoice: the change would leave the subscription without items.")
    reset = copy.copy(subscription)
    reset.billing_cycle_anchor = at
    reset.billing_cycle_anchor_day_of_month = None
    lines += _period_lines_built(reset, invoice, after, at, cancel_at=reset.cancel_at)
    return _credit_carried(subscription, lines, invoice.period_start)


def _anchor_now(subscription, billing_cycle_anchor, given=()) -> bool:
    """An existing subscription's ``billing_cycle_anchor``: ``unchanged`` (as not given) or ``now`` (True: the
    update's cycle reset, its rules checked as the update checks them, ``given`` the names given with it); never a
    time (Stripe's rule)."""
    if billing_cycle_anchor in (None, "unchanged"):
        return False
    param = "subscription_details[billing_cycle_anchor]"
    if billing_cycle_anchor != "now":
        raise InvalidRequest(
            "For an existing subscription, billing_cycle_anchor can only be now or unchanged.", param=param
        )
    anchor_now_check(subscription, param=param)
    anchor_now_alone_check(given, param=lambda name: f"subscription_details[{name}]")
    return True


def _subscription_lines(
    *,
    subscription,
    invoice,
    pending,
    items,
    proration_behavior,
    proration_date,
    at,
    ends_at_period_end,
    cancel_at,
    trial_end=None,
    billing_cycle_anchor=None,
    given=(),
) -> list[InvoiceItem]:
    """``given``: the names of ``subscription_details``' changes to the periods given (``billing_cycle_anchor=now``
    comes with none of them)."""
    if subscription.status in ENDED:
        raise _none(f"No upcoming invoice: subscription {subscription.public_id} has ended.")
    anchor_now = _anchor_now(subscription, billing_cycle_anchor, given)
    if trial_end is not None:
        # The update's own rule, on a copy: the trial's end (and the anchor that followed it) moved.
        subscription = copy.copy(subscription)
        trial_end_moved(subscription, trial_end, at, param="subscription_details[trial_end]")
    current = list(subscription.items.select_related("price__product").prefetch_related("tax_rates").order_by("pk"))
    if not current:
        raise _none(f"No upcoming invoice: subscription {subscription.public_id} has no items.")
    period_start, period_end = current[0].current_period_start, current[0].current_period_end
    when = proration_date or at
    if not period_start <= when < period_end:
        raise InvalidRequest(
            "proration_date must fall within the subscription's current period "
            f"({int(period_start.timestamp())} to {int(period_end.timestamp())}).",
            param="subscription_details[proration_date]",
        )
    after = _items_after(subscription, current, items)
    invoice.currency = subscription.currency
    invoice.collection_method = subscription.collection_method
    invoice.default_payment_method = subscription.default_payment_method
    invoice.description = subscription.description
    invoice.subscription = subscription
    invoice.preview_proration_date = when if items or anchor_now else None
    lines = [line for line in pending if line.currency == subscription.currency]
    if anchor_now:
        return _cycle_reset_lines(subscription, invoice, lines, current, after, proration_behavior, when, at)
    prorations: list[InvoiceItem] = []
    if items and proration_behavior != "none" and prorates_at(subscription, when):
        prorations = _proration_lines_built(subscription, invoice, current, after, when, at)
    lines += prorations
    if proration_behavior == "always_invoice" and prorations and sum(line.amount for line in lines) > 0:
        invoice.billing_reason = "upcoming"
        invoice.period_start = invoice.period_end = when
        return lines
    # The next invoice: at the current period's end, or at the trial's end as moved (now: made at once).
    renews_at = subscription.trial_end if trial_end is not None else period_end
    if ends_at_period_end or (cancel_at is not None and cancel_at <= renews_at):
        return _final_lines(subscription, invoice, lines, prorations, cancel_at, period_start, renews_at)
    if not after:
        raise _none("No upcoming invoice: the change would leave the subscription without items.")
    lines += _period_lines_built(subscription, invoice, after, renews_at, cancel_at=cancel_at)
    return _credit_carried(subscription, lines, invoice.period_start)


def _period_lines_built(subscription, invoice, after, at: datetime, *, cancel_at=None) -> list[InvoiceItem]:
    """The lines of the period that starts at ``at`` for the items ``after`` (the invoice dated then), cut short at
    a ``cancel_at`` inside it as the renewal cuts it (``period_until_cancel``)."""
    first_price = next(iter(after.values()))[0]
    start, whole_end = period_after(subscription, first_price, at)
    end, whole_end = period_until_cancel(cancel_at, start, whole_end)
    invoice.created = invoice.period_start = invoice.period_end = start
    invoice.subscription_period_start = start
    period = period_lines(
        subscription=subscription,
        items=[
            (item, price, quantity, list(item.tax_rates.all()) if item is not None else [])
            for price, quantity, item in after.values()
        ],
        start=start,
        end=end,
        trial=False,
        whole_end=whole_end,
    )
    return _lines_built(subscription, period, start)


def _credit_carried(subscription, lines: list[InvoiceItem], start: datetime) -> list[InvoiceItem]:
    """Lines adding up to a credit: the line bringing them to zero, as the renewal adds it
    (prorations.credit_carry_forward)."""
    subtotal = sum(line.amount for line in lines)
    if subtotal < 0:
        carried, _ = credit_carry_build(
            customer=subscription.customer,
            merchant_id=subscription.merchant_id,
            livemode=subscription.livemode,
            currency=subscription.currency,
            credit=-subtotal,
            now=start,
        )
        carried.preview_tax_rates = []
        lines.append(carried)
    return lines
