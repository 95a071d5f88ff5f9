"""Beat's subscription work: renewals, trial ends, cancellations at the period's end, expiry of unpaid first
invoices, the notices before a renewal or a trial's end, and the status a subscription's latest invoice gives it.

A run reads its subscriptions a batch (``BATCH``) at a time, with their items, prices, tax rates and merchant,
in a few statements for the batch (``selectors.subscriptions_renewal_read``). One renewal is then one short
transaction on one subscription, under its row lock taken with ``skip_locked`` (two workers, two beat processes
or a retried task each take the subscriptions the others do not hold), by a statement that reads the row again,
then one that reads its customer and a fingerprint of its items and rates: what changed since the batch's read is
read again under the lock, so a renewal bills the subscription as it is when it is locked
(``selectors.subscription_renewal_lock``). Then:
the period's invoice and its lines are made and finalized, the items move to the new period and
``next_renewal_at`` with them, and invoicing's first automatic attempt of the invoice is begun
(``invoice_attempt_begin``: its payment, PaymentIntent and attempt, keyed by the invoice), all committed
together; then, outside the transaction, the processor is called and its answer recorded
(``invoice_attempt_automatically``, a failure handed to dunning). The attempt is begun in the renewal's own
transaction because nobody else can see, let alone pay, the invoice before it commits: its phase 1 needs no
lock and no second read, and a renewal saves two transactions. A worker killed between the commit and the
answer leaves that attempt pending, as a charge whose answer was lost: the reconciler (``payments_reconcile``)
asks the processor, records a charge made, and otherwise lets invoicing's beat make it again under its key;
an attempt that could not be begun (no usable card) is made after the commit as beat makes it, recording why.
A database constraint makes a second invoice for one period impossible (its INSERT does nothing, and invoicing
raises ``PeriodInvoiced``: someone else made it), so every period is invoiced once and charged at most once,
whatever crashes or duplicates.

Fairness across merchants: beat's tick (every minute) does no renewal itself. It queues one batch task
per (merchant, mode, chain) with due work, unless that chain is already running (a cache key, refreshed by
the chain, expiring after ``KASSA_RENEWAL_CHAIN_SECONDS`` if its worker died). A merchant has
``KASSA_RENEWAL_CHAINS`` chains (2, as bin/worker's two processes), each on its own share of the
subscriptions (by id, so two chains never meet on a row). A batch renews at most ``BATCH`` subscriptions of
its share, then queues itself again at the back of the queue while work remains due. The queue is
first-in first-out and holds at most ``KASSA_RENEWAL_CHAINS`` batches per merchant, so merchants take turns a
batch at a time: a merchant with 10,000 renewals on one day delays another merchant's single renewal by at
most the batches already queued ahead of it (two per merchant with a backlog, worked by all the worker's
processes), never by the whole day's run. Measured: tests/billing/subscriptions/test_renewals_fairness.py
(a real worker), and bench/renewals.py (the second merchant's renewal during a 10,000-renewal run; the
figures are in the README).

A worker killed mid-batch: its chain's key outlives it by at most ``KASSA_RENEWAL_CHAIN_SECONDS``, after
which the next tick starts the chain again (that merchant's renewals wait that long; the others' do not);
the killed task itself comes back from the broker later and finds its subscriptions renewed (the row lock
and the per-period constraint make it a no-op).

Time is an argument everywhere: beat passes the wall clock and leaves out customers on a test clock; a
test clock's advance runs the same services for its customers only, with its time (billing/apps.py).

Cost, and the way to issue 15's 5 ms (docs/performance-history.md, Renewals): a renewal is 19 statements and seven
renderings, one subscription at a time (74 before the run shared its merchant's reads, ``kassa.batch``, a
renewal's draft was finalized as it was made with the lines it made, never read back, its charge was begun in
its transaction, its batch read its subscriptions together, its customer was locked by the statement that reads
it, savepoints that undid nothing of their own went, its events were written together as its transaction's
block ends, ``events_gathered``, and its draft and its charge's first phase were made with no savepoint, what
refuses them asked before they write, ``kassa.db.atomic_unless_held``, its draft was inserted with its totals,
its card read once, its charge's own answer looked for no one-off card to release, and the writes of one step
to different tables were sent as one statement, ``kassa.db.together``: its items' and its own, its charge's attempt
and PaymentIntent and its timeline's entry, its invoice's payment and the invoice, and, begun, its invoice's payment,
attempt count and first attempt), its paid invoice was locked with its subscription, which the invoice's hook took
as held (``kassa.db.select_locked_with``), and its payment's emails
go out with the run's others, one task a second; its 19 statements take 13 round trips to PostgreSQL, not 23: each
transaction's BEGIN goes with its first statement, and the writes nothing reads before the next statement go with
that one (``kassa.db.with_next``: the period's, the finalized invoice's, the timeline's, the invoice payment's, the
attempt's, the paid invoice's) or with the COMMIT (its events, kassa/postgresql);
every one of those statements now goes through one built once (``kassa.db``: compiling a save's, a create's or
a query's SQL was half of a renewal's CPU; a queryset's ``.none()`` was compiled too) and one cursor kept while
Django would make the same (``kassa.db._cursor``: Django made one a statement), each sent to the driver's own
cursor, without Django's per-statement calls, while nothing watches statements (``kassa.db._run``), its values
dumped and rows loaded by one psycopg Transformer per cursor, which finds each type's dumper and loader once
(``kassa.db._transformer``: 6 % of a renewal's instructions), Django's connection looked up 60 times, not 78 (each
through asgiref's ``Local``, which raises and catches an error in sync code), rendering its
seven events is about a tenth of what is left (each serializer's readable fields listed once, constants and plain
values shown without DRF's calls: ``kassa.api.fields.Out``), its fourteen new rows and twelve read ones are made without
``Model.__init__``'s calls for each field (``kassa.db.new``), its 21 KB of JSON is written by orjson and its moments
read by ``datetime.fromisoformat`` (``kassa.db``), it writes only the columns it changed of its subscription, its
PaymentIntent and its attempt (``kassa.db.update_changed``), and
one PaymentIntent through stripe-python is about 1 to 1.5 ms (its client, and so its connection, kept per key,
reading the proxy settings once, its answer read as the JSON it is, not made into StripeObjects: ``kassa.gateway``);
the tasks it leaves take its events off the dispatcher's queue in one statement a batch (``outbox._queued_take``),
make no whole notice for a payment that is one row of a notice of several (``payments.emails._digest_row``), and list
25 payments in such a notice, not a second's worth (``payments.emails.DIGEST_ROWS``); its events nudge the
dispatcher once a transaction, not once an event (``outbox._kick_on_commit``); the worker's processes keep Python's
cycle collector off what they hold for their life once they have run a task of each kind (``kassa.frozen``: 0.30 ->
0.13 ms a renewal, counted in the worker by ``bench/gc_probe``); a
statement's bare round trip through Django's cursor and psycopg was about 0.13 ms of this process's CPU on an
earlier, slower machine, 0.09 of it psycopg's own (``bench/renewals_profile.py --floor``; psycopg parses each
statement's text once: ``kassa.db`` widens its limit of 50 values, which an invoice's INSERT passes). Why not one
transaction for a whole batch, with each renewal in a savepoint: a finalizing holds the merchant's number series
locked to its transaction's end, so a batch would hold it for the whole batch, the merchant's other chain would
queue behind it, and a chain holding the series while it locks a customer the other chain holds (two
subscriptions of one customer) would deadlock with it.
What batching can still save, measured (2026-12-04, ``bench/renewals_profile.py --floor``): a statement's bare round
trip is 0.043 ms of this process's CPU on this machine, so a renewal's 20 are under 1 ms of its 5 to 8; what is left
is Python per object (about 26 model instances made, seven renderings, about 300 values prepared for the database,
stripe-python's call), which a batch does once per renewal as well. Batch-first services would save most of that
millisecond and the transactions' own cost (a transaction's BEGIN and COMMIT are about 0.03 ms of this process's
CPU: recording a batch's answers in one transaction alone would save under 1 %), not enough alone for 5 ms: the rest
needs fewer objects per renewal (values written without a model instance made for them, the renderings of one object
shared between its events).
What is left to do is to make invoicing's and payments' services batch-first, with the single renewal a batch
of one (never a second path beside them), the numbers taken at the batch's end:

1. Invoicing a batch in one transaction: the due subscriptions locked in one ``SKIP LOCKED`` read (their items
   and rates are read with the batch already, and used where the lock's fingerprint matches: done), their
   customers locked next in one read in id order (two chains meeting on a customer queue there, never deadlock);
   the periods computed in Python; the invoices and their lines inserted in one statement each (the per-period
   constraint unchanged: a batch meeting it falls back to one at a time); the batch's numbers taken last, in one
   update of the series' row (held only to the commit just after); subscriptions and items moved in one
   statement each; the events rendered from the objects in memory and inserted together.
2. Charging: phase 1 (the invoice payments, PaymentIntents and keyed attempts) is committed with each renewal
   (done); with step 1 it would be inserted for the whole batch at once; then one processor call per invoice
   (unavoidable), then the answers recorded in one transaction.
3. The rules stay where they are: attempt keys derived from the invoice, the constraint, and the reconciler and
   ``invoices_advance`` replaying whatever a crash leaves between the phases (tests/billing/subscriptions/
   test_renewals_crash.py must pass unchanged).
"""

import logging
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Mod

from kassa import celery
from kassa.batch import batch
from kassa.db import is_held, related, select_one, snapshot, together, update, update_changed
from kassa.errors import KassaError
from webhooks.services.outbox import event_emit, events_gathered, render

from ...invoices import hooks
from ...invoices import services as invoices
from ...invoices.models import DunningSettings, Invoice
from .. import prorations
from ..collection import invoice_collect, invoice_collection_begin
from ..models import Subscription
from ..selectors import subscription_items, subscription_renewal_lock, subscriptions_renewal_read
from .cards import paying_card_keep, saves_card
from .common import (
    ENDED,
    INCOMPLETE_EXPIRES_AFTER,
    TRIAL_WILL_END_BEFORE,
    S,
    current_period,
    emit_updated,
    items_period_set,
    next_work_at,
    of_customers,
    pending_update_expire,
    period_after,
    period_invoice_create,
    period_until_cancel,
    status_move,
    upcoming_before,
)

logger = logging.getLogger(__name__)

#: Subscriptions one batch task renews before it lets the next merchant's batch run.
BATCH = 50
BATCH_TASK = "billing.tasks.subscriptions_renew_batch"
#: A test clock's advance renews until nothing is due; a bound so that a bug can never loop for ever.
ADVANCE_ROUNDS_MAX = 1000


def _due(now: datetime, customers: QuerySet | None) -> QuerySet:
    return of_customers(Subscription.objects.filter(next_renewal_at__lte=now), customers)


def _chains() -> int:
    """Chains per merchant and mode: settings.KASSA_RENEWAL_CHAINS (2, as bin/worker's two processes)."""
    return max(1, settings.KASSA_RENEWAL_CHAINS)


def _of_chain(due: QuerySet, chain: int) -> QuerySet:
    """The subscriptions chain ``chain`` renews: those whose id leaves that remainder (no two chains meet)."""
    return due.annotate(chain=Mod("pk", _chains())).filter(chain=chain)


def _chain_ttl() -> int:
    """Seconds a chain counts as running after its last batch was queued: settings.KASSA_RENEWAL_CHAIN_SECONDS."""
    return settings.KASSA_RENEWAL_CHAIN_SECONDS


def _chain_key(merchant_pk: int, livemode: bool, chain: int) -> str:
    return f"subscriptions:renewing:{merchant_pk}:{int(livemode)}:{chain}"


def subscriptions_renew_due(
    *,
    now: datetime,
    customers: QuerySet | None = None,
    merchant_pk: int | None = None,
    livemode: bool | None = None,
    chain: int | None = None,
    limit: int | None = None,
) -> int:
    """Renew (or end) the subscriptions due at ``now``, oldest first, each in its own transaction; how many. Their
    events nudge the webhook dispatcher at most once a second and once when all are done, and the merchant's
    invoice settings and credentials are read once for them all: they are one batch (kassa.batch)."""
    due = _due(now, customers)
    if merchant_pk is not None:
        due = due.filter(merchant_id=merchant_pk, livemode=livemode)
    if chain is not None:
        due = _of_chain(due, chain)
    pks = list(due.order_by("next_renewal_at", "pk").values_list("pk", flat=True)[:limit])
    done = 0
    with batch():
        for start in range(0, len(pks), BATCH):
            # Read for BATCH renewals at once (a few statements, not five a renewal); each renewal's lock tells
            # whether what was read is still what is there (selectors.subscription_renewal_lock).
            chunk = pks[start : start + BATCH]
            read = subscriptions_renewal_read(chunk)
            for pk in chunk:
                try:
                    if subscription_renew(subscription_pk=pk, now=now, read=read.get(pk)):
                        done += 1
                except KassaError as exc:
                    logger.warning("Renewing subscription %s failed: %s", pk, exc.message)
    return done


def subscriptions_advance(*, now: datetime, customers: QuerySet) -> int:
    """A test clock's step: every renewal due up to ``now`` for ``customers``, then the notices."""
    done = 0
    for _round in range(ADVANCE_ROUNDS_MAX):
        renewed = subscriptions_renew_due(now=now, customers=customers)
        done += renewed
        if not renewed:
            break
    subscriptions_notify(now=now, customers=customers)
    return done


def subscriptions_next_due(*, customers_queryset: QuerySet, after: datetime) -> datetime | None:
    """A test clock's next step (clocks.on_next_due): the first moment after ``after`` at which
    ``subscriptions_advance`` has work for these customers: a subscription's next work (``next_renewal_at``: its
    renewal, trial's end, pause's end, ``cancel_at``, an unpaid first invoice's expiry) and the notices before it
    (``invoice.upcoming``, ``trial_will_end``). One read of their live subscriptions' moments."""
    found = (
        Subscription.objects.filter(customer__in=customers_queryset, next_renewal_at__isnull=False)
        .exclude(status__in=ENDED)
        .values_list("status", "next_renewal_at", "trial_end")
    )
    moments = []
    for status, work_at, trial_end in found:
        moments.append(work_at)
        if status != S.INCOMPLETE:
            moments.append(work_at - upcoming_before())
        if status == S.TRIALING and trial_end is not None:
            moments.append(trial_end - TRIAL_WILL_END_BEFORE)
    later = [moment for moment in moments if moment > after]
    return min(later) if later else None


def subscriptions_renew_fan_out(*, now: datetime) -> int:
    """Beat's tick: one batch task per (merchant, mode, chain) with due work and no chain running; how many
    queued."""
    chains = _due(now, None).annotate(chain=Mod("pk", _chains())).order_by()
    queued = 0
    for merchant_pk, livemode, remainder in chains.values_list("merchant_id", "livemode", "chain").distinct():
        chain = int(remainder)  # SQLite's MOD answers a float
        if cache.add(_chain_key(merchant_pk, livemode, chain), now.isoformat(), _chain_ttl()):
            celery.enqueue(BATCH_TASK, merchant_pk, livemode, chain)
            queued += 1
    return queued


def subscriptions_renew_batch(*, merchant_pk: int, livemode: bool, now: datetime, chain: int = 0) -> int:
    """One merchant's turn on one chain: at most ``BATCH`` renewals, then back of the queue while more are due."""
    key = _chain_key(merchant_pk, livemode, chain)
    done = subscriptions_renew_due(now=now, merchant_pk=merchant_pk, livemode=livemode, chain=chain, limit=BATCH)
    more = _of_chain(_due(now, None).filter(merchant_id=merchant_pk, livemode=livemode), chain).exists()
    if done and more:
        cache.set(key, now.isoformat(), _chain_ttl())
        celery.enqueue(BATCH_TASK, merchant_pk, livemode, chain)
    else:
        # Nothing left (or nothing this run could take: held by another worker, or failing): the next tick looks again.
        cache.delete(key)
    return done


def subscription_renew(*, subscription_pk: int, now: datetime, read: Subscription | None = None) -> bool:
    """Whatever is due for one subscription at ``now``; False when it is not due (or another run holds it).
    ``read``: the batch's read of it (``subscriptions_renewal_read``), used where it is still current."""
    after = []
    with transaction.atomic(), events_gathered():  # its events (four, on a renewal) in one INSERT
        # Its items, rates, customer and merchant are read several times in a pass (its events, the invoice, its
        # lines, its period): once, with it (or with its batch).
        subscription = subscription_renewal_lock(subscription_pk, now=now, read=read)
        if subscription is None:
            return False
        # A new invoice's charge is begun here (its payment, PaymentIntent and keyed attempt): the invoice is this
        # transaction's own, so nobody else can pay it before it commits; the processor is called after the commit.
        after = [
            (action, invoice, _charge_begin(action, invoice, now))
            for action, invoice in _renew_locked(subscription, now)
        ]
    for action, invoice, begun in after:
        invoice_collect(action, invoice, now=now, begun=begun)
    return True


def _charge_begin(action: str, invoice: Invoice, now: datetime):
    return invoices.invoice_attempt_begin(invoice=invoice, now=now) if action == "charge" else None


def _renew_locked(subscription: Subscription, now: datetime) -> list[tuple[str, Invoice]]:
    """The locked part; returns what to do with which invoice once committed (``(action, invoice)``, in order): a
    dropped pending update's invoice is voided whatever else the pass did (a new period, or the end), before the
    new period's invoice is charged."""
    before = render(subscription)
    stored = snapshot(subscription)  # as locked: a new period writes what the pass changed of its row (period_advance)
    first_item = subscription_items(subscription)[0]  # its period is the current one
    end = first_item.current_period_end
    if subscription.status == S.INCOMPLETE:
        if now < subscription.created + INCOMPLETE_EXPIRES_AFTER:
            subscription.next_renewal_at = subscription.created + INCOMPLETE_EXPIRES_AFTER
            subscription.save(update_fields=["next_renewal_at", "updated"])
            return []
        status_move(subscription, S.INCOMPLETE_EXPIRED)
        subscription.ended_at = now
        subscription.next_renewal_at = None
        subscription.save()
        emit_updated(subscription, before)
        invoice = subscription.latest_invoice
        return [("void", invoice)] if invoice is not None and invoice.status == Invoice.Status.OPEN else []
    dropped = pending_update_expire(subscription, now)
    # Paying it later must not charge for a change that was dropped, even when this pass also starts a new period.
    after = [("void", dropped)] if dropped is not None and dropped.status == Invoice.Status.OPEN else []
    # What fell due is done in the order it fell due: a pass run later than its period's end (beat behind, a test
    # clock's step of up to a day) renews that period first, under a pause that ended after it and before a
    # cancel_at after it (the subscription's next work is then at once: the next pass ends the pause or the
    # subscription), as a pass on time would have.
    renewal_due = end <= now and subscription.status != S.PAUSED
    resumes_at = subscription.pause_resumes_at
    if subscription.pause_behavior and resumes_at and resumes_at <= now and not (renewal_due and end < resumes_at):
        subscription.pause_behavior = None
        subscription.pause_resumes_at = None
    ends_at = None
    cancel_at = subscription.cancel_at
    if cancel_at is not None and cancel_at <= now and not (renewal_due and end < cancel_at):
        ends_at = cancel_at
    elif subscription.cancel_at_period_end and end <= now:
        ends_at = end
    if ends_at is not None:
        final = _end_at_schedule(subscription, ends_at, now, before)
        return [*after, final] if final is not None else after
    if end > now or subscription.status == S.PAUSED:
        # Only the pause's end or a pending update's expiry was due (a paused subscription never renews).
        subscription.next_renewal_at = next_work_at(subscription, end)
        subscription.save()
        emit_updated(subscription, before)
        return after
    new = period_advance(
        subscription, end, now, before, price=first_item.price, customer_locked=True, held=True, stored=stored
    )
    return [*after, new] if new is not None else after


def _end_at_schedule(subscription: Subscription, ends_at: datetime, now: datetime, before: dict):
    """Ended at its ``cancel_at`` (or its period's end with ``cancel_at_period_end``): with pending prorations
    to bill, a final invoice (prorations.subscription_ending_invoice), collected once committed."""
    collect = subscription.status != S.UNPAID and not subscription.pause_behavior
    subscription_end(subscription, now=now, ended_at=ends_at, before=before)
    try:
        with transaction.atomic():
            final = prorations.subscription_ending_invoice(
                subscription=subscription, ended_at=ends_at, now=now, collect=collect
            )
    except IntegrityError:  # invoiced already (the constraint, not the lock, guarantees it): never a second one
        logger.warning("Subscription %s: final invoice at %s already made", subscription.public_id, ends_at)
        return None
    if final is None or final.status != Invoice.Status.OPEN or not collect:
        return None
    if final.collection_method == Invoice.CollectionMethod.CHARGE_AUTOMATICALLY:
        return ("charge", final)
    return None  # send_invoice: emailed as it was finalized


def period_advance(
    subscription: Subscription,
    end: datetime,
    now: datetime,
    before: dict,
    *,
    price=None,
    billing_reason: str = Invoice.BillingReason.SUBSCRIPTION_CYCLE,
    customer_locked: bool = False,
    held: bool = False,
    stored: dict | None = None,
):
    """The next period's invoice (``price``: the first item's, which sets the interval), and the period moved.
    ``billing_reason``: ``subscription_update`` when an update starts the period (``billing_cycle_anchor=now``).
    ``customer_locked``: the caller read the subscription's customer under its row lock in this transaction (a
    renewal's, selectors.subscription_renewal_lock). ``held``: the draft is made in the caller's transaction with
    no savepoint of its own (a renewal's: ``period_invoice_create``). ``stored``: the subscription's row as the caller
    read it under its lock (``kassa.db.snapshot``): then only what changed since is written (a renewal's: its row is
    some forty columns, of which a new period sets a few), else every column."""
    price = price or subscription_items(subscription)[0].price
    new_start, whole_end = period_after(subscription, price, end)
    # Its cancel_at inside the new period ends it there, billed for its share (the renewal due then ends it).
    new_end, whole_end = period_until_cancel(subscription.cancel_at, new_start, whole_end)
    if subscription.status == S.TRIALING:
        status_move(subscription, S.ACTIVE)  # the trial ends with the first paid period's invoice
    try:
        # The period's second invoice is refused before anything of it is written (invoices.PeriodInvoiced: the
        # database's constraint, met by an INSERT that does nothing), so this transaction goes on, with no savepoint
        # (held) or with invoicing's own; any other error of the draft's fails this whole transaction (nothing
        # before it in period_invoice_create writes; a credit carried forward that fails raises a RuntimeError).
        invoice = period_invoice_create(
            subscription=subscription,
            start=new_start,
            end=new_end,
            now=now,
            billing_reason=billing_reason,
            trial=False,
            whole_end=whole_end,
            lines_kept=True,  # finalized below, made_here
            customer_locked=customer_locked,
            held=held,
        )
    except invoices.PeriodInvoiced:
        # This period is invoiced already (a run that committed it without moving the period: cannot happen
        # with the lock, but the constraint, not the lock, is what guarantees it): move on without a second one.
        logger.warning("Subscription %s: period %s already invoiced", subscription.public_id, new_start)
        invoice = None
    subscription.next_renewal_at = next_work_at(subscription, new_end)
    with together(with_next=True):  # the items' period and the subscription in one statement, sent with what follows
        items_period_set(subscription, new_start, new_end)
        update(subscription) if stored is None else update_changed(subscription, stored)
    emit_updated(subscription, before)
    if invoice is None:
        return None
    return invoice_collection_begin(subscription, invoice, now=now, made_here=True)


def subscription_end(subscription: Subscription, *, now: datetime, ended_at: datetime, before: dict) -> None:
    """Canceled (the caller holds the lock): no more periods, no more invoices, and its open invoices no longer
    collected automatically (``invoices.invoices_collection_stop``: no retry, no charge on a new card; an incomplete
    one's first invoice is voided by its caller instead)."""
    incomplete = subscription.status == S.INCOMPLETE
    status_move(subscription, S.CANCELED)
    subscription.canceled_at = subscription.canceled_at or now
    subscription.ended_at = ended_at
    subscription.next_renewal_at = None
    if not subscription.cancellation_reason:
        subscription.cancellation_reason = Subscription.CancellationReason.CANCELLATION_REQUESTED
    subscription.save()
    event_emit(type="customer.subscription.deleted", obj=subscription)
    if not incomplete:
        invoices.invoices_collection_stop(subscription=subscription)


# --- notices ------------------------------------------------------------------------------------------


def subscriptions_notify(*, now: datetime, customers: QuerySet | None = None) -> int:
    """``invoice.upcoming`` ``upcoming_before()`` ahead of each renewal and
    ``customer.subscription.trial_will_end`` three days before a trial ends: once each (the period or trial end
    they were sent for is recorded under the row lock)."""
    sent = 0
    horizon = now + max(upcoming_before(), TRIAL_WILL_END_BEFORE)
    candidates = of_customers(
        Subscription.objects.filter(next_renewal_at__gt=now, next_renewal_at__lte=horizon).exclude(
            status__in=[*ENDED, S.INCOMPLETE]
        ),
        customers,
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if subscription is None or subscription.status in ENDED:
                continue
            sent += _notify_locked(subscription, now)
    return sent


def _notify_locked(subscription: Subscription, now: datetime) -> int:
    sent = 0
    _start, end = current_period(subscription)
    trial_end = subscription.trial_end
    if (
        subscription.status == S.TRIALING
        and trial_end is not None
        and now < trial_end <= now + TRIAL_WILL_END_BEFORE
        and subscription.trial_will_end_notified_for != trial_end
    ):
        subscription.trial_will_end_notified_for = trial_end
        subscription.save(update_fields=["trial_will_end_notified_for"])
        event_emit(type="customer.subscription.trial_will_end", obj=subscription)
        sent += 1
    ending = subscription.cancel_at_period_end or (subscription.cancel_at is not None and subscription.cancel_at <= end)
    if not ending and now < end <= now + upcoming_before() and subscription.upcoming_notified_for != end:
        subscription.upcoming_notified_for = end
        subscription.save(update_fields=["upcoming_notified_for"])
        event_emit(type="invoice.upcoming", obj=subscription, data_object=_UPCOMING[0](subscription, now))
        sent += 1
    return sent


#: How ``invoice.upcoming`` shows the next invoice: ``fn(subscription, now) -> dict``, registered in billing/apps.py.
#: It is the preview the API's ``invoices.create_preview`` answers (pending items and prorations, taxes, totals), so
#: that the amount a merchant tells a payer ahead of a renewal is the amount the renewal charges.
_UPCOMING: list = []


def upcoming_rendering(render_upcoming) -> None:
    _UPCOMING[:] = [render_upcoming]


# --- the latest invoice decides the status (invoicing's hook, registered in billing/apps.py) ------------


def subscription_invoice_changed(*, invoice: Invoice, change: str, now: datetime) -> None:
    """Paid → active (trialing within a trial); a failed attempt, or a ``send_invoice`` invoice unpaid after its due
    date (``overdue``, as at Stripe), → past_due (the first invoice's failure leaves the subscription incomplete);
    the first invoice voided → incomplete_expired. Only the subscription's latest
    invoice counts: an older one paid late changes nothing (but its card may be kept, below)."""
    if invoice.subscription_id is None:
        return
    subscription = _invoice_subscription_locked(invoice)
    latest = subscription.latest_invoice_id == invoice.pk
    if subscription.status in ENDED or not (latest or change == hooks.PAID):
        return
    if subscription.pending_update_invoice_id == invoice.pk:
        return  # a pending update's invoice moves no status: paid, the update applies and its card is kept (changes.py)
    # Rendered only when something may change: a renewal's paid charge comes through here and usually changes
    # nothing, so rendering it every time was a measurable share of a renewal's cost (docs/performance-history.md).
    may_keep_card = change == hooks.PAID and saves_card(subscription)
    before = render(subscription) if may_keep_card else None
    # Any of its invoices paid by card (not only the latest): with save_default_payment_method, that card.
    card_kept = may_keep_card and paying_card_keep(subscription, invoice)
    target = None
    if not latest:
        pass
    elif change == hooks.PAID and subscription.status in (S.INCOMPLETE, S.PAST_DUE, S.UNPAID):
        in_trial = subscription.trial_end is not None and now < subscription.trial_end
        target = S.TRIALING if in_trial and subscription.status == S.INCOMPLETE else S.ACTIVE
    elif change in (hooks.PAYMENT_FAILED, hooks.OVERDUE) and subscription.status in (S.ACTIVE, S.TRIALING):
        target = S.PAST_DUE
    elif change == hooks.VOIDED and subscription.status == S.INCOMPLETE:
        target = S.INCOMPLETE_EXPIRED
    if target is None:
        if card_kept:
            subscription.save()
            emit_updated(subscription, before)
        return
    if before is None:
        before = render(subscription)
    status_move(subscription, target)
    if target == S.INCOMPLETE_EXPIRED:
        subscription.ended_at = now
    period = current_period(subscription)
    subscription.next_renewal_at = next_work_at(subscription, period[1] if period else None)
    subscription.save()
    emit_updated(subscription, before)


def _invoice_subscription_locked(invoice: Invoice) -> Subscription:
    """The invoice's subscription, locked: as a payment's success locked it with the invoice, in one statement
    (``kassa.db.held``: every paid renewal), else locked now through a statement built once, and kept on the invoice,
    whose renderings from here on show it as locked, without reading it again."""
    if is_held(invoice, "subscription"):
        return related(invoice, "subscription")
    subscription = select_one(Subscription, "id = %s", [invoice.subscription_id], lock=True)
    Invoice.subscription.field.set_cached_value(invoice, subscription)
    return subscription


def subscription_dunning_exhausted(*, invoice: Invoice, now: datetime) -> None:
    """Dunning's last retry of a subscription's latest invoice failed (invoicing's ``on_dunning_exhausted``): what
    the merchant chose in Settings → Failed payments — cancel the subscription (``cancellation_details.reason``
    ``payment_failed``), mark it ``unpaid`` (renewals still make invoices, none is attempted), or leave it
    ``past_due``. An older invoice's dunning changes nothing (only the latest invoice decides), but for an invoice sent
    to the customer whose days after its due date passed while the subscription is past due."""
    if invoice.subscription_id is None:
        return
    subscription = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
    latest = subscription.latest_invoice_id == invoice.pk
    # An invoice sent to the customer reaches its deadline (DunningSettings.overdue_days) counted from its own due
    # date, often after the next period's invoice was made: it still ends a subscription that is past due, as at
    # Stripe ("canceled or unpaid if it is still not paid by an additional deadline"); one whose latest invoice was
    # paid since (active) is left alone.
    emailed = invoice.collection_method == Invoice.CollectionMethod.SEND_INVOICE and subscription.status == S.PAST_DUE
    if not (latest or emailed) or subscription.status not in (S.PAST_DUE, S.ACTIVE):
        return  # ended, paused, unpaid already, or not the latest invoice
    action = invoices.dunning_settings_for(merchant=invoice.merchant, livemode=invoice.livemode).subscription_action
    before = render(subscription)
    if action == DunningSettings.SubscriptionAction.CANCEL:
        subscription.cancellation_reason = Subscription.CancellationReason.PAYMENT_FAILED
        subscription_end(subscription, now=now, ended_at=now, before=before)
    elif action == DunningSettings.SubscriptionAction.UNPAID and subscription.status != S.UNPAID:
        status_move(subscription, S.UNPAID)
        subscription.save()
        emit_updated(subscription, before)
