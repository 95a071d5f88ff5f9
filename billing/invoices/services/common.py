"""What the invoice and invoice item services share: checking references, locking a draft, keeping totals current."""

from django.utils.translation import gettext as _

from kassa import money
from kassa.db import update
from kassa.errors import InvalidRequest
from webhooks.services.outbox import event_emit, render

from ..models import Invoice, TaxRate
from .totals import invoice_totals_compute

S = Invoice.Status

#: Where each status may go (STYLE.md: forward only; anything else raises).
#: https://docs.stripe.com/invoicing/overview#workflow-transitions
TRANSITIONS = {
    S.DRAFT: {S.OPEN},
    S.OPEN: {S.PAID, S.VOID, S.UNCOLLECTIBLE},
    S.UNCOLLECTIBLE: {S.PAID, S.VOID},
    S.PAID: set(),
    S.VOID: set(),
}


def status_move(invoice: Invoice, status: str) -> None:
    """Move ``invoice`` to ``status`` along TRANSITIONS, or raise (the callers check first, with the API's words)."""
    if status not in TRANSITIONS[invoice.status]:
        raise InvalidRequest(
            _("An invoice cannot go from %(from)s to %(to)s.") % {"from": invoice.status, "to": status},
            code="invoice_unexpected_state",
            param="invoice",
        )
    invoice.status = status


def tax_rates_check(tax_rates, *, merchant, livemode: bool, param: str) -> list[TaxRate]:
    """The merchant's active tax rates of this mode (a view has looked them up already; this says so again)."""
    rates = list(tax_rates or [])
    for rate in rates:
        if rate.merchant_id != merchant.pk or rate.livemode != livemode:
            raise InvalidRequest(f"No such tax rate: '{rate.public_id}'", code="resource_missing", param=param)
        if not rate.active:
            raise InvalidRequest(
                f"Tax rate {rate.public_id} is archived (active=false) and cannot be applied.", param=param
            )
    if len({rate.pk for rate in rates}) != len(rates):
        raise InvalidRequest("The same tax rate is given twice.", param=param)
    return rates


def draft_lock(invoice: Invoice, *, param: str = "invoice") -> Invoice:
    """The invoice under its row lock, refused unless it is still a draft (a 400 naming ``param``)."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != S.DRAFT:
        raise InvalidRequest(
            f"Invoice {locked.public_id} is {locked.status}: only a draft invoice can be changed this way.",
            code="invoice_not_editable",
            param=param,
        )
    return locked


def total_check(invoice: Invoice, *, param: str) -> None:
    """An invoice is never worth more than one payment can take (``kassa.money.MAX_AMOUNT``): it could be
    finalized but never paid. A 400 naming ``param``, what pushed the total over."""
    if invoice.total > money.MAX_AMOUNT:
        raise InvalidRequest(
            f"This would make invoice {invoice.public_id}'s total {invoice.total}, more than the {money.MAX_AMOUNT} "
            f"(in {invoice.currency.upper()}'s smallest unit) one payment can take.",
            code="amount_too_large",
            param=param,
        )


def totals_refresh(invoice: Invoice, before: dict | None = None, *, param: str | None = None) -> Invoice:
    """After a draft's lines changed: recompute and save its totals; ``invoice.updated`` when ``before`` is given.
    ``param``: what changed (an amount, a quantity, tax rates), named if the total is now over the maximum (the
    caller's transaction then rolls the change back)."""
    changed = invoice_totals_compute(invoice)
    if param is not None:
        total_check(invoice, param=param)
    if changed:
        update(invoice, [*changed, "updated"])
    if before is not None:
        event_emit(type="invoice.updated", obj=invoice, before=before)
    return invoice


def invoice_render(invoice: Invoice) -> dict:
    return render(invoice)
