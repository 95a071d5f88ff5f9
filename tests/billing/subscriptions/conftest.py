"""Subscriptions through stripe-python, unmodified: the invoicing fixtures (a paying shop, saved cards)."""

import pytest

from tests.billing.invoices.conftest import api, customer, save_card

__all__ = ["api", "customer", "monthly", "save_card"]


@pytest.fixture
def monthly(api):
    """50.00 EUR a month."""
    product = api.v1.products.create(params={"name": "Gold plan"})
    return api.v1.prices.create(
        params={"product": product.id, "currency": "eur", "unit_amount": 5000, "recurring": {"interval": "month"}}
    )
