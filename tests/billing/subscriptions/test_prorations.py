"""Proration items and the preview, on subscriptions made row by row (amounts: test_proration.py's table)."""

from datetime import UTC, datetime

import pytest

from billing.invoices.models import InvoiceItem
from billing.subscriptions import preview, prorations
from billing.subscriptions.models import Subscription, SubscriptionItem
from kassa.errors import InvalidRequest
from kassa.ids import public_id
from tests import factories
from webhooks.models import Event

JAN = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))  # 31 days
FEB_END = datetime(2027, 3, 1, tzinfo=UTC)
MONTHLY = {"interval": "month"}


@pytest.fixture
def merchant(shop):
    return shop.merchant


@pytest.fixture
def customer(merchant):
    return factories.customer(merchant)


def monthly(merchant, unit_amount: int, name: str = "Pro", currency: str = "eur"):
    product = factories.product(merchant, name=name)
    return factories.price(merchant, unit_amount=unit_amount, product=product, recurring=MONTHLY, currency=currency)


def subscription(merchant, customer, price, quantity: int = 1, status=Subscription.Status.ACTIVE) -> Subscription:
    """An active subscription in its January 2027 period, anchored on 1 January."""
    made = Subscription.objects.create(
        public_id=public_id(Subscription.PREFIX),
        merchant=merchant,
        livemode=False,
        created=JAN[0],
        customer=customer,
        status=status,
        currency=price.currency,
        billing_cycle_anchor=JAN[0],
        start_date=JAN[0],
        next_renewal_at=JAN[1],
    )
    SubscriptionItem.objects.create(
        public_id=public_id(SubscriptionItem.PREFIX),
        merchant=merchant,
        livemode=False,
        created=JAN[0],
        subscription=made,
        price=price,
        quantity=quantity,
        current_period_start=JAN[0],
        current_period_end=JAN[1],
    )
    return made


def change(sub: Subscription, *, price=None, quantity=None, at: datetime) -> list[InvoiceItem]:
    """What a subscription update with create_prorations does: snapshot, change the item, prorate."""
    before = prorations.items_snapshot(sub)
    item = sub.items.get()
    item.price = price or item.price
    item.quantity = quantity or item.quantity
    item.save()
    return prorations.subscription_prorations_create(subscription=sub, before=before, at=at, now=at)


def test_an_upgrade_makes_two_pending_proration_items(merchant, customer):
    sub = subscription(merchant, customer, monthly(merchant, 1999))
    at = datetime(2027, 1, 11, tzinfo=UTC)  # 21 of 31 days left: -1354 and +3386 (the table)
    made = change(sub, price=monthly(merchant, 4999, "Max"), at=at)
    assert [(i.amount, i.description) for i in made] == [
        (-1354, "Unused time on Pro after 11 Jan 2027"),
        (3386, "Remaining time on Max after 11 Jan 2027"),
    ]
    for item in made:
        item.refresh_from_db()
        assert (item.invoice, item.proration, item.discountable) == (None, True, False)
        assert (item.period_start, item.period_end) == (at, JAN[1])
        assert item.subscription_item == sub.items.get()
    assert Event.objects.filter(type="invoiceitem.created").count() == 2


def test_two_changes_credit_the_price_in_force(merchant, customer):
    sub = subscription(merchant, customer, monthly(merchant, 1999))
    change(sub, price=monthly(merchant, 2999, "Plus"), at=datetime(2027, 1, 10, tzinfo=UTC))
    second = change(sub, price=monthly(merchant, 999, "Lite"), quantity=3, at=datetime(2027, 1, 25, 12, tzinfo=UTC))
    # The second credit is Plus's (2999 * 13/62 -> 629), not Pro's.
    assert [i.amount for i in second] == [-629, 628]
    assert [i.amount for i in prorations.pending_prorations(sub).order_by("pk")] == [-1419, 2128, -629, 628]


def test_no_prorations_in_a_trial(merchant, customer):
    sub = subscription(merchant, customer, monthly(merchant, 1999), status=Subscription.Status.TRIALING)
    assert change(sub, price=monthly(merchant, 4999, "Max"), at=datetime(2027, 1, 11, tzinfo=UTC)) == []


def test_the_preview_of_a_change_is_the_next_invoice_it_would_make(merchant, customer):
    max_price = monthly(merchant, 4999, "Max")
    sub = subscription(merchant, customer, monthly(merchant, 1999))
    at = datetime(2027, 1, 11, tzinfo=UTC)
    item = sub.items.get()

    shown = preview.invoice_preview(
        merchant=merchant,
        livemode=False,
        now=at,
        subscription=sub,
        items=[preview.ItemChange(id=item.public_id, price=max_price)],
        proration_date=at,
    )

    assert InvoiceItem.objects.count() == 0
    assert [(line.amount, line.proration) for line in shown.preview_lines] == [
        (-1354, True),
        (3386, True),
        (4999, False),
    ]
    renewal = shown.preview_lines[-1]
    assert (renewal.period_start, renewal.period_end) == (JAN[1], FEB_END)
    assert shown.total == -1354 + 3386 + 4999
    # The same change made for real: the preview (no change now) shows the same lines, the prorations pending.
    change(sub, price=max_price, at=at)
    again = preview.invoice_preview(merchant=merchant, livemode=False, now=at, subscription=sub)
    assert [(line.amount, line.description) for line in again.preview_lines] == [
        (line.amount, line.description) for line in shown.preview_lines
    ]
    assert again.total == shown.total


def test_a_preview_refuses_what_it_cannot_show(merchant, customer):
    sub = subscription(merchant, customer, monthly(merchant, 1999))
    at = datetime(2027, 1, 11, tzinfo=UTC)
    yearly = factories.price(merchant, unit_amount=10000, recurring={"interval": "year"})
    item = sub.items.get()
    cases = [
        ({"items": [preview.ItemChange(id="si_nope", quantity=2)]}, "resource_missing"),
        ({"items": [preview.ItemChange(id=item.public_id, price=yearly)]}, None),
        ({"proration_date": JAN[1]}, None),
    ]
    for kwargs, code in cases:
        with pytest.raises(InvalidRequest) as refused:
            preview.invoice_preview(merchant=merchant, livemode=False, now=at, subscription=sub, **kwargs)
        assert refused.value.status == 400
        if code:
            assert refused.value.code == code
