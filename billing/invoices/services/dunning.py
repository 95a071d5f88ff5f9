"""Automatic collection and dunning: beat's (and test clocks') charges of ``charge_automatically`` invoices, the
retries after a failed one, and what happens when they run out.

- ``invoices_advance``: drafts whose hour has passed are finalized; each invoice due its first automatic
  attempt is charged off-session.
- ``invoices_retry_due``: the retries due on the merchant's schedule (``DunningSettings.retry_days``, days after
  the **first** failure), and the end of dunning for invoices that stopped retrying to wait for the payer.
- ``invoices_retry_for_customer``: the customer's default card changed; their past-due invoices are tried now.

Every automatic attempt is keyed by the invoice and its number (``attempt_key``: 0 the first, n the n-th
retry, ``card:<pm>`` the one after a card change), and the outcome is recorded from that attempt's own row:
a run repeated (two beats, a worker killed half-way) finds the attempt made (no second charge) and records
its outcome once; the next retry has a new number, so it is a new charge. An attempt whose answer was lost is
made again under its key by the next run; so is one the reconciler found the processor has no record of (its
request never got there): no card failed, so no failure is recorded and no email sent.

A payment made by hand (``pay`` in the API or the dashboard, the payer on the hosted page) counts as Stripe's do
(``attempt_count``: "Any payment attempt counts as the first attempt [...] manual payment attempts after the first
attempt do not affect the retry schedule"): declined before any automatic attempt failed, it is the first attempt
and the schedule starts from it (``invoice_payment_failed``: no automatic attempt at once on the card that
just failed, and dunning never switched off); once dunning has begun, it neither moves nor adds a retry. One whose
outcome is not known yet (3-D Secure, a lost answer) leaves the pending automatic attempt due: meeting a payment
that waits for 3-D Secure, that attempt emails the payer the link, as for its own, so nothing waits for ever.

What a failure leads to (``decline_kind``):

- a soft decline (insufficient funds, ``do_not_honor``, ``generic_decline``, and a decline **without a code**,
  which is what localstripe's 4000000000000341 answers) is retried on schedule;
- a hard decline (``HARD_DECLINES``: the issuer says the card will never pass, https://docs.stripe.com/declines/codes)
  and an invoice without a usable card are not retried blindly: the invoice waits for a new card (the payer
  is emailed a link to give one), and the final action still comes on the schedule's last day;
- a card asking for 3-D Secure off-session waits for the payer to authenticate on the hosted invoice page
  (emailed), likewise until the last day.

After the last retry fails (or the last day passes while waiting; for a subscription's invoice sent to the customer,
``DunningSettings.overdue_days`` after its due date, still unpaid): ``dunning_exhausted_at``, the invoice left
open or marked uncollectible as the merchant chose, and the ``on_dunning_exhausted`` hooks (subscriptions act
on ``DunningSettings.subscription_action`` there). Each failure emails the customer once, in the invoice's
language, with ``card_update_url`` (the hosted invoice page, until the portal registers its own).
"""

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min, Q, QuerySet

from kassa import celery
from kassa.errors import IdempotencyConflict, KassaError
from merchants.emails import email_task_queue
from webhooks.services.outbox import event_emit, render

from ...catalogue.models import Customer
from ...catalogue.selectors import customer_now
from ...payments import services as payments
from ...payments.models import PaymentAttempt, PaymentIntent
from .. import hooks, selectors
from ..models import DunningSettings, Invoice
from .collection import (
    Opened,
    _attempt_count,
    invoice_charge,
    invoice_charge_begin,
    invoice_payment_failed_notify,
    of_customers,
)
from .common import S
from .dunning_settings import dunning_settings_for
from .invoices import invoice_finalize, invoice_mark_uncollectible

logger = logging.getLogger(__name__)

CHARGE_AUTOMATICALLY = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
#: How many invoices one run charges at most (the rest are due at the next run, a minute later).
BATCH = 500

#: Declines the issuer means for good (Stripe's codes whose next step is "use another card" or "do not
#: retry": https://docs.stripe.com/declines/codes). ``do_not_honor`` and ``generic_decline`` are not here: the
#: issuer gives no reason and often accepts later, so they are retried on schedule, as Stripe's do.
HARD_DECLINES = frozenset(
    {
        "card_not_supported",
        "currency_not_supported",
        "do_not_try_again",
        "expired_card",
        "fraudulent",
        "incorrect_number",
        "invalid_account",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "invalid_number",
        "lost_card",
        "merchant_blacklist",
        "new_account_information_available",
        "pickup_card",
        "restricted_card",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "stolen_card",
        "stop_payment_order",
    }
)
AUTHENTICATION = frozenset({"authentication_required"})


class Kind:
    """What a failure asks of the payer (and names the email sent about it)."""

    DECLINED = "declined"  # retried on schedule
    CARD = "card"  # waits for a new card
    ACTION = "action"  # waits for 3-D Secure on the hosted page


def decline_kind(*, code: str | None, decline_code: str | None) -> str:
    """The rule: a code asking for authentication waits for it, a hard decline for a new card, anything else
    (a missing code included) is retried on schedule."""
    codes = {code or "", decline_code or ""}
    if codes & AUTHENTICATION:
        return Kind.ACTION
    if codes & HARD_DECLINES:
        return Kind.CARD
    return Kind.DECLINED


# --- registries (higher parts register in billing/apps.py) ---------------------------------------------

#: fn(*, invoice, now), called in the transaction that records the last retry's failure (or the last day)
_EXHAUSTED_HOOKS: list[Callable[..., object]] = []
#: fn(*, invoice) -> the page where the payer gives a new card for ``invoice``; the last registered wins
_CARD_UPDATE_URLS: list[Callable[..., str | None]] = []


def on_dunning_exhausted(fn: Callable[..., object]) -> Callable[..., object]:
    """Register ``fn(*, invoice, now)``: called once per invoice when its retries have run out."""
    _EXHAUSTED_HOOKS.append(fn)
    return fn


def card_update_url(fn: Callable[..., str | None]) -> Callable[..., str | None]:
    """Register ``fn(*, invoice, now)``: the link dunning emails send the payer to for a new card (replacing the
    hosted page; ``None``: not offered for this invoice)."""
    _CARD_UPDATE_URLS.append(fn)
    return fn


def invoice_card_update_url(*, invoice: Invoice, kind: str, now: datetime) -> str | None:
    """Where a dunning email of ``kind`` sends the payer: for a new card, the page a part registered (the portal),
    else the hosted invoice page; to authenticate a payment (``action``), always the hosted invoice page, where
    3-D Secure runs."""
    if kind != "action":
        for fn in reversed(_CARD_UPDATE_URLS):
            url = fn(invoice=invoice, now=now)
            if url:
                return url
    return selectors.invoice_urls(invoice)[0]


# --- one automatic attempt ------------------------------------------------------------------------------


def attempt_key(invoice: Invoice, label: str) -> str:
    """The processor's idempotency key of an automatic attempt: derived from the invoice's secret token and the
    attempt's label, so it is the same for a repeated run and unguessable from the public id."""
    digest = hashlib.sha256(f"{invoice.token}:dunning:{label}".encode()).hexdigest()[:40]
    return f"{PaymentAttempt.PREFIX}_{digest}"


def _collectable(invoice: Invoice | None) -> bool:
    return (
        invoice is not None
        and invoice.status == S.OPEN
        and invoice.auto_advance
        and invoice.collection_method == CHARGE_AUTOMATICALLY
    )


def _recorded(invoice: Invoice, number: int | None) -> bool:
    """The failure of attempt ``number`` is recorded already (``None``: a card-change retry, not numbered)."""
    if number is None:
        return False
    return invoice.dunning_started_at is not None if number == 0 else invoice.dunning_retries >= number


def _automatic_attempt(
    pk: int, now: datetime, *, card: str | None = None, invoice: Invoice | None = None, begun: Opened | None = None
) -> bool:
    """Charge one invoice off-session if it is still due (``card``: because its customer's card changed), then
    record what happened. True when a failure or a payment was recorded by this run. ``invoice``: the caller's
    copy, as it committed it a moment ago, checked as it is instead of read again (paying it takes its row lock
    and checks it there). ``begun``: this attempt's first phase, committed with the invoice
    (``invoice_attempt_begin``)."""
    if invoice is None:
        invoice = Invoice.objects.filter(pk=pk).select_related("customer").first()
    if not _collectable(invoice):
        return False
    if card is None:
        if invoice.next_payment_attempt is None or invoice.next_payment_attempt > now:
            return False
        number: int | None = 0 if invoice.dunning_started_at is None else invoice.dunning_retries + 1
        key = attempt_key(invoice, str(number))
    else:
        number, key = None, attempt_key(invoice, f"card:{card}")
    error: KassaError | None = None
    try:
        # Two-phase (collection.py): the attempt is committed under this key before the processor is called.
        intent = invoice_charge(invoice=invoice, now=now, off_session=True, attempt_key=key, opened=begun)
        if intent is None or intent.status == PaymentIntent.Status.SUCCEEDED:
            return True  # paid (its hook paid the invoice): final, nothing to record
    except KassaError as exc:
        error = exc
        logger.info("Automatic payment of invoice %s did not succeed: %s", invoice.public_id, exc.message)
    return _outcome_record(pk, now, key=key, number=number, error=error)


def invoice_attempt_begin(*, invoice: Invoice, now: datetime) -> Opened | None:
    """Inside the transaction that made and finalized ``invoice`` (a renewal's, not committed yet): the first phase
    of its first automatic attempt (``invoice_charge_begin``), to be charged by ``invoice_attempt_automatically``
    once that commits. None when it is due none now, or the attempt could not be begun (no usable card): nothing
    of it is left, and ``invoice_attempt_automatically`` makes it after the commit as beat would, recording why it
    failed."""
    due = _collectable(invoice) and invoice.next_payment_attempt is not None and invoice.next_payment_attempt <= now
    if not due or invoice.attempted or invoice.dunning_started_at is not None:
        return None
    try:
        return invoice_charge_begin(invoice=invoice, now=now, attempt_key=attempt_key(invoice, "0"))
    except KassaError as exc:
        logger.info("Automatic payment of invoice %s not begun: %s", invoice.public_id, exc.message)
        return None


def invoice_attempt_automatically(*, invoice: Invoice, now: datetime, begun: Opened | None = None) -> bool:
    """The first automatic attempt of an invoice due one, made now instead of at beat's next run (a subscription's
    renewal, right after it finalized the invoice): the very attempt ``invoices_advance`` makes, under the same
    key, so the two never charge twice, a failure starts dunning, and a worker killed half-way leaves the invoice
    due that same attempt (beat's next run replays it). True when a payment or a failure was recorded.
    ``invoice``: as the caller's finalizing committed it (with its customer), not read again. ``begun``: its first
    phase, committed with it (``invoice_attempt_begin``)."""
    return _automatic_attempt(invoice.pk, now, invoice=invoice, begun=begun)


@transaction.atomic
def _outcome_record(pk: int, now: datetime, *, key: str, number: int | None, error: KassaError | None) -> bool:
    invoice = Invoice.objects.select_for_update().filter(pk=pk).first()
    if invoice is None or invoice.status != S.OPEN:
        return invoice is not None and invoice.status == S.PAID  # paid by this attempt (or meanwhile)
    if _recorded(invoice, number):
        return False  # a repeated run: this attempt's outcome is on record
    attempt = payments.payment_attempt_made(key)
    if attempt is None:
        if error is None or isinstance(error, IdempotencyConflict):
            return False  # someone else's payment of it is in progress: the next run sees how it ended
        if number is None:
            return False  # a new card could not be tried (its payment waits for 3-D Secure): nothing new to say
        # Refused before any charge (no usable card, or a payment waiting for 3-D Secure): still an attempt, as
        # at Stripe, whose invoice.payment_failed "occurs whenever an invoice payment attempt fails, due either
        # to a declined payment or to the lack of a stored payment method". Counted once: an attempt refused after
        # its payment was opened (the merchant's Stripe credentials gone) was counted then, under this key.
        if invoice.automatic_attempt_key != key:
            _attempt_count(invoice, automatic=True)
        event_emit(type="invoice.payment_failed", obj=invoice)
        hooks.invoice_changed(invoice=invoice, change=hooks.PAYMENT_FAILED, now=now)
        kind = Kind.ACTION if error.code == "invoice_payment_intent_requires_action" else Kind.CARD
    elif attempt.status == PaymentAttempt.Status.FAILED:
        kind = decline_kind(code=attempt.error_code, decline_code=attempt.decline_code)
    elif attempt.status == PaymentAttempt.Status.REQUIRES_ACTION:
        kind = Kind.ACTION
    else:
        # Succeeded (the hook paid it), or the outcome is not known yet (pending, no answer): the next run
        # replays the same key, and the reconciler settles it meanwhile.
        return False
    _failure_record(invoice, now, number=number, kind=kind, key=key)
    return True


def _manual_kind(invoice: Invoice, attempt: PaymentAttempt | None) -> str:
    """What a payment by hand that failed asks of the payer, for the retries to come: they charge the invoice's (or
    the customer's) default card, so only that card's own decline says whether it is worth retrying; another
    card's decline (the payer's one-off card on the hosted page, a card given to ``pay``) says nothing of it."""
    default = invoice.default_payment_method_id or invoice.customer.default_payment_method_id
    if default is None:
        return Kind.CARD  # nothing to retry with: the payer is asked for a card
    if attempt is None or attempt.status != PaymentAttempt.Status.FAILED or attempt.payment_method_id != default:
        return Kind.DECLINED
    return decline_kind(code=attempt.error_code, decline_code=attempt.decline_code)


def invoice_payment_failed(*, payment_intent: PaymentIntent) -> None:
    """payments' failure hook (in the transaction that records the decline): the invoice's notice (collection's
    ``invoice_payment_failed_notify``: ``invoice.payment_failed``, the subscription told), then the first attempt
    when a payment by hand failed before any automatic one (``_manual_attempt_failed``)."""
    invoice = invoice_payment_failed_notify(payment_intent=payment_intent)
    if invoice is not None:
        _manual_attempt_failed(invoice, payment_intent)


def _manual_attempt_failed(invoice: Invoice, payment_intent: PaymentIntent) -> None:
    """A payment made by hand (``pay`` in the API or the dashboard, the payer on the hosted page) that failed
    before any automatic attempt did is the invoice's first attempt, and the merchant's schedule starts from it, as
    at Stripe, whose ``attempt_count`` says "Any payment attempt counts as the first attempt, and subsequently only
    automatic retries increment the attempt count. In other words, manual payment attempts after the first attempt
    do not affect the retry schedule" (https://docs.stripe.com/api/invoices/object#invoice_object-attempt_count).
    So no automatic attempt is made again at once on the card that just failed, and dunning is never switched off.
    Dunning's own attempts are recorded by ``_outcome_record``; a payment by hand once dunning began changes
    nothing here. ``invoice``: the one it pays, locked by the notice."""
    if not _collectable(invoice) or invoice.dunning_started_at is not None:
        return
    attempt = payment_intent.attempts.order_by("-id").first()
    if attempt is not None and attempt.public_id == invoice.automatic_attempt_key:
        return  # dunning's first attempt: its outcome is recorded from its own row (``_outcome_record``)
    now = customer_now(customer=invoice.customer, now=payment_intent.updated)
    # Keyed as the first attempt (number 0) it stands for: one email, however often this decline is reported.
    _failure_record(invoice, now, number=0, kind=_manual_kind(invoice, attempt), key=attempt_key(invoice, "0"))


def _failure_record(invoice: Invoice, now: datetime, *, number: int | None, kind: str, key: str) -> None:
    """On the locked invoice: the schedule from the first failure, ``invoice.updated``, the payer's email, and the
    final action when nothing is left to try."""
    settings = dunning_settings_for(merchant=invoice.merchant, livemode=invoice.livemode)
    before = render(invoice)
    if invoice.dunning_started_at is None:
        invoice.dunning_started_at = now
    if number:
        invoice.dunning_retries = max(invoice.dunning_retries, number)
    start = invoice.dunning_started_at
    days = list(settings.retry_days)
    invoice.dunning_ends_at = start + timedelta(days=days[-1]) if days else start
    # The retries not made yet, and not already past (a card that waited, a run that came late).
    ahead = [start + timedelta(days=d) for d in days[invoice.dunning_retries :] if start + timedelta(days=d) > now]
    invoice.next_payment_attempt = ahead[0] if kind == Kind.DECLINED and ahead else None
    exhausted = invoice.dunning_exhausted_at is None and (
        (kind == Kind.DECLINED and not ahead) or invoice.dunning_ends_at <= now
    )
    invoice.save()
    event_emit(type="invoice.updated", obj=invoice, before=before)
    email_task_queue("billing.tasks.invoice_dunning_email_send", invoice.pk, kind, key, exhausted)
    if exhausted:
        _exhaust(invoice, now, settings)


def _exhaust(invoice: Invoice, now: datetime, settings: DunningSettings) -> None:
    """Nothing left to try: the merchant's invoice action, then the hooks (subscriptions), once."""
    invoice.dunning_exhausted_at = now
    invoice.next_payment_attempt = None
    invoice.save(update_fields=["dunning_exhausted_at", "next_payment_attempt", "updated"])
    if settings.invoice_action == DunningSettings.InvoiceAction.MARK_UNCOLLECTIBLE:
        invoice = invoice_mark_uncollectible(invoice=invoice, now=now)
    for fn in _EXHAUSTED_HOOKS:
        fn(invoice=invoice, now=now)


@transaction.atomic
def _dunning_end(pk: int, now: datetime) -> bool:
    """An invoice waiting for a new card (or for 3-D Secure) whose last scheduled day has come, or a subscription's
    sent to the customer and still unpaid that many days after its due date (``overdue_days``)."""
    invoice = Invoice.objects.select_for_update().filter(pk=pk).first()
    open_ = invoice is not None and invoice.status == S.OPEN and invoice.auto_advance
    if not open_ or invoice.dunning_exhausted_at is not None or invoice.next_payment_attempt:
        return False
    if invoice.dunning_ends_at is None or invoice.dunning_ends_at > now:
        return False
    _exhaust(invoice, now, dunning_settings_for(merchant=invoice.merchant, livemode=invoice.livemode))
    return True


# --- beat and test clocks ---------------------------------------------------------------------------------


def _finalization_failed(pk: int, exc: KassaError, now: datetime) -> None:
    """Recorded on a draft only: an invoice another run finalized meanwhile is not touched."""
    Invoice.objects.filter(pk=pk, status=S.DRAFT).update(
        last_finalization_error={
            "type": "invalid_request_error",
            "code": exc.code,
            "message": exc.message,
            "param": exc.param,
        },
        auto_advance=False,  # not retried every minute; the merchant fixes and finalizes it
        automatically_finalizes_at=None,
        updated=now,
    )


def invoices_advance(*, now: datetime, customers: QuerySet | None = None) -> int:
    """Beat's automatic collection: finalize the drafts whose hour has passed, then make the first automatic
    attempt of the open ``charge_automatically`` invoices due one, off-session on the default card (the
    retries are ``invoices_retry_due``'s).

    Each invoice on its own (a failure is recorded for dunning and left for the schedule); safe to run twice or
    two at once: an invoice another run (or the API, the dashboard) finalized or deleted meanwhile is skipped,
    never recorded as a failed finalization, and an attempt is made once under its key.

    ``customers``: only their invoices, on this ``now`` (a test clock's advance, billing.clocks); without it,
    beat's wall-clock run, which leaves alone the customers living on a test clock (their time is the clock's).
    """
    count = 0
    due_drafts = of_customers(
        Invoice.objects.filter(status=S.DRAFT, auto_advance=True, automatically_finalizes_at__lte=now), customers
    ).values_list("pk", flat=True)
    for pk in list(due_drafts):
        invoice = Invoice.objects.filter(pk=pk, status=S.DRAFT).first()
        if invoice is None:
            continue  # finalized or deleted meanwhile
        try:
            invoice_finalize(invoice=invoice, now=now)
            count += 1
        except Invoice.DoesNotExist:
            continue  # deleted meanwhile
        except KassaError as exc:
            _finalization_failed(pk, exc, now)
    first_attempts = of_customers(
        Invoice.objects.filter(
            status=S.OPEN,
            auto_advance=True,
            collection_method=CHARGE_AUTOMATICALLY,
            dunning_started_at__isnull=True,
            next_payment_attempt__lte=now,
        ),
        customers,
    ).order_by("next_payment_attempt", "pk")
    for pk in list(first_attempts.values_list("pk", flat=True)[:BATCH]):
        count += _automatic_attempt(pk, now)
    return count


def invoices_retry_due(*, now: datetime, customers: QuerySet | None = None) -> int:
    """Dunning's run (beat every minute, and each step of a test clock): retry the invoices whose scheduled
    retry has come, then end dunning for those that waited (for a new card, for 3-D Secure) until the
    schedule's last day, and for the subscriptions' invoices sent to customers still unpaid the merchant's days
    after their due date. ``customers``: as ``invoices_advance``. Safe to repeat or overlap."""
    count = 0
    due = of_customers(
        Invoice.objects.filter(
            status=S.OPEN,
            auto_advance=True,
            collection_method=CHARGE_AUTOMATICALLY,
            dunning_started_at__isnull=False,
            next_payment_attempt__lte=now,
        ),
        customers,
    ).order_by("next_payment_attempt", "pk")
    for pk in list(due.values_list("pk", flat=True)[:BATCH]):
        count += _automatic_attempt(pk, now)
    # Both kinds: charged automatically, after the schedule's last day; a subscription's sent to the customer, its
    # merchant's days after the due date (``DunningSettings.overdue_days``, set as it became overdue).
    ending = of_customers(
        Invoice.objects.filter(
            status=S.OPEN,
            auto_advance=True,
            dunning_exhausted_at__isnull=True,
            next_payment_attempt__isnull=True,
            dunning_ends_at__lte=now,
        ),
        customers,
    ).order_by("dunning_ends_at", "pk")
    for pk in list(ending.values_list("pk", flat=True)[:BATCH]):
        count += _dunning_end(pk, now)
    return count


#: An emailed invoice is overdue once its due date has passed (``invoices_mark_overdue``: ``due_date < now``): a test
#: clock's step ends this long after the due date to find it so.
OVERDUE_AFTER = timedelta(seconds=1)


def invoices_next_due(*, customers_queryset: QuerySet, after: datetime) -> datetime | None:
    """A test clock's next step (clocks.on_next_due): the first moment after ``after`` at which invoicing's services
    have work for these customers: a draft finalizing by itself, an automatic charge or retry, the end of dunning
    or of an emailed invoice's days after its due date (``invoices_retry_due``), an emailed invoice's due date
    passing (``invoices_mark_overdue``: the second after it, ``OVERDUE_AFTER``). Two reads."""
    invoices = Invoice.objects.filter(customer__in=customers_queryset, auto_advance=True)
    due = invoices.aggregate(
        finalizes=Min("automatically_finalizes_at", filter=Q(status=S.DRAFT, automatically_finalizes_at__gt=after)),
        attempt=Min("next_payment_attempt", filter=Q(status=S.OPEN, next_payment_attempt__gt=after)),
        ends=Min(
            "dunning_ends_at",
            filter=Q(
                status=S.OPEN,
                dunning_exhausted_at__isnull=True,
                next_payment_attempt__isnull=True,  # as invoices_retry_due ends them: none waiting for a retry
                dunning_ends_at__gt=after,
            ),
        ),
    )
    overdue = Invoice.objects.filter(
        customer__in=customers_queryset,
        status=S.OPEN,
        collection_method=Invoice.CollectionMethod.SEND_INVOICE,
        overdue_at__isnull=True,
        due_date__gte=after,
    ).aggregate(first=Min("due_date"))["first"]
    moments = [moment for moment in due.values() if moment is not None]
    if overdue is not None:
        moments.append(overdue + OVERDUE_AFTER)
    return min(moments) if moments else None


# --- a subscription ended -------------------------------------------------------------------------------


def invoices_collection_stop(*, subscription) -> None:
    """Its subscription ended (canceled now, at its ``cancel_at`` or its period's end, or by dunning's final action):
    its open invoices are collected automatically no more: ``auto_advance`` off and no next attempt, so no retry on
    the schedule and no charge when the payer's card changes (``invoice.updated`` each). As at Stripe,
    which on a cancellation "stops automatic collection of all finalized invoices" of the subscription, "so that the
    customer won't be charged again for the subscription". The payer may still pay one on its hosted page and the
    merchant with ``pay``; an invoice made by the cancellation itself (``invoice_now``, a period's final prorations)
    comes after this and is collected.

    Inside the caller's transaction, which holds the subscription's lock. A payment's answer locks an invoice before
    its subscription, so waiting here for an invoice another transaction holds could deadlock with it: those are
    passed over now (``SKIP LOCKED``; ``NO KEY``, so a row that only names the invoice, a payment being written, does
    not keep it) and stopped once this commits (``_collection_stop_later``), when the subscription's lock is gone and
    waiting for theirs is safe. A process killed in between leaves them collectible."""
    open_ones = Invoice.objects.filter(subscription=subscription, status=S.OPEN, auto_advance=True)
    found = list(open_ones.values_list("pk", flat=True))
    for invoice in open_ones.select_for_update(skip_locked=True, no_key=True).order_by("pk"):
        _collection_stopped(invoice)
        found.remove(invoice.pk)
    if found:
        transaction.on_commit(lambda: _collection_stop_later(found))


def _collection_stop_later(pks: list[int]) -> None:
    for pk in pks:
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update(no_key=True).filter(pk=pk, status=S.OPEN).first()
            if invoice is not None and invoice.auto_advance:
                _collection_stopped(invoice)


def _collection_stopped(invoice: Invoice) -> None:
    before = render(invoice)
    invoice.auto_advance = False
    invoice.next_payment_attempt = None
    invoice.save(update_fields=["auto_advance", "next_payment_attempt", "updated"])
    event_emit(type="invoice.updated", obj=invoice, before=before)


# --- the customer's card changed ------------------------------------------------------------------------


def _past_due(customer: Customer) -> QuerySet:
    """The customer's open invoices charged automatically on the customer's card whose payment failed."""
    return Invoice.objects.filter(
        customer=customer,
        status=S.OPEN,
        auto_advance=True,
        collection_method=CHARGE_AUTOMATICALLY,
        dunning_started_at__isnull=False,
        default_payment_method__isnull=True,  # an invoice with its own card is not paid by the customer's
    )


def invoices_retry_queue(*, customer: Customer) -> None:
    """catalogue's hook (in the transaction that changed the customer's default card): once that commits, a task
    retries their past-due invoices, never inside the request's transaction."""
    if customer.default_payment_method_id is not None and _past_due(customer).exists():
        celery.enqueue_on_commit("billing.tasks.invoices_retry_for_customer", customer.pk)


def invoices_retry_for_customer(*, customer: Customer, now: datetime) -> int:
    """Try the customer's past-due invoices now, on their default card (one attempt per invoice and card: a task
    run twice charges once)."""
    card = customer.default_payment_method
    if card is None or customer.deleted:
        return 0
    count = 0
    for pk in list(_past_due(customer).order_by("pk").values_list("pk", flat=True)):
        count += _automatic_attempt(pk, now, card=card.public_id)
    return count
