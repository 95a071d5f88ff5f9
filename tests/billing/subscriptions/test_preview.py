"""invoices.create_preview through stripe-python: the next invoice, shown and never written."""

import pytest
import stripe
from django.apps import apps

from tests import factories


@pytest.fixture
def api(kassa, paying_shop):
    return kassa(paying_shop.secret_key.secret)


def table_counts() -> dict[str, int]:
    """Rows in every table Kassa has (events, idempotency keys and emails included)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_a_customers_pending_items_previewed_without_a_trace(api):
    customer = api.v1.customers.create(params={"email": "payer@example.com"})
    rate = api.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20, "inclusive": False})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 1500, "currency": "eur"})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 1001, "currency": "eur", "tax_rates": [rate.id]}
    )
    before = table_counts()

    preview = api.v1.invoices.create_preview(params={"customer": customer.id})

    assert table_counts() == before
    assert preview.id.startswith("upcoming_in_")
    assert (preview.status, preview.billing_reason, preview.number) == ("draft", "upcoming", None)
    assert [line.amount for line in preview.lines.data] == [1500, 1001]
    # 20 % of 1001 = 200.2 -> 200 (invoicing's rounding, per line and rate).
    assert (preview.subtotal, preview.total, preview.amount_due) == (2501, 2701, 2701)


def test_nothing_to_preview_says_so(api):
    customer = api.v1.customers.create(params={"email": "payer@example.com"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.invoices.create_preview(params={"customer": customer.id})
    assert refused.value.code == "invoice_upcoming_none"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.invoices.create_preview(params={})
    assert refused.value.param == "customer"


def test_a_restricted_key_needs_invoices_write_and_subscriptions_read(kassa, paying_shop, api):
    customer = api.v1.customers.create(params={"email": "payer@example.com"})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 1500, "currency": "eur"})
    for granted, needed in (
        ({"invoices": "read", "subscriptions": "read"}, "invoices:write"),
        ({"invoices": "write"}, "subscriptions:read"),
        ({"invoices": "write", "subscriptions": "read"}, None),
    ):
        restricted = kassa(factories.restricted_key(paying_shop.merchant, granted))
        if needed is None:
            assert restricted.v1.invoices.create_preview(params={"customer": customer.id}).total == 1500
            continue
        with pytest.raises(stripe.PermissionError) as refused:
            restricted.v1.invoices.create_preview(params={"customer": customer.id})
        assert needed in refused.value.user_message
    live = kassa(factories.live_secret_key(paying_shop.merchant))
    with pytest.raises(stripe.InvalidRequestError) as refused:
        live.v1.invoices.create_preview(params={"customer": customer.id})
    assert (refused.value.code, refused.value.param) == ("resource_missing", "customer")


def _subscribed(api, card_token, amount: int = 1999):
    """A customer on a test clock (1 January 2027), subscribed monthly to ``amount`` EUR cents with a saved card."""
    clock = api.v1.test_helpers.test_clocks.create(params={"frozen_time": 1798794000})  # 2027-01-01 09:00 UTC
    customer = api.v1.customers.create(params={"email": "payer@example.com", "test_clock": clock.id})
    card = api.v1.payment_methods.create(
        params={"type": "card", "card": {"token": card_token()}, "customer": customer.id}
    )
    api.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    product = api.v1.products.create(params={"name": "Pro"})
    price = api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": amount, "recurring": {"interval": "month"}}
    )
    sub = api.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price.id}]})
    return customer, product, sub


def test_what_ifs_are_previewed_without_a_trace(api, card_token, stripe_backend):
    """invoice_items, an item's price_data and a cancellation at period end, each shown and none written."""
    _customer, product, sub = _subscribed(api, card_token)
    rate = api.v1.tax_rates.create(params={"display_name": "TVA", "percentage": 20, "inclusive": False})
    item = sub["items"].data[0]
    before = table_counts()

    # One-off items join the next renewal (their own tax rates apply), nothing saved.
    preview = api.v1.invoices.create_preview(
        params={
            "subscription": sub.id,
            "invoice_items": [
                {
                    "amount": 500,
                    "currency": "eur",
                    "description": "Setup",
                    "period": {"start": 1798761600, "end": 1798848000},  # 1 January 2027, the whole day
                },
                {"amount": 1001, "currency": "eur", "description": "Support", "tax_rates": [rate.id]},
            ],
        }
    )
    assert [(line.amount, line.description) for line in preview.lines.data] == [
        (500, "Setup"),
        (1001, "Support"),
        (1999, "Pro"),
    ]
    assert (preview.subtotal, preview.total) == (3500, 3700)  # 20 % of 10.01 -> 2.00
    assert (preview.lines.data[0].period.start, preview.lines.data[0].period.end) == (1798761600, 1798848000)

    # A price made inline for the changed item: the next period at 49.99, and the prorations to the second.
    preview = api.v1.invoices.create_preview(
        params={
            "subscription": sub.id,
            "subscription_details": {
                "items": [
                    {
                        "id": item.id,
                        "price_data": {
                            "currency": "eur",
                            "product": product.id,
                            "unit_amount": 4999,
                            "recurring": {"interval": "month"},
                        },
                    }
                ],
                "proration_date": 1799658000,  # 11 January 09:00: 21 of January's 31 days left
            },
        }
    )
    # -1999 * 21/31 -> -1354, +4999 * 21/31 -> 3386, then February at 49.99.
    assert [line.amount for line in preview.lines.data] == [-1354, 3386, 4999]
    assert preview.lines.data[-1].pricing.price_details.product == product.id

    # Cancelled at the period's end (or at a time within it): no next invoice; not cancelled: the renewal.
    for details in ({"cancel_at_period_end": True}, {"cancel_at": sub["items"].data[0].current_period_end}):
        with pytest.raises(stripe.InvalidRequestError) as none:
            api.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": details})
        assert none.value.code == "invoice_upcoming_none"
    api.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    before = table_counts()
    kept = api.v1.invoices.create_preview(
        params={"subscription": sub.id, "subscription_details": {"cancel_at_period_end": False}}
    )
    assert [line.amount for line in kept.lines.data] == [1999]
    assert table_counts() == before
    assert api.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is True


def test_bad_what_ifs_are_refused_in_stripes_shape(api, other_shop, card_token, stripe_backend):
    _customer, product, sub = _subscribed(api, card_token)
    item = sub["items"].data[0]
    refusals = [
        ({"invoice_items": [{"currency": "eur"}]}, "invoice_items[0][amount]"),
        ({"invoice_items": [{"amount": 500}]}, "invoice_items[0][currency]"),
        ({"invoice_items": [{"amount": 500, "currency": "usd"}]}, "invoice_items[0][currency]"),
        (
            {
                "subscription_details": {
                    "items": [
                        {
                            "id": item.id,
                            "price_data": {
                                "currency": "eur",
                                "product": product.id,
                                "unit_amount": 100,
                                "recurring": {"interval": "month", "interval_count": 13},
                            },
                        }
                    ]
                }
            },
            "subscription_details[items][0][price_data][recurring][interval_count]",
        ),
    ]
    before = table_counts()
    for params, param in refusals:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.invoices.create_preview(params={"subscription": sub.id, **params})
        assert refused.value.param == param, params
        assert refused.value.error.type == "invalid_request_error"
    assert table_counts() == before
    # Another merchant's product is not found, as if it did not exist.
    theirs = factories.product(other_shop.merchant).public_id
    inline = {"currency": "eur", "product": theirs, "unit_amount": 100, "recurring": {"interval": "month"}}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.invoices.create_preview(
            params={"subscription": sub.id, "subscription_details": {"items": [{"id": item.id, "price_data": inline}]}}
        )
    assert (refused.value.code, refused.value.param) == (
        "resource_missing",
        "subscription_details[items][0][price_data][product]",
    )


def test_a_new_subscriptions_preview_finds_no_other_merchants_customer_or_price(api, other_shop):
    customer = api.v1.customers.create(params={"email": "payer@example.com"})
    product = api.v1.products.create(params={"name": "Pro"})
    ours = api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 1999, "recurring": {"interval": "month"}}
    )
    theirs = factories.recurring_price(other_shop.merchant).public_id
    their_customer = factories.customer(other_shop.merchant).public_id
    for params, param in (
        (
            {"customer": customer.id, "subscription_details": {"items": [{"price": theirs}]}},
            "subscription_details[items][0][price]",
        ),
        ({"customer": their_customer, "subscription_details": {"items": [{"price": ours.id}]}}, "customer"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            api.v1.invoices.create_preview(params=params)
        assert (refused.value.code, refused.value.param) == ("resource_missing", param)
    # Ours: a month from now at 19.99.
    assert (
        api.v1.invoices.create_preview(
            params={"customer": customer.id, "subscription_details": {"items": [{"price": ours.id, "quantity": 2}]}}
        ).total
        == 3998
    )
