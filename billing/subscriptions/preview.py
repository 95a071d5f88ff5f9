"""``invoices.create_preview``: the next invoice of a customer or a subscription, computed, never written.

A selector: it reads the subscription, its items and the customer's pending invoice items, and builds an
*unsaved* invoice and unsaved lines with the same rules the writes use — the proration lines of
billing/subscriptions/prorations.py, the renewal's lines (one per item, its price times its quantity, for
the period after the current one), the invoice's taxes and totals of billing/invoices/services/totals.py — so
the preview is the invoice that the same change and renewal will make (a test holds them equal). Nothing
is saved, no settings row is made, no event is recorded.

Which invoice, as at Stripe (https://docs.stripe.com/api/invoices/create_preview):

- a customer only: their pending invoice items (none: ``invoice_upcoming_none``);
- a subscription: its next renewal — the customer's pending items, the prorations a proposed change
  (``subscription_details[items]``) would make at ``proration_date`` (default: now, on the customer's test
  clock if any), then the next period's lines for the items as changed;
- with ``proration_behavior=always_invoice``: the invoice the change makes at once (pending items and its
  prorations) — unless those add up to a credit, which waits for the renewal (prorations.py says why).

What-ifs, none written: ``invoice_items`` (new one-off items, checked as ``invoice_item_create`` checks them,
joining the pending ones), an item's ``price_data`` (a recurring price checked as ``price_create`` checks it),
``subscription_details[cancel_at_period_end]`` and ``[cancel_at]`` (a subscription ending with its current
period has no next invoice). Not taken: ``trial_end``, ``billing_cycle_anchor`` (a new cycle), an existing
pending item's change (``invoice_items[][invoiceitem]``).

Its id starts ``upcoming_in_`` and it is ``draft`` with ``billing_reason=upcoming``, as Stripe's.
"""

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
from . import periods
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
from .services.common import ENDED

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


def _next_period(subscription: Subscription, price: Price, start: datetime) -> tuple[datetime, datetime]:
    return periods.period_at(
        anchor=subscription.billing_cycle_anchor,
        interval=price.recurring_interval,
        count=price.recurring_interval_count or 1,
        at=start,
        start=start,
        day_of_month=subscription.billing_cycle_anchor_day_of_month,
    )


def _renewal_line(subscription, key, price, quantity, item, start, end, now) -> InvoiceItem:
    line = InvoiceItem(
        public_id=public_id(InvoiceItem.PREFIX),
        line_id=public_id(InvoiceItem.LINE_PREFIX),
        merchant_id=subscription.merchant_id,
        livemode=subscription.livemode,
        created=now,
        customer=subscription.customer,
        price=price,
        currency=price.currency,
        unit_amount=price.unit_amount,
        quantity=quantity,
        amount=price.unit_amount * quantity,
        description=price.product.name,
        period_start=start,
        period_end=end,
        discountable=True,
        subscription_item=item,
    )
    line.preview_tax_rates = list(item.tax_rates.all()) if item is not None else []
    return line


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
) -> Invoice:
    """The unsaved preview invoice; its lines are ``invoice.preview_lines`` (each with ``taxes``).

    ``invoice_items``: ``invoice_item_create``'s keyword arguments (``price``, ``amount``, ``currency``,
    ``quantity``, ``description``, ``tax_rates``, ``metadata``) of items to add. ``cancel_at_period_end`` (None:
    the subscription's own) and ``cancel_at`` (a time, None for none; ``KEEP``: the subscription's own)."""
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
    if items and subscription is None:
        raise InvalidRequest(
            "subscription_details[items] needs a subscription to change.", param="subscription_details[items]"
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
    if subscription is None:
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


def _subscription_lines(
    *, subscription, invoice, pending, items, proration_behavior, proration_date, at, ends_at_period_end, cancel_at
) -> list[InvoiceItem]:
    if subscription.status in ENDED:
        raise _none(f"No upcoming invoice: subscription {subscription.public_id} has ended.")
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
    invoice.preview_proration_date = when if items else None
    lines = [line for line in pending if line.currency == subscription.currency]
    prorations: list[InvoiceItem] = []
    if items and proration_behavior != "none" and prorates_at(subscription, when):
        changed = prorations_between(
            before={item.pk: charge_of(item.price, item.quantity) for item in current},
            after={key: charge_of(price, quantity) for key, (price, quantity, _) in after.items()},
            period_start=period_start,
            period_end=period_end_uncut(subscription, current[0]),
            at=when,
            language=invoice.language,
            until=period_end,
        )
        by_key = {item.pk: item for item in current}
        for key, proration in changed:
            item = by_key.get(key)
            line = proration_item_build(subscription=subscription, subscription_item=item, line=proration, now=at)
            line.preview_tax_rates = list(item.tax_rates.all()) if item is not None else []
            prorations.append(line)
    lines += prorations
    if proration_behavior == "always_invoice" and prorations and sum(line.amount for line in lines) > 0:
        invoice.billing_reason = "upcoming"
        invoice.period_start = invoice.period_end = when
        return lines
    if ends_at_period_end or (cancel_at is not None and cancel_at <= period_end):
        raise _none(f"No upcoming invoice: subscription {subscription.public_id} ends with its current period.")
    if not after:
        raise _none("No upcoming invoice: the change would leave the subscription without items.")
    first_price = next(iter(after.values()))[0]
    start, end = _next_period(subscription, first_price, period_end)
    invoice.created = invoice.period_start = invoice.period_end = start
    invoice.subscription_period_start = start
    for key, (price, quantity, item) in after.items():
        lines.append(_renewal_line(subscription, key, price, quantity, item, start, end, start))
    subtotal = sum(line.amount for line in lines)
    if subtotal < 0:  # the renewal carries a larger credit forward (prorations.credit_carry_forward)
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
