"""The registry of what happens to invoices, for the parts above invoicing (subscriptions, dunning).

Invoicing's services call ``invoice_changed`` inside the transaction that records the change, with the
invoice locked: ``paid``, ``payment_failed`` (an attempt failed, or was refused for want of a card),
``voided`` and ``marked_uncollectible``. A part above registers ``fn(*, invoice, change, now)`` with
``on_invoice_changed`` in billing/apps.py (as clocks' ``on_advance``): invoicing imports none of them.
A handler writes in the caller's transaction and makes no network call.
"""

from collections.abc import Callable
from datetime import datetime

PAID = "paid"
PAYMENT_FAILED = "payment_failed"
VOIDED = "voided"
MARKED_UNCOLLECTIBLE = "marked_uncollectible"

_handlers: list[Callable[..., object]] = []


def on_invoice_changed(fn: Callable[..., object]) -> Callable[..., object]:
    """Register ``fn(*, invoice, change, now)``, called as each invoice is paid, fails a payment attempt, is
    voided or marked uncollectible."""
    _handlers.append(fn)
    return fn


def invoice_changed(*, invoice, change: str, now: datetime) -> None:
    for fn in _handlers:
        fn(invoice=invoice, change=change, now=now)
