"""Subscriptions' dashboard pages, one module each.

- ``subscriptions``: the list, a subscription's page and its buttons, "Add subscription";
- ``recurring``: Billing → Recurring payment (customer, price and subscription in one go);
- ``parts``: the read-only pieces (statuses, "50.00 EUR every 30 days", items, next invoice, timeline).

Importing the package registers them all, and a customer's page gets its Subscriptions section.
"""

from django.utils.translation import gettext_lazy as _

from ...catalogue.admin import CustomerAdmin
from . import parts, recurring, subscriptions

__all__ = ["parts", "recurring", "subscriptions"]

CustomerAdmin.add_history(
    "subscriptions_table",
    _("Subscriptions"),
    parts.customer_subscriptions,
    lambda customer: parts.customer_subscriptions(customer, links=True),
)
