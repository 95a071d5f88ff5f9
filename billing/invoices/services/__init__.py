"""Every write of invoicing, for the API, the dashboard, the hosted page and beat (keyword-only arguments).

- tax: ``tax_amount``, ``tax_amounts`` (the rounding rule, written down there), ``tax_rate_create``,
  ``tax_rate_update``, ``parse_percentage``;
- items: ``invoice_item_create``, ``invoice_item_update``, ``invoice_item_delete``; the lines of a subscription's
  period are given to ``invoice_create`` (``subscription_lines``), which puts them on the draft it makes;
- invoices: ``invoice_create``, ``invoice_update``, ``invoice_delete``, ``invoice_finalize``,
  ``invoice_send``, ``invoice_void``, ``invoice_mark_uncollectible``; payments' hook ``invoices_card_detached``;
- collection: ``invoice_pay`` (two-phase on billing/payments), ``invoice_pay_with_card_token`` (the hosted
  page), payments' hooks (``invoice_payment_succeeded``, ``invoice_payment_action_required``,
  ``invoice_owning``), beat's ``invoices_mark_overdue``;
- dunning: payments' failure hook ``invoice_payment_failed`` (a payment by hand declined first starts the
  schedule), beat's ``invoices_advance`` (finalize, first automatic attempt; ``invoice_attempt_automatically``
  makes that attempt at once) and ``invoices_retry_due`` (the retries), ``invoices_retry_queue`` /
  ``invoices_retry_for_customer`` (a new default card), the registries ``on_dunning_exhausted`` and
  ``card_update_url``; dunning_settings: ``dunning_settings_for``,
  ``dunning_settings_update``.

Every service that decides by the clock takes ``now``. Statuses move along ``TRANSITIONS`` only.
"""

from .collection import (
    invoice_owning,
    invoice_pay,
    invoice_pay_with_card_token,
    invoice_payment_action_required,
    invoice_payment_succeeded,
    invoices_mark_overdue,
)
from .common import TRANSITIONS
from .dunning import (
    HARD_DECLINES,
    card_update_url,
    decline_kind,
    invoice_attempt_automatically,
    invoice_attempt_begin,
    invoice_card_update_url,
    invoice_payment_failed,
    invoices_advance,
    invoices_collection_stop,
    invoices_next_due,
    invoices_retry_due,
    invoices_retry_for_customer,
    invoices_retry_queue,
    on_dunning_exhausted,
)
from .dunning_settings import OVERDUE_DAYS_MAX, dunning_settings_for, dunning_settings_update, retry_days_check
from .invoices import (
    AUTO_FINALIZE_AFTER,
    PeriodInvoiced,
    customer_language,
    invoice_create,
    invoice_delete,
    invoice_finalize,
    invoice_mark_uncollectible,
    invoice_send,
    invoice_update,
    invoice_void,
    invoices_card_detached,
)
from .items import (
    QUANTITY_MAX,
    invoice_item_build,
    invoice_item_create,
    invoice_item_delete,
    invoice_item_update,
    invoice_subscription_line_build,
)
from .tax import (
    PERCENTAGE_PLACES,
    TAX_RATE_FIELDS,
    country_codes,
    parse_percentage,
    tax_amount,
    tax_amounts,
    tax_rate_create,
    tax_rate_update,
)

__all__ = [
    "AUTO_FINALIZE_AFTER",
    "HARD_DECLINES",
    "OVERDUE_DAYS_MAX",
    "PERCENTAGE_PLACES",
    "QUANTITY_MAX",
    "TAX_RATE_FIELDS",
    "TRANSITIONS",
    "PeriodInvoiced",
    "card_update_url",
    "country_codes",
    "customer_language",
    "decline_kind",
    "dunning_settings_for",
    "dunning_settings_update",
    "invoice_attempt_automatically",
    "invoice_attempt_begin",
    "invoice_card_update_url",
    "invoice_create",
    "invoice_delete",
    "invoice_finalize",
    "invoice_item_build",
    "invoice_item_create",
    "invoice_item_delete",
    "invoice_item_update",
    "invoice_mark_uncollectible",
    "invoice_owning",
    "invoice_pay",
    "invoice_pay_with_card_token",
    "invoice_payment_action_required",
    "invoice_payment_failed",
    "invoice_payment_succeeded",
    "invoice_send",
    "invoice_subscription_line_build",
    "invoice_update",
    "invoice_void",
    "invoices_advance",
    "invoices_card_detached",
    "invoices_collection_stop",
    "invoices_mark_overdue",
    "invoices_next_due",
    "invoices_retry_due",
    "invoices_retry_for_customer",
    "invoices_retry_queue",
    "on_dunning_exhausted",
    "parse_percentage",
    "retry_days_check",
    "tax_amount",
    "tax_amounts",
    "tax_rate_create",
    "tax_rate_update",
]
