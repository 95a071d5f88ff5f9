"""payment_behavior=pending_if_incomplete against localstripe: a change held until its invoice is paid.

10.00 a seat a month, 3 seats from 1 April 2027; 5 seats from 21 April (10 of April's 30 days left):
-3000 * 10/30 = -1000 and +5000 * 10/30 = 1666.67 -> 1667, an invoice of 667.
"""

from datetime import UTC, datetime, timedelta

import pytest

from billing.catalogue import services as catalogue
from billing.invoices.models import Invoice
from billing.subscriptions import services
from billing.subscriptions.api.serializers import SubscriptionOut
from kassa.api.views import represent
from kassa.errors import InvalidRequest
from tests import factories
from tests.conftest import processor_payment_intents
from webhooks.models import Event

AT = datetime(2027, 4, 21, tzinfo=UTC)


@pytest.fixture
def merchant(paying_shop):
    return paying_shop.merchant


def seats(merchant, card_token, number: str = "4242424242424242"):
    customer = factories.customer(merchant, name="John Doe")
    card = factories.saved_card(customer, card_token)
    catalogue.customer_update(customer=customer, default_payment_method=card)
    customer.refresh_from_db()
    price = factories.price(merchant, unit_amount=1000, recurring={"interval": "month"})
    sub = factories.subscription(
        merchant, customer=customer, price=price, quantity=3, now=datetime(2027, 4, 1, tzinfo=UTC)
    )
    if number != "4242424242424242":  # the card on file now declines
        declining = factories.saved_card(customer, card_token, number)
        catalogue.customer_update(customer=customer, default_payment_method=declining)
    return sub


def five_seats(sub, **extra):
    item = sub.items.get()
    return services.subscription_update(
        subscription=sub,
        now=AT,
        items=[{"id": item.public_id, "quantity": 5}],
        payment_behavior="pending_if_incomplete",
        **extra,
    )


def events(type_: str) -> int:
    return Event.objects.filter(type=type_).count()


def test_paid_at_once_the_change_applies(merchant, card_token, stripe_backend):
    sub = five_seats(seats(merchant, card_token))

    assert sub.items.get().quantity == 5
    assert (sub.pending_update, sub.pending_update_invoice, sub.status) == (None, None, "active")
    invoice = sub.latest_invoice
    assert (invoice.billing_reason, invoice.status, invoice.total) == ("subscription_update", "paid", 667)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000, 667]
    assert events("customer.subscription.pending_update_applied") == 1


def test_declined_the_change_waits_then_expires_and_its_invoice_is_voided(merchant, card_token, stripe_backend):
    sub = five_seats(seats(merchant, card_token, "4000000000000341"))

    item = sub.items.get()
    assert (item.quantity, sub.status) == (3, "active")  # nothing changed yet, and not past_due
    invoice = sub.latest_invoice
    assert (sub.pending_update_invoice, invoice.status, invoice.total) == (invoice, "open", 667)
    shown = represent(SubscriptionOut, sub, {"expand": set()})["pending_update"]
    assert shown["expires_at"] == int((AT + timedelta(hours=23)).timestamp())
    assert [(i["id"], i["quantity"]) for i in shown["subscription_items"]] == [(item.public_id, 5)]
    assert "entries" not in shown
    with pytest.raises(InvalidRequest) as refused:
        services.subscription_update(subscription=sub, now=AT, items=[{"id": item.public_id, "quantity": 4}])
    assert refused.value.code == "subscription_unexpected_state"

    assert not services.subscription_renew(subscription_pk=sub.pk, now=AT + timedelta(hours=22))
    assert services.subscription_renew(subscription_pk=sub.pk, now=AT + timedelta(hours=23))

    sub.refresh_from_db()
    assert (sub.pending_update, sub.items.get().quantity, sub.status) == (None, 3, "active")
    assert Invoice.objects.get(pk=invoice.pk).status == "void"
    assert sub.next_renewal_at == datetime(2027, 5, 1, tzinfo=UTC)
    assert events("customer.subscription.pending_update_expired") == 1
    assert events("customer.subscription.pending_update_applied") == 0


def test_a_change_with_nothing_to_pay_applies_at_once_and_other_parameters_are_refused(
    merchant, card_token, stripe_backend
):
    sub = seats(merchant, card_token, "4000000000000341")
    item = sub.items.get()
    with pytest.raises(InvalidRequest) as refused:
        five_seats(sub, metadata={"plan": "five"})
    assert refused.value.param == "metadata"

    sub = services.subscription_update(
        subscription=sub,
        now=AT,
        items=[{"id": item.public_id, "quantity": 2}],
        payment_behavior="pending_if_incomplete",
    )

    assert (sub.items.get().quantity, sub.pending_update) == (2, None)
    assert sub.latest_invoice.billing_reason == "subscription_create"
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3000]


def test_expiring_in_the_pass_that_renews_the_change_s_invoice_is_voided_and_the_new_period_charged(
    merchant, card_token, stripe_backend
):
    """One pass past both the expiry (22 April) and the period's end (1 May): a test clock's jump, or beat down."""
    sub = five_seats(seats(merchant, card_token, "4000000000000341"))
    dropped = sub.pending_update_invoice
    good = sub.customer.payment_methods.order_by("pk").first()  # the 4242 card saved first
    catalogue.customer_update(customer=sub.customer, default_payment_method=good)

    assert services.subscription_renew(subscription_pk=sub.pk, now=datetime(2027, 5, 1, 1, tzinfo=UTC))

    sub.refresh_from_db()
    assert (sub.pending_update, sub.items.get().quantity, sub.status) == (None, 3, "active")
    assert Invoice.objects.get(pk=dropped.pk).status == "void"  # paying it late must not charge for the dropped change
    renewal = sub.latest_invoice
    assert (renewal.billing_reason, renewal.status, renewal.total) == ("subscription_cycle", "paid", 3000)
    succeeded = [p["amount"] for p in processor_payment_intents(stripe_backend) if p["status"] == "succeeded"]
    assert sorted(succeeded) == [3000, 3000]  # April's, and one for May
    assert events("customer.subscription.pending_update_expired") == 1


def test_expiring_in_the_pass_that_ends_the_subscription_the_change_s_invoice_is_voided(
    merchant, card_token, stripe_backend
):
    sub = seats(merchant, card_token, "4000000000000341")
    sub = services.subscription_update(subscription=sub, now=AT - timedelta(days=1), cancel_at_period_end=True)
    sub = five_seats(sub)
    dropped = sub.pending_update_invoice
    assert dropped.status == "open"

    assert services.subscription_renew(subscription_pk=sub.pk, now=datetime(2027, 5, 1, 1, tzinfo=UTC))

    sub.refresh_from_db()
    assert (sub.status, sub.pending_update) == ("canceled", None)
    assert Invoice.objects.get(pk=dropped.pk).status == "void"
    assert [p["amount"] for p in processor_payment_intents(stripe_backend) if p["status"] == "succeeded"] == [3000]
