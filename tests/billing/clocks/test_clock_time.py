"""What a user notices: a clock customer's invoices and items are made, finalized, paid and voided on the clock's
time, whoever asks (stripe-python, the dashboard), and say which clock they live on (``test_clock``)."""

import time

import pytest

from billing.invoices.models import Invoice
from tests.billing.clocks.test_advancing import _clock_customer

pytestmark = pytest.mark.django_db(transaction=False)

DAY = 86400
HOUR = 3600


@pytest.fixture
def clock(api):
    # A year behind the wall clock: anything dated on the wall clock would be a year off.
    return api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time()) - 365 * DAY})


def test_invoices_and_items_made_through_the_api_live_on_the_clock(api, clock, customer, card_token):
    frozen = clock.frozen_time
    on_clock = _clock_customer(api, clock, card_token)

    pending = api.v1.invoice_items.create(params={"customer": on_clock.id, "amount": 700, "currency": "eur"})
    assert pending.date == frozen
    assert (pending.period.start, pending.period.end) == (frozen, frozen)
    assert pending.test_clock == clock.id

    sent = api.v1.invoices.create(
        params={
            "customer": on_clock.id,
            "collection_method": "send_invoice",
            "days_until_due": 7,
            "auto_advance": True,
            "pending_invoice_items_behavior": "include",
        }
    )
    assert sent.created == frozen
    assert (sent.period_start, sent.period_end) == (frozen, frozen)
    assert sent.automatically_finalizes_at == frozen + HOUR
    assert sent.test_clock == clock.id
    # A due date a month after the clock's time is in the future for the clock, whatever the wall clock says.
    later = api.v1.invoices.create(
        params={"customer": on_clock.id, "collection_method": "send_invoice", "due_date": frozen + 30 * DAY}
    )
    assert later.due_date == frozen + 30 * DAY

    finalized = api.v1.invoices.finalize_invoice(sent.id, params={"auto_advance": False})
    assert finalized.status_transitions.finalized_at == frozen
    assert finalized.due_date == frozen + 7 * DAY
    voided = api.v1.invoices.void_invoice(finalized.id)
    assert voided.status_transitions.voided_at == frozen

    charged = api.v1.invoices.create(params={"customer": on_clock.id, "currency": "eur"})
    api.v1.invoice_items.create(
        params={"customer": on_clock.id, "amount": 1500, "currency": "eur", "invoice": charged.id}
    )
    api.v1.invoices.finalize_invoice(charged.id)
    paid = api.v1.invoices.pay(charged.id)
    assert paid.status == "paid"
    assert paid.status_transitions.paid_at == frozen
    assert [line.id for line in paid.lines.data]
    # expand[]=test_clock gives the clock itself, as on the customer.
    expanded = api.v1.invoices.retrieve(charged.id, params={"expand": ["test_clock"]})
    assert (expanded.test_clock.id, expanded.test_clock.frozen_time) == (clock.id, frozen)

    # A customer on the wall clock: dated now, and no clock.
    wall = api.v1.invoices.create(params={"customer": customer.id, "auto_advance": True})
    assert abs(wall.created - time.time()) < 60
    assert wall.automatically_finalizes_at == wall.created + HOUR
    assert wall.test_clock is None
    wall_item = api.v1.invoice_items.create(params={"customer": customer.id, "amount": 100, "currency": "eur"})
    assert wall_item.test_clock is None
    assert [i.test_clock for i in api.v1.invoices.list(params={"customer": on_clock.id}).data] == [clock.id] * 3


def test_the_clock_customers_invoice_finalized_and_paid_from_the_dashboard_is_dated_on_the_clock(
    api, clock, client, paying_shop, card_token
):
    frozen = clock.frozen_time
    on_clock = _clock_customer(api, clock, card_token)
    draft = api.v1.invoices.create(params={"customer": on_clock.id, "currency": "eur"})
    api.v1.invoice_items.create(params={"customer": on_clock.id, "amount": 990, "currency": "eur", "invoice": draft.id})
    pk = Invoice.objects.get(public_id=draft.id).pk
    client.force_login(paying_shop.owner)

    assert client.post(f"/admin/billing/invoice/{pk}/finalize/").status_code == 302
    assert client.post(f"/admin/billing/invoice/{pk}/pay/").status_code == 302
    paid = api.v1.invoices.retrieve(draft.id)
    assert paid.status == "paid"
    assert (paid.status_transitions.finalized_at, paid.status_transitions.paid_at) == (frozen, frozen)


def test_a_clock_customers_payment_intents_are_dated_on_the_clock(api, clock, customer, card_token):
    """Made through payment_intents.create (confirmed or not) and by paying an invoice: ``created`` is the clock's
    time, as the invoice's is; a customer on the wall clock gets the wall clock's."""
    frozen = clock.frozen_time
    on_clock = _clock_customer(api, clock, card_token)
    card = api.v1.customers.retrieve(on_clock.id).invoice_settings.default_payment_method
    made = api.v1.payment_intents.create(params={"amount": 900, "currency": "eur", "customer": on_clock.id})
    assert made.created == frozen
    charged = api.v1.payment_intents.create(
        params={"amount": 900, "currency": "eur", "customer": on_clock.id, "payment_method": card, "confirm": True}
    )
    assert (charged.status, charged.created) == ("succeeded", frozen)

    invoice = api.v1.invoices.create(params={"customer": on_clock.id, "currency": "eur"})
    api.v1.invoice_items.create(
        params={"customer": on_clock.id, "amount": 1500, "currency": "eur", "invoice": invoice.id}
    )
    api.v1.invoices.finalize_invoice(invoice.id)
    paid = api.v1.invoices.pay(invoice.id, params={"expand": ["payments.data.payment.payment_intent"]})
    (payment,) = paid.payments.data
    assert (payment.payment.payment_intent.status, payment.payment.payment_intent.created) == ("succeeded", frozen)

    wall = api.v1.payment_intents.create(params={"amount": 900, "currency": "eur", "customer": customer.id})
    assert abs(wall.created - time.time()) < 60
    without_customer = api.v1.payment_intents.create(params={"amount": 900, "currency": "eur"})
    assert abs(without_customer.created - time.time()) < 60
