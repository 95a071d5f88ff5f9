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
