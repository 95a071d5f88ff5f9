"""Invoicing's API views: tax rates, and invoice items with invoices (thin; Stripe's paths and verbs)."""

from . import invoices, tax_rates

__all__ = ["invoices", "tax_rates"]
