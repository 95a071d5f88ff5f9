"""Checkout in mode=subscription with Stripe's ``subscription_data[trial_end]``, ``[billing_cycle_anchor]``,
``[proration_behavior]``, ``[default_tax_rates]`` and one-time prices beside the recurring ones (the first invoice
only): stripe-python, unmodified, and the hosted page's pay call, against localstripe."""

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone

from billing.models import CheckoutSession, Subscription
from tests.billing.checkout.test_pages import FRENCH, page_url, text_of
from tests.billing.checkout.test_subscription_mode import _pay, api, monthly
from tests.conftest import processor_payment_intents

__all__ = ["api", "monthly"]

FRENCH_MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


@pytest.fixture
def mug(api):
    return api.v1.prices.create(params={"product_data": {"name": "Mug"}, "currency": "eur", "unit_amount": 800})


@pytest.fixture
def vat(api):
    return api.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20, "inclusive": False})


def _session(api, line_items, **subscription_data):
    return api.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": line_items,
            "subscription_data": subscription_data,
            "success_url": "https://shop.example/thanks",
        }
    )


def _paid(api, client, card_token, session):
    local = CheckoutSession.objects.get(public_id=session.id)
    answer = _pay(client, local, card_token)
    assert answer.json()["status"] == "succeeded", answer.json()
    done = api.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription", "invoice"]})
    assert done.status == "complete"
    return done


def test_a_one_time_price_beside_the_plan_and_default_tax_rates_bill_the_first_invoice(
    api, monthly, mug, vat, client, card_token, stripe_backend
):
    session = _session(api, [{"price": monthly.id, "quantity": 2}, {"price": mug.id}], default_tax_rates=[vat.id])
    # 2 x 9.00 + 8.00 today, with 20% on top.
    assert (session.amount_subtotal, session.amount_total) == (2600, 3120)
    lines = api.v1.checkout.sessions.line_items.list(session.id).data
    assert [(line.price.id, line.quantity) for line in lines] == [(monthly.id, 2), (mug.id, 1)]
    page = text_of(client.get(page_url(CheckoutSession.objects.get(public_id=session.id))))
    assert "Then €18.00 every month" in page  # the mug is not billed again

    done = _paid(api, client, card_token, session)
    invoice = done.invoice
    assert (invoice.status, invoice.subtotal, invoice.total, invoice.amount_paid) == ("paid", 2600, 3120, 3120)
    assert sorted(line.amount for line in invoice.lines.data) == [800, 1800]
    assert all(line.taxes[0].amount == line.amount // 5 for line in invoice.lines.data)
    sub = done.subscription
    assert sub.status == "active"
    assert [item.price.id for item in sub["items"].data] == [monthly.id]  # the one-time price is no item
    assert [rate.id for rate in sub.default_tax_rates] == [vat.id]
    assert (done.amount_subtotal, done.amount_total) == (2600, 3120)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3120]
    # The next invoice bills the plan alone, taxed.
    preview = api.v1.invoices.create_preview(params={"subscription": sub.id})
    assert (preview.subtotal, preview.total) == (1800, 2160)


def test_trial_end_bills_only_the_one_time_price_now(api, monthly, mug, client, card_token, stripe_backend):
    trial_end = int((timezone.now() + timedelta(days=5)).timestamp())
    session = _session(api, [{"price": monthly.id}, {"price": mug.id}], trial_end=trial_end)
    assert session.amount_total == 800
    done = _paid(api, client, card_token, session)
    sub = done.subscription
    assert (sub.status, sub.trial_end, sub["items"].data[0].current_period_end) == ("trialing", trial_end, trial_end)
    assert (done.invoice.amount_paid, done.payment_status) == (800, "paid")
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [800]


def test_billing_cycle_anchor_bills_the_stub_or_nothing(api, monthly, client, card_token, stripe_backend):
    anchor = int((timezone.now() + timedelta(days=10)).timestamp())
    session = _session(api, [{"price": monthly.id}], billing_cycle_anchor=anchor)
    assert 0 < session.amount_total < 900  # ten days' share of a month
    done = _paid(api, client, card_token, session)
    sub = done.subscription
    assert (sub.status, sub.billing_cycle_anchor, sub["items"].data[0].current_period_end) == ("active", anchor, anchor)
    assert done.invoice.amount_paid == done.amount_total
    assert abs(done.amount_total - session.amount_total) <= 1  # reckoned again when paid, seconds later

    nothing = _session(api, [{"price": monthly.id}], billing_cycle_anchor=anchor, proration_behavior="none")
    assert nothing.amount_total == 0
    done = _paid(api, client, card_token, nothing)
    assert (done.payment_status, done.subscription.status, done.invoice.total) == ("no_payment_required", "active", 0)
    assert len(processor_payment_intents(stripe_backend)) == 1  # the first session's stub only


def test_subscription_data_refused_by_name_and_nothing_written(api, monthly, mug, kassa, other_shop, stripe_backend):
    soon = int((timezone.now() + timedelta(hours=2)).timestamp())
    later = int((timezone.now() + timedelta(days=5)).timestamp())
    others = kassa(other_shop.secret_key.secret).v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 10, "inclusive": False}
    )
    for data, param in (
        ({"trial_end": soon}, "subscription_data[trial_end]"),  # less than 48 hours ahead
        ({"trial_end": later, "trial_period_days": 3}, "subscription_data[trial_end]"),
        ({"billing_cycle_anchor": soon}, "subscription_data[billing_cycle_anchor]"),  # before the session expires
        ({"trial_end": later, "billing_cycle_anchor": later - 3600}, "subscription_data[billing_cycle_anchor]"),
        ({"proration_behavior": "always_invoice"}, "subscription_data[proration_behavior]"),
        ({"default_tax_rates": [others.id]}, "subscription_data[default_tax_rates]"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            _session(api, [{"price": monthly.id}, {"price": mug.id}], **data)
        assert refused.value.param == param, data
    # A payment link's subscription_data has no trial_end, as at Stripe's.
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.payment_links.create(
            params={"line_items": [{"price": monthly.id}], "subscription_data": {"trial_end": later}}
        )
    assert refused.value.param == "subscription_data[trial_end]"
    assert CheckoutSession.objects.count() == 0
    assert Subscription.objects.count() == 0


def test_an_anchor_with_nothing_prorated_says_the_subscription_started_not_a_trial(
    api, monthly, client, card_token, stripe_backend
):
    anchor = timezone.now().replace(microsecond=0) + timedelta(days=10)
    session = api.v1.checkout.sessions.create(  # no success_url: Kassa's own completion page
        params={
            "mode": "subscription",
            "line_items": [{"price": monthly.id}],
            "subscription_data": {"billing_cycle_anchor": int(anchor.timestamp()), "proration_behavior": "none"},
        }
    )
    done = _paid(api, client, card_token, session)
    assert (done.payment_status, done.subscription.trial_end) == ("no_payment_required", None)
    local = CheckoutSession.objects.get(public_id=session.id)

    page = text_of(client.get(page_url(local, "/complete")))
    assert "trial" not in page.lower()
    assert "Subscription started" in page
    first = f"{anchor:%B} {anchor.day}, {anchor.year}"
    assert (
        f"Your subscription to Shop has started. Nothing was charged today: the first payment, on {first}, will be "
        "made with your Visa card ending in 4242."
    ) in page
    page = text_of(client.get(page_url(local, "/complete"), **FRENCH))
    assert "essai" not in page.lower()
    assert "Abonnement commencé" in page
    premier = f"{anchor.day} {FRENCH_MONTHS[anchor.month - 1]} {anchor.year}"
    assert (
        f"Votre abonnement chez Shop a commencé. Rien n’a été débité aujourd’hui : le premier paiement, le {premier}, "  # noqa: RUF001
        "sera fait avec votre carte Visa se terminant par 4242."
    ) in page
