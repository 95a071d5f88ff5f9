"""Beat's side of invoicing and the races: auto_advance, overdue notices, two pays at once, a lost answer."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.invoices import services
from billing.invoices.services import dunning
from billing.models import Invoice, PaymentAttempt
from billing.payments import services as payments
from kassa import gateway
from kassa.errors import CardError, IdempotencyConflict, InvalidRequest
from tests.conftest import processor_payment_intents
from webhooks.models import Event


def _types(invoice_id: str) -> list[str]:
    return [
        e.type
        for e in Event.objects.filter(type__startswith="invoice.").order_by("pk")
        if e.data["object"]["id"] == invoice_id
    ]


def _open_invoice(api, customer, amount: int = 1500, **params) -> Invoice:
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur", **params})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": amount, "currency": "eur", "invoice": invoice.id}
    )
    return invoice


def test_auto_advance_finalizes_after_an_hour_then_charges_off_session(api, customer, save_card, stripe_backend):
    save_card()
    invoice = _open_invoice(api, customer, auto_advance=True)
    draft = api.v1.invoices.retrieve(invoice.id)
    assert draft.automatically_finalizes_at == draft.created + 3600
    now = timezone.now()
    assert services.invoices_advance(now=now) == 0  # not yet
    assert api.v1.invoices.retrieve(invoice.id).status == "draft"

    services.invoices_advance(now=now + timedelta(hours=1, seconds=1))
    paid = api.v1.invoices.retrieve(invoice.id)
    assert (paid.status, paid.amount_paid, paid.attempt_count, paid.number is not None) == ("paid", 1500, 1, True)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [1500]
    assert _types(invoice.id)[-3:] == ["invoice.finalized", "invoice.paid", "invoice.payment_succeeded"]
    services.invoices_advance(now=now + timedelta(hours=2))  # again: nothing more
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_auto_advance_with_a_declining_card_fails_once_then_waits_for_its_retry(
    api, customer, save_card, stripe_backend
):
    save_card("4000000000000341")
    invoice = _open_invoice(api, customer, auto_advance=True)
    later = timezone.now() + timedelta(hours=1, seconds=1)
    services.invoices_advance(now=later)
    services.invoices_advance(now=later + timedelta(minutes=1))
    failed = api.v1.invoices.retrieve(invoice.id)
    # Dunning (test_dunning.py): the first retry is a day after the failure, not beat's next minute.
    assert (failed.status, failed.attempt_count) == ("open", 1)
    assert failed.next_payment_attempt == int((later + timedelta(days=1)).timestamp())
    assert _types(invoice.id).count("invoice.payment_failed") == 1


def test_overdue_is_sent_once(api, customer):
    invoice = _open_invoice(api, customer, collection_method="send_invoice", days_until_due=3)
    api.v1.invoices.finalize_invoice(invoice.id)
    now = timezone.now()
    assert services.invoices_mark_overdue(now=now + timedelta(days=2)) == 0
    assert services.invoices_mark_overdue(now=now + timedelta(days=3, minutes=1)) == 1
    assert services.invoices_mark_overdue(now=now + timedelta(days=4)) == 0
    assert _types(invoice.id).count("invoice.overdue") == 1


def test_two_pays_at_once_make_one_charge(api, customer, save_card, stripe_backend, transactional_db):
    save_card()
    invoice = _open_invoice(api, customer)
    api.v1.invoices.finalize_invoice(invoice.id)
    row = Invoice.objects.get(public_id=invoice.id)
    barrier, outcomes = threading.Barrier(2), []

    def pay():
        barrier.wait()
        try:
            outcomes.append(services.invoice_pay(invoice=row, now=timezone.now()).status)
        except (IdempotencyConflict, InvalidRequest) as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "paid" in outcomes
    assert set(outcomes) <= {"paid", "payment_in_progress", "invoice_unexpected_state"}
    assert len(processor_payment_intents(stripe_backend)) == 1
    row.refresh_from_db()
    assert (row.status, row.amount_paid, row.payments.count()) == ("paid", 1500, 1)


def test_a_lost_answer_is_settled_by_reconciling_never_by_a_second_charge(
    api, customer, save_card, stripe_backend, monkeypatch
):
    """The charge happens, then Kassa dies before recording it: the invoice is paid when Stripe's state is read."""
    save_card()
    invoice = _open_invoice(api, customer)
    api.v1.invoices.finalize_invoice(invoice.id)
    real_confirm = gateway.payment_intent_confirm

    def charge_then_crash(*args, **kwargs):
        real_confirm(*args, **kwargs)
        raise RuntimeError("worker killed after the charge")

    monkeypatch.setattr(gateway, "payment_intent_confirm", charge_then_crash)
    with pytest.raises(RuntimeError):
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    monkeypatch.setattr(gateway, "payment_intent_confirm", real_confirm)
    assert api.v1.invoices.retrieve(invoice.id).status == "open"
    # Beat's reconciler finds the charge at the processor by the PaymentIntent's id in its metadata and records
    # it; the invoice is paid through the usual hook. Nothing is charged a second time to find out.
    assert payments.payments_reconcile(now=timezone.now() + timedelta(minutes=20)) == 1
    paid = api.v1.invoices.retrieve(invoice.id)
    assert (paid.status, paid.amount_paid) == ("paid", 1500)
    assert PaymentAttempt.objects.filter(status="succeeded").count() == 1
    assert len(processor_payment_intents(stripe_backend)) == 1
    assert _types(invoice.id)[-2:] == ["invoice.paid", "invoice.payment_succeeded"]
    # Run again (two beats, a retry): nothing changes.
    assert payments.payments_reconcile(now=timezone.now() + timedelta(minutes=21)) == 0
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_a_lost_request_that_never_reached_the_processor_frees_the_invoice_for_one_new_charge(
    api, customer, save_card, stripe_backend, monkeypatch
):
    """Kassa dies before the processor is called: the reconciler finds no charge, and the next pay charges once."""
    save_card()
    invoice = _open_invoice(api, customer)
    api.v1.invoices.finalize_invoice(invoice.id)
    real_confirm = gateway.payment_intent_confirm

    def crash_before_the_charge(*args, **kwargs):
        raise RuntimeError("worker killed before the charge")

    monkeypatch.setattr(gateway, "payment_intent_confirm", crash_before_the_charge)
    with pytest.raises(RuntimeError):
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    monkeypatch.setattr(gateway, "payment_intent_confirm", real_confirm)
    assert payments.payments_reconcile(now=timezone.now() + timedelta(minutes=20)) == 0
    assert PaymentAttempt.objects.get().error_code == "processor_no_record"
    assert processor_payment_intents(stripe_backend) == []
    paid = api.v1.invoices.pay(invoice.id)
    assert (paid.status, paid.amount_paid) == ("paid", 1500)
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_an_invoices_payment_intent_is_not_canceled_directly(api, customer, save_card):
    save_card("4000000000000341")
    invoice = _open_invoice(api, customer)
    api.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(CardError):
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    intent = Invoice.objects.get(public_id=invoice.id).payments.get().payment_intent
    with pytest.raises(InvalidRequest) as exc:
        payments.payment_intent_cancel(payment_intent=intent)
    assert "void the invoice" in exc.value.message
    voided = api.v1.invoices.void_invoice(invoice.id)
    assert voided.status == "void"
    intent.refresh_from_db()
    assert intent.status == "canceled"


def test_marking_paid_out_of_band_waits_for_a_card_charge_of_unknown_outcome(
    api, customer, save_card, stripe_backend, monkeypatch
):
    """The card was charged but its answer was lost: the invoice cannot be marked paid out of band (409) until the
    charge is settled, so the customer never pays twice."""
    save_card()
    invoice = _open_invoice(api, customer)
    api.v1.invoices.finalize_invoice(invoice.id)
    real_confirm = gateway.payment_intent_confirm

    def charge_then_crash(*args, **kwargs):
        real_confirm(*args, **kwargs)
        raise RuntimeError("worker killed after the charge")

    monkeypatch.setattr(gateway, "payment_intent_confirm", charge_then_crash)
    with pytest.raises(RuntimeError):
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    monkeypatch.setattr(gateway, "payment_intent_confirm", real_confirm)
    row = Invoice.objects.get(public_id=invoice.id)
    with pytest.raises(IdempotencyConflict):
        services.invoice_pay(invoice=row, now=timezone.now(), paid_out_of_band=True, note="bank transfer")
    row.refresh_from_db()
    assert (row.status, row.paid_out_of_band, row.amount_paid) == ("open", False, 0)
    [processor] = processor_payment_intents(stripe_backend)
    payments.payment_intent_sync(merchant=row.merchant, livemode=False, processor_payment_intent_id=processor["id"])
    row.refresh_from_db()
    assert (row.status, row.amount_paid, row.total, row.paid_out_of_band) == ("paid", 1500, 1500, False)


def test_marking_paid_out_of_band_cancels_the_card_payment(api, customer, save_card, stripe_backend):
    """After a declined card, paid by transfer: the invoice's PaymentIntent is canceled (here and at the processor)
    and can never be confirmed afterwards."""
    save_card("4000000000000341")
    invoice = _open_invoice(api, customer)
    api.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(CardError):
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    row = Invoice.objects.get(public_id=invoice.id)
    paid = services.invoice_pay(invoice=row, now=timezone.now(), paid_out_of_band=True, note="bank transfer")
    assert (paid.status, paid.amount_paid, paid.paid_out_of_band) == ("paid", 1500, True)
    intent = paid.payments.get().payment_intent
    assert intent.status == "canceled"
    assert paid.payments.get().status == "canceled"
    with pytest.raises(InvalidRequest) as exc:
        payments.payment_intent_confirm(payment_intent=intent, payment_method=intent.payment_method)
    assert exc.value.code == "payment_intent_unexpected_state"
    assert len(processor_payment_intents(stripe_backend)) == 1  # the declined attempt only: nothing charged since


def test_overlapping_beat_runs_leave_an_invoice_finalized_by_the_other_run_alone(
    api, customer, save_card, stripe_backend, monkeypatch
):
    save_card()
    invoice = _open_invoice(api, customer, auto_advance=True)
    later = timezone.now() + timedelta(hours=1, seconds=1)
    real_finalize = dunning.invoice_finalize

    def other_run_got_there_first(*, invoice, now):
        real_finalize(invoice=invoice, now=now)  # the overlapping run (or the API, the dashboard) finalizes it
        return real_finalize(invoice=invoice, now=now)  # this run's own call meets a finalized invoice

    monkeypatch.setattr(dunning, "invoice_finalize", other_run_got_there_first)
    services.invoices_advance(now=later)
    row = Invoice.objects.get(public_id=invoice.id)
    assert row.last_finalization_error is None  # no failure recorded, automatic collection left on
    # The same run went on to charge it, as a run finalizing it itself does.
    assert (row.status, row.amount_paid) == ("paid", 1500)
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_a_draft_deleted_while_beat_runs_does_not_stop_the_run(api, customer, save_card, stripe_backend, monkeypatch):
    save_card()
    gone = _open_invoice(api, customer, auto_advance=True)
    kept = _open_invoice(api, customer, auto_advance=True)
    later = timezone.now() + timedelta(hours=1, seconds=1)
    real_finalize = dunning.invoice_finalize

    def deleted_meanwhile(*, invoice, now):
        if invoice.public_id == gone.id:
            services.invoice_delete(invoice=invoice)
        return real_finalize(invoice=invoice, now=now)

    monkeypatch.setattr(dunning, "invoice_finalize", deleted_meanwhile)
    services.invoices_advance(now=later)
    assert not Invoice.objects.filter(public_id=gone.id).exists()
    assert api.v1.invoices.retrieve(kept.id).status == "paid"


def test_automatic_collection_without_a_card_fails_once_and_says_so(api, customer, stripe_backend):
    invoice = _open_invoice(api, customer, auto_advance=True)
    later = timezone.now() + timedelta(hours=1, seconds=1)
    for minute in range(3):
        services.invoices_advance(now=later + timedelta(minutes=minute))
    failed = api.v1.invoices.retrieve(invoice.id)
    assert (failed.status, failed.attempted, failed.attempt_count, failed.next_payment_attempt) == (
        "open",
        True,
        1,
        None,
    )
    assert failed.last_finalization_error is None
    assert _types(invoice.id).count("invoice.payment_failed") == 1
    assert processor_payment_intents(stripe_backend) == []


def test_a_paid_invoices_events_show_its_payment_paid_as_the_api_shows_it_reading_its_payments_once(
    api, customer, save_card
):
    """A declined first attempt, then a good card: the payment the success marks paid is shown paid, with what it
    paid and when, in ``invoice.paid`` and ``invoice.payment_succeeded`` exactly as the API shows the invoice
    afterwards; recording the success reads the invoice's payments once, for the lock and the events together, and
    looks for no checkout session (the invoice owns the payment)."""
    from django.test.utils import CaptureQueriesContext

    save_card("4000000000000341")
    invoice = _open_invoice(api, customer, 700)
    api.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(CardError):
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    save_card()
    with CaptureQueriesContext(connection) as queries:
        services.invoice_pay(invoice=Invoice.objects.get(public_id=invoice.id), now=timezone.now())
    shown = api.v1.invoices.retrieve(invoice.id)
    [payment] = shown.payments.data
    assert (payment.status, payment.amount_paid, payment.amount_requested) == ("paid", 700, 700)
    assert payment.status_transitions.paid_at is not None
    events = {e.type: e.data["object"] for e in Event.objects.filter(type__startswith="invoice.payment_succeeded")}
    events["invoice.paid"] = Event.objects.get(type="invoice.paid").data["object"]
    for rendered in events.values():
        assert rendered["id"] == invoice.id
        assert rendered["payments"]["data"] == [payment.to_dict()]
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    # The payments' own rows: read by the attempt (its open payment), then by the success (not again to render it).
    assert sum(sql.startswith('SELECT "billing_invoicepayment"."id"') for sql in reads) == 2
    # Its success is the invoice's: no checkout session is looked for to complete (a PaymentIntent has one owner).
    assert not [sql for sql in reads if 'FROM "billing_checkoutsession"' in sql]
