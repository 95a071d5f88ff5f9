"""An advance longer than one task may work: cut into tasks, each handing on to the next from where it got, so a
year of renewals never meets Celery's time limit (nor ends ``internal_failure`` when the soft one comes)."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_prerun

from billing.clocks import services as clocks
from tests.billing.subscriptions.test_clocks import _advance, _clock_customer, _invoices, ts
from tests.conftest import processor_payment_intents

START = ts(2027, 1, 1, 9)
TWO_MONTHS = 59 * 86400


@pytest.fixture
def advance_tasks():
    """How many times a worker started the clock's advance task."""
    started = []

    def count(sender=None, **kwargs):
        if sender is not None and sender.name == clocks.ADVANCE_TASK:
            started.append(kwargs.get("task_id"))

    task_prerun.connect(count, weak=False)
    yield started
    task_prerun.disconnect(count)


@pytest.fixture
def soft_limit_at():
    """Registers, with the clocks' own registry, a step that meets Celery's soft time limit once, at a given time."""
    pending = []

    def limit(*, customers_queryset, now):
        if pending and now >= pending[0]:
            pending.clear()
            raise SoftTimeLimitExceeded

    clocks.on_advance(limit)
    yield pending.append
    clocks._on_advance.remove(limit)


def _monthly(api):
    product = api.v1.products.create(params={"name": "Gold plan"})
    return api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 5000, "recurring": {"interval": "month"}}
    )


def test_a_year_of_renewals_is_advanced_through_many_short_tasks(
    api, card_token, stripe_backend, emails_on_commit, settings, advance_tasks
):
    settings.KASSA_TEST_CLOCK_TASK_SECONDS = 0.01  # a task hands on after (about) every step
    clock, customer = _clock_customer(api, card_token, START)
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": _monthly(api).id}]})
    moments = [min(START + n * TWO_MONTHS, ts(2028, 1, 1, 9)) for n in range(1, 8)]
    for moment in moments:
        _advance(api, clock, moment, emails_on_commit)  # ready at its target (asserted there)
    # 365 one-day steps: far more tasks than advances, each going on from where the last one stopped.
    assert len(advance_tasks) > 10 * len(moments)
    invoices = _invoices(api, customer)
    assert [(i.status, i.amount_paid) for i in invoices] == [("paid", 5000)] * 13  # the first and twelve renewals
    assert len(processor_payment_intents(stripe_backend)) == 13
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).frozen_time == ts(2028, 1, 1, 9)


def test_celerys_soft_time_limit_hands_the_step_on_instead_of_failing(
    api, card_token, stripe_backend, emails_on_commit, soft_limit_at, advance_tasks
):
    clock, customer = _clock_customer(api, card_token, START)
    api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": _monthly(api).id}]})
    soft_limit_at(clocks.datetime.fromtimestamp(ts(2027, 2, 10, 9), tz=clocks.UTC))
    _advance(api, clock, ts(2027, 3, 1, 9), emails_on_commit)  # ready, not internal_failure
    assert len(advance_tasks) == 2
    invoices = _invoices(api, customer)
    assert [(i.status, i.created) for i in invoices] == [
        ("paid", START),
        ("paid", ts(2027, 2, 1, 9)),
        ("paid", ts(2027, 3, 1, 9)),
    ]
    assert len(processor_payment_intents(stripe_backend)) == 3
