"""One batch of work (a renewal run), and what its parts do once for it instead of once per item:
``with batch(): …``.

A renewal batch (billing/subscriptions/services/renewal.py, ``subscriptions_renew_due``) invoices and charges up
to fifty subscriptions of one merchant, each in its own transactions. Two things are done once for the batch:

- **Reads** (``shared``): each renewal read the merchant's invoice settings twice and its Stripe credentials once
  or twice, the same rows every time (about three of a renewal's SQL statements; docs/performance-history.md). Inside a
  batch a read made through ``shared`` is made once and its answer handed to every later caller with the same
  key; outside one, ``shared`` simply reads. The answers are as fresh as the batch's start: a merchant changing
  its invoice settings or rotating its keys during a batch of a few seconds is seen from the next batch on (the
  members to notify of a payment, too). Only rows the batch itself never writes belong here; a caller that
  writes the row it reads (the invoice settings made on a merchant's first invoice, in a transaction that may
  yet be rolled back) calls ``unshared(key)`` and the rest of the batch reads it every time. What the batch has
  made and nothing changes any more may be handed on with ``share(key, answer)``: an invoice's lines as its
  finalizing read them, for its ``invoice.paid`` (an issued invoice's lines never change). A read that raises,
  or answers None, is not kept: the next caller reads again.
- **A mechanism's own batching** (``state``): the part that batches its work keeps its state for the batch and
  is told when the batch ends. ``Gathered`` is the usual state: what the batch's commits leave to do (a nudge of
  the webhook dispatcher, webhooks/services/outbox.py; the emails of its payments, billing/payments/services.py)
  handed on together, at most once a second and once at the end, not once per commit.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic
from typing import TypeVar

from django.db import transaction

T = TypeVar("T")


class _Batch:
    def __init__(self):
        self.answers: dict = {}
        self.states: dict = {}


_current: ContextVar[_Batch | None] = ContextVar("kassa_batch", default=None)
_UNSHARED = object()


@contextmanager
def batch() -> Iterator[None]:
    """One batch until the block ends; a block inside another is part of the outer one. At its end (whatever
    ended it) each ``state`` made in it is told, by its ``end()``."""
    if _current.get() is not None:
        yield
        return
    current = _Batch()
    token = _current.set(current)
    try:
        yield
    finally:
        _current.reset(token)
        for made in current.states.values():
            made.end()


def state(key: Hashable, make: Callable[[], T]) -> T | None:
    """Inside ``batch()``: the batch's own ``make()`` for ``key``, made on first use (its ``end()`` is called when
    the batch ends); None outside a batch."""
    current = _current.get()
    if current is None:
        return None
    if key not in current.states:
        current.states[key] = make()
    return current.states[key]


def shared(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, made once per ``key`` inside ``batch()``, every time outside it."""
    current = _current.get()
    answers = current.answers if current is not None else None
    if answers is None or answers.get(key) is _UNSHARED:
        return read()
    answer = answers.get(key)
    if answer is None:
        answer = read()
        if answer is not None:
            answers[key] = answer
    return answer


def share(key: Hashable, answer) -> None:
    """Inside ``batch()``: ``answer`` is what ``shared(key, …)`` hands out from here on (the caller has just read
    it, or made what it describes); outside it, nothing."""
    current = _current.get()
    if current is not None:
        current.answers[key] = answer


def unshared(key: Hashable) -> None:
    """From here to the batch's end, ``shared(key, …)`` reads every time (the caller wrote what it reads)."""
    current = _current.get()
    if current is not None:
        current.answers[key] = _UNSHARED


class Gathered:
    """A batch's state (``state(key, lambda: Gathered(hand_on, every=…))``): items added by the batch's
    transactions, gathered as each commits (one rolled back adds nothing), and handed on together to
    ``hand_on(items)`` on the commit that finds the oldest waiting ``every`` seconds or more, and the rest at the
    batch's end. A process killed inside the batch loses what it had not handed on (at most ``every`` seconds'
    worth): only for work that is best effort, or that something else finds again (a sweeper)."""

    def __init__(self, hand_on: Callable[[list], None], *, every: float):
        self.hand_on = hand_on
        self.every = every
        self.items: list = []
        self.since: float | None = None  # when the oldest item waiting was gathered
        self.ended = False

    def add(self, item) -> None:
        """Inside the transaction that makes ``item``: gathered once it commits (at once outside a transaction)."""
        transaction.on_commit(lambda: self._committed(item))

    def _committed(self, item) -> None:
        now = monotonic()
        if self.since is None:
            self.since = now
        self.items.append(item)
        if self.ended or now - self.since >= self.every:
            self._hand_on()

    def _hand_on(self) -> None:
        items, self.items, self.since = self.items, [], None
        if items:
            self.hand_on(items)

    def _end(self) -> None:
        self.ended = True
        self._hand_on()

    def end(self) -> None:
        # After the enclosing transaction, if the batch ends inside one (its items are gathered on its commit).
        transaction.on_commit(self._end)
