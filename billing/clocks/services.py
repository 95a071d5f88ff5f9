"""Every write of test clocks (keyword-only arguments), and the registry of the time-driven services.

Advancing a clock (``clock_advance``) marks it ``advancing`` and queues a task once that commits;
the task (``clock_advance_run``) runs every service registered with ``on_advance`` for the clock's
customers only, with the clock's time as ``now``, in steps of at most ``ADVANCE_STEP`` (so what falls due
in the middle happens in order, as beat would have done it), moving ``frozen_time`` after each step; then
the clock is ``ready`` at its target. A step repeated (a worker killed and the task run again) changes
nothing twice: the registered services re-check every status under their row locks, as beat's runs do.

Parts above the catalogue register their services in billing/apps.py (invoicing's ``invoices_advance``
and ``invoices_mark_overdue``, dunning's ``invoices_retry_due``, subscriptions' ``subscriptions_advance``): clocks
import none of their services (only invoices' model, to refuse deleting a clock whose invoices it still drives).

Deleting a clock: Stripe deletes the clock and every object on it. Kassa keeps money records
(invoices, payments) for good, so a clock that still has customers is refused (delete the customers
first), and so is one whose customers (deleted ones too) still have invoices the clock drives (a draft
finalizing by itself, an open invoice) or subscriptions that have not ended: once the clock is gone beat
would take them on the wall clock and charge them. Void or settle those, cancel these, first. Customers
already deleted are then let go of the clock.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q

from kassa import celery
from kassa.errors import InvalidRequest
from kassa.ids import public_id
from webhooks.services.outbox import event_emit, render

from ..catalogue.models import Customer
from ..invoices.models import Invoice
from .models import TestClock

logger = logging.getLogger(__name__)

#: As at Stripe: a clock deletes itself 30 days after its frozen time.
DELETES_AFTER = timedelta(days=30)
#: The longest stretch of clock time the registered services jump at once.
ADVANCE_STEP = timedelta(days=1)
#: As at Stripe: a clock advances at most two intervals of the shortest subscription on it
#: (``_advance_limit``), and without subscriptions at most two years.
ADVANCE_MAX = relativedelta(years=2)
ADVANCE_TASK = "billing.tasks.test_clock_advance"
#: The latest frozen time a clock may have: its deletes_after (30 days on) must still be a date Python has.
FROZEN_TIME_MAX = datetime(9999, 11, 30, tzinfo=UTC)

#: A subscription in one of these has work ahead of it (renewals, retries, an expiry): the clock drives it.
LIVE_SUBSCRIPTION_STATUSES = ("incomplete", "trialing", "active", "past_due", "unpaid", "paused")

_on_advance: list[Callable[..., object]] = []


def on_advance(fn: Callable[..., object]) -> Callable[..., object]:
    """Register ``fn(*, customers_queryset, now)``: a time-driven service run for a clock's customers."""
    _on_advance.append(fn)
    return fn


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
def clock_create(*, merchant, livemode: bool, frozen_time: datetime, name: str | None = None) -> TestClock:
    refuse_live_mode(livemode=livemode)
    _frozen_time_after(None, frozen_time)
    clock = TestClock.objects.create(
        public_id=public_id(TestClock.PREFIX),
        merchant=merchant,
        livemode=livemode,
        name=name or None,
        frozen_time=frozen_time,
        deletes_after=frozen_time + DELETES_AFTER,
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
    clock.save(update_fields=["status", "target_frozen_time"])
    event_emit(type="test_helpers.test_clock.advancing", obj=clock, before=before)
    celery.enqueue_on_commit(ADVANCE_TASK, clock.pk)
    return clock


def clock_advance_run(*, clock_pk: int) -> bool:
    """The work of one advance (the task's): step by step to the target, then ``ready``.

    Each step runs the registered services (each in its own short transactions) and then moves
    ``frozen_time`` to the step's end; a run interrupted resumes from the last step done. A service that
    raises leaves the clock ``internal_failure`` at the last time reached (as Stripe's status says).
    """
    while True:
        clock = TestClock.objects.filter(pk=clock_pk, status=TestClock.Status.ADVANCING).first()
        if clock is None:
            return False  # deleted, or already done by another run
        target = clock.target_frozen_time
        step_end = min(target, clock.frozen_time + ADVANCE_STEP)
        customers = Customer.objects.filter(test_clock=clock)
        try:
            for fn in _on_advance:
                fn(customers_queryset=customers, now=step_end)
            done = _step_done(clock_pk, step_end)
        except Exception:
            # Whatever failed (a service, the step's own write), the clock says so rather than staying advancing.
            logger.exception("Advancing test clock %s failed at %s", clock.public_id, step_end.isoformat())
            _failed(clock_pk)
            return False
        if done:
            return True


@transaction.atomic
def _step_done(clock_pk: int, step_end: datetime) -> bool:
    """``frozen_time`` at the step's end; at the target, the clock is ready (True)."""
    clock = TestClock.objects.select_for_update().filter(pk=clock_pk).first()
    if clock is None or clock.status != TestClock.Status.ADVANCING:
        return True
    if step_end > clock.frozen_time:
        clock.frozen_time = step_end
        clock.deletes_after = step_end + DELETES_AFTER
    if clock.frozen_time < clock.target_frozen_time:
        clock.save(update_fields=["frozen_time", "deletes_after"])
        return False
    before = render(clock)
    clock.status = TestClock.Status.READY
    clock.target_frozen_time = None
    clock.save(update_fields=["frozen_time", "deletes_after", "status", "target_frozen_time"])
    event_emit(type="test_helpers.test_clock.ready", obj=clock, before=before)
    return True


@transaction.atomic
def _failed(clock_pk: int) -> None:
    clock = TestClock.objects.select_for_update().filter(pk=clock_pk).first()
    if clock is None or clock.status != TestClock.Status.ADVANCING:
        return
    before = render(clock)
    clock.status = TestClock.Status.INTERNAL_FAILURE
    clock.target_frozen_time = None
    clock.save(update_fields=["status", "target_frozen_time"])
    event_emit(type="test_helpers.test_clock.internal_failure", obj=clock, before=before)
