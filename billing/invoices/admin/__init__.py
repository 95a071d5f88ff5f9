"""Invoicing's dashboard pages, one module each, small enough to read in one sitting.

- ``settings``: tax rates and the merchant's invoice settings (Settings);
- ``invoices``: invoices (list, create with lines, a draft's edits, the buttons of Stripe's workflow);
- ``invoice_items``: pending invoice items;
- ``parts``: the read-only pieces the invoice and item pages share.

Importing the package registers them all.
"""

from . import invoice_items, invoices, settings

__all__ = ["invoice_items", "invoices", "settings"]
