"""Test clocks through stripe-python, unmodified: the invoicing fixtures (a paying shop, saved cards)."""

from tests.billing.invoices.conftest import api, customer, save_card

__all__ = ["api", "customer", "save_card"]
