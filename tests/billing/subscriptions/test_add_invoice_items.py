"""``add_invoice_items`` on POST /v1/subscriptions (stripe-python, unmodified): one-time prices on the first invoice
only; refused by name, with nothing written."""

import pytest
import stripe

from tests.conftest import processor_payment_intents


def test_add_invoice_items_are_billed_on_the_first_invoice_only(api, customer, save_card, monthly, stripe_backend):
    save_card()
    setup = api.v1.prices.create(params={"product": monthly.product, "currency": "eur", "unit_amount": 1500})
    sub = api.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": monthly.id}],
            "add_invoice_items": [
                {"price": setup.id, "quantity": 2},
                {"price_data": {"currency": "eur", "product": monthly.product, "unit_amount": 300}},
            ],
            "expand": ["latest_invoice"],
        }
    )
    first = sub.latest_invoice
    assert (sub.status, first.status, first.amount_paid) == ("active", "paid", 5000 + 2 * 1500 + 300)
    amounts = sorted((line.amount, line.quantity) for line in first.lines.data)
    assert amounts == [(300, 1), (3000, 2), (5000, 1)]
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [8300]
    # The next invoice bills the plan alone.
    preview = api.v1.invoices.create_preview(params={"subscription": sub.id})
    assert [line.amount for line in preview.lines.data] == [5000]


def test_add_invoice_items_refused_by_name_and_nothing_written(api, customer, save_card, monthly, stripe_backend):
    save_card()
    dollars = api.v1.prices.create(params={"product": monthly.product, "currency": "usd", "unit_amount": 900})
    for entry, param in (
        ({"price": monthly.id}, "add_invoice_items[0][price]"),  # recurring
        ({"price": dollars.id}, "add_invoice_items[0][price]"),  # another currency
        ({"price_data": {"currency": "eur", "product": "prod_nope", "unit_amount": 1}}, None),
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.subscriptions.create(
                params={"customer": customer.id, "items": [{"price": monthly.id}], "add_invoice_items": [entry]}
            )
        assert refused.value.param == (param or "add_invoice_items[0][price_data][product]")
    assert api.v1.subscriptions.list(params={"status": "all"}).data == []
    assert api.v1.invoices.list(params={"customer": customer.id}).data == []
    assert processor_payment_intents(stripe_backend) == []
