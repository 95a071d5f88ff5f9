"""Every write of subscriptions, for the API, the dashboard and beat (keyword-only arguments).

- create.py: ``subscription_create`` (the first invoice finalized at once and collected);
- changes.py: ``subscription_update``, ``subscription_cancel``, ``subscription_pause``, ``subscription_resume``,
  and one item at a time ``subscription_item_create|update|delete``;
- renewal.py: beat's ``subscriptions_renew_fan_out`` / ``subscriptions_renew_batch`` (how merchants take turns
  is written there), ``subscriptions_renew_due``, ``subscription_renew``, ``subscriptions_notify``, a test
  clock's ``subscriptions_advance``, and invoicing's hook ``subscription_invoice_changed``;
- common.py: statuses (``TRANSITIONS``), periods' lines and invoices, ``next_renewal_at``.

Every service that decides by the clock takes ``now``.
"""

from .changes import (
    subscription_cancel,
    subscription_item_create,
    subscription_item_delete,
    subscription_item_update,
    subscription_pause,
    subscription_resume,
    subscription_update,
)
from .common import INCOMPLETE_EXPIRES_AFTER, TRANSITIONS, upcoming_before
from .create import subscription_create
from .renewal import (
    BATCH,
    subscription_invoice_changed,
    subscription_renew,
    subscriptions_advance,
    subscriptions_notify,
    subscriptions_renew_batch,
    subscriptions_renew_due,
    subscriptions_renew_fan_out,
)

__all__ = [
    "BATCH",
    "INCOMPLETE_EXPIRES_AFTER",
    "TRANSITIONS",
    "subscription_cancel",
    "subscription_create",
    "subscription_invoice_changed",
    "subscription_item_create",
    "subscription_item_delete",
    "subscription_item_update",
    "subscription_pause",
    "subscription_renew",
    "subscription_resume",
    "subscription_update",
    "subscriptions_advance",
    "subscriptions_notify",
    "subscriptions_renew_batch",
    "subscriptions_renew_due",
    "subscriptions_renew_fan_out",
    "upcoming_before",
]
