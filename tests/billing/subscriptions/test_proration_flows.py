"""Prorations through the subscription services against localstripe: on the next invoice, at once, previewed.

Amounts are test_proration.py's hand-computed table.
"""

from datetime import UTC, datetime

import pytest

from billing.catalogue import services as catalogue
from billing.invoices.models import Invoice, InvoiceItem
from billing.subscriptions import preview, services
from billing.subscriptions.models import Subscription
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


def shown(preview_invoice) -> list[tuple[int, str]]:
    return [(line.amount, line.description) for line in preview_invoice.preview_lines]


def test_an_upgrade_mid_month_is_on_the_next_invoice_as_previewed(merchant, payer, stripe_backend):
    pro, max_ = monthly(merchant, 1999, "Pro"), monthly(merchant, 4999, "Max")
    sub = factories.subscription(merchant, customer=payer, price=pro, now=d(2027, 1, 1))
    item = sub.items.get()
    at = d(2027, 1, 11)  # 21 of January's 31 days left

    previewed = preview.invoice_preview(
        merchant=merchant,
        livemode=False,
        now=d(2027, 1, 10),
        subscription=sub,
        items=[preview.ItemChange(id=item.public_id, price=max_)],
        proration_date=at,
    )
    services.subscription_update(
        subscription=sub, now=at, items=[{"id": item.public_id, "price": max_}], proration_date=int(at.timestamp())
    )
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1))

    renewal = Invoice.objects.get(subscription=sub, billing_reason="subscription_cycle")
    assert lines(renewal) == [
        (-1354, "Unused time on Pro after 11 Jan 2027"),
        (3386, "Remaining time on Max after 11 Jan 2027"),
        (4999, "Max"),
    ]
    assert [line.proration for line in renewal.items.order_by("pk")] == [True, True, False]
    assert (renewal.status, renewal.total) == ("paid", 7031)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 7031]
    # The preview made before the change is the invoice the change led to.
    assert shown(previewed) == lines(renewal)
    assert (previewed.subtotal, previewed.total) == (renewal.subtotal, renewal.total)


def test_a_downgrade_credit_larger_than_the_renewal_is_carried_to_the_next_invoice(merchant, payer, stripe_backend):
    max_, pro = monthly(merchant, 4999, "Max"), monthly(merchant, 1999, "Pro")
    sub = factories.subscription(merchant, customer=payer, price=max_, now=d(2027, 2, 1))
    item = sub.items.get()
    at = d(2027, 2, 8, 6)  # 20.75 of February's 28 days left

    services.subscription_update(subscription=sub, now=at, items=[{"id": item.public_id, "price": pro}])
    previewed = preview.invoice_preview(merchant=merchant, livemode=False, now=at, subscription=sub)
    services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 3, 1))

    march = Invoice.objects.get(subscription=sub, subscription_period_start=d(2027, 3, 1))
    # -3705 + 1481 + 1999 = -225: the credit left over goes to the next invoice, none is lost.
    assert lines(march) == [
        (-3705, "Unused time on Max after 08 Feb 2027"),
        (1481, "Remaining time on Pro after 08 Feb 2027"),
        (1999, "Pro"),
        (225, "Credit carried to your next invoice"),
    ]
    assert (march.status, march.total, march.amount_paid) == ("paid", 0, 0)
    assert shown(previewed) == lines(march)
    services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 4, 1))
    april = Invoice.objects.get(subscription=sub, subscription_period_start=d(2027, 4, 1))
    assert lines(april) == [(-225, "Credit from your previous invoice"), (1999, "Pro")]
    assert (april.status, april.total) == ("paid", 1774)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [4999, 1774]


def test_always_invoice_charges_the_prorations_now(merchant, payer, stripe_backend):
    seats = monthly(merchant, 1000, "Seats")
    sub = factories.subscription(merchant, customer=payer, price=seats, quantity=3, now=d(2027, 4, 1))
    item = sub.items.get()
    at = d(2027, 4, 21)  # 10 of April's 30 days left
    previewed = preview.invoice_preview(
        merchant=merchant,
        livemode=False,
        now=at,
        subscription=sub,
        items=[preview.ItemChange(id=item.public_id, quantity=5)],
        proration_behavior="always_invoice",
    )

    sub = services.subscription_update(
        subscription=sub, now=at, items=[{"id": item.public_id, "quantity": 5}], proration_behavior="always_invoice"
    )

    now_invoice = sub.latest_invoice
    assert (now_invoice.billing_reason, now_invoice.status, now_invoice.total) == ("subscription_update", "paid", 667)
    assert lines(now_invoice) == [
        (-1000, "Unused time on 3 × Seats after 21 Apr 2027"),  # noqa: RUF001 - Stripe's sign
        (1667, "Remaining time on 5 × Seats after 21 Apr 2027"),  # noqa: RUF001
    ]
    assert shown(previewed) == lines(now_invoice)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000, 667]
    assert not InvoiceItem.objects.filter(customer=payer, invoice__isnull=True).exists()
    services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 5, 1))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000, 667, 5000]


def test_always_invoice_leaves_a_net_credit_for_the_renewal(merchant, payer, stripe_backend):
    seats = monthly(merchant, 1000, "Seats")
    sub = factories.subscription(merchant, customer=payer, price=seats, quantity=5, now=d(2027, 4, 1))
    item = sub.items.get()
    sub = services.subscription_update(
        subscription=sub,
        now=d(2027, 4, 21),
        items=[{"id": item.public_id, "quantity": 2}],
        proration_behavior="always_invoice",
    )
    assert sub.latest_invoice.billing_reason == "subscription_create"
    pending = InvoiceItem.objects.filter(customer=payer, invoice__isnull=True).order_by("pk")
    assert [i.amount for i in pending] == [-1667, 667]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [5000]


def test_none_prorates_nothing(merchant, payer, stripe_backend):
    pro, max_ = monthly(merchant, 1999, "Pro"), monthly(merchant, 4999, "Max")
    sub = factories.subscription(merchant, customer=payer, price=pro, now=d(2027, 1, 1))
    item = sub.items.get()
    services.subscription_update(
        subscription=sub, now=d(2027, 1, 11), items=[{"id": item.public_id, "price": max_}], proration_behavior="none"
    )
    assert not InvoiceItem.objects.filter(proration=True).exists()
    services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 2, 1))
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1999, 4999]


def test_a_credit_carried_forward_that_fails_fails_the_whole_renewal_never_a_period_left_on_a_draft(
    merchant, payer, stripe_backend, monkeypatch
):
    """A renewal whose leftover credit cannot be carried forward (a database error writing it) is undone whole:
    no draft is left as the period's invoice, the period does not move, and the next run renews it as if nothing
    had happened. Such an error is never taken for the period's own constraint ("already invoiced")."""
    from django.db import IntegrityError

    from billing.subscriptions import prorations

    max_, pro = monthly(merchant, 4999, "Max"), monthly(merchant, 1999, "Pro")
    sub = factories.subscription(merchant, customer=payer, price=max_, now=d(2027, 2, 1))
    item = sub.items.get()
    services.subscription_update(subscription=sub, now=d(2027, 2, 8, 6), items=[{"id": item.public_id, "price": pro}])
    carry = prorations.credit_carry_forward

    def broken(**kwargs):
        raise IntegrityError("the database refused the carried credit")

    monkeypatch.setattr(prorations, "credit_carry_forward", broken)
    with pytest.raises(RuntimeError, match="credit forward failed"):
        services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 3, 1))
    assert not Invoice.objects.filter(subscription=sub, subscription_period_start=d(2027, 3, 1)).exists()
    sub.refresh_from_db()
    assert sub.items.get().current_period_start == d(2027, 2, 1)
    assert sub.latest_invoice.subscription_period_start == d(2027, 2, 1)

    monkeypatch.setattr(prorations, "credit_carry_forward", carry)
    assert services.subscription_renew(subscription_pk=sub.pk, now=d(2027, 3, 1))
    march = Invoice.objects.get(subscription=sub, subscription_period_start=d(2027, 3, 1))
    assert (march.status, march.total) == ("paid", 0)
    assert lines(march)[-1] == (225, "Credit carried to your next invoice")


@pytest.mark.parametrize(
    ("state", "status", "auto_advance"),
    [
        ("active", "paid", False),  # paid: nothing left to advance
        ("declined", "open", True),  # left to dunning's retries
        ("unpaid", "open", False),
        ("keep_as_draft", "draft", False),
        ("mark_uncollectible", "uncollectible", False),
        ("void", "void", False),
    ],
)
def test_always_invoice_follows_the_subscriptions_collection_as_its_renewals_do(
    merchant, payer, card_token, stripe_backend, state, status, auto_advance
):
    # As at Stripe: an unpaid subscription's invoices are made and never attempted; while collection is paused, its
    # invoices are kept as drafts, marked uncollectible or voided, whatever made them (here an always_invoice change).
    seats = monthly(merchant, 1000, "Seats")
    sub = factories.subscription(merchant, customer=payer, price=seats, quantity=3, now=d(2027, 4, 1))
    item = sub.items.get()
    if state == "unpaid":
        Subscription.objects.filter(pk=sub.pk).update(status="unpaid")  # as dunning's final action leaves it
    elif state == "declined":
        declining = factories.saved_card(payer, card_token, "4000000000000341")
        catalogue.customer_update(customer=payer, default_payment_method=declining)
    elif state != "active":
        sub = services.subscription_update(subscription=sub, now=d(2027, 4, 10), pause_collection={"behavior": state})
    sub.refresh_from_db()
    sub = services.subscription_update(
        subscription=sub,
        now=d(2027, 4, 21),
        items=[{"id": item.public_id, "quantity": 5}],
        proration_behavior="always_invoice",
    )
    made = sub.latest_invoice
    assert (made.billing_reason, made.status, made.total) == ("subscription_update", status, 667)
    assert made.auto_advance is auto_advance
    charged = [3000, 667] if state in ("active", "declined") else [3000]  # attempted now, or never
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == charged
    if state == "declined":
        assert made.next_payment_attempt is not None  # dunning's first retry (a day after the failure's own time)
