"""Billing's models, one app ("billing", one migration chain) in parts that each keep their own.

Django finds an app's models through this module; each part (catalogue,
payments, checkout, …) defines its models in its own ``models.py``.
"""

from .catalogue.models import Customer, Price, Product
from .checkout.models import CheckoutSession, CheckoutSessionLineItem, PaymentLink, PaymentLinkLineItem
from .clocks.models import TestClock
from .invoices.models import (
    DunningSettings,
    Invoice,
    InvoiceItem,
    InvoiceNumbering,
    InvoicePayment,
    InvoicePrefix,
    InvoiceSettings,
    TaxRate,
)
from .payments.models import PaymentAttempt, PaymentIntent, PaymentMethod, PaymentTimelineEntry, Refund
from .portal.models import PortalConfiguration, PortalSession
from .subscriptions.models import Subscription, SubscriptionItem

__all__ = [
    "CheckoutSession",
    "CheckoutSessionLineItem",
    "Customer",
    "DunningSettings",
    "Invoice",
    "InvoiceItem",
    "InvoiceNumbering",
    "InvoicePayment",
    "InvoicePrefix",
    "InvoiceSettings",
    "PaymentAttempt",
    "PaymentIntent",
    "PaymentLink",
    "PaymentLinkLineItem",
    "PaymentMethod",
    "PaymentTimelineEntry",
    "PortalConfiguration",
    "PortalSession",
    "Price",
    "Product",
    "Refund",
    "Subscription",
    "SubscriptionItem",
    "TaxRate",
    "TestClock",
]
