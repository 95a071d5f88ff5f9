"""/v1/subscriptions and /v1/subscription_items through stripe-python 16.1, unmodified, against localstripe."""

from datetime import timedelta

import pytest
import stripe

from tests import factories
from tests.conftest import processor_payment_intents
from webhooks.event_types import EVENT_TYPES
from webhooks.models import Event


def test_create_charges_the_first_invoice_and_answers_the_2026_shape(api, customer, save_card, monthly, stripe_backend):
    save_card()
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": monthly.id, "quantity": 2}], "expand": ["latest_invoice"]}
    )
    assert sub.status == "active"
    assert sub.object == "subscription"
    item = sub["items"].data[0]
    assert (item.price.id, item.quantity, item.subscription) == (monthly.id, 2, sub.id)
    assert item.current_period_end > item.current_period_start == sub.start_date
    invoice = sub.latest_invoice
    assert (invoice.status, invoice.amount_paid, invoice.billing_reason) == ("paid", 10000, "subscription_create")
    assert invoice.parent.type == "subscription_details"
    assert invoice.parent.subscription_details.subscription == sub.id
    line = invoice.lines.data[0]
    assert line.parent.type == "subscription_item_details"
    assert line.parent.subscription_item_details.subscription_item == item.id
    assert line.parent.subscription_item_details.proration is False
    assert line.period.end == item.current_period_end
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [10000]
    assert Event.objects.filter(type="customer.subscription.created").count() == 1

    assert api.v1.subscriptions.retrieve(sub.id).id == sub.id
    assert [s.id for s in api.v1.subscriptions.list(params={"customer": customer.id}).data] == [sub.id]
    assert [s.id for s in api.v1.subscriptions.list(params={"price": monthly.id, "status": "active"}).data] == [sub.id]
    assert api.v1.subscriptions.list(params={"status": "past_due"}).data == []
    items = api.v1.subscription_items.list(params={"subscription": sub.id})
    assert [i.id for i in items.data] == [item.id]
    assert api.v1.subscription_items.retrieve(item.id).quantity == 2


def test_without_a_card_the_subscription_is_incomplete_and_error_if_incomplete_refuses(
    api, customer, monthly, stripe_backend
):
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    assert sub.status == "incomplete"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": [{"price": monthly.id}],
                "payment_behavior": "error_if_incomplete",
            }
        )
    assert refused.value.code == "invoice_no_payment_method"
    ended = api.v1.subscriptions.list(params={"status": "incomplete_expired"}).data
    assert len(ended) == 1


def test_a_one_time_price_is_refused_naming_the_item(api, customer, stripe_backend):
    product = api.v1.products.create(params={"name": "Tea"})
    price = api.v1.prices.create(params={"product": product.id, "currency": "eur", "unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    assert refused.value.param == "items[0][price]"


def test_update_cancel_pause_and_resume(api, customer, save_card, monthly, stripe_backend):
    save_card()
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    item = sub["items"].data[0]
    changed = api.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "quantity": 3}],
            "proration_behavior": "none",
            "cancel_at_period_end": True,
            "metadata": {"plan": "gold"},
        },
    )
    assert (changed["items"].data[0].quantity, changed.cancel_at_period_end, changed.metadata.plan) == (3, True, "gold")
    paused = api.v1.subscriptions.pause(sub.id)
    assert paused.status == "paused"
    resumed = api.v1.subscriptions.resume(sub.id, params={"billing_cycle_anchor": "now"})
    assert resumed.status == "active"
    assert api.v1.invoices.retrieve(resumed.latest_invoice).amount_paid == 15000
    added = api.v1.subscription_items.create(
        params={
            "subscription": sub.id,
            "price_data": {
                "currency": "eur",
                "product": monthly.product,
                "recurring": {"interval": "month"},
                "unit_amount": 500,
            },
            "proration_behavior": "none",
        }
    )
    assert (
        api.v1.subscription_items.update(added.id, params={"quantity": 4, "proration_behavior": "none"}).quantity == 4
    )
    canceled = api.v1.subscriptions.cancel(
        sub.id, params={"cancellation_details": {"comment": "Too dear", "feedback": "too_expensive"}}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_details.feedback == "too_expensive"
    assert api.v1.subscriptions.list(params={"customer": customer.id}).data == []
    assert len(api.v1.subscriptions.list(params={"customer": customer.id, "status": "all"}).data) == 1
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.subscriptions.cancel(sub.id)
    types = set(Event.objects.values_list("type", flat=True))
    assert {"customer.subscription.paused", "customer.subscription.resumed", "customer.subscription.deleted"} <= types
    assert types <= set(EVENT_TYPES)  # every event sent is one an endpoint can listen for


def test_another_merchants_subscription_is_missing(api, customer, save_card, monthly, kassa, other_shop):
    save_card()
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    other = kassa(other_shop.secret_key.secret)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        other.v1.subscriptions.retrieve(sub.id)
    assert missing.value.http_status == 404


def test_delete_a_subscription_item(api, customer, save_card, monthly, kassa, paying_shop, other_shop, stripe_backend):
    save_card()
    extra = api.v1.prices.create(
        params={"product": monthly.product, "currency": "eur", "unit_amount": 1000, "recurring": {"interval": "month"}}
    )
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": monthly.id}, {"price": extra.id}]}
    )
    first, second = (item.id for item in sub["items"].data)
    for client, error in (
        (kassa(other_shop.secret_key.secret), stripe.InvalidRequestError),  # another merchant's: missing
        (kassa(factories.live_secret_key(paying_shop.merchant)), stripe.InvalidRequestError),  # the other mode
        (kassa(paying_shop.publishable_key.secret), stripe.PermissionError),
        (kassa(factories.restricted_key(paying_shop.merchant, {"subscriptions": "read"})), stripe.PermissionError),
    ):
        with pytest.raises(error) as refused:
            client.v1.subscription_items.delete(second)
        assert refused.value.http_status == (404 if error is stripe.InvalidRequestError else 403)
    assert len(api.v1.subscription_items.list(params={"subscription": sub.id}).data) == 2

    deleted = api.v1.subscription_items.delete(
        second, params={"proration_behavior": "create_prorations", "clear_usage": True}
    )

    assert (deleted.id, deleted.object, deleted.deleted) == (second, "subscription_item", True)
    assert [i.id for i in api.v1.subscription_items.list(params={"subscription": sub.id}).data] == [first]
    pending = api.v1.invoice_items.list(params={"customer": customer.id, "pending": True}).data
    assert [(i.amount < 0, i.proration) for i in pending] == [(True, True)]  # the unused time, credited
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.subscription_items.delete(first, params={"proration_behavior": "none"})
    assert refused.value.http_status == 400
    assert "only item" in refused.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.subscription_items.delete(first, params={"proration_behavior": "later"})
    assert refused.value.param == "proration_behavior"
    assert len(api.v1.subscription_items.list(params={"subscription": sub.id}).data) == 1


def test_pending_if_incomplete_holds_the_change_while_its_invoice_is_unpaid(
    api, customer, save_card, monthly, stripe_backend
):
    save_card()
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    item = sub["items"].data[0]
    save_card("4000000000000341")  # the new default card declines

    held = api.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "quantity": 2}],
            "payment_behavior": "pending_if_incomplete",
            "expand": ["latest_invoice"],
        },
    )

    assert (held.status, held["items"].data[0].quantity) == ("active", 1)
    assert held.pending_update.expires_at == held.latest_invoice.created + 23 * 3600
    assert [(i.id, i.quantity) for i in held.pending_update.subscription_items] == [(item.id, 2)]
    assert (held.latest_invoice.status, held.latest_invoice.billing_reason) == ("open", "subscription_update")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.subscriptions.update(
            sub.id, params={"cancel_at_period_end": True, "payment_behavior": "pending_if_incomplete"}
        )
    assert refused.value.param == "cancel_at_period_end"


def _previous(event_type: str, object_id: str) -> list[dict]:
    """The ``previous_attributes`` of each ``event_type`` event about ``object_id``, oldest first."""
    events = Event.objects.filter(type=event_type).order_by("id")
    return [e.data.get("previous_attributes") or {} for e in events if e.data["object"]["id"] == object_id]


def test_a_detached_card_stops_being_the_default_of_subscriptions_and_unpaid_invoices(
    api, customer, save_card, monthly, stripe_backend
):
    """A payer removes the card a subscription and two unpaid invoices name as their default: it stops being their
    default (each with its event), so the open invoice is then paid, and the subscription renewed, with the
    customer's default card; an ended subscription and a paid invoice keep it, as their history."""
    from django.utils import timezone

    from billing.subscriptions import services

    leaving = save_card(default=False)
    staying = save_card("5555555555554444")  # the customer's default
    sub = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": monthly.id}], "default_payment_method": leaving.id}
    )
    ended = api.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": monthly.id}], "default_payment_method": leaving.id}
    )
    api.v1.subscriptions.cancel(ended.id)
    paid = api.v1.invoices.retrieve(sub.latest_invoice)
    assert (paid.status, paid.default_payment_method) == ("paid", leaving.id)
    unpaid = {}
    for status in ("draft", "open"):
        invoice = api.v1.invoices.create(
            params={
                "customer": customer.id,
                "currency": "eur",
                "default_payment_method": leaving.id,
                "auto_advance": False,
            }
        )
        api.v1.invoice_items.create(
            params={"customer": customer.id, "invoice": invoice.id, "amount": 700, "currency": "eur"}
        )
        if status == "open":
            invoice = api.v1.invoices.finalize_invoice(invoice.id, params={"auto_advance": False})
        unpaid[status] = invoice
    assert {i.status for i in unpaid.values()} == {"draft", "open"}

    api.v1.payment_methods.detach(leaving.id)

    assert api.v1.subscriptions.retrieve(sub.id).default_payment_method is None
    assert _previous("customer.subscription.updated", sub.id)[-1] == {"default_payment_method": leaving.id}
    assert api.v1.subscriptions.retrieve(ended.id).default_payment_method == leaving.id
    assert api.v1.invoices.retrieve(paid.id).default_payment_method == leaving.id
    for invoice in unpaid.values():
        assert api.v1.invoices.retrieve(invoice.id).default_payment_method is None
        assert _previous("invoice.updated", invoice.id)[-1] == {"default_payment_method": leaving.id}
    charged = len(processor_payment_intents(stripe_backend))

    settled = api.v1.invoices.pay(unpaid["open"].id, params={"expand": ["payments.data.payment.payment_intent"]})
    assert settled.status == "paid"
    assert settled.payments.data[0].payment.payment_intent.payment_method == staying.id

    assert services.subscriptions_renew_due(now=timezone.now() + timedelta(days=32)) == 1
    renewed = api.v1.subscriptions.retrieve(sub.id)
    expand = {"expand": ["payments.data.payment.payment_intent"]}
    renewal = api.v1.invoices.retrieve(renewed.latest_invoice, params=expand)
    assert (renewed.status, renewal.billing_reason, renewal.status) == ("active", "subscription_cycle", "paid")
    assert renewal.default_payment_method is None
    assert renewal.payments.data[0].payment.payment_intent.payment_method == staying.id
    assert len(processor_payment_intents(stripe_backend)) == charged + 2
