"""Prorations through stripe-python against localstripe, on a test clock: the table's amounts on the next invoice,
always_invoice charged now, and invoices.create_preview equal to the invoice later made (and writing nothing).

Amounts: test_proration.py's hand-computed table.
"""

from datetime import UTC, datetime

import pytest
import stripe

from tests.billing.subscriptions.test_preview import table_counts
from tests.conftest import processor_payment_intents

pytestmark = pytest.mark.django_db(transaction=False)


def ts(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


@pytest.fixture
def on_clock(api, card_token):
    """A customer living on a test clock at ``start``, paying with a saved default card."""

    def make(start: int):
        clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": start})
        customer = api.v1.customers.create(params={"email": "payer@example.com", "test_clock": clock.id})
        card = api.v1.payment_methods.create(
            params={"type": "card", "card": {"token": card_token()}, "customer": customer.id}
        )
        api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
        return clock, customer

    return make


@pytest.fixture
def monthly(api):
    def make(unit_amount: int, name: str):
        product = api.v1.products.create(params={"name": name})
        return api.v1.prices.create(
            params={
                "product": product.id,
                "currency": "eur",
                "unit_amount": unit_amount,
                "recurring": {"interval": "month"},
            }
        )

    return make


def lines(invoice) -> list[tuple[int, str, bool]]:
    """(amount, description, proration) of each line, the proration flag where Stripe puts it."""
    return [(line.amount, line.description, line.parent[line.parent.type].proration) for line in invoice.lines]


def advance(api, emails_on_commit, clock, frozen_time: int):
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": frozen_time})
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"


def renewal_of(api, subscription_id: str):
    """The subscription's latest renewal invoice (the list is newest first)."""
    invoices = api.v1.invoices.list(params={"limit": 100}).data
    return next(
        i
        for i in invoices
        if i.billing_reason == "subscription_cycle" and i.parent.subscription_details.subscription == subscription_id
    )


def test_an_upgrade_is_previewed_then_billed_on_the_next_invoice(
    api, on_clock, monthly, emails_on_commit, stripe_backend
):
    clock, customer = on_clock(ts(2027, 1, 1))
    pro, max_ = monthly(1999, "Pro"), monthly(4999, "Max")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": pro.id}]})
    item = sub["items"].data[0]
    change = {"items": [{"id": item.id, "price": max_.id}], "proration_date": ts(2027, 1, 11)}
    before = table_counts()

    preview = api.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})

    assert table_counts() == before  # nothing written: no row, no event, no idempotency key
    assert preview.id.startswith("upcoming_in_")
    assert preview.parent.subscription_details.subscription_proration_date == ts(2027, 1, 11)
    # 21 of January's 31 days left: -1999 * 21/31 -> -1354, +4999 * 21/31 -> 3386; then February at 49.99.
    expected = [
        (-1354, "Unused time on Pro after 11 Jan 2027", True),
        (3386, "Remaining time on Max after 11 Jan 2027", True),
        (4999, "Max", False),
    ]
    assert lines(preview) == expected
    assert preview.total == 7031

    api.v1.subscriptions.update(sub.id, params=change)
    pending = api.v1.invoice_items.list(params={"customer": customer.id, "pending": True}).data
    assert sorted(i.amount for i in pending) == [-1354, 3386]
    assert {i.parent.subscription_details.subscription_item for i in pending} == {item.id}
    advance(api, emails_on_commit, clock, ts(2027, 2, 1, 1))

    renewal = renewal_of(api, sub.id)
    assert lines(renewal) == expected
    assert (renewal.status, renewal.total, renewal.amount_paid) == ("paid", 7031, 7031)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 7031]


def test_a_downgrade_on_a_28_day_month_carries_its_leftover_credit(
    api, on_clock, monthly, emails_on_commit, stripe_backend
):
    clock, customer = on_clock(ts(2027, 2, 1))
    max_, pro = monthly(4999, "Max"), monthly(1999, "Pro")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": max_.id}]})
    item = sub["items"].data[0]
    # 20.75 of February's 28 days left: -4999 * 83/112 -> -3705, +1999 * 83/112 -> 1481.
    change = {"items": [{"id": item.id, "price": pro.id}], "proration_date": ts(2027, 2, 8, 6)}
    preview = api.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})
    api.v1.subscriptions.update(sub.id, params=change)
    advance(api, emails_on_commit, clock, ts(2027, 3, 1, 1))

    march = renewal_of(api, sub.id)
    # -3705 + 1481 + 1999 = -225: Kassa keeps no balance, so the 225 goes to the next invoice.
    expected = [
        (-3705, "Unused time on Max after 08 Feb 2027", True),
        (1481, "Remaining time on Pro after 08 Feb 2027", True),
        (1999, "Pro", False),
        (225, "Credit carried to your next invoice", False),
    ]
    assert lines(march) == lines(preview) == expected
    assert (march.status, march.total, march.amount_paid) == ("paid", 0, 0)
    advance(api, emails_on_commit, clock, ts(2027, 4, 1, 1))
    april = renewal_of(api, sub.id)
    assert [(line.amount, line.description) for line in april.lines] == [
        (-225, "Credit from your previous invoice"),
        (1999, "Pro"),
    ]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [4999, 1774]


def test_always_invoice_charges_the_proration_now(api, on_clock, monthly, emails_on_commit, stripe_backend):
    _clock, customer = on_clock(ts(2027, 4, 1))
    seats = monthly(1000, "Seats")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": seats.id, "quantity": 3}]})
    item = sub["items"].data[0]
    change = {
        "items": [{"id": item.id, "quantity": 5}],
        "proration_behavior": "always_invoice",
        "proration_date": ts(2027, 4, 21),
    }
    preview = api.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})

    updated = api.v1.subscriptions.update(sub.id, params={**change, "expand": ["latest_invoice"]})

    now_invoice = updated.latest_invoice
    # 10 of April's 30 days left: -3000/3 = -1000, +5000/3 = 1666.67 -> 1667.
    assert (now_invoice.billing_reason, now_invoice.status, now_invoice.total) == ("subscription_update", "paid", 667)
    assert lines(now_invoice) == lines(preview)
    assert [line.amount for line in now_invoice.lines] == [-1000, 1667]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000, 667]


def test_cancel_with_prorate_and_invoice_now_bills_a_final_invoice(
    api, on_clock, monthly, emails_on_commit, stripe_backend
):
    clock, customer = on_clock(ts(2027, 4, 1))
    seats = monthly(1000, "Seats")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": seats.id, "quantity": 3}]})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 2500, "currency": "eur", "description": "Installation"}
    )
    advance(api, emails_on_commit, clock, ts(2027, 4, 21, 7))

    canceled = api.v1.subscriptions.cancel(
        sub.id, params={"invoice_now": True, "prorate": True, "expand": ["latest_invoice"]}
    )

    final = canceled.latest_invoice
    assert (canceled.status, canceled.ended_at) == ("canceled", ts(2027, 4, 21, 7))
    # 9 d 17 h of April's 30 days left: -3000 * 838,800/2,592,000 = -970.83 -> -971.
    assert [(line.amount, line.description) for line in final.lines] == [
        (2500, "Installation"),
        (-971, "Unused time on 3 × Seats after 21 Apr 2027"),  # noqa: RUF001 - Stripe's sign
    ]
    assert final.lines.data[1].parent.subscription_item_details.proration is True
    assert (final.billing_reason, final.status, final.amount_paid) == ("subscription_update", "paid", 1529)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000, 1529]


def test_a_subscription_ending_at_cancel_at_bills_its_pending_prorations_in_a_final_invoice(
    api, on_clock, monthly, emails_on_commit, stripe_backend
):
    clock, customer = on_clock(ts(2027, 1, 1))
    pro, max_ = monthly(1999, "Pro"), monthly(4999, "Max")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": pro.id}]})
    item = sub["items"].data[0]
    # cancel_at inside January cuts the period at 21 Jan: the 11 days after it credited, -1999 * 11/31 -> -709.
    api.v1.subscriptions.update(sub.id, params={"cancel_at": ts(2027, 1, 21)})
    advance(api, emails_on_commit, clock, ts(2027, 1, 11))
    # Upgraded on 11 Jan for the 10 days left until 21 Jan: -1999 * 10/31 -> -645, +4999 * 10/31 -> 1613.
    api.v1.subscriptions.update(sub.id, params={"items": [{"id": item.id, "price": max_.id}]})
    before = table_counts()
    upcoming = api.v1.invoices.create_preview(params={"subscription": sub.id})
    assert table_counts() == before

    advance(api, emails_on_commit, clock, ts(2027, 1, 21, 1))

    ended = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    final = ended.latest_invoice
    assert (ended.status, ended.ended_at) == ("canceled", ts(2027, 1, 21))
    assert (final.billing_reason, final.parent.subscription_details.subscription) == ("subscription_cycle", sub.id)
    assert lines(final) == [
        (-709, "Unused time on Pro after 21 Jan 2027", True),
        (-645, "Unused time on Pro after 11 Jan 2027", True),
        (1613, "Remaining time on Max after 11 Jan 2027", True),
    ]
    assert (final.status, final.total, final.amount_paid) == ("paid", 259, 259)
    assert (lines(upcoming), upcoming.total) == (lines(final), 259)  # the preview showed this final invoice
    assert api.v1.invoice_items.list(params={"customer": customer.id, "pending": True}).data == []
    # One final invoice, one charge: a later pass finds nothing more to bill.
    advance(api, emails_on_commit, clock, ts(2027, 2, 2))
    invoices = api.v1.invoices.list(params={"customer": customer.id}).data
    assert sorted(i.billing_reason for i in invoices) == ["subscription_create", "subscription_cycle"]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 259]


def periods_of(invoice) -> list[tuple[int, int]]:
    return [(line.period.start, line.period.end) for line in invoice.lines]


def test_a_new_subscriptions_first_invoice_is_previewed_with_its_anchor_and_trial_then_made_so(
    api, on_clock, monthly, stripe_backend
):
    _clock, customer = on_clock(ts(2027, 1, 10))
    pro = monthly(1999, "Pro")
    anchored = {
        "items": [{"price": pro.id}],
        "billing_cycle_anchor": {"type": "timestamp", "timestamp": ts(2027, 2, 1)},
    }
    before = table_counts()

    stub = api.v1.invoices.create_preview(params={"customer": customer.id, "subscription_details": anchored})
    unbilled = api.v1.invoices.create_preview(
        params={"customer": customer.id, "subscription_details": {**anchored, "proration_behavior": "none"}}
    )
    trial = api.v1.invoices.create_preview(
        params={
            "customer": customer.id,
            "subscription_details": {"items": [{"price": pro.id}], "trial_end": ts(2027, 1, 24)},
        }
    )

    assert table_counts() == before  # nothing written
    # 10 Jan to the anchor on 1 Feb: 22 of the full period's 31 days, 1999 * 22/31 = 1418.65 -> 1419.
    assert (lines(stub), periods_of(stub), stub.total) == (
        [(1419, "Pro", False)],
        [(ts(2027, 1, 10), ts(2027, 2, 1))],
        1419,
    )
    assert (lines(unbilled), unbilled.total) == ([(0, "Pro", False)], 0)
    assert (lines(trial), periods_of(trial), trial.total) == (
        [(0, "Trial period for Pro", False)],
        [(ts(2027, 1, 10), ts(2027, 1, 24))],
        0,
    )

    made = {
        "customer": customer.id,
        "items": [{"price": pro.id}],
        "billing_cycle_anchor": ts(2027, 2, 1),
        "expand": ["latest_invoice"],
    }
    first = api.v1.subscriptions.create(params=made).latest_invoice
    assert (lines(first), periods_of(first), first.total) == (lines(stub), periods_of(stub), stub.total)
    assert (first.status, first.amount_paid) == ("paid", 1419)
    quiet = api.v1.subscriptions.create(params={**made, "proration_behavior": "none"}).latest_invoice
    assert (lines(quiet), quiet.total) == (lines(unbilled), 0)
    trial_first = api.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": pro.id}],
            "trial_end": ts(2027, 1, 24),
            "expand": ["latest_invoice"],
        }
    ).latest_invoice
    assert (lines(trial_first), periods_of(trial_first), trial_first.total) == (
        lines(trial),
        periods_of(trial),
        0,
    )
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1419]


def test_a_trials_end_is_previewed_then_billed_so(api, on_clock, monthly, emails_on_commit, stripe_backend):
    clock, customer = on_clock(ts(2027, 1, 1))
    pro = monthly(1999, "Pro")
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": pro.id}], "trial_end": ts(2027, 1, 15)}
    )
    advance(api, emails_on_commit, clock, ts(2027, 1, 5))
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 500, "currency": "eur", "description": "Setup"}
    )
    before = table_counts()

    # Moved to 20 Jan: the next invoice is then, for the month from 20 Jan (the anchor moves with the trial's end).
    moved = api.v1.invoices.create_preview(
        params={"subscription": sub.id, "subscription_details": {"trial_end": ts(2027, 1, 20)}}
    )
    # Ended now: the invoice made at once, for the month from now, with what is pending.
    ended = api.v1.invoices.create_preview(
        params={
            "subscription": sub.id,
            "subscription_details": {"trial_end": "now", "billing_cycle_anchor": "unchanged"},
        }
    )

    assert table_counts() == before
    assert (lines(moved), periods_of(moved)[1], moved.total) == (
        [(500, "Setup", False), (1999, "Pro", False)],
        (ts(2027, 1, 20), ts(2027, 2, 20)),
        2499,
    )
    assert (lines(ended), periods_of(ended)[1], ended.total) == (
        [(500, "Setup", False), (1999, "Pro", False)],
        (ts(2027, 1, 5), ts(2027, 2, 5)),
        2499,
    )

    updated = api.v1.subscriptions.update(sub.id, params={"trial_end": "now", "expand": ["latest_invoice"]})

    now_invoice = updated.latest_invoice
    assert (lines(now_invoice), periods_of(now_invoice), now_invoice.total) == (
        lines(ended),
        periods_of(ended),
        ended.total,
    )
    assert (updated.status, now_invoice.status, now_invoice.amount_paid) == ("active", "paid", 2499)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [2499]


def test_a_moved_trials_end_bills_what_was_previewed(api, on_clock, monthly, emails_on_commit, stripe_backend):
    clock, customer = on_clock(ts(2027, 1, 1))
    pro = monthly(1999, "Pro")
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": pro.id}], "trial_end": ts(2027, 1, 15)}
    )
    moved = api.v1.invoices.create_preview(
        params={"subscription": sub.id, "subscription_details": {"trial_end": ts(2027, 1, 20)}}
    )

    api.v1.subscriptions.update(sub.id, params={"trial_end": ts(2027, 1, 20)})
    advance(api, emails_on_commit, clock, ts(2027, 1, 20, 1))

    renewal = renewal_of(api, sub.id)
    assert (lines(renewal), periods_of(renewal), renewal.total) == (lines(moved), periods_of(moved), moved.total)
    assert (renewal.status, renewal.amount_paid) == ("paid", 1999)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999]


@pytest.mark.parametrize(
    ("made", "moved_to", "period", "total"),
    [
        # An anchor after the trial's end, which the trial is moved past: the cycle starts at the new end.
        (
            {"trial_end": ts(2027, 1, 10), "billing_cycle_anchor": ts(2027, 1, 15)},
            ts(2027, 1, 20),
            (ts(2027, 1, 20), ts(2027, 2, 20)),
            1999,
        ),
        # Billed on the 1st from a trial ending on the 1st, the trial moved to the 10th: the cycle goes with it.
        (
            {"trial_end": ts(2027, 2, 1), "billing_cycle_anchor_config": {"day_of_month": 1}},
            ts(2027, 2, 10),
            (ts(2027, 2, 10), ts(2027, 3, 10)),
            1999,
        ),
        # An anchor still after the new end stays: 20 to 25 Jan billed as the stub before it, 1999 * 5/31 -> 322.
        (
            {"trial_end": ts(2027, 1, 10), "billing_cycle_anchor": ts(2027, 1, 25)},
            ts(2027, 1, 20),
            (ts(2027, 1, 20), ts(2027, 1, 25)),
            322,
        ),
    ],
    ids=["past the anchor", "anchored on the trial by day of month", "before the anchor"],
)
def test_a_moved_trials_first_paid_period_starts_when_the_trial_ends(
    api, on_clock, monthly, emails_on_commit, stripe_backend, made, moved_to, period, total
):
    """Never a paid period starting inside the trial: the cycle moves with the trial's end (as at Stripe, where a
    trial is how the billing cycle is changed) unless its anchor is still ahead."""
    clock, customer = on_clock(ts(2027, 1, 1))
    pro = monthly(1999, "Pro")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": pro.id}], **made})
    shown = api.v1.invoices.create_preview(
        params={"subscription": sub.id, "subscription_details": {"trial_end": moved_to}}
    )
    assert (periods_of(shown), shown.total) == ([period], total)

    api.v1.subscriptions.update(sub.id, params={"trial_end": moved_to})
    advance(api, emails_on_commit, clock, moved_to + 3600)

    first = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]}).latest_invoice
    assert (periods_of(first), first.total, first.status) == ([period], total, "paid")
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [total]


def test_trial_end_and_billing_cycle_anchor_previews_are_refused_where_the_real_call_refuses(
    api, on_clock, monthly, stripe_backend
):
    _clock, customer = on_clock(ts(2027, 1, 1))
    pro = monthly(1999, "Pro")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": pro.id}]})
    new = {"items": [{"price": pro.id}]}
    refusals = [
        (
            {"subscription": sub.id, "subscription_details": {"trial_end": ts(2027, 1, 20)}},
            "subscription_details[trial_end]",
        ),
        (
            {"subscription": sub.id, "subscription_details": {"billing_cycle_anchor": ts(2027, 1, 20)}},
            "subscription_details[billing_cycle_anchor]",
        ),
        (
            {
                "subscription": sub.id,
                "subscription_details": {"billing_cycle_anchor": {"type": "now"}, "trial_end": ts(2027, 1, 20)},
            },
            "subscription_details[trial_end]",
        ),
        (
            {
                "subscription": sub.id,
                "subscription_details": {"billing_cycle_anchor": "now", "cancel_at": ts(2027, 1, 20)},
            },
            "subscription_details[cancel_at]",
        ),
        (
            {
                "subscription": sub.id,
                "subscription_details": {"billing_cycle_anchor": "now", "cancel_at_period_end": True},
            },
            "subscription_details[cancel_at_period_end]",
        ),
        (
            {"customer": customer.id, "subscription_details": {**new, "billing_cycle_anchor": ts(2026, 12, 20)}},
            "subscription_details[billing_cycle_anchor]",
        ),
        (
            {"customer": customer.id, "subscription_details": {**new, "trial_end": ts(2026, 12, 20)}},
            "subscription_details[trial_end]",
        ),
        (
            {"customer": customer.id, "subscription_details": {"billing_cycle_anchor": {"type": "bogus"}, **new}},
            "subscription_details[billing_cycle_anchor]",
        ),
        ({"customer": customer.id, "subscription_details": {"trial_end": "now"}}, "subscription_details[items]"),
    ]
    before = table_counts()
    for params, param in refusals:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.invoices.create_preview(params=params)
        assert (refused.value.param, refused.value.error.type) == (param, "invalid_request_error"), params
    assert table_counts() == before
    for ends in ({"cancel_at": ts(2027, 1, 20)}, {"cancel_at_period_end": True}):  # as the update itself refuses them
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.subscriptions.update(sub.id, params={"billing_cycle_anchor": "now", **ends})
        assert refused.value.param == next(iter(ends))
    # unchanged is the subscription's next invoice as it stands.
    kept = api.v1.invoices.create_preview(
        params={"subscription": sub.id, "subscription_details": {"billing_cycle_anchor": "unchanged"}}
    )
    assert (lines(kept), periods_of(kept)) == ([(1999, "Pro", False)], [(ts(2027, 2, 1), ts(2027, 3, 1))])


def test_a_cycle_reset_now_is_previewed_then_invoiced_at_once(api, on_clock, monthly, emails_on_commit, stripe_backend):
    clock, customer = on_clock(ts(2027, 1, 1))
    pro, max_ = monthly(1999, "Pro"), monthly(4999, "Max")
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": pro.id}]})
    item = sub["items"].data[0]
    advance(api, emails_on_commit, clock, ts(2027, 1, 11))
    change = {"items": [{"id": item.id, "price": max_.id}], "billing_cycle_anchor": {"type": "now"}}
    before = table_counts()

    preview = api.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})

    assert table_counts() == before
    # The 21 of January's 31 days left credited at the old price, -1999 * 21/31 -> -1354; a month of Max from now.
    expected = [(-1354, "Unused time on Pro after 11 Jan 2027", True), (4999, "Max", False)]
    assert (lines(preview), periods_of(preview)[1], preview.total) == (
        expected,
        (ts(2027, 1, 11), ts(2027, 2, 11)),
        3645,
    )

    updated = api.v1.subscriptions.update(sub.id, params={**change, "expand": ["latest_invoice"]})

    now_invoice = updated.latest_invoice
    assert (lines(now_invoice), periods_of(now_invoice), now_invoice.total) == (
        expected,
        periods_of(preview),
        3645,
    )
    assert (now_invoice.billing_reason, now_invoice.status, now_invoice.amount_paid) == (
        "subscription_update",
        "paid",
        3645,
    )
    assert updated.billing_cycle_anchor == ts(2027, 1, 11)
    assert (updated["items"].data[0].current_period_start, updated["items"].data[0].current_period_end) == (
        ts(2027, 1, 11),
        ts(2027, 2, 11),
    )
    advance(api, emails_on_commit, clock, ts(2027, 2, 11, 1))
    renewal = renewal_of(api, sub.id)
    assert (lines(renewal), periods_of(renewal)) == ([(4999, "Max", False)], [(ts(2027, 2, 11), ts(2027, 3, 11))])
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 3645, 4999]


def test_a_cycle_reset_is_refused_in_a_trial(api, on_clock, monthly, stripe_backend):
    _clock, customer = on_clock(ts(2027, 1, 1))
    pro = monthly(1999, "Pro")
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": pro.id}], "trial_end": ts(2027, 1, 15)}
    )
    before = table_counts()
    with pytest.raises(stripe.InvalidRequestError) as previewed:
        api.v1.invoices.create_preview(
            params={"subscription": sub.id, "subscription_details": {"billing_cycle_anchor": "now"}}
        )
    with pytest.raises(stripe.InvalidRequestError) as updated:
        api.v1.subscriptions.update(sub.id, params={"billing_cycle_anchor": {"type": "now"}})
    assert (previewed.value.code, previewed.value.param) == (
        "subscription_unexpected_state",
        "subscription_details[billing_cycle_anchor]",
    )
    assert (updated.value.code, updated.value.param) == ("subscription_unexpected_state", "billing_cycle_anchor")
    assert table_counts() == before


def test_a_trials_line_is_written_in_the_invoices_language(api, monthly, stripe_backend):
    """As a proration's "Unused time on …" is: a French customer's trial invoice line is in French."""
    pro = monthly(1999, "Pro")
    for locales, expected in ((["fr-FR"], "Période d\u2019essai pour Pro"), ([], "Trial period for Pro")):
        customer = api.v1.customers.create(params={"email": "payer@example.com", "preferred_locales": locales})
        made = {
            "customer": customer.id,
            "items": [{"price": pro.id}],
            "trial_period_days": 14,
            "expand": ["latest_invoice"],
        }
        first = api.v1.subscriptions.create(params=made).latest_invoice
        assert lines(first) == [(0, expected, False)]
