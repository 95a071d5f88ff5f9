"""A year of renewals in seconds: a test clock advanced through stripe-python, the worker's tasks run as a worker
runs them (Celery, eager, as tests/billing/clocks/ does), localstripe charging each period once."""

import itertools
import re
from datetime import UTC, datetime

import pytest
import stripe

from billing.models import Subscription
from tests.conftest import processor_payment_intents


def ts(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


def _clock_customer(api, card_token, frozen_time: int):
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": frozen_time})
    customer = api.v1.customers.create(params={"email": "john@example.com", "name": "John Doe", "test_clock": clock.id})
    card = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token()}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    return clock, customer


def _advance(api, clock, to: int, emails_on_commit):
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"


def _invoices(api, customer) -> list:
    invoices = api.v1.invoices.list(params={"customer": customer.id, "limit": 100}).data
    return sorted(invoices, key=lambda invoice: int(re.search(r"(\d+)$", invoice.number).group(1)))


def _year(api, clock, customer, price, emails_on_commit, *, start: int, step: int, end: int):
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    assert sub.status == "active"
    assert sub.start_date == start  # the clock's time, not the wall clock's
    moment = start
    while moment < end:
        moment = min(moment + step, end)
        _advance(api, clock, moment, emails_on_commit)
    return sub


def test_a_year_of_monthly_renewals_from_31_january(api, card_token, stripe_backend, emails_on_commit):
    start = ts(2027, 1, 31, 9)
    clock, customer = _clock_customer(api, card_token, start)
    product = api.v1.products.create(params={"name": "Gold plan"})
    price = api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 5000, "recurring": {"interval": "month"}}
    )
    # Stripe's rule: a clock advances at most two intervals of its shortest subscription at once.
    sub = _year(api, clock, customer, price, emails_on_commit, start=start, step=59 * 86400, end=ts(2028, 1, 31, 9))

    invoices = _invoices(api, customer)
    assert len(invoices) == 13  # the first, and twelve renewals
    numbers = [int(re.search(r"(\d+)$", invoice.number).group(1)) for invoice in invoices]
    assert numbers == list(range(numbers[0], numbers[0] + 13))
    assert [(i.status, i.amount_paid) for i in invoices] == [("paid", 5000)] * 13
    assert [i.billing_reason for i in invoices] == ["subscription_create"] + ["subscription_cycle"] * 12
    periods = [(day(i.lines.data[0].period.start), day(i.lines.data[0].period.end)) for i in invoices]
    assert [start for start, _ in periods] == [
        "2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30", "2027-07-31",
        "2027-08-31", "2027-09-30", "2027-10-31", "2027-11-30", "2027-12-31", "2028-01-31",
    ]  # fmt: skip
    assert all(end == nxt for (_, end), (nxt, _) in itertools.pairwise(periods))
    assert len(processor_payment_intents(stripe_backend)) == 13
    sub = api.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    assert day(sub["items"].data[0].current_period_end) == "2028-02-29"


def test_every_30_days_from_1_february_for_50_eur(api, card_token, stripe_backend, emails_on_commit):
    start = ts(2027, 2, 1)
    clock, customer = _clock_customer(api, card_token, start)
    product = api.v1.products.create(params={"name": "Every 30 days"})
    price = api.v1.prices.create(
        params={
            "product": product.id,
            "currency": "eur",
            "unit_amount": 5000,
            "recurring": {"interval": "day", "interval_count": 30},
        }
    )
    _year(api, clock, customer, price, emails_on_commit, start=start, step=60 * 86400, end=start + 360 * 86400)
    invoices = _invoices(api, customer)
    assert len(invoices) == 13  # day 0, 30, …, 360
    assert [i.lines.data[0].period.start for i in invoices] == [start + n * 30 * 86400 for n in range(13)]
    assert {(i.status, i.total) for i in invoices} == {("paid", 5000)}
    assert len(processor_payment_intents(stripe_backend)) == 13


def test_a_clock_advances_at_most_two_intervals_and_is_not_deleted_under_a_live_subscription(
    api, card_token, stripe_backend, emails_on_commit
):
    start = ts(2027, 1, 1)
    clock, customer = _clock_customer(api, card_token, start)
    product = api.v1.products.create(params={"name": "Weekly"})
    price = api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 900, "recurring": {"interval": "week"}}
    )
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    with pytest.raises(stripe.InvalidRequestError) as too_far:
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": start + 15 * 86400})
    assert "two intervals" in str(too_far.value)
    api.v1.customers.delete(customer.id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.test_helpers.test_clocks.delete(clock.id)
    assert "Subscriptions" in str(refused.value)
    api.v1.subscriptions.cancel(sub.id)
    assert api.v1.test_helpers.test_clocks.delete(clock.id).deleted is True


def _paused_into_february(api, card_token, monthly, emails_on_commit):
    """A monthly 50.00 EUR subscription from 1 January 2027, paused on 10 January inside its paid period; resumed
    there, nothing is billed (the pause credited nothing); paused again and left paused until 15 February."""
    clock, customer = _clock_customer(api, card_token, ts(2027, 1, 1))
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    _advance(api, clock, ts(2027, 1, 10), emails_on_commit)
    api.v1.subscriptions.pause(sub.id)
    _advance(api, clock, ts(2027, 1, 20), emails_on_commit)
    resumed = api.v1.subscriptions.resume(sub.id, params={"billing_cycle_anchor": "unchanged"})
    assert resumed.status == "active"
    item = resumed["items"].data[0]
    assert (day(item.current_period_start), day(item.current_period_end)) == ("2027-01-01", "2027-02-01")
    assert api.v1.invoice_items.list(params={"customer": customer.id, "pending": True}).data == []
    assert [invoice.total for invoice in _invoices(api, customer)] == [5000]
    api.v1.subscriptions.pause(sub.id)
    _advance(api, clock, ts(2027, 2, 15), emails_on_commit)  # paused: February is not renewed
    assert [invoice.total for invoice in _invoices(api, customer)] == [5000]
    return clock, customer, sub


def test_resuming_with_the_anchor_unchanged_after_the_paid_period_invoices_the_time_left_now(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    clock, customer, sub = _paused_into_february(api, card_token, monthly, emails_on_commit)
    with emails_on_commit():
        resumed = api.v1.subscriptions.resume(
            sub.id,  # the shape stripe-python 16 types: billing_cycle_anchor[type]=unchanged
            params={"billing_cycle_anchor": {"type": "unchanged"}, "proration_behavior": "always_invoice"},
        )
    assert resumed.status == "active"
    item = resumed["items"].data[0]
    assert (day(item.current_period_start), day(item.current_period_end)) == ("2027-02-01", "2027-03-01")
    _first, february = _invoices(api, customer)
    # 14 of February's 28 days are left: half the month, charged now, as Stripe's "Remaining time on …" line.
    assert (february.status, february.amount_paid, february.billing_reason) == ("paid", 2500, "subscription_update")
    (line,) = february.lines.data
    assert line.description.startswith("Remaining time on Gold plan")
    assert line.parent.subscription_item_details.proration is True
    assert (day(line.period.start), day(line.period.end)) == ("2027-02-15", "2027-03-01")
    _advance(api, clock, ts(2027, 3, 1, 1), emails_on_commit)  # March renews at the anchor, in full, once
    assert [invoice.total for invoice in _invoices(api, customer)] == [5000, 2500, 5000]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000, 2500, 5000]


def test_resuming_with_the_anchor_unchanged_puts_the_time_left_on_the_next_renewal_by_default(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    clock, customer, sub = _paused_into_february(api, card_token, monthly, emails_on_commit)
    api.v1.subscriptions.resume(sub.id, params={"billing_cycle_anchor": "unchanged"})  # create_prorations
    (pending,) = api.v1.invoice_items.list(params={"customer": customer.id, "pending": True}).data
    assert (pending.amount, pending.proration) == (2500, True)
    assert len(_invoices(api, customer)) == 1  # nothing invoiced now
    _advance(api, clock, ts(2027, 3, 1, 1), emails_on_commit)
    _first, march = _invoices(api, customer)
    assert (march.status, march.amount_paid) == ("paid", 7500)  # March, and the half of February
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000, 7500]
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.subscriptions.resume(sub.id, params={"billing_cycle_anchor": {"type": "timestamp"}})
    assert refused.value.param == "billing_cycle_anchor"


def test_a_paused_subscription_never_renews_and_its_cancel_at_still_ends_it(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    clock, customer = _clock_customer(api, card_token, ts(2027, 1, 1))
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    _advance(api, clock, ts(2027, 1, 10), emails_on_commit)
    api.v1.subscriptions.pause(sub.id)
    api.v1.subscriptions.update(sub.id, params={"cancel_at": ts(2027, 2, 20)})  # set while paused
    _advance(api, clock, ts(2027, 2, 5), emails_on_commit)
    assert api.v1.subscriptions.retrieve(sub.id).status == "paused"  # 1 February passed: no renewal while paused
    _advance(api, clock, ts(2027, 2, 21), emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", ts(2027, 2, 20))
    assert [invoice.total for invoice in _invoices(api, customer)] == [5000]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000]


def test_resuming_with_the_anchor_unchanged_bills_only_up_to_cancel_at(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    clock, customer = _clock_customer(api, card_token, ts(2027, 1, 1))
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    _advance(api, clock, ts(2027, 1, 10), emails_on_commit)
    api.v1.subscriptions.pause(sub.id)
    api.v1.subscriptions.update(sub.id, params={"cancel_at": ts(2027, 2, 22)})
    _advance(api, clock, ts(2027, 2, 15), emails_on_commit)
    with emails_on_commit():
        resumed = api.v1.subscriptions.resume(
            sub.id, params={"billing_cycle_anchor": "unchanged", "proration_behavior": "always_invoice"}
        )
    item = resumed["items"].data[0]
    assert (day(item.current_period_start), day(item.current_period_end)) == ("2027-02-01", "2027-02-22")
    _first, last = _invoices(api, customer)
    (line,) = last.lines.data
    assert (day(line.period.start), day(line.period.end)) == ("2027-02-15", "2027-02-22")
    assert (last.status, last.amount_paid) == ("paid", 1250)  # 7 of February's 28 days, not the 14 to 1 March
    _advance(api, clock, ts(2027, 2, 23), emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", ts(2027, 2, 22))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000, 1250]


def test_resuming_after_cancel_at_passed_bills_nothing_and_it_ends(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    clock, customer = _clock_customer(api, card_token, ts(2027, 1, 1))
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    _advance(api, clock, ts(2027, 1, 10), emails_on_commit)
    api.v1.subscriptions.update(sub.id, params={"cancel_at": ts(2027, 2, 10)})
    api.v1.subscriptions.pause(sub.id)
    # Stands in for a subscription paused before Kassa ended paused subscriptions at their cancel_at: beat has not
    # ended it, and it is resumed after its cancel_at.
    Subscription.objects.filter(public_id=sub.id).update(next_renewal_at=None)
    _advance(api, clock, ts(2027, 2, 15), emails_on_commit)
    with emails_on_commit():  # a new period from now would have been invoiced and charged, then canceled
        api.v1.subscriptions.resume(sub.id, params={"billing_cycle_anchor": "now"})
    assert [invoice.total for invoice in _invoices(api, customer)] == [5000]
    _advance(api, clock, ts(2027, 2, 15, 0, 2), emails_on_commit)
    ended = api.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", ts(2027, 2, 10))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000]


def test_a_renewal_is_made_at_its_periods_end_to_the_second_whatever_the_clocks_steps(
    api, card_token, monthly, stripe_backend, emails_on_commit
):
    # The clock is moved to 14:30 first, so its day-long steps end at 14:30: the renewal due at 09:00 on 1 April is
    # still made (and charged, and declined) at 09:00, a step ending where something falls due, as at Stripe; its
    # retry a day later too (two attempts by 3 April, the next on the schedule's day 3 at 09:00).
    clock, customer = _clock_customer(api, card_token, ts(2027, 3, 1, 9))
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    declining = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4000000000000341")}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": declining.id}})
    _advance(api, clock, ts(2027, 3, 1, 14, 30), emails_on_commit)
    _advance(api, clock, ts(2027, 4, 3, 14, 30), emails_on_commit)
    first, renewal = _invoices(api, customer)
    assert (first.created, renewal.created) == (ts(2027, 3, 1, 9), ts(2027, 4, 1, 9))
    assert renewal.id == api.v1.subscriptions.retrieve(sub.id).latest_invoice
    assert (renewal.status, renewal.attempt_count, renewal.next_payment_attempt) == ("open", 2, ts(2027, 4, 4, 9))
    charges = api.v1.payment_intents.list(params={"customer": customer.id}).data  # a retry is an attempt of the same
    assert sorted(charge.created for charge in charges) == [ts(2027, 3, 1, 9), ts(2027, 4, 1, 9)]
