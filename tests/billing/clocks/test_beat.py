"""Beat's work on test clocks, with the time as an argument: an advance whose worker died is picked up again and
resumes where it was (each period still invoiced and charged once), and clocks past deletes_after go, unless
something still lives on them."""

from datetime import UTC, datetime, timedelta

import pytest
import stripe
from django.utils import timezone

from billing.clocks import services as clocks
from billing.clocks.models import TestClock
from tests.billing.subscriptions.test_clocks import _clock_customer, ts
from tests.conftest import processor_payment_intents
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=False)


class WorkerKilled(BaseException):
    """A worker's death: not an Exception, so the advance cannot record it as internal_failure."""


@pytest.fixture
def worker_killed_at():
    """Registers, with the clocks' own registry, a step that dies once the clock reaches a given time."""
    killed = []

    def kill(*, customers_queryset, now):
        if killed and not killed[0][1] and now >= killed[0][0]:
            killed[0] = (killed[0][0], True)
            raise WorkerKilled

    clocks.on_advance(kill)
    yield lambda at: killed.append((at, False))
    clocks._on_advance.remove(kill)


def _events(clock_id: str, type: str) -> int:
    return sum(1 for e in Event.objects.filter(type=type) if e.data["object"]["id"] == clock_id)


def test_an_advance_whose_worker_died_is_queued_again_and_resumes_where_it_was(
    api, card_token, stripe_backend, worker_killed_at, request
):
    start = ts(2027, 1, 1, 9)
    clock, customer = _clock_customer(api, card_token, start)
    product = api.v1.products.create(params={"name": "Monthly"})
    price = api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 2500, "recurring": {"interval": "month"}}
    )
    api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    target = ts(2027, 3, 1, 9)

    # The advance is accepted (its task goes to a queue no worker reads here)… and the worker that runs it dies
    # on 10 February, after the February renewal was charged.
    clocks.clock_advance(
        clock=TestClock.objects.get(public_id=clock.id), frozen_time=datetime.fromtimestamp(target, tz=UTC)
    )
    worker_killed_at(datetime(2027, 2, 10, 9, tzinfo=UTC))
    with pytest.raises(WorkerKilled):
        clocks.clock_advance_run(clock_pk=TestClock.objects.get(public_id=clock.id).pk)
    stuck = api.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert (stuck.status, stuck.frozen_time) == ("advancing", ts(2027, 2, 10, 9))
    assert len(processor_payment_intents(stripe_backend)) == 2

    # A run may still be alive within Celery's time limit: the sweep leaves the clock alone until it is past.
    now = timezone.now()
    assert clocks.clocks_advance_sweep(now=now + timedelta(minutes=10)) == 0
    emails_on_commit = request.getfixturevalue("emails_on_commit")  # from here, a worker runs what is queued
    with emails_on_commit():
        assert clocks.clocks_advance_sweep(now=now + clocks.ADVANCE_STALE_AFTER + timedelta(seconds=5)) == 1
    ready = api.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert (ready.status, ready.frozen_time) == ("ready", target)

    # Three periods, three invoices, three charges: the step the dead worker was in ran again, changing nothing twice.
    invoices = api.v1.invoices.list(params={"customer": customer.id}).data
    assert sorted((i.status, i.total, i.created) for i in invoices) == [
        ("paid", 2500, start),
        ("paid", 2500, ts(2027, 2, 1, 9)),
        ("paid", 2500, target),
    ]
    assert len(processor_payment_intents(stripe_backend)) == 3
    assert _events(clock.id, "test_helpers.test_clock.ready") == 1
    # Ready: nothing more to sweep.
    assert clocks.clocks_advance_sweep(now=now + 2 * clocks.ADVANCE_STALE_AFTER) == 0


def test_clocks_past_deletes_after_are_deleted_unless_something_lives_on_them(api, stripe_backend):
    now = timezone.now()
    # Frozen in 2020, made today: it deletes itself 30 days from today, not from 2020.
    empty = api.v1.test_helpers.test_clocks.create(params={"frozen_time": ts(2020, 1, 1), "name": "Empty"})
    assert empty.deletes_after == empty.created + 30 * 86400
    busy = api.v1.test_helpers.test_clocks.create(params={"frozen_time": ts(2027, 1, 1), "name": "Busy"})
    customer = api.v1.customers.create(params={"email": "busy@example.com", "test_clock": busy.id})
    owing = api.v1.test_helpers.test_clocks.create(params={"frozen_time": ts(2027, 1, 1), "name": "Owing"})
    debtor = api.v1.customers.create(params={"email": "owing@example.com", "test_clock": owing.id})
    api.v1.invoice_items.create(params={"customer": debtor.id, "amount": 1500, "currency": "eur"})
    invoice = api.v1.invoices.create(params={"customer": debtor.id, "pending_invoice_items_behavior": "include"})
    api.v1.invoices.finalize_invoice(invoice.id)
    api.v1.customers.delete(debtor.id)

    assert clocks.clocks_delete_expired(now=now + timedelta(days=29)) == 0
    assert clocks.clocks_delete_expired(now=now + timedelta(days=31)) == 1
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.test_helpers.test_clocks.retrieve(empty.id)
    assert _events(empty.id, "test_helpers.test_clock.deleted") == 1
    # Kept: a customer still on it, or an open invoice the wall clock would otherwise take over.
    assert api.v1.test_helpers.test_clocks.retrieve(busy.id).status == "ready"
    assert api.v1.test_helpers.test_clocks.retrieve(owing.id).status == "ready"

    # Once nothing lives on them any more, the next run deletes them.
    api.v1.customers.delete(customer.id)
    api.v1.invoices.void_invoice(invoice.id)
    assert clocks.clocks_delete_expired(now=now + timedelta(days=32)) == 2
    assert [c.id for c in api.v1.test_helpers.test_clocks.list().data] == []
