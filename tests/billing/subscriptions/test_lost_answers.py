"""A renewal's charge whose answer is lost (a timeout, a worker killed mid-call): never a second charge, never a
false "payment failed" email.

The processor is real (localstripe, which keeps no idempotency keys: a replay there is a new charge, so a test
counting its PaymentIntents sees any double charge). The lost answer is made at the gateway boundary, as
tests/billing/invoices/test_lifecycle.py does: the real call is made and its answer dropped (a timeout after
Stripe charged), or no call is made at all (the request never left). Beat's reconciler, which waits a quarter
of an hour before it calls an attempt lost, is run with the wall clock moved on (time is an argument).
"""

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from billing.payments import services as payments
from billing.payments.models import PaymentAttempt
from kassa import gateway
from kassa.errors import ProcessorError
from tests.billing.subscriptions.test_clocks import _advance, _clock_customer
from tests.billing.subscriptions.test_dunning import DAY, RENEWAL, START, _dunning_emails, _renewal_declined
from tests.conftest import processor_payment_intents


def _reconcile():
    return payments.payments_reconcile(now=timezone.now() + timedelta(minutes=20))


def _succeeded(stripe_backend) -> list[dict]:
    return [i for i in processor_payment_intents(stripe_backend) if i["status"] == "succeeded"]


@pytest.fixture
def lose_answers(monkeypatch):
    """``lose_answers("after")``: the processor charges, Kassa never hears it; ``"before"``: the request never
    reaches the processor. ``lose_answers(None)``: answers come back again."""
    real_confirm = gateway.payment_intent_confirm

    def lose(when: str | None):
        def confirm(*args, **kwargs):
            if when == "after":
                real_confirm(*args, **kwargs)
            raise ProcessorError("Timed out waiting for the processor.", code="processor_unavailable")

        monkeypatch.setattr(gateway, "payment_intent_confirm", confirm if when else real_confirm)

    return lose


def test_a_lost_answer_after_a_declined_try_is_recorded_as_its_own_charge_not_the_decline(
    api, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox, lose_answers
):
    """The renewal is declined (…0341); the payer gives 4242… and Kassa charges it at once, but the answer is
    lost. The same invoice's PaymentIntent now has two charges at the processor: the declined one and the
    successful one. The reconciler must record the successful one, which is that attempt's."""
    clock, customer, sub, renewal = _renewal_declined(api, card_token, monthly, emails_on_commit, mailoutbox)
    assert len(_dunning_emails(mailoutbox)) == 1
    card = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4242424242424242")}, "customer": customer.id}
    )
    lose_answers("after")
    with emails_on_commit():
        api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    lose_answers(None)
    assert api.v1.invoices.retrieve(renewal.id).status == "open"
    assert len(_succeeded(stripe_backend)) == 2  # the first invoice's and the lost one

    with emails_on_commit():
        assert _reconcile() == 1
    paid = api.v1.invoices.retrieve(renewal.id)
    assert (paid.status, paid.amount_paid) == ("paid", 5000)
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"
    # The schedule's next retry day charges nothing: the period was paid once.
    _advance(api, clock, RENEWAL + DAY, emails_on_commit)
    assert len(_succeeded(stripe_backend)) == 2
    assert len(_dunning_emails(mailoutbox)) == 1


def test_a_renewal_charge_that_never_reached_the_processor_is_retried_without_a_failure_email(
    api, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox, lose_answers
):
    """The renewal's first charge times out before the processor saw it. The reconciler finds nothing at the
    processor, so nothing was charged; the next pass charges the period once, and the payer, whose card never
    failed, gets no "payment failed" email."""
    clock, customer = _clock_customer(api, card_token, START)
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    lose_answers("before")
    _advance(api, clock, RENEWAL, emails_on_commit)
    lose_answers(None)
    renewal = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]}).latest_invoice
    assert (renewal.billing_reason, renewal.status) == ("subscription_cycle", "open")
    assert len(_succeeded(stripe_backend)) == 1  # the first invoice only

    with emails_on_commit():
        assert _reconcile() == 0
    assert PaymentAttempt.objects.latest("pk").error_code == "processor_no_record"
    _advance(api, clock, RENEWAL + 60, emails_on_commit)  # beat's next pass, a minute later on the clock
    paid = api.v1.invoices.retrieve(renewal.id)
    assert (paid.status, paid.amount_paid, paid.attempt_count) == ("paid", 5000, 1)
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"
    assert len(_succeeded(stripe_backend)) == 2
    assert _dunning_emails(mailoutbox) == []
    # Later passes charge nothing more.
    _advance(api, clock, RENEWAL + DAY, emails_on_commit)
    assert len(_succeeded(stripe_backend)) == 2


def test_a_lost_answer_replayed_by_the_next_pass_is_found_not_charged_again(
    api, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox, lose_answers
):
    """The renewal's charge succeeds at the processor and its answer is lost; beat's next pass, a minute later and
    long before the reconciler, makes the same attempt again. It first asks the processor for that attempt's
    charge (its ``kassa_attempt``), so the period is charged once even where the processor no longer replays the
    key (Stripe forgets idempotency keys after 24 hours; localstripe keeps none)."""
    clock, customer = _clock_customer(api, card_token, START)
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": monthly.id}]})
    lose_answers("after")
    _advance(api, clock, RENEWAL, emails_on_commit)
    lose_answers(None)
    assert len(_succeeded(stripe_backend)) == 2  # the first invoice's and the renewal's, unrecorded

    _advance(api, clock, RENEWAL + 60, emails_on_commit)
    renewal = api.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]}).latest_invoice
    assert (renewal.status, renewal.amount_paid, renewal.attempt_count) == ("paid", 5000, 1)
    assert len(_succeeded(stripe_backend)) == 2
    assert len(processor_payment_intents(stripe_backend)) == 2
    assert _dunning_emails(mailoutbox) == []
    with emails_on_commit():
        assert _reconcile() == 0  # nothing left to settle


def test_a_no_record_retry_is_made_again_after_a_declined_manual_payment_without_a_failure_email(
    api, card_token, monthly, stripe_backend, emails_on_commit, mailoutbox, lose_answers
):
    """The renewal is declined (…0341: one email); the merchant gives the invoice a good card (4242…) for the
    retries. The first retry never reaches the processor (the reconciler finds no record of it); meanwhile
    someone charges the invoice by hand with the declining card, declined. Beat's next pass makes the no-record
    retry again under its key, with its own card, as it does without the manual payment: the period is paid
    once, and no "payment failed" email speaks of a retry that was never made."""
    clock, customer, sub, renewal = _renewal_declined(api, card_token, monthly, emails_on_commit, mailoutbox)
    assert len(_dunning_emails(mailoutbox)) == 1
    declining = api.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method
    good = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token("4242424242424242")}, "customer": customer.id}
    )
    api.v1.invoices.update(renewal.id, params={"default_payment_method": good.id})
    lose_answers("before")
    _advance(api, clock, RENEWAL + DAY, emails_on_commit)
    lose_answers(None)
    with emails_on_commit():
        assert _reconcile() == 0
    lost = PaymentAttempt.objects.latest("pk")
    assert (lost.error_code, lost.payment_method.public_id) == ("processor_no_record", good.id)
    with emails_on_commit(), pytest.raises(stripe.CardError):
        api.v1.invoices.pay(renewal.id, params={"payment_method": declining})
    assert len(_succeeded(stripe_backend)) == 1  # the first invoice only
    assert len(_dunning_emails(mailoutbox)) == 1

    _advance(api, clock, RENEWAL + DAY + 60, emails_on_commit)  # beat's next pass, a minute later on the clock

    paid = api.v1.invoices.retrieve(renewal.id)
    assert (paid.status, paid.amount_paid) == ("paid", 5000)
    assert api.v1.subscriptions.retrieve(sub.id).status == "active"
    lost.refresh_from_db()
    assert (lost.status, lost.error_code) == ("succeeded", "")  # the same attempt, made again under its key
    assert len(_succeeded(stripe_backend)) == 2
    assert len(_dunning_emails(mailoutbox)) == 1  # the renewal's real decline only
    _advance(api, clock, RENEWAL + 3 * DAY, emails_on_commit)
    assert len(_succeeded(stripe_backend)) == 2
    assert len(_dunning_emails(mailoutbox)) == 1
