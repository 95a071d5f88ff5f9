"""Canceling with ``prorate`` and ``invoice_now``, and ``cancel_at`` inside a period, through the services against
localstripe. Amounts are hand-computed to the minor unit, as in test_proration.py's table:

- cancel with prorate, 10.00 x 3 a month, April 2027 (30 days = 2,592,000 s), on 21 Apr 07:00 (838,800 s
  left): -3000 * 838,800 / 2,592,000 = -970.83 -> -971;
- cancel_at 11 Jan, 19.99 a month, January (31 days), 21 days cut: -1999 * 21/31 = -1354.19 -> -1354;
- quantity 1 -> 2 on 5 Jan in a January cut at 11 Jan (6 of 31 days billed): -1999 * 6/31 = -386.90 -> -387 and
  +3998 * 6/31 = 773.81 -> +774; cancel_at cleared: +3998 * 21/31 = 2708.26 -> +2708;
- cancel_at 15 Feb, set in January, 19.99 a month: the renewal of 1 Feb bills 1 to 15 Feb, 14 of February's 28
  days: 1999 * 14/28 = 999.5 -> 1000; cancel_at 1 Feb 12:00: 12 hours of 28 days: 1999 * 43,200 / 2,419,200 =
  35.70 -> 36;
- a stub cut: trial to 10 Jan, anchor 1 Feb, cancel_at 20 Jan: 10 of the 31 days of the month before the anchor,
  1999 * 10/31 = 644.84 -> 645; a first period cut: cancel_at 15 Jan at create on 1 Jan: 1999 * 14/31 = 902.77 -> 903.
"""

from datetime import UTC, datetime

import pytest

from billing.catalogue import services as catalogue
from billing.invoices import services as invoices
from billing.invoices.models import Invoice, InvoiceItem
from billing.subscriptions import preview, services
from tests import factories
from tests.conftest import processor_payment_intents


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def merchant(paying_shop):
    return paying_shop.merchant


@pytest.fixture
def payer(merchant, card_token):
    customer = factories.customer(merchant, name="John Doe")
    card = factories.saved_card(customer, card_token)
    catalogue.customer_update(customer=customer, default_payment_method=card)
    customer.refresh_from_db()
    return customer


def monthly(merchant, unit_amount: int, name: str):
    product = factories.product(merchant, name=name)
    return factories.price(merchant, unit_amount=unit_amount, product=product, recurring={"interval": "month"})


def lines(invoice) -> list[tuple[int, str]]:
    return [(line.amount, line.description) for line in invoice.items.order_by("pk")]


def pending(customer) -> list[tuple[int, str]]:
    items = InvoiceItem.objects.filter(customer=customer, invoice__isnull=True).order_by("pk")
    return [(item.amount, item.description) for item in items]


def seats(merchant, payer):
    price = monthly(merchant, 1000, "Seats")
    return factories.subscription(merchant, customer=payer, price=price, quantity=3, now=d(2027, 4, 1))


def test_cancel_with_prorate_and_invoice_now_bills_what_is_pending_less_the_unused_time(
    merchant, payer, stripe_backend
):
    sub = seats(merchant, payer)
    invoices.invoice_item_create(
        merchant=merchant,
        livemode=False,
        customer=payer,
        now=d(2027, 4, 10),
        amount=2500,
        currency="eur",
        description="Installation",
    )

    sub = services.subscription_cancel(subscription=sub, now=d(2027, 4, 21, 7), prorate=True, invoice_now=True)

    final = sub.latest_invoice
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 4, 21, 7))
    assert final.billing_reason == "subscription_update"
    assert lines(final) == [
        (2500, "Installation"),
        (-971, "Unused time on 3 × Seats after 21 Apr 2027"),  # noqa: RUF001 - Stripe's sign
    ]
    assert (final.status, final.total, final.amount_paid) == ("paid", 1529, 1529)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000, 1529]
    assert pending(payer) == []


def test_a_final_invoice_that_nets_a_credit_is_zero_and_the_credit_waits_for_the_next_invoice(
    merchant, payer, stripe_backend
):
    sub = seats(merchant, payer)

    sub = services.subscription_cancel(subscription=sub, now=d(2027, 4, 21, 7), prorate=True, invoice_now=True)

    final = sub.latest_invoice
    assert lines(final) == [
        (-971, "Unused time on 3 × Seats after 21 Apr 2027"),  # noqa: RUF001
        (971, "Credit carried to your next invoice"),
    ]
    assert (final.status, final.total, final.amount_paid) == ("paid", 0, 0)
    assert pending(payer) == [(-971, "Credit from your previous invoice")]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000]
    # The customer's next invoice takes the credit.
    later = factories.subscription(merchant, customer=payer, price=monthly(merchant, 5000, "Gold"), now=d(2027, 5, 3))
    assert lines(later.latest_invoice) == [(5000, "Gold")]  # a first invoice takes no pending items, as at Stripe
    services.subscription_renew(subscription_pk=later.pk, now=d(2027, 6, 3))
    renewal = Invoice.objects.get(subscription=later, billing_reason="subscription_cycle")
    assert lines(renewal) == [(-971, "Credit from your previous invoice"), (5000, "Gold")]
    assert renewal.amount_paid == 4029


def test_prorate_alone_leaves_the_credit_pending_and_invoice_now_alone_with_nothing_pending_bills_nothing(
    merchant, payer, stripe_backend
):
    first = seats(merchant, payer)
    first = services.subscription_cancel(subscription=first, now=d(2027, 4, 21, 7), prorate=True)
    assert first.latest_invoice.billing_reason == "subscription_create"
    assert pending(payer) == [(-971, "Unused time on 3 × Seats after 21 Apr 2027")]  # noqa: RUF001

    other = factories.customer(merchant)
    second = factories.subscription(merchant, customer=other, price=monthly(merchant, 1000, "Tea"), now=d(2027, 4, 1))
    second = services.subscription_cancel(subscription=second, now=d(2027, 4, 21), invoice_now=True)
    assert second.status == "canceled"
    assert Invoice.objects.filter(customer=other).count() == 1  # its first invoice only


def test_cancel_at_inside_the_period_cuts_it_and_credits_the_unused_time(merchant, payer, stripe_backend):
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))

    sub = services.subscription_update(subscription=sub, now=d(2027, 1, 5), cancel_at=d(2027, 1, 11))

    item = sub.items.get()
    assert (item.current_period_start, item.current_period_end) == (d(2027, 1, 1), d(2027, 1, 11))
    assert (sub.cancel_at, sub.next_renewal_at) == (d(2027, 1, 11), d(2027, 1, 11))
    assert pending(payer) == [(-1354, "Unused time on Pro after 11 Jan 2027")]
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 1, 11))
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 1, 11))
    assert Invoice.objects.filter(subscription=sub).count() == 1
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999]


def test_a_change_in_a_cut_period_prorates_up_to_cancel_at_and_clearing_cancel_at_bills_the_time_again(
    merchant, payer, stripe_backend
):
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    sub = services.subscription_update(subscription=sub, now=d(2027, 1, 2), cancel_at=d(2027, 1, 11))
    item = sub.items.get()

    services.subscription_update(subscription=sub, now=d(2027, 1, 5), items=[{"id": item.public_id, "quantity": 2}])
    sub = services.subscription_update(subscription=sub, now=d(2027, 1, 6), cancel_at=None)

    assert pending(payer) == [
        (-1354, "Unused time on Pro after 11 Jan 2027"),
        (-387, "Unused time on Pro after 05 Jan 2027"),
        (774, "Remaining time on 2 × Pro after 05 Jan 2027"),  # noqa: RUF001
        (2708, "Remaining time on 2 × Pro after 11 Jan 2027"),  # noqa: RUF001
    ]
    assert sub.items.get().current_period_end == d(2027, 2, 1)
    assert (sub.cancel_at, sub.next_renewal_at) == (None, d(2027, 2, 1))


def test_cancel_at_with_proration_behavior_none_cuts_the_period_and_credits_nothing(merchant, payer, stripe_backend):
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    sub = services.subscription_update(
        subscription=sub, now=d(2027, 1, 5), cancel_at=d(2027, 1, 11), proration_behavior="none"
    )
    assert sub.items.get().current_period_end == d(2027, 1, 11)
    assert pending(payer) == []


def test_cancel_at_in_a_later_period_ends_that_period_there_billed_for_its_share(merchant, payer, stripe_backend):
    """As at Stripe, where a cancel_at "during a future period [...] will always cause a proration for that period":
    the renewal into it bills up to cancel_at, and the preview says so beforehand."""
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    sub = services.subscription_update(subscription=sub, now=d(2027, 1, 10), cancel_at=d(2027, 2, 15))
    assert sub.items.get().current_period_end == d(2027, 2, 1)  # January is billed whole
    assert pending(payer) == []

    shown = preview.invoice_preview(merchant=merchant, livemode=False, subscription=sub, now=d(2027, 1, 20))
    assert [(line.amount, line.period_start, line.period_end) for line in shown.preview_lines] == [
        (1000, d(2027, 2, 1), d(2027, 2, 15))
    ]
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1))
    sub.refresh_from_db()
    renewal = sub.latest_invoice
    assert (renewal.billing_reason, renewal.status, renewal.total) == ("subscription_cycle", "paid", 1000)
    assert [(line.period_start, line.period_end) for line in renewal.items.all()] == [(d(2027, 2, 1), d(2027, 2, 15))]
    assert (sub.items.get().current_period_end, sub.next_renewal_at) == (d(2027, 2, 15), d(2027, 2, 15))
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 15))
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 2, 15))
    assert Invoice.objects.filter(subscription=sub).count() == 2
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 1000]


def test_cancel_at_cleared_in_the_period_a_renewal_cut_bills_the_rest_of_it(merchant, payer, stripe_backend):
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    sub = services.subscription_update(subscription=sub, now=d(2027, 1, 10), cancel_at=d(2027, 2, 15))
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1))
    sub = services.subscription_update(subscription=sub, now=d(2027, 2, 5), cancel_at=None)
    assert (sub.items.get().current_period_end, sub.next_renewal_at) == (d(2027, 3, 1), d(2027, 3, 1))
    assert pending(payer) == [(1000, "Remaining time on Pro after 15 Feb 2027")]


def test_cancel_at_inside_a_stub_before_the_anchor_bills_its_share_of_the_month_before_the_anchor(
    merchant, payer, stripe_backend
):
    sub = factories.subscription(
        merchant,
        customer=payer,
        price=monthly(merchant, 1999, "Pro"),
        now=d(2027, 1, 1),
        trial_end=d(2027, 1, 10),
        billing_cycle_anchor=d(2027, 2, 1),
        cancel_at=d(2027, 1, 20),
    )
    shown = preview.invoice_preview(merchant=merchant, livemode=False, subscription=sub, now=d(2027, 1, 5))
    assert [(line.amount, line.period_start, line.period_end) for line in shown.preview_lines] == [
        (645, d(2027, 1, 10), d(2027, 1, 20))
    ]
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 1, 10))
    sub.refresh_from_db()
    assert (sub.latest_invoice.total, sub.latest_invoice.status) == (645, "paid")
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 1, 20))
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 1, 20))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [645]


def test_cancel_at_inside_the_first_period_bills_it_up_to_cancel_at(merchant, payer, stripe_backend):
    pro = monthly(merchant, 1999, "Pro")
    shown = preview.invoice_preview(
        merchant=merchant,
        livemode=False,
        now=d(2027, 1, 1),
        customer=payer,
        items=[preview.ItemChange(price=pro, quantity=1)],
        cancel_at=d(2027, 1, 15),
    )
    assert [(line.amount, line.period_end) for line in shown.preview_lines] == [(903, d(2027, 1, 15))]
    sub = factories.subscription(merchant, customer=payer, price=pro, now=d(2027, 1, 1), cancel_at=d(2027, 1, 15))
    assert (sub.items.get().current_period_end, sub.next_renewal_at) == (d(2027, 1, 15), d(2027, 1, 15))
    assert (sub.latest_invoice.total, sub.latest_invoice.status) == (903, "paid")
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 1, 15))
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 1, 15))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [903]


@pytest.mark.parametrize("late", [False, True], ids=["on time", "an hour after cancel_at"])
def test_a_pass_run_after_the_period_end_and_cancel_at_bills_the_time_between_them_first(
    merchant, payer, stripe_backend, late
):
    """A renewal pass runs when beat gets to it (or at a test clock step's end, up to a day later): one that comes
    after both the period's end and a cancel_at just after it still bills the time between them, as one on time."""
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    sub = services.subscription_update(subscription=sub, now=d(2027, 1, 10), cancel_at=d(2027, 2, 1, 12))
    for at in [d(2027, 2, 1, 13)] if late else [d(2027, 2, 1), d(2027, 2, 1, 12)]:
        while services.subscriptions_renew_due(now=at):
            pass
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 2, 1, 12))
    renewal = Invoice.objects.get(subscription=sub, billing_reason="subscription_cycle")
    assert (renewal.status, renewal.total) == ("paid", 36)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 36]


@pytest.mark.parametrize("late", [False, True], ids=["on time", "after the pause ended"])
def test_a_pass_run_after_the_period_end_and_the_pause_end_renews_that_period_under_the_pause(
    merchant, payer, stripe_backend, late
):
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    services.subscription_update(
        subscription=sub, now=d(2027, 1, 10), pause_collection={"behavior": "void", "resumes_at": d(2027, 2, 1, 12)}
    )
    for at in [d(2027, 2, 1, 13)] if late else [d(2027, 2, 1), d(2027, 2, 1, 12)]:
        while services.subscriptions_renew_due(now=at):
            pass
    sub.refresh_from_db()
    renewal = Invoice.objects.get(subscription=sub, billing_reason="subscription_cycle")
    assert renewal.status == "void"  # made while collection was paused to void
    assert (sub.status, sub.pause_behavior, sub.next_renewal_at) == ("active", None, d(2027, 3, 1))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999]


@pytest.mark.parametrize("late", [False, True], ids=["on time", "after the pause ended"])
def test_an_end_at_cancel_at_before_the_pause_ends_is_not_collected_even_by_a_pass_run_after_the_pause(
    merchant, payer, stripe_backend, late
):
    """Ended at its cancel_at while its collection was paused, a subscription's final invoice (a change's prorations,
    1 -> 2 seats on 12 Jan in a January cut at 15 Jan: -1999 * 3/31 -> -193, +3998 * 3/31 -> +387) is not collected;
    a pass that comes only after the pause ended does the end first, under the pause, as one on time does."""
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    item = sub.items.get()
    services.subscription_update(
        subscription=sub, now=d(2027, 1, 10), cancel_at=d(2027, 1, 15), proration_behavior="none"
    )
    services.subscription_update(subscription=sub, now=d(2027, 1, 12), items=[{"id": item.public_id, "quantity": 2}])
    services.subscription_update(
        subscription=sub, now=d(2027, 1, 13), pause_collection={"behavior": "void", "resumes_at": d(2027, 1, 20)}
    )
    for at in [d(2027, 1, 21)] if late else [d(2027, 1, 15), d(2027, 1, 21)]:
        while services.subscriptions_renew_due(now=at):
            pass
    sub.refresh_from_db()
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 1, 15))
    final = Invoice.objects.get(subscription=sub, billing_reason="subscription_cycle")
    assert final.total == 194
    assert final.status != "paid"
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999]


def test_the_preview_of_a_change_in_a_cut_period_is_what_the_change_bills(merchant, payer, stripe_backend):
    sub = factories.subscription(merchant, customer=payer, price=monthly(merchant, 1999, "Pro"), now=d(2027, 1, 1))
    sub = services.subscription_update(
        subscription=sub, now=d(2027, 1, 2), cancel_at=d(2027, 1, 11), proration_behavior="none"
    )
    item = sub.items.get()
    shown = preview.invoice_preview(
        merchant=merchant,
        livemode=False,
        now=d(2027, 1, 5),
        subscription=sub,
        items=[preview.ItemChange(id=item.public_id, quantity=2)],
        proration_behavior="always_invoice",  # a subscription ending with its period has no next invoice to show
    )
    assert [(line.amount, line.description) for line in shown.preview_lines] == [
        (-387, "Unused time on Pro after 05 Jan 2027"),
        (774, "Remaining time on 2 × Pro after 05 Jan 2027"),  # noqa: RUF001
    ]


def test_an_emailed_subscription_ending_at_its_period_end_sends_a_final_invoice_for_its_pending_prorations(
    merchant, payer, stripe_backend
):
    price = monthly(merchant, 1999, "Pro")
    sub = factories.subscription(
        merchant, customer=payer, price=price, now=d(2027, 1, 1), collection_method="send_invoice"
    )
    item = sub.items.get()
    services.subscription_update(subscription=sub, now=d(2027, 1, 5), cancel_at_period_end=True)
    # 1 -> 3 seats on 11 Jan, 21 of January's 31 days left: -1999 * 21/31 -> -1354, +5997 * 21/31 = 4062.48 -> +4062.
    services.subscription_update(subscription=sub, now=d(2027, 1, 11), items=[{"id": item.public_id, "quantity": 3}])

    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1))

    sub.refresh_from_db()
    final = sub.latest_invoice
    assert (sub.status, sub.ended_at) == ("canceled", d(2027, 2, 1))
    assert (final.billing_reason, final.collection_method, final.status) == (
        "subscription_cycle",
        "send_invoice",
        "open",
    )
    assert lines(final) == [
        (-1354, "Unused time on Pro after 11 Jan 2027"),
        (4062, "Remaining time on 3 × Pro after 11 Jan 2027"),  # noqa: RUF001
    ]
    assert (final.total, final.amount_due, final.auto_advance) == (2708, 2708, True)
    assert pending(payer) == []
    assert not services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 3, 1))
    assert Invoice.objects.filter(subscription=sub).count() == 2
    assert processor_payment_intents(stripe_backend) == []  # emailed: the customer pays it on its page
