"""Reads a batch of work makes once, not once per item: ``with reads_shared(): … shared(key, read) …``.

A renewal batch (billing/subscriptions/services/renewal.py, ``subscriptions_renew_due``) invoices and charges up
to fifty subscriptions of one merchant, each in its own transactions; each renewal read the merchant's invoice
settings twice and its Stripe credentials once or twice, the same rows every time (about three of a renewal's
SQL statements; README, Performance). Inside ``reads_shared()`` a read made through ``shared`` is made once and
its answer handed to every later caller with the same key; outside it, ``shared`` simply reads. The answers are
as fresh as the batch's start: a merchant changing its invoice settings or rotating its keys during a batch of
a few seconds is seen from the next batch on (the members to notify of a payment, too). Only rows the batch
itself never writes belong here; a caller that writes the row it reads (the invoice settings made on a
merchant's first invoice, in a transaction that may yet be rolled back) calls ``unshared(key)`` and the rest of
the batch reads it every time. What the batch has made and nothing changes any more may be handed on with
``share(key, answer)``: an invoice's lines as its finalizing read them, for its ``invoice.paid`` (an issued
invoice's lines never change). A read that raises, or answers None, is not kept: the next caller reads again.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_answers: ContextVar[dict | None] = ContextVar("batch_reads_shared", default=None)
_UNSHARED = object()


@contextmanager
def reads_shared() -> Iterator[None]:
    """Share ``shared`` reads until the block ends (a block inside another shares the outer one's)."""
    if _answers.get() is not None:
        yield
        return
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def shared(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, made once per ``key`` inside ``reads_shared()``, every time outside it."""
    answers = _answers.get()
    if answers is None or answers.get(key) is _UNSHARED:
        return read()
    answer = answers.get(key)
    if answer is None:
        answer = read()
        if answer is not None:
            answers[key] = answer
    return answer


def share(key: Hashable, answer) -> None:
    """Inside ``reads_shared()``: ``answer`` is what ``shared(key, …)`` hands out from here on (the caller has just
    read it, or made what it describes); outside it, nothing."""
    answers = _answers.get()
    if answers is not None:
        answers[key] = answer


def unshared(key: Hashable) -> None:
    """From here to the batch's end, ``shared(key, …)`` reads every time (the caller wrote what it reads)."""
    answers = _answers.get()
    if answers is not None:
        answers[key] = _UNSHARED
