"""A refund whose answer never came (a timeout, a process killed mid-call): found at the processor, or failed with
nothing refunded and its amount freed; never left pending for ever, never made twice. And a refund the processor
fails after it succeeded (the payer's bank returned it): failed, its amount refundable again.

The processor is real (localstripe); the lost answer is made at the gateway boundary, as
tests/billing/subscriptions/test_lost_answers.py does for charges: the real call is made and its answer dropped
(the processor refunded, Kassa never heard), or no call is made at all (the request never left). Beat's
reconciler waits a quarter of an hour before it calls a refund lost; it is run with the wall clock moved on
(time is an argument)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.checkout import services as checkout
from billing.models import Refund
from billing.payments import services as payments
from kassa import gateway
from kassa.errors import ProcessorError
from webhooks.models import Event

from .test_services import link  # noqa: F401 (a fixture)


def _paid(link, card_token):  # noqa: F811
    session = checkout.checkout_session_from_link(now=timezone.now(), payment_link=link)
    return checkout.checkout_session_pay(now=timezone.now(), session=session, token=card_token(), email="p@example.com")


def _reconcile(minutes: int = 20) -> int:
    return payments.payments_reconcile(now=timezone.now() + timedelta(minutes=minutes))


def _processor_refunds(stripe_backend, payment_intent) -> list[dict]:
    page = json.loads(stripe_backend.request("GET", f"/v1/refunds?payment_intent={payment_intent.processor_id}"))
    return page["data"]


@pytest.fixture
def lose_refund_answers(monkeypatch):
    """``lose("after")``: the processor refunds, Kassa never hears it (the real answer is kept in ``answers``);
    ``lose("before")``: the request never reaches the processor; ``lose(None)``: answers come back again."""
    real = gateway.refund_create
    answers = []

    def lose(when: str | None):
        def refund_create(*args, **kwargs):
            if when == "after":
                answers.append(real(*args, **kwargs))
            raise ProcessorError("Timed out waiting for the processor.", code="processor_unavailable")

        monkeypatch.setattr(gateway, "refund_create", refund_create if when else real)

    lose.answers = answers
    return lose


def _lost_refund(payment_intent, amount: int) -> Refund:
    with pytest.raises(ProcessorError):
        payments.refund_create(payment_intent=payment_intent, amount=amount)
    refund = Refund.objects.get(payment_intent=payment_intent, amount=amount)
    assert (refund.status, refund.processor_id) == ("pending", None)
    return refund


def test_a_refund_made_whose_answer_was_lost_is_found_and_recorded_by_the_reconciler(
    link,  # noqa: F811
    card_token,
    stripe_backend,
    lose_refund_answers,
):
    intent = _paid(link, card_token)  # 25.00
    lose_refund_answers("after")
    refund = _lost_refund(intent, 700)
    assert payments.refundable_amount(intent) == 1800  # reserved while nobody knows

    assert _reconcile(minutes=1) == 0  # its request may still be running: left alone
    refund.refresh_from_db()
    assert refund.status == "pending"

    assert _reconcile() == 1
    refund.refresh_from_db()
    (made,) = _processor_refunds(stripe_backend, intent)  # one refund at the processor, not a second one
    assert (refund.status, refund.processor_id, refund.failure_reason) == ("succeeded", made["id"], None)
    assert payments.refundable_amount(intent) == 1800
    told = Event.objects.filter(merchant=intent.merchant, type__in=["refund.updated", "charge.refunded"])
    assert sorted(told.values_list("type", flat=True)) == ["charge.refunded", "refund.updated"]
    updated = told.get(type="refund.updated").data
    assert (updated["object"]["status"], updated["previous_attributes"]["status"]) == ("succeeded", "pending")
    assert _reconcile() == 0  # settled: nothing more to do, nothing told twice
    assert told.count() == 2


def test_a_refund_that_never_reached_the_processor_fails_and_frees_its_amount_to_be_refunded_again(
    link,  # noqa: F811
    card_token,
    stripe_backend,
    lose_refund_answers,
):
    intent = _paid(link, card_token)
    lose_refund_answers("before")
    refund = _lost_refund(intent, 2500)
    with pytest.raises(Exception, match="already been refunded"):
        payments.refund_create(payment_intent=intent, amount=100)  # the whole amount is reserved meanwhile

    assert _reconcile() == 1
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("failed", payments.REFUND_NOT_MADE)
    assert payments.refundable_amount(intent) == 2500
    assert not _processor_refunds(stripe_backend, intent)
    timeline = list(intent.timeline.values_list("kind", "message"))
    assert ("refund_failed", payments.REFUND_NOT_MADE) in timeline

    lose_refund_answers(None)
    again = payments.refund_create(payment_intent=intent, amount=2500)
    assert again.status == "succeeded"
    assert len(_processor_refunds(stripe_backend, intent)) == 1
    assert _reconcile() == 0
    refund.refresh_from_db()
    assert refund.status == "failed"  # the lost one stays failed: it never was made


def test_a_refund_given_up_on_that_the_processor_made_after_all_is_recorded_as_succeeded(
    link,  # noqa: F811
    card_token,
    stripe_backend,
    lose_refund_answers,
    monkeypatch,
):
    """The reconciler found nothing (the processor's list did not show it yet), then the lost call's answer came
    after all: the money went back, so the refund succeeded, whatever Kassa had concluded."""
    intent = _paid(link, card_token)
    lose_refund_answers("after")
    refund = _lost_refund(intent, 700)
    monkeypatch.setattr(gateway, "refund_find", lambda *args, **kwargs: None)
    _reconcile()
    refund.refresh_from_db()
    assert refund.status == "failed"
    assert payments.refundable_amount(intent) == 2500

    (answer,) = lose_refund_answers.answers  # the processor's own answer to the lost call
    payments._refund_answered(refund, answer)
    refund.refresh_from_db()
    assert (refund.status, refund.processor_id) == ("succeeded", answer.id)
    assert payments.refundable_amount(intent) == 1800
    assert Event.objects.filter(merchant=intent.merchant, type="charge.refunded").count() == 1


def test_a_refund_the_processor_fails_after_it_succeeded_is_failed_and_its_amount_refundable_again(
    link,  # noqa: F811
    card_token,
    stripe_backend,
    monkeypatch,
):
    """localstripe never fails a refund once made; real Stripe does (the card's bank returns it) and says so with a
    ``refund.failed`` webhook, on which Kassa reads the refund again (``refund_sync``). That read is stood in for at
    the gateway boundary: the processor's refund as Stripe shows a returned one."""
    intent = _paid(link, card_token)
    refund = payments.refund_create(payment_intent=intent, amount=700)
    assert refund.status == "succeeded"
    assert payments.refundable_amount(intent) == 1800
    returned = gateway.ProcessorRefund(
        id=refund.processor_id, status="failed", failure_reason="expired_or_canceled_card"
    )
    monkeypatch.setattr(gateway, "refund_retrieve", lambda credential, processor_id: returned)
    mark = Event.objects.latest("pk").pk

    said = payments.refund_sync(merchant=intent.merchant, livemode=False, processor_refund_id=refund.processor_id)
    assert said == f"{refund.public_id} is failed."
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("failed", "expired_or_canceled_card")
    assert payments.refundable_amount(intent) == 2500
    told = Event.objects.filter(merchant=intent.merchant, pk__gt=mark).order_by("pk")
    assert [e.type for e in told] == ["refund.updated", "refund.failed"]
    assert told[0].data["previous_attributes"]["status"] == "succeeded"
    assert ("refund_failed", "expired_or_canceled_card") in list(intent.timeline.values_list("kind", "message"))
    # Told once: the same webhook again (Stripe retries them) changes nothing.
    payments.refund_sync(merchant=intent.merchant, livemode=False, processor_refund_id=refund.processor_id)
    assert told.count() == 2
