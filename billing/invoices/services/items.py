"""Invoice items (``ii_``): pending on a customer until an invoice takes them, then lines of a draft.

Priced by a one-time price (amount = the price's unit amount times quantity) or by
``amount`` + ``currency`` (the line's whole amount). An item changes or goes
away only while it is pending or on a draft; its invoice's totals follow in
the same transaction. Kassa keeps no customer balance, so an item is never a
credit: a negative amount or quantity is refused.
"""

from datetime import datetime

from django.db import transaction

from kassa import metadata as md
from kassa import money
from kassa.db import insert_many, new
from kassa.errors import InvalidRequest
from kassa.ids import public_id
from webhooks.services.outbox import event_emit, render

from ...catalogue.models import Customer, Price
from ...catalogue.selectors import customer_now
from ..models import Invoice, InvoiceItem
from .common import draft_lock, tax_rates_check, totals_refresh

PRICE_PARAM = "pricing[price]"
#: The largest quantity InvoiceItem.quantity holds on every database (PostgreSQL's integer column).
QUANTITY_MAX = 2_147_483_647


def _price_check(price: Price, *, merchant, livemode: bool) -> None:
    if price.merchant_id != merchant.pk or price.livemode != livemode:
        raise InvalidRequest(f"No such price: '{price.public_id}'", code="resource_missing", param=PRICE_PARAM)
    if not price.active:
        raise InvalidRequest(f"The price {price.public_id} is archived (active=false).", param=PRICE_PARAM)
    if price.type != Price.Type.ONE_TIME:
        raise InvalidRequest(
            f"The price {price.public_id} is recurring; invoice items take one-time prices only.", param=PRICE_PARAM
        )


def _quantity_check(quantity) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= QUANTITY_MAX:
        raise InvalidRequest(f"quantity must be a whole number from 0 to {QUANTITY_MAX}.", param="quantity")
    return quantity


def _period(period: dict | None, now: datetime, current: tuple[datetime, datetime] | None = None):
    if not period:
        return current or (now, now)
    start, end = period.get("start"), period.get("end")
    if start is None or end is None:
        name = "period[start]" if start is None else "period[end]"
        raise InvalidRequest(f"Missing required param: {name}.", code="parameter_missing", param=name)
    if end < start:
        raise InvalidRequest("The period's end must not be before its start.", param="period[end]")
    return start, end


def _pricing(
    *, price: Price | None, amount: int | None, currency: str | None, quantity: int
) -> tuple[str, int | None, int]:
    """(currency, unit_amount, amount) of an item, every rule checked."""
    if price is not None and amount is not None:
        raise InvalidRequest("Give either pricing[price] or amount, not both.", param="amount")
    if price is not None:
        if currency and currency != price.currency:
            raise InvalidRequest(f"The price is in {price.currency.upper()}, not {currency.upper()}.", param="currency")
        total = price.unit_amount * quantity
        money.check(total, price.currency, param="quantity")
        return price.currency, price.unit_amount, total
    if amount is None:
        raise InvalidRequest(
            "Missing required param: amount (or pricing[price]).", code="parameter_missing", param="amount"
        )
    if not currency:
        raise InvalidRequest("Missing required param: currency.", code="parameter_missing", param="currency")
    if isinstance(amount, int) and not isinstance(amount, bool) and amount < 0:
        raise InvalidRequest(
            "amount must be 0 or more: Kassa keeps no customer balance, so an item cannot be a credit.",
            param="amount",
        )
    money.check(amount, currency, param="amount")
    return currency, None, amount


def _invoice_check(invoice: Invoice, *, customer: Customer, currency: str) -> Invoice:
    return _draft_matches(draft_lock(invoice), customer=customer, currency=currency)


def _draft_matches(locked: Invoice, *, customer: Customer, currency: str) -> Invoice:
    if locked.customer_id != customer.pk:
        raise InvalidRequest(f"Invoice {locked.public_id} is for another customer than this item.", param="invoice")
    if locked.currency != currency:
        raise InvalidRequest(
            f"The item is in {currency.upper()} but invoice {locked.public_id} is in {locked.currency.upper()}.",
            param="currency",
        )
    return locked


def invoice_item_build(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    now: datetime,
    price: Price | None = None,
    amount: int | None = None,
    currency: str | None = None,
    quantity: int = 1,
    description: str | None = None,
    tax_rates=None,
    period: dict | None = None,
    metadata=None,
    discountable: bool = True,
) -> tuple[InvoiceItem, list]:
    """An unsaved pending item of ``customer`` and its tax rates, every rule checked: what ``invoice_item_create``
    saves, and what ``invoices.create_preview``'s ``invoice_items`` show without saving."""
    if customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    now = customer_now(customer=customer, now=now)  # a test clock's customer: created on the clock's time
    quantity = _quantity_check(quantity)
    if price is not None:
        _price_check(price, merchant=merchant, livemode=livemode)
    currency, unit_amount, amount = _pricing(
        price=price, amount=amount, currency=currency.lower() if currency else None, quantity=quantity
    )
    rates = tax_rates_check(tax_rates, merchant=merchant, livemode=livemode, param="tax_rates")
    start, end = _period(period, now)
    item = InvoiceItem(
        public_id=public_id(InvoiceItem.PREFIX),
        line_id=public_id(InvoiceItem.LINE_PREFIX),
        merchant=merchant,
        livemode=livemode,
        created=now,
        customer=customer,
        price=price,
        currency=currency,
        unit_amount=unit_amount,
        quantity=quantity,
        amount=amount,
        description=description or None,
        period_start=start,
        period_end=end,
        discountable=discountable,
        metadata=md.merge({}, metadata),
    )
    return item, rates


@transaction.atomic
def invoice_item_create(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    now: datetime,
    price: Price | None = None,
    amount: int | None = None,
    currency: str | None = None,
    quantity: int = 1,
    description: str | None = None,
    tax_rates=None,
    invoice: Invoice | None = None,
    period: dict | None = None,
    metadata=None,
    discountable: bool = True,
) -> InvoiceItem:
    """A pending item of ``customer``, or a line of its draft ``invoice``."""
    item, rates = invoice_item_build(
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        now=now,
        price=price,
        amount=amount,
        currency=currency,
        quantity=quantity,
        description=description,
        tax_rates=tax_rates,
        period=period,
        metadata=metadata,
        discountable=discountable,
    )
    before = None
    if invoice is not None:
        invoice = _invoice_check(invoice, customer=customer, currency=item.currency)
        before = render(invoice)
    item.invoice = invoice
    item.save(force_insert=True)
    item.tax_rates.set(rates)
    if invoice is not None:
        param = "amount" if price is None else "quantity"
        totals_refresh(invoice, before, param=param)
    event_emit(type="invoiceitem.created", obj=item)
    return item


def _reprice(item: InvoiceItem, changes: dict) -> None:
    """A new price, a new amount or a new quantity: the item's amount again, every rule checked."""
    if "price" in changes and "amount" in changes:
        raise InvalidRequest("Give either pricing[price] or amount, not both.", param="amount")
    if "price" in changes:
        _price_check(changes["price"], merchant=item.merchant, livemode=item.livemode)
        if changes["price"].currency != item.currency:
            raise InvalidRequest(
                f"The price is in {changes['price'].currency.upper()}, the item in {item.currency.upper()}.",
                param=PRICE_PARAM,
            )
        item.price = changes["price"]
    if "amount" in changes:
        item.price = None
        _currency, item.unit_amount, item.amount = _pricing(
            price=None, amount=changes["amount"], currency=item.currency, quantity=item.quantity
        )
    elif item.price is not None:
        _currency, item.unit_amount, item.amount = _pricing(
            price=item.price, amount=None, currency=item.currency, quantity=item.quantity
        )


def _editable(item: InvoiceItem) -> tuple[InvoiceItem, Invoice | None]:
    """The item and its draft invoice under their row locks (invoice first, as everywhere), or a 400."""
    invoice = None
    if item.invoice_id is not None:
        invoice = draft_lock(item.invoice)
    locked = InvoiceItem.objects.select_for_update().get(pk=item.pk)
    if locked.invoice_id != (invoice.pk if invoice else None):
        raise InvalidRequest("The item moved to another invoice meanwhile; try again.", param="invoice")
    return locked, invoice


@transaction.atomic
def invoice_item_update(*, item: InvoiceItem, now: datetime, **changes) -> InvoiceItem:
    """Change a pending item or a line of a draft; its invoice's totals follow."""
    item, invoice = _editable(item)
    now = customer_now(customer=item.customer, now=now)
    before = render(item)
    invoice_before = render(invoice) if invoice else None
    if "quantity" in changes:
        item.quantity = _quantity_check(changes["quantity"])
    _reprice(item, changes)
    if "description" in changes:
        item.description = changes["description"] or None
    if "discountable" in changes:
        item.discountable = changes["discountable"]
    if "period" in changes:
        item.period_start, item.period_end = _period(changes["period"], now, (item.period_start, item.period_end))
    if "metadata" in changes:
        item.metadata = md.merge(item.metadata, changes["metadata"])
    item.save()
    if "tax_rates" in changes:
        rates = tax_rates_check(changes["tax_rates"], merchant=item.merchant, livemode=item.livemode, param="tax_rates")
        item.tax_rates.set(rates)
    if invoice is not None:
        param = next(
            (name for name in ("amount", "quantity", "price", "tax_rates") if name in changes), "invoice"
        ).replace("price", PRICE_PARAM)
        totals_refresh(invoice, invoice_before, param=param)
        item.refresh_from_db(fields=["taxes"])
    event_emit(type="invoiceitem.updated", obj=item, before=before)
    return item


@transaction.atomic
def invoice_item_delete(*, item: InvoiceItem) -> str:
    """Delete a pending item or a line of a draft (Stripe's deleted object is its id); returns the id."""
    item, invoice = _editable(item)
    last = render(item)
    invoice_before = render(invoice) if invoice else None
    event_emit(type="invoiceitem.deleted", obj=item, data_object={**last, "deleted": True})
    item.delete()
    if invoice is not None:
        totals_refresh(invoice, invoice_before)
    return last["id"]


def invoice_subscription_line_build(
    *, merchant_id: int, livemode: bool, customer_id: int, line: dict, now: datetime, invoice: Invoice | None = None
) -> InvoiceItem:
    """One line of a subscription's period, unsaved, checked as invoice items are (``line``: as in
    ``subscription_lines_build``). ``invoices.create_preview`` shows it as the period's invoice would
    have it."""
    price = line["price"]
    quantity = _quantity_check(line["quantity"])
    amount = line.get("amount")
    if amount is None:
        amount = price.unit_amount * quantity
    money.check(abs(amount), price.currency, param="quantity")
    return new(
        InvoiceItem,
        public_id=public_id(InvoiceItem.PREFIX),
        line_id=public_id(InvoiceItem.LINE_PREFIX),
        merchant_id=merchant_id,
        livemode=livemode,
        created=now,
        customer_id=customer_id,
        invoice=invoice,
        price=price,
        currency=price.currency,
        unit_amount=price.unit_amount,
        quantity=quantity,
        amount=amount,
        description=line.get("description") or None,
        period_start=line["period_start"],
        period_end=line["period_end"],
        proration=line.get("proration", False),
        subscription_item=line["subscription_item"],
    )


def subscription_lines_build(*, invoice: Invoice, lines: list[dict], now: datetime) -> list[tuple[InvoiceItem, list]]:
    """The lines of one period a subscription puts on the draft ``invoice_create`` is making for it (one per
    item), made in memory, each with its tax rates, for ``subscription_lines_insert``: the draft may not be
    inserted yet (``invoice_create`` totals it with them first, when they are all it has). Each of ``lines`` holds
    ``subscription_item``, ``price``, ``quantity``, ``period_start``, ``period_end``, and optionally ``amount``,
    ``description``, ``proration``, ``tax_rates``. The same checks, all as invoice items are checked, before
    anything is written."""
    items, rates = [], []
    for line in lines:
        _draft_matches(invoice, customer=invoice.customer, currency=line["price"].currency)
        items.append(
            invoice_subscription_line_build(
                merchant_id=invoice.merchant_id,
                livemode=invoice.livemode,
                customer_id=invoice.customer_id,
                line=line,
                now=now,
                invoice=invoice,
            )
        )
        rates.append(list(line.get("tax_rates", ())))
    return list(zip(items, rates, strict=True))


def subscription_lines_insert(*, invoice: Invoice, lines: list[tuple[InvoiceItem, list]]) -> None:
    """``subscription_lines_build``'s lines inserted on ``invoice``, the draft now inserted, in one statement, in
    their order (their ids'), with their tax rates. The draft is that transaction's own new row (nobody else sees
    it yet): no lock to take."""
    items = [item for item, _rates in lines]
    for item in items:
        item.invoice = invoice  # its id now: the line was built before the draft had one
    insert_many(items)  # a statement built once per number of lines (kassa.db): a renewal makes one
    through = InvoiceItem.tax_rates.through
    links = [through(invoiceitem_id=item.pk, taxrate_id=rate.pk) for item, own in lines for rate in own]
    if links:
        through.objects.bulk_create(links)
