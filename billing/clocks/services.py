"""Every write of test clocks (keyword-only arguments), and the registry of the time-driven services.

Advancing a clock (``clock_advance``) marks it ``advancing`` and queues a task once that commits;
the task (``clock_advance_run``) runs every service registered with ``on_advance`` for the clock's
customers only, with the clock's time as ``now``, in steps of at most ``ADVANCE_STEP`` (so what falls due
in the middle happens in order, as beat would have done it): each step first moves ``frozen_time`` to its
end, then runs the services at that time, so that whatever they date through the customer's time
(``catalogue.selectors.customer_now``) is dated at the step they run in; then the clock is ``ready`` at its
target. A step ends early at the first moment something falls due for the clock's customers (a renewal, a
finalization, a charge or retry, a due date passing, a notice), which the parts that own that work tell through
``on_next_due``: a renewal is made at its period's end to the second, as at Stripe, not at the end of the day-long
step it falls in. A run starts by running the services again at the clock's time (the last step, if a worker was
killed in it): a step repeated changes nothing twice, the registered services re-checking every status
under their row locks, as beat's runs do.

An advance is cut into tasks: a task that has worked ``KASSA_TEST_CLOCK_TASK_SECONDS`` (a setting, 60 by default)
stops at the end of its step and queues the next task, which goes on from there (``advance_moved_at`` and
``frozen_time`` say how far it got); Celery's soft time limit likewise hands the step it interrupts on to a next
task instead of failing the clock. So years of renewals for many customers never meet the 15-minute limit. Two
tasks of one clock at once (a hand-on and the sweep's) are harmless: a step's move is made once, under the
clock's row lock, by the run that finds the clock where it left it, and the other stops.

A run lost with its worker is found by beat (``clocks_advance_sweep``): an advancing clock whose run has
not moved it for longer than a task may live (``ADVANCE_STALE_AFTER``) is queued again, and resumes from
the step it reached.

Parts above the catalogue register their services in billing/apps.py (invoicing's ``invoices_advance``
and ``invoices_mark_overdue``, dunning's ``invoices_retry_due``, subscriptions' ``subscriptions_advance``): clocks
import none of their services (only invoices' model, to refuse deleting a clock whose invoices it still drives;
subscriptions by name).

Deleting a clock: Stripe deletes the clock and every object on it. Kassa keeps money records
(invoices, payments) for good, so a clock that still has customers is refused (delete the customers
first), and so is one whose customers (deleted ones too) still have invoices the clock drives (a draft
finalizing by itself, an open invoice) or subscriptions that have not ended: once the clock is gone beat
would take them on the wall clock and charge them. Void or settle those, cancel these, first. Customers
already deleted are then let go of the clock. Beat deletes clocks past ``deletes_after`` by the same
rules (``clocks_delete_expired``): one it may not delete is kept, and tried again at the next run.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kassa import celery
from kassa.errors import InvalidRequest
from kassa.ids import public_id
from webhooks.services.outbox import event_emit, render

from ..catalogue.models import Customer
from ..invoices.models import Invoice
from .models import TestClock

logger = logging.getLogger(__name__)

#: A clock deletes itself 30 days after it was made (real time, not its frozen time: Stripe's own example of a
#: clock frozen in 2020 deletes itself a few days after its creation, in 2023). Advancing does not move it.
DELETES_AFTER = timedelta(days=30)
#: The longest stretch of clock time the registered services jump at once.
ADVANCE_STEP = timedelta(days=1)
#: As at Stripe: a clock advances at most two intervals of the shortest subscription on it
#: (``_advance_limit``), and without subscriptions at most two years.
ADVANCE_MAX = relativedelta(years=2)
ADVANCE_TASK = "billing.tasks.test_clock_advance"
#: The latest frozen time a clock may have: what is computed from it (due dates, periods) must still be a date
#: Python has.
FROZEN_TIME_MAX = datetime(9999, 11, 30, tzinfo=UTC)

#: A subscription in one of these has work ahead of it (renewals, retries, an expiry): the clock drives it.
LIVE_SUBSCRIPTION_STATUSES = ("incomplete", "trialing", "active", "past_due", "unpaid", "paused")

#: An advancing clock whose run has not moved it for this long has no run any more, and beat queues it again.
#: A run stamps the clock when it starts and after each step, and Celery kills a task that has lived
#: ``task_time_limit`` (15 minutes, kassa/celery.py): past that (and a minute's margin for the stamp's own
#: commit), no run can still be working on the clock, so queuing another never races a live one. A worker
#: killed with its task otherwise gives the task back only after Redis's visibility timeout (an hour), and
#: the filesystem broker not at all.
ADVANCE_STALE_AFTER = timedelta(seconds=celery.app.conf.task_time_limit) + timedelta(minutes=1)
#: Clocks looked at by one run of beat's sweep or deletion (the next run takes the rest).
BATCH = 100

_on_advance: list[Callable[..., object]] = []


def on_advance(fn: Callable[..., object]) -> Callable[..., object]:
    """Register ``fn(*, customers_queryset, now)``: a time-driven service run for a clock's customers."""
    _on_advance.append(fn)
    return fn


_on_next_due: list[Callable[..., datetime | None]] = []


def on_next_due(fn: Callable[..., datetime | None]) -> Callable[..., datetime | None]:
    """Register ``fn(*, customers_queryset, after) -> datetime | None``: the first moment after ``after`` at which a
    service registered with ``on_advance`` has work for those customers (None: none known). A step of an advance
    ends there (``_step_next``); one that says nothing leaves its work to the step's end, a day at most later."""
    _on_next_due.append(fn)
    return fn


def _next_step_end(clock: TestClock) -> datetime:
    """Where the step after ``clock.frozen_time`` ends: at the target, a day later, or the first moment something
    falls due for the clock's customers before either (always later than the clock: each moment asked for is)."""
    end = min(clock.target_frozen_time, clock.frozen_time + ADVANCE_STEP)
    customers = Customer.objects.filter(test_clock=clock)
    for fn in _on_next_due:
        due = fn(customers_queryset=customers, after=clock.frozen_time)
        if due is not None and clock.frozen_time < due < end:
            end = due
    return end


def refuse_live_mode(*, livemode: bool) -> None:
    """Test helpers answer in test mode only, as at Stripe."""
    if livemode:
        raise InvalidRequest(
            "Test clocks can only be used in test mode: use a test key (sk_test_…).", code="livemode_mismatch"
        )


def _two_intervals(interval: str, count: int) -> relativedelta:
    count = 2 * (count or 1)
    return {
        "day": relativedelta(days=count),
        "week": relativedelta(weeks=count),
        "month": relativedelta(months=count),
        "year": relativedelta(years=count),
    }[interval]


def _advance_limit(clock: TestClock) -> tuple[datetime, str]:
    """Stripe's rule: at most two intervals of the shortest subscription on the clock, else two years."""
    intervals = (
        Customer.objects.filter(test_clock=clock, subscriptions__status__in=LIVE_SUBSCRIPTION_STATUSES)
        .values_list(
            "subscriptions__items__price__recurring_interval", "subscriptions__items__price__recurring_interval_count"
        )
        .distinct()
    )
    limits = [clock.frozen_time + _two_intervals(interval, count) for interval, count in intervals if interval]
    if limits:
        return min(limits), "two intervals of the shortest subscription on this clock"
    return clock.frozen_time + ADVANCE_MAX, "two years"


def _frozen_time_after(clock: TestClock | None, frozen_time: datetime, param: str = "frozen_time") -> None:
    if frozen_time > FROZEN_TIME_MAX:
        raise InvalidRequest(
            f"frozen_time must be at most {int(FROZEN_TIME_MAX.timestamp())} (30 November 9999).", param=param
        )
    if clock is None:
        return
    if frozen_time <= clock.frozen_time:
        raise InvalidRequest(
            "Cannot advance the test clock backwards or to the same time: frozen_time must be later than the "
            f"clock's current frozen_time ({int(clock.frozen_time.timestamp())}).",
            param=param,
        )
    limit, rule = _advance_limit(clock)
    if frozen_time > limit:
        raise InvalidRequest(
            f"Cannot advance the test clock by more than {rule} at once: frozen_time must be at most "
            f"{int(limit.timestamp())}.",
            param=param,
        )


@transaction.atomic
def clock_create(
    *, merchant, livemode: bool, frozen_time: datetime, now: datetime, name: str | None = None
) -> TestClock:
    """A clock at ``frozen_time``, made at ``now`` (the real time): it deletes itself ``DELETES_AFTER`` later."""
    refuse_live_mode(livemode=livemode)
    _frozen_time_after(None, frozen_time)
    clock = TestClock.objects.create(
        public_id=public_id(TestClock.PREFIX),
        merchant=merchant,
        livemode=livemode,
        created=now,
        name=name or None,
        frozen_time=frozen_time,
        deletes_after=now + DELETES_AFTER,
    )
    event_emit(type="test_helpers.test_clock.created", obj=clock)
    return clock


@transaction.atomic
def clock_delete(*, clock: TestClock) -> TestClock:
    clock = TestClock.objects.select_for_update().get(pk=clock.pk)
    if Customer.objects.filter(test_clock=clock, deleted=False).exists():
        raise InvalidRequest(
            "This test clock still has customers: delete them first (Kassa keeps their invoices and payments, "
            "so it does not delete them with the clock)."
        )
    # Subscriptions live on the clock's time too (a name, not an import: subscriptions sit above clocks).
    running = Customer.objects.filter(test_clock=clock, subscriptions__status__in=LIVE_SUBSCRIPTION_STATUSES)
    if running.exists():
        raise InvalidRequest(
            "Subscriptions of this test clock's customers have not ended: cancel them first, or the wall clock "
            "would take over their renewals."
        )
    driven = Invoice.objects.filter(customer__test_clock=clock).filter(
        Q(status=Invoice.Status.DRAFT, auto_advance=True) | Q(status=Invoice.Status.OPEN)
    )
    if driven.exists():
        raise InvalidRequest(
            "Invoices of this test clock's customers are still open or finalize by themselves: void or settle "
            "them (or turn off auto_advance on the drafts) first, or the wall clock would take them over."
        )
    Customer.objects.filter(test_clock=clock).update(test_clock=None)
    event_emit(type="test_helpers.test_clock.deleted", obj=clock)
    clock.delete()
    return clock


@transaction.atomic
def clock_advance(*, clock: TestClock, frozen_time: datetime) -> TestClock:
    """Start advancing: ``advancing`` now, the time-driven services in a task once this commits."""
    clock = TestClock.objects.select_for_update().get(pk=clock.pk)
    if clock.status != TestClock.Status.READY:
        raise InvalidRequest(
            f"The test clock is {clock.status}: wait until it is ready to advance it again.",
            code="test_clock_not_ready" if clock.status == TestClock.Status.ADVANCING else None,
        )
    _frozen_time_after(clock, frozen_time)
    before = render(clock)
    clock.status = TestClock.Status.ADVANCING
    clock.target_frozen_time = frozen_time
    clock.advance_moved_at = timezone.now()  # the machinery's time (the sweep's lease), not the business's
    clock.save(update_fields=["status", "target_frozen_time", "advance_moved_at"])
    event_emit(type="test_helpers.test_clock.advancing", obj=clock, before=before)
    celery.enqueue_on_commit(ADVANCE_TASK, clock.pk)
    return clock


def clock_advance_run(*, clock_pk: int) -> bool:
    """The work of one task of an advance: step by step towards the target, then ``ready``.

    The registered services run at the clock's time (each in its own short transactions), then the clock
    moves to the next step's end, or is ready at the target. Once the task has worked
    ``KASSA_TEST_CLOCK_TASK_SECONDS`` (the worker's own time, not the business's), it queues the next task at
    the step it reached and stops; so does a task Celery's soft time limit interrupts, which hands on the step
    it was in. A run interrupted resumes from the step it reached, running it again. A service that raises
    leaves the clock ``internal_failure`` at the time it failed at (as Stripe's status says). True: this run
    finished its part (the clock is ready, or the next task is queued).
    """
    started = time.monotonic()
    while True:
        clock = TestClock.objects.filter(pk=clock_pk, status=TestClock.Status.ADVANCING).first()
        if clock is None:
            return False  # deleted, or already done by another run
        customers = Customer.objects.filter(test_clock=clock)
        try:
            for fn in _on_advance:
                fn(customers_queryset=customers, now=clock.frozen_time)
            spent = time.monotonic() - started >= settings.KASSA_TEST_CLOCK_TASK_SECONDS
            done = _step_next(clock_pk, clock.frozen_time, hand_on=spent)
        except SoftTimeLimitExceeded:
            logger.warning("Advancing test clock %s: time limit at %s, handed on", clock.public_id, clock.frozen_time)
            return _hand_on(clock_pk)
        except Exception:
            # Whatever failed (a service, the step's own write), the clock says so rather than staying advancing.
            logger.exception("Advancing test clock %s failed at %s", clock.public_id, clock.frozen_time.isoformat())
            _failed(clock_pk)
            return False
        if done:
            return True


@transaction.atomic
def _step_next(clock_pk: int, done_at: datetime, *, hand_on: bool = False) -> bool:
    """The services ran at ``done_at``: at the target the clock is ready (True); else it moves to the next step's
    end (the time its services run at next), stamped for the sweep, and this run goes on (False) or, when it has
    worked long enough (``hand_on``), queues the next task once this commits and stops (True)."""
    clock = TestClock.objects.select_for_update().filter(pk=clock_pk).first()
    if clock is None or clock.status != TestClock.Status.ADVANCING or clock.frozen_time != done_at:
        return True  # deleted, done, or moved on by another run: this one stops
    clock.advance_moved_at = timezone.now()  # the machinery's time (the sweep's lease), not the business's
    if clock.frozen_time < clock.target_frozen_time:
        clock.frozen_time = _next_step_end(clock)
        clock.save(update_fields=["frozen_time", "advance_moved_at"])
        if hand_on:
            celery.enqueue_on_commit(ADVANCE_TASK, clock.pk)
        return hand_on
    before = render(clock)
    clock.status = TestClock.Status.READY
    clock.target_frozen_time = None
    clock.advance_moved_at = None
    clock.save(update_fields=["status", "target_frozen_time", "advance_moved_at"])
    event_emit(type="test_helpers.test_clock.ready", obj=clock, before=before)
    return True


@transaction.atomic
def _hand_on(clock_pk: int) -> bool:
    """The step at ``at`` was cut short (the soft time limit): the next task goes on from where the clock is (that
    step again, or the next if the limit came just after the move), stamped for the sweep."""
    clock = TestClock.objects.select_for_update().filter(pk=clock_pk).first()
    if clock is None or clock.status != TestClock.Status.ADVANCING:
        return False
    clock.advance_moved_at = timezone.now()  # the machinery's time (the sweep's lease), not the business's
    clock.save(update_fields=["advance_moved_at"])
    celery.enqueue_on_commit(ADVANCE_TASK, clock.pk)
    return True


@transaction.atomic
def _failed(clock_pk: int) -> None:
    clock = TestClock.objects.select_for_update().filter(pk=clock_pk).first()
    if clock is None or clock.status != TestClock.Status.ADVANCING:
        return
    before = render(clock)
    clock.status = TestClock.Status.INTERNAL_FAILURE
    clock.target_frozen_time = None
    clock.advance_moved_at = None
    clock.save(update_fields=["status", "target_frozen_time", "advance_moved_at"])
    event_emit(type="test_helpers.test_clock.internal_failure", obj=clock, before=before)


# --- beat ---------------------------------------------------------------------------------------------


def clocks_advance_sweep(*, now: datetime) -> int:
    """Queue again the advances whose run was lost (not moved for ``ADVANCE_STALE_AFTER``); how many were queued.

    Each is stamped as it is queued, so a queue slow to start it gets it once per ``ADVANCE_STALE_AFTER``,
    not once a minute; the run resumes from the step the lost one reached.
    """
    queued = 0
    since = now - ADVANCE_STALE_AFTER
    # No stamp: an advance begun before the stamp existed (migration 0021), stale by now.
    stale = TestClock.objects.filter(status=TestClock.Status.ADVANCING).filter(
        Q(advance_moved_at__lt=since) | Q(advance_moved_at__isnull=True)
    )
    for clock_pk in stale.order_by("advance_moved_at").values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():
            clock = TestClock.objects.select_for_update().filter(pk=clock_pk).first()
            if (
                clock is None
                or clock.status != TestClock.Status.ADVANCING
                or (clock.advance_moved_at is not None and clock.advance_moved_at >= since)
            ):
                continue  # moved, done or deleted meanwhile
            logger.warning(
                "Test clock %s has not moved since %s: its advance is queued again from %s",
                clock.public_id,
                clock.advance_moved_at,
                clock.frozen_time.isoformat(),
            )
            clock.advance_moved_at = now
            clock.save(update_fields=["advance_moved_at"])
            celery.enqueue_on_commit(ADVANCE_TASK, clock.pk)
            queued += 1
    return queued


def clocks_delete_expired(*, now: datetime) -> int:
    """Delete the clocks past ``deletes_after``, as Stripe does, by ``clock_delete``'s rules; how many were deleted.

    A clock ``clock_delete`` refuses (customers still on it, invoices it still drives, subscriptions not
    ended) is kept, and looked at again at the next run, so it goes once its customers are deleted. An
    advancing clock is left to finish first.
    """
    deleted = 0
    expired = (
        TestClock.objects.filter(deletes_after__lte=now)
        .exclude(status=TestClock.Status.ADVANCING)
        .exclude(customers__deleted=False)  # the common reason to keep one, left out here so it never fills a batch
    )
    for clock in expired.order_by("deletes_after", "pk")[:BATCH]:
        try:
            clock_delete(clock=clock)
        except TestClock.DoesNotExist:
            continue  # deleted meanwhile (by its merchant, or another run)
        except InvalidRequest as exc:
            logger.info("Test clock %s is past deletes_after but kept: %s", clock.public_id, exc.message)
            continue
        deleted += 1
    return deleted
