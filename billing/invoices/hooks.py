"""The registry of what happens to invoices, for the parts above invoicing (subscriptions, dunning).

Invoicing's services call ``invoice_changed`` inside the transaction that records the change, with the
invoice locked: ``paid``, ``payment_failed`` (an attempt failed, or was refused for want of a card),
``overdue`` (a ``send_invoice`` invoice still open after its due date: ``invoice.overdue``), ``voided`` and
``marked_uncollectible``. A part above registers ``fn(*, invoice, change, now)`` with
``on_invoice_changed`` in billing/apps.py (as clocks' ``on_advance``): invoicing imports none of them.
A handler writes in the caller's transaction and makes no network call.
"""

from collections.abc import Callable
from datetime import datetime

PAID = "paid"
PAYMENT_FAILED = "payment_failed"
OVERDUE = "overdue"
VOIDED = "voided"
MARKED_UNCOLLECTIBLE = "marked_uncollectible"

_handlers: list[Callable[..., object]] = []


def on_invoice_changed(fn: Callable[..., object]) -> Callable[..., object]:
    """Register ``fn(*, invoice, change, now)``, called as each invoice is paid, fails a payment attempt, becomes
    overdue, is voided or marked uncollectible."""
    _handlers.append(fn)
    return fn


def invoice_changed(*, invoice, change: str, now: datetime) -> None:
    for fn in _handlers:
        fn(invoice=invoice, change=change, now=now)


# A payer's card on the hosted invoice page pays that invoice only, unless a part above asks to keep it: a
# subscription with ``payment_settings[save_default_payment_method]=on_subscription`` (billing/apps.py).
_card_keepers: list[Callable[..., bool]] = []


def keeps_card(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Register ``fn(*, invoice) -> bool``: whether the card the payer gives to pay ``invoice`` is saved on the
    customer once the payment succeeds (a read; no writes)."""
    _card_keepers.append(fn)
    return fn


def card_kept(*, invoice) -> bool:
    return any(fn(invoice=invoice) for fn in _card_keepers)
