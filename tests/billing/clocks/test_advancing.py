"""What a user notices: a clock's customers live on its time, and only theirs move when it advances."""

import time
from datetime import timedelta

from django.utils import timezone

from billing.invoices import services as invoices
from tests.conftest import processor_payment_intents
from webhooks.models import Event


def _invoice_events(invoice_id: str) -> list[str]:
    return [
        e.type
        for e in Event.objects.filter(type__startswith="invoice.").order_by("pk")
        if e.data["object"]["id"] == invoice_id
    ]


def _clock_customer(api, clock, card_token, number="4242424242424242"):
    customer = api.v1.customers.create(params={"email": "clock@example.com", "test_clock": clock.id})
    card = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token(number)}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    return customer


def _draft(api, customer, **params):
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur", **params})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 1500, "currency": "eur", "invoice": invoice.id}
    )
    return invoice


def test_advancing_two_hours_finalizes_and_charges_the_clock_customers_draft_only(
    api, customer, save_card, card_token, stripe_backend, emails_on_commit
):
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    on_clock = _clock_customer(api, clock, card_token)
    clock_invoice = _draft(api, on_clock, auto_advance=True)
    save_card()
    wall_invoice = _draft(api, customer, auto_advance=True)

    # Beat on the wall clock, two hours on: the wall-clock customer's draft is finalized and paid, the clock
    # customer's is left alone (their time is the clock's).
    invoices.invoices_advance(now=timezone.now() + timedelta(hours=2))
    assert api.v1.invoices.retrieve(wall_invoice.id).status == "paid"
    assert api.v1.invoices.retrieve(clock_invoice.id).status == "draft"
    assert len(processor_payment_intents(stripe_backend)) == 1

    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": clock.frozen_time + 7200})
    paid = api.v1.invoices.retrieve(clock_invoice.id)
    assert (paid.status, paid.amount_paid, paid.attempt_count) == ("paid", 1500, 1)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1500, 1500]
    assert _invoice_events(clock_invoice.id)[-3:] == ["invoice.finalized", "invoice.paid", "invoice.payment_succeeded"]
    assert api.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready"


def test_a_send_invoice_invoice_is_overdue_when_the_clock_passes_its_due_date(
    api, card_token, stripe_backend, emails_on_commit
):
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": int(time.time())})
    on_clock = _clock_customer(api, clock, card_token)
    invoice = _draft(api, on_clock, collection_method="send_invoice", days_until_due=3)
    api.v1.invoices.finalize_invoice(invoice.id)
    due = api.v1.invoices.retrieve(invoice.id).due_date

    invoices.invoices_mark_overdue(now=timezone.now() + timedelta(days=10))  # the wall clock: not theirs
    assert "invoice.overdue" not in _invoice_events(invoice.id)

    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": due - 60})
    assert "invoice.overdue" not in _invoice_events(invoice.id)
    with emails_on_commit():
        api.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": due + 86400})
    assert _invoice_events(invoice.id).count("invoice.overdue") == 1
    ready = api.v1.test_helpers.test_clocks.retrieve(clock.id)
    assert (ready.status, ready.frozen_time) == ("ready", due + 86400)
