"""Every write of the billing app, and every call to the processor.

A package because it outgrew one module (STYLE.md): ``catalogue`` (products,
prices, customers), ``payments`` (PaymentIntents, the two-phase confirm,
refunds), ``checkout`` (payment links and checkout sessions). Callers import
from here.
"""

from .catalogue import (
    customer_create,
    customer_delete,
    customer_update,
    price_create,
    price_update,
    product_create,
    product_delete,
    product_update,
)

__all__ = [
    "customer_create",
    "customer_delete",
    "customer_update",
    "price_create",
    "price_update",
    "product_create",
    "product_delete",
    "product_update",
]
