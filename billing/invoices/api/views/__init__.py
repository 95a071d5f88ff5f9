"""Invoicing's API views: tax rates, invoice items with invoices, invoice payments (thin; Stripe's paths and verbs)."""

from . import invoice_payments, invoices, tax_rates

__all__ = ["invoice_payments", "invoices", "tax_rates"]
