"""The customer portal: a paying shop (test-mode Stripe credentials on localstripe) and its customer."""

from tests.billing.invoices.conftest import api, customer, save_card

__all__ = ["api", "customer", "save_card"]
