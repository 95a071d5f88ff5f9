"""An invoice's totals from its lines: taxes per line and per rate (services/tax.py's rule), then sums.

Stripe's words (https://docs.stripe.com/api/invoices/object#invoice_object-subtotal):

- ``subtotal``: the lines' amounts (inclusive taxes are inside them, exclusive ones are not);
- ``subtotal_excluding_tax``: the same less the inclusive taxes;
- ``total``: ``subtotal`` plus the exclusive taxes (what the customer pays);
- ``total_excluding_tax``: ``total`` less every tax.

A line without tax rates of its own is taxed with the invoice's ``default_tax_rates``.
"""

from django.utils import timezone

from kassa.db import many

from ..models import Invoice, InvoiceItem, TaxRate
from ..selectors import invoice_lines_read
from .tax import tax_amounts


def _by_pk(rates) -> list:
    return sorted(rates, key=lambda rate: rate.pk)


def lines_taxed(lines: list[tuple[InvoiceItem, list]], default_tax_rates: list) -> tuple[list[tuple], list]:
    """Each of ``lines`` (a line and its own tax rates, in memory: the line may not be inserted yet) taxed with its
    own rates, else the invoice's defaults (each in the order of their ids), its ``taxes`` set where they changed:
    ``(amount, taxes)`` of each, for ``totals_values``, and the lines whose taxes changed."""
    defaults = _by_pk(default_tax_rates)
    taxed, retaxed = [], []
    for item, own in lines:
        taxes = item_taxes(item, _by_pk(own) or defaults)
        if taxes != item.taxes:
            item.taxes = taxes
            retaxed.append(item)
        taxed.append((item.amount, taxes))
    return taxed, retaxed


def item_taxes(item: InvoiceItem, rates: list) -> list[dict]:
    """``[{"tax_rate", "amount", "taxable_amount", "inclusive"}, …]`` for one line, rounded per rate."""
    if not rates:
        return []
    amounts = tax_amounts(item.amount, [(rate.percentage, rate.inclusive) for rate in rates], item.currency)
    inclusive_tax = sum(amount for amount, rate in zip(amounts, rates, strict=True) if rate.inclusive)
    taxable = item.amount - inclusive_tax
    return [
        {"tax_rate": rate.public_id, "amount": amount, "taxable_amount": taxable, "inclusive": rate.inclusive}
        for amount, rate in zip(amounts, rates, strict=True)
    ]


def totals_values(lines: list[tuple[int, list[dict]]], amount_paid: int = 0) -> dict:
    """An invoice's totals from its lines' ``(amount, taxes)``: the sums Stripe shows (no database; the
    preview of an upcoming invoice computes its totals with it too)."""
    subtotal = inclusive = exclusive = 0
    by_rate: dict[str, dict] = {}
    for amount, taxes in lines:
        subtotal += amount
        for tax in taxes:
            if tax["inclusive"]:
                inclusive += tax["amount"]
            else:
                exclusive += tax["amount"]
            total = by_rate.setdefault(
                tax["tax_rate"],
                {"tax_rate": tax["tax_rate"], "amount": 0, "taxable_amount": 0, "inclusive": tax["inclusive"]},
            )
            total["amount"] += tax["amount"]
            total["taxable_amount"] += tax["taxable_amount"]
    return {
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal - inclusive,
        "total": subtotal + exclusive,
        "total_excluding_tax": subtotal - inclusive,
        "total_taxes": list(by_rate.values()),
        "amount_due": subtotal + exclusive,
        "amount_remaining": max(subtotal + exclusive - amount_paid, 0),
    }


def invoice_totals_compute(invoice: Invoice) -> list[str]:
    """Recompute a draft's lines' taxes and its totals, saving the lines that changed; returns the invoice's
    changed field names (the caller saves the invoice, in its own transaction)."""
    # Its lines as read with the invoice (selectors.lines_prefetch), else now.
    lines = [(item, many(item, "tax_rates")) for item in invoice_lines_read(invoice)]
    taxed, retaxed = lines_taxed(lines, many(invoice, "default_tax_rates"))
    _taxes_save(retaxed)
    values = totals_values(taxed, invoice.amount_paid)
    changed = [name for name, value in values.items() if getattr(invoice, name) != value]
    for name in changed:
        setattr(invoice, name, values[name])
    return changed


def rate_copy(rate) -> dict:
    """What an issued invoice keeps of a tax rate (its name may change later; what was issued may not)."""
    return {
        "display_name": rate.display_name,
        "percentage": format(rate.percentage.normalize(), "f"),
        "inclusive": rate.inclusive,
        "country": rate.country,
        "state": rate.state,
        "jurisdiction": rate.jurisdiction,
    }


def taxes_freeze(invoice: Invoice) -> None:
    """At finalization: each tax entry of the lines and of ``total_taxes`` gets a copy of its rate (``rate``),
    which the documents read from then on; a draft reads the live rates. Saves the lines; the caller saves
    the invoice."""
    ids = {tax["tax_rate"] for tax in invoice.total_taxes or []}
    # Read with the invoice, under its row lock (a draft's lines change only under it: items.py).
    items = invoice_lines_read(invoice)
    ids |= {tax["tax_rate"] for item in items for tax in item.taxes or []}
    rates = TaxRate.objects.filter(merchant_id=invoice.merchant_id, public_id__in=ids) if ids else ()
    copies = {rate.public_id: rate_copy(rate) for rate in rates}

    def frozen(taxes):
        return [{**tax, "rate": copies[tax["tax_rate"]]} if tax["tax_rate"] in copies else tax for tax in taxes or []]

    taxed = [item for item in items if item.taxes]
    for item in taxed:
        item.taxes = frozen(item.taxes)
    _taxes_save(taxed)
    invoice.total_taxes = frozen(invoice.total_taxes)


def _taxes_save(items: list[InvoiceItem]) -> None:
    """The lines' new ``taxes``, in one statement whatever their number (an invoice may have hundreds)."""
    if not items:
        return
    moment = timezone.now()  # what ``updated``'s auto_now stamps (bulk_update does not stamp it)
    for item in items:
        item.updated = moment
    InvoiceItem.objects.bulk_update(items, ["taxes", "updated"])
