"""Every write of subscriptions, for the API, the dashboard and beat (keyword-only arguments).

- create.py: ``subscription_create`` (the first invoice finalized at once and collected), in two phases for
  callers with writes of their own: ``subscription_create_records`` then ``subscription_first_invoice_collect``;
- changes.py: ``subscription_update``, ``subscription_cancel``, ``subscription_pause``, ``subscription_resume``,
  and one item at a time ``subscription_item_create|update|delete``;
- renewal.py: beat's ``subscriptions_renew_fan_out`` / ``subscriptions_renew_batch`` (how merchants take turns
  is written there), ``subscriptions_renew_due``, ``subscription_renew``, ``subscriptions_notify``, a test
  clock's ``subscriptions_advance``, and invoicing's hook ``subscription_invoice_changed``;
- recurring.py: the dashboard's "recurring payment", ``subscription_recurring_create`` (customer, price and
  subscription in one transaction);
- cards.py: ``payment_settings[save_default_payment_method]``, the card that pays becoming the default
  (``subscription_saves_card``, invoicing's question for its hosted page), and payments' hook
  ``subscriptions_card_detached`` (a detached card stops being a subscription's default);
- common.py: statuses (``TRANSITIONS``), periods' lines and invoices, ``next_renewal_at``.

Every service that decides by the clock takes ``now``.
"""

from .cards import subscription_saves_card, subscriptions_card_detached
from .changes import (
    subscription_cancel,
    subscription_item_create,
    subscription_item_delete,
    subscription_item_update,
    subscription_pause,
    subscription_pending_update_invoice_changed,
    subscription_resume,
    subscription_update,
)
from .common import INCOMPLETE_EXPIRES_AFTER, TRANSITIONS, upcoming_before
from .create import subscription_create, subscription_create_records, subscription_first_invoice_collect
from .recurring import subscription_recurring_create
from .renewal import (
    BATCH,
    subscription_dunning_exhausted,
    subscription_invoice_changed,
    subscription_renew,
    subscriptions_advance,
    subscriptions_next_due,
    subscriptions_notify,
    subscriptions_renew_batch,
    subscriptions_renew_due,
    subscriptions_renew_fan_out,
    upcoming_rendering,
)

__all__ = [
    "BATCH",
    "INCOMPLETE_EXPIRES_AFTER",
    "TRANSITIONS",
    "subscription_cancel",
    "subscription_create",
    "subscription_create_records",
    "subscription_dunning_exhausted",
    "subscription_first_invoice_collect",
    "subscription_invoice_changed",
    "subscription_item_create",
    "subscription_item_delete",
    "subscription_item_update",
    "subscription_pause",
    "subscription_pending_update_invoice_changed",
    "subscription_recurring_create",
    "subscription_renew",
    "subscription_resume",
    "subscription_saves_card",
    "subscription_update",
    "subscriptions_advance",
    "subscriptions_card_detached",
    "subscriptions_next_due",
    "subscriptions_notify",
    "subscriptions_renew_batch",
    "subscriptions_renew_due",
    "subscriptions_renew_fan_out",
    "upcoming_before",
    "upcoming_rendering",
]
