"""How a subscription's new invoice is collected, whatever made it (a renewal's period, an update's
``always_invoice`` prorations): one rule, as at Stripe, where collection paused (``pause_collection``) applies to
every invoice the subscription makes while paused, and an ``unpaid`` subscription's invoices "will be created, but
then immediately automatically closed" (no attempt):

- paused with ``keep_as_draft``: the invoice stays a draft, not finalized;
- else it is finalized, with ``auto_advance`` on only when it is to be collected (not paused, not ``unpaid``; a
  ``send_invoice`` one emailed only when the customer has an email);
- paused with ``mark_uncollectible``: marked uncollectible at once; with ``void``: voided once committed;
- collected: charged once committed (``charge_automatically``), or emailed as finalized (``send_invoice``).

``invoice_collect`` does what comes once committed, for both.
"""

import logging
from datetime import datetime

from kassa.errors import KassaError

from ..invoices import services as invoices
from ..invoices.models import Invoice
from .models import Subscription

logger = logging.getLogger(__name__)

S = Subscription.Status
P = Subscription.PauseBehavior


def invoice_collection_begin(
    subscription: Subscription, invoice: Invoice, *, now: datetime, made_here: bool = False
) -> tuple[str, Invoice] | None:
    """Inside the caller's transaction (it holds the subscription's lock): the draft ``invoice`` finalized or kept as
    the subscription's collection says, and what to do with it once committed: ``("charge", invoice)``, ``("void",
    invoice)``, or None. ``made_here``: as ``invoices.invoice_finalize``'s (a renewal's draft, made in this
    transaction with the lines it holds)."""
    behavior = subscription.pause_behavior
    if behavior == P.KEEP_AS_DRAFT:
        return None  # collection paused: the drafts wait
    send = subscription.collection_method == Invoice.CollectionMethod.SEND_INVOICE
    collect = not behavior and subscription.status != S.UNPAID  # unpaid: invoices made, no attempt (as at Stripe)
    auto_advance = collect and (not send or bool(subscription.customer.email))
    invoice = invoices.invoice_finalize(invoice=invoice, now=now, auto_advance=auto_advance, made_here=made_here)
    if invoice.status != Invoice.Status.OPEN:
        return None
    if behavior == P.MARK_UNCOLLECTIBLE:
        invoices.invoice_mark_uncollectible(invoice=invoice, now=now)
        return None
    if behavior == P.VOID:
        return ("void", invoice)
    if collect and not send:
        return ("charge", invoice)
    return None


def invoice_collect(action: str, invoice: Invoice, *, now: datetime, begun=None) -> None:
    """After the commit: charge (or void) the new invoice; a failure is the invoice's (its hook tells the
    subscription, and dunning retries it), never the renewal's. The charge is invoicing's first automatic
    attempt, keyed by the invoice: beat's ``invoices_advance`` making it too, or after a crash, makes the same
    attempt, never a second charge. ``begun``: its first phase, committed with the invoice
    (``invoices.invoice_attempt_begin``)."""
    try:
        if action == "charge":
            invoices.invoice_attempt_automatically(invoice=invoice, now=now, begun=begun)
        elif action == "void":
            invoices.invoice_void(invoice=invoice, now=now)
    except KassaError as exc:
        logger.info("Invoice %s of a subscription: %s did not succeed: %s", invoice.public_id, action, exc.message)
