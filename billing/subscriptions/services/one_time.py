"""``add_invoice_items``: one-time prices billed on a subscription's first invoice only, as at Stripe.

Each entry is a one-time ``price`` (active, the merchant's, in the subscription's currency) or ``price_data``
(``currency``, ``product``, ``unit_amount``: a line of that amount named after the product, no price kept),
with ``quantity`` and ``tax_rates`` (else the subscription's defaults apply, as to its other lines). Everything
is checked before anything is written, with Stripe's parameter names; the lines go on the first invoice while it
is a draft, in the subscription's transaction. Checkout's one-time prices beside recurring ones in
``mode=subscription`` come here too.
"""

from datetime import datetime

from kassa import metadata as md
from kassa.errors import InvalidRequest

from ...catalogue.models import Price
from ...invoices import services as invoices
from ...invoices.models import Invoice
from ...invoices.services.common import tax_rates_check

ITEMS_MAX = 20


def invoice_items_check(entries, *, merchant, livemode: bool, currency: str, param: str = "add_invoice_items"):
    """``[{"price" | "amount", "quantity", "description", "tax_rates", "metadata"}]``, every rule checked."""
    if not entries:
        return []
    if len(entries) > ITEMS_MAX:
        raise InvalidRequest(f"At most {ITEMS_MAX} one-time items.", param=param)
    checked = []
    for n, entry in enumerate(entries):
        at = f"{param}[{n}]"
        price, data = entry.get("price"), entry.get("price_data")
        if (price is None) == (data is None):
            raise InvalidRequest(f"Give either {at}[price] or {at}[price_data].", param=f"{at}[price]")
        quantity = entry.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= invoices.QUANTITY_MAX:
            raise InvalidRequest(
                f"quantity must be a whole number from 1 to {invoices.QUANTITY_MAX}.", param=f"{at}[quantity]"
            )
        line = {"quantity": quantity, "metadata": md.merge({}, entry.get("metadata"))}
        if price is not None:
            _one_time_price_check(price, merchant=merchant, livemode=livemode, param=f"{at}[price]", name=param)
            line |= {"price": price, "currency": price.currency}
        else:
            line |= _price_data_line(data, quantity, merchant=merchant, livemode=livemode, param=f"{at}[price_data]")
        if line["currency"] != currency:
            raise InvalidRequest(
                f"The one-time item is in {line['currency'].upper()} but the subscription is in {currency.upper()}.",
                param=f"{at}[price]" if price is not None else f"{at}[price_data][currency]",
            )
        line["tax_rates"] = tax_rates_check(
            entry.get("tax_rates"), merchant=merchant, livemode=livemode, param=f"{at}[tax_rates]"
        )
        checked.append(line)
    return checked


def _one_time_price_check(price: Price, *, merchant, livemode: bool, param: str, name: str) -> None:
    if price.merchant_id != merchant.pk or price.livemode != livemode:
        raise InvalidRequest(f"No such price: '{price.public_id}'", code="resource_missing", param=param)
    if not price.active:
        raise InvalidRequest(f"The price {price.public_id} is archived (active=false).", param=param)
    if price.type != Price.Type.ONE_TIME:
        raise InvalidRequest(
            f"The price {price.public_id} is recurring; {name} takes one-time prices only.", param=param
        )


def _price_data_line(data: dict, quantity: int, *, merchant, livemode: bool, param: str) -> dict:
    unit_amount = data.get("unit_amount")
    if not isinstance(unit_amount, int) or isinstance(unit_amount, bool) or unit_amount < 0:
        raise InvalidRequest(
            "unit_amount must be a whole number of minor units, 0 or more.", param=f"{param}[unit_amount]"
        )
    product = data["product"]
    if product.merchant_id != merchant.pk or product.livemode != livemode:
        raise InvalidRequest(
            f"No such product: '{product.public_id}'", code="resource_missing", param=f"{param}[product]"
        )
    currency = (data.get("currency") or "").lower()
    return {"amount": unit_amount * quantity, "currency": currency, "description": product.name}


def invoice_items_add(*, invoice: Invoice, checked: list[dict], now: datetime) -> None:
    """The checked one-time items as lines of the (draft) first invoice, in the caller's transaction."""
    for line in checked:
        invoices.invoice_item_create(
            merchant=invoice.merchant,
            livemode=invoice.livemode,
            customer=invoice.customer,
            now=now,
            invoice=invoice,
            price=line.get("price"),
            amount=line.get("amount"),
            currency=None if line.get("price") else line["currency"],
            quantity=line["quantity"],
            description=line.get("description"),
            tax_rates=line["tax_rates"] or None,
            metadata=line["metadata"],
        )
