"""make run's demo shop: a catalogue, a payment link and test payments paid through localstripe, made once."""

import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing import demo, tasks
from billing.models import CheckoutSession, PaymentIntent, PaymentLink, PaymentMethod, Product
from billing.payments.selectors import payment_display_status
from kassa.errors import InvalidRequest
from merchants.models import Merchant
from tests.conftest import processor_payment_intents


@pytest.fixture
def development(settings, stripe_backend):
    """make run's settings: DEBUG, and Stripe is localstripe."""
    settings.DEBUG = True
    return stripe_backend


def test_demo_setup_stocks_the_shop_and_queues_its_payments_once(db, development, tmp_path, capsys, monkeypatch):
    from billing.management.commands import demo_setup

    monkeypatch.setattr(demo_setup, "DEMO_FILE", tmp_path / "demo.json")
    queued = []
    monkeypatch.setattr(demo_setup, "enqueue", lambda name, *args: queued.append((name, *args)))

    call_command("demo_setup")
    first = capsys.readouterr().out
    merchant = Merchant.objects.get(public_id=json.loads((tmp_path / "demo.json").read_text())["merchant_id"])
    link = PaymentLink.objects.get(merchant=merchant)
    assert f"/pay/{link.slug}" in first
    assert queued == [("billing.tasks.demo_payments_make", merchant.public_id)]

    # What the worker does once localstripe answers, then make run a second time: nothing doubles.
    assert tasks.demo_payments_make(merchant.public_id) == len(demo.DEMO_PAYMENTS) + 1  # and one declined
    call_command("demo_setup")
    assert tasks.demo_payments_make(merchant.public_id) == 0
    assert f"/pay/{link.slug}" in capsys.readouterr().out

    assert PaymentLink.objects.filter(merchant=merchant).count() == 1
    assert Product.objects.filter(merchant=merchant).count() == len(demo.CATALOGUE)
    paid = PaymentIntent.objects.filter(merchant=merchant, livemode=False, status="succeeded")
    assert paid.count() == len(demo.DEMO_PAYMENTS)
    assert {p.amount for p in paid} == {850 + 3200}
    assert CheckoutSession.objects.filter(payment_link=link, status="complete").count() == len(demo.DEMO_PAYMENTS)
    # The declined payer shows as Failed, with the processor's reason.
    declined = PaymentIntent.objects.get(merchant=merchant, receipt_email=demo.DEMO_DECLINED[0])
    assert payment_display_status(declined) == ("failed", "Failed")
    assert declined.last_payment_error["code"] == "card_declined"
    # The link keeps the payers' cards: each paying customer has one saved card, the declined payer none.
    kept = PaymentMethod.objects.filter(merchant=merchant, customer__isnull=False)
    assert sorted(kept.values_list("customer__email", flat=True)) == sorted(e for e, _, _ in demo.DEMO_PAYMENTS)
    # Real payments: localstripe holds each of them.
    assert len([pi for pi in processor_payment_intents(development) if pi["status"] == "succeeded"]) == 3


def test_the_payments_task_retries_until_localstripe_answers(paying_shop, development, settings, monkeypatch):
    demo.demo_shop_stock(merchant=paying_shop.merchant)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there: localstripe not up yet
    retried = []

    def retry(**options):
        retried.append(options)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.demo_payments_make, "retry", retry)
    with pytest.raises(RuntimeError, match="retry"):
        tasks.demo_payments_make(paying_shop.merchant.public_id)
    assert retried[0]["countdown"] == 2
    assert not CheckoutSession.objects.filter(merchant=paying_shop.merchant).exists()  # no session left open


def test_never_outside_development(paying_shop, stripe_backend, settings):
    settings.DEBUG = False
    with pytest.raises(InvalidRequest):
        demo.demo_shop_stock(merchant=paying_shop.merchant)
    with pytest.raises(InvalidRequest):
        demo.demo_payments_make(merchant=paying_shop.merchant, now=timezone.now())
    settings.DEBUG, settings.STRIPE_API_BASE = True, ""  # development, but real Stripe
    with pytest.raises(InvalidRequest):
        demo.demo_shop_stock(merchant=paying_shop.merchant)
    assert not PaymentLink.objects.filter(merchant=paying_shop.merchant).exists()
