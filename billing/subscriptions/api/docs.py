"""What /v1/docs/ says about subscriptions and subscription items: each operation's text and real examples.

The example objects are answers of a real Kassa with their ids made readable
(tests/kassa/test_api_docs.py checks each against the schema and sends every
write's default request to a live Kassa).
"""

from kassa.api.schema import Doc

from ...catalogue.api.docs import CREATED, CUSTOMER_ID, PRICE, PRICE_ID, PRODUCT_ID

SUBSCRIPTION_ID = "sub_6PqT2mWx9LcR4nKb7VyH3sZd"
SUBSCRIPTION_ITEM_ID = "si_8KcN3tRw5LmQ2vXb9YpH4sZe"
LATEST_INVOICE_ID = "in_2RbT7mKx4QcN9vLw3YpH8sZa"
PERIOD_START = CREATED
PERIOD_END = CREATED + 31 * 86400  # 30 November 2025 to 31 December 2025

RECURRING_PRICE = {
    **PRICE,
    "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
    "type": "recurring",
}

SUBSCRIPTION_ITEM = {
    "id": SUBSCRIPTION_ITEM_ID,
    "object": "subscription_item",
    "billed_until": PERIOD_END,
    "billing_thresholds": None,
    "created": CREATED,
    "current_period_end": PERIOD_END,
    "current_period_start": PERIOD_START,
    "current_trial": None,
    "discounts": [],
    "metadata": {},
    "plan": {
        "id": PRICE_ID,
        "object": "plan",
        "active": True,
        "amount": 1999,
        "amount_decimal": "1999",
        "billing_scheme": "per_unit",
        "created": CREATED,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": PRODUCT_ID,
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    },
    "price": RECURRING_PRICE,
    "quantity": 1,
    "subscription": SUBSCRIPTION_ID,
    "tax_rates": [],
}

SUBSCRIPTION = {
    "id": SUBSCRIPTION_ID,
    "object": "subscription",
    "application": None,
    "application_fee_percent": None,
    "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
    "billing_cycle_anchor": PERIOD_START,
    "billing_cycle_anchor_config": None,
    "billing_mode": {"type": "classic"},
    "billing_thresholds": None,
    "cancel_at": None,
    "cancel_at_period_end": False,
    "canceled_at": None,
    "cancellation_details": {"comment": None, "feedback": None, "reason": None},
    "collection_method": "charge_automatically",
    "created": CREATED,
    "currency": "usd",
    "customer": CUSTOMER_ID,
    "customer_account": None,
    "days_until_due": None,
    "default_payment_method": None,
    "default_source": None,
    "default_tax_rates": [],
    "description": None,
    "discounts": [],
    "ended_at": None,
    "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
    "items": {
        "object": "list",
        "data": [SUBSCRIPTION_ITEM],
        "has_more": False,
        "total_count": 1,
        "url": f"/v1/subscription_items?subscription={SUBSCRIPTION_ID}",
    },
    "latest_invoice": LATEST_INVOICE_ID,
    "livemode": False,
    "metadata": {},
    "next_pending_invoice_item_invoice": None,
    "on_behalf_of": None,
    "pause_collection": None,
    "payment_settings": {
        "payment_method_options": None,
        "payment_method_types": None,
        "save_default_payment_method": "off",
    },
    "pending_invoice_item_interval": None,
    "pending_setup_intent": None,
    "pending_update": None,
    "schedule": None,
    "start_date": PERIOD_START,
    "status": "active",
    "test_clock": None,
    "transfer_data": None,
    "trial_end": None,
    "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
    "trial_start": None,
}

TAG = "Subscriptions"
ITEMS_TAG = "Subscription Items"
PRORATIONS = (
    " A price or quantity change is prorated to the second, as at Stripe: with `create_prorations` (the "
    'default) an "Unused time on …" credit and a "Remaining time on …" charge for the rest of the current '
    "period wait as pending invoice items for the next invoice; `always_invoice` invoices and charges them now "
    "(a net credit waits for the next invoice: Kassa keeps no customer balance); `none` prorates nothing. "
    "Each line is rounded once, half up, to the currency's smallest unit. `invoices.create_preview` shows "
    "the result first; pass its `proration_date` to bill exactly that."
)

SUBSCRIPTIONS_LIST = Doc(
    tag=TAG,
    summary="List subscriptions",
    description="Your subscriptions, newest first; by default every one but the canceled ones (`status=all` for "
    "those too). Filter by `customer`, `price`, `status`, `collection_method`, `created` or the current period.",
    response=SUBSCRIPTION,
    query={"limit": 3, "customer": CUSTOMER_ID},
)
SUBSCRIPTIONS_CREATE = Doc(
    tag=TAG,
    summary="Create a subscription",
    description="Subscribes a customer to recurring prices. The first invoice (`billing_reason` "
    "`subscription_create`) is finalized at once and, with `charge_automatically`, charged off-session to "
    "the default card: `active` when paid, else `incomplete` (and `incomplete_expired` after 23 hours "
    "unpaid). Kassa's beat then renews it each period: one invoice per period, charged once. A trial bills "
    "nothing until it ends; a later `billing_cycle_anchor` (or `billing_cycle_anchor_config[day_of_month]`) "
    "bills the partial first period's share, or nothing with `proration_behavior=none`. With "
    "`payment_settings[save_default_payment_method]=on_subscription` the card that pays an invoice (the payer's "
    "on the hosted invoice page too) is saved and becomes the subscription's `default_payment_method`. "
    "`add_invoice_items` bills one-time prices on the first invoice only.",
    requests=(
        ("A monthly price", {"customer": CUSTOMER_ID, "items": [{"price": PRICE_ID}]}),
        ("With a 14-day trial", {"customer": CUSTOMER_ID, "items": [{"price": PRICE_ID}], "trial_period_days": 14}),
        (
            "Billed on the 1st of each month",
            {
                "customer": CUSTOMER_ID,
                "items": [{"price": PRICE_ID, "quantity": 2}],
                "billing_cycle_anchor_config": {"day_of_month": 1},
                "proration_behavior": "none",
            },
        ),
    ),
    response=SUBSCRIPTION,
)
SUBSCRIPTIONS_RETRIEVE = Doc(
    tag=TAG,
    summary="Retrieve a subscription",
    description="The subscription with this id, its items and their current period.",
    response=SUBSCRIPTION,
    path_id=SUBSCRIPTION_ID,
)
SUBSCRIPTIONS_UPDATE = Doc(
    tag=TAG,
    summary="Update a subscription",
    description="Changes items (price, quantity, new or `deleted` items), `trial_end` (`now` ends the trial and "
    "bills the first period now), `billing_cycle_anchor` (`now`: a new period starts now and is invoiced at once, "
    "the unused time of the current period credited on that invoice), `cancel_at_period_end`, `cancel_at` "
    "(inside the current period it cuts the "
    "period there and, per `proration_behavior`, credits the time no longer billed; cleared or moved later, it "
    "charges the time billed again), `pause_collection`, the default card, "
    "`payment_settings[save_default_payment_method]`, tax rates, description and metadata." + PRORATIONS,
    requests=(
        ("Cancel at the end of the period", {"cancel_at_period_end": True}),
        ("Tag it", {"metadata": {"plan": "gold"}}),
        ("Pause collection", {"pause_collection": {"behavior": "void"}}),
    ),
    response={**SUBSCRIPTION, "cancel_at_period_end": True},
    path_id=SUBSCRIPTION_ID,
)
SUBSCRIPTIONS_CANCEL = Doc(
    tag=TAG,
    summary="Cancel a subscription",
    description="Cancels it now: `canceled`, no more invoices (`customer.subscription.deleted`). An incomplete "
    "subscription's unpaid first invoice is voided. `prorate` credits the unused time of the current period, to "
    'the second ("Unused time on … after …"). `invoice_now` makes a final invoice now '
    "(`billing_reason=subscription_update`) with everything pending for the customer in the subscription's "
    "currency (that credit, earlier prorations, invoice items), finalized and collected per the collection "
    "method; nothing pending, no invoice. A final invoice whose credits outweigh its charges is brought to zero "
    "(paid) and the credit stays pending for the customer's next invoice (Kassa keeps no customer balance); "
    "without `invoice_now` the credit waits, pending, for that next invoice.",
    response={
        **SUBSCRIPTION,
        "status": "canceled",
        "canceled_at": CREATED + 86400,
        "ended_at": CREATED + 86400,
        "cancellation_details": {"comment": None, "feedback": None, "reason": "cancellation_requested"},
    },
    path_id=SUBSCRIPTION_ID,
)
SUBSCRIPTIONS_PAUSE = Doc(
    tag=TAG,
    summary="Pause a subscription",
    description="An active (or trialing) subscription becomes `paused`: no renewals, no invoices, until it is "
    "resumed. Nothing is credited for the unused time.",
    requests=(("Pause it", {}),),
    response={**SUBSCRIPTION, "status": "paused"},
    path_id=SUBSCRIPTION_ID,
)
SUBSCRIPTIONS_RESUME = Doc(
    tag=TAG,
    summary="Resume a subscription",
    description="A paused subscription becomes `active` again. With `billing_cycle_anchor=now` (the default) a "
    "new period starts now and is invoiced and charged at once; with `unchanged` the period the anchor gives "
    "goes on: when the pause outlasted the period it began in, the time left in the current one is billed per "
    '`proration_behavior` (a pending "Remaining time on …" item by default, invoiced and charged now with '
    "`always_invoice`); a resumption inside the period already billed bills nothing (the pause credited nothing).",
    requests=(
        ("A new period from now", {"billing_cycle_anchor": "now"}),
        (
            "Keep the anchor, bill the time left now",
            {"billing_cycle_anchor": {"type": "unchanged"}, "proration_behavior": "always_invoice"},
        ),
    ),
    response=SUBSCRIPTION,
    path_id=SUBSCRIPTION_ID,
)

SUBSCRIPTION_ITEMS_LIST = Doc(
    tag=ITEMS_TAG,
    summary="List a subscription's items",
    description="The items of the subscription `subscription`, newest first.",
    response=SUBSCRIPTION_ITEM,
    query={"subscription": SUBSCRIPTION_ID},
)
SUBSCRIPTION_ITEMS_CREATE = Doc(
    tag=ITEMS_TAG,
    summary="Add an item to a subscription",
    description="Adds a recurring price (of the subscription's currency and interval) to a subscription, from "
    "its next renewal." + PRORATIONS,
    requests=(
        (
            "An add-on made for this subscription",
            {
                "subscription": SUBSCRIPTION_ID,
                "price_data": {
                    "currency": "usd",
                    "product": PRODUCT_ID,
                    "recurring": {"interval": "month"},
                    "unit_amount": 500,
                },
                "proration_behavior": "none",
            },
        ),
    ),
    response=SUBSCRIPTION_ITEM,
)
SUBSCRIPTION_ITEMS_RETRIEVE = Doc(
    tag=ITEMS_TAG,
    summary="Retrieve a subscription item",
    description="The subscription item with this id, with its current period.",
    response=SUBSCRIPTION_ITEM,
    path_id=SUBSCRIPTION_ITEM_ID,
)
SUBSCRIPTION_ITEMS_UPDATE = Doc(
    tag=ITEMS_TAG,
    summary="Update a subscription item",
    description="Changes the item's price, quantity, tax rates or metadata, from the next renewal." + PRORATIONS,
    requests=(("Two seats", {"quantity": 2, "proration_behavior": "none"}),),
    response={**SUBSCRIPTION_ITEM, "quantity": 2},
    path_id=SUBSCRIPTION_ITEM_ID,
)
SUBSCRIPTION_ITEMS_DELETE = Doc(
    tag=ITEMS_TAG,
    summary="Delete a subscription item",
    description="Removes the item from its subscription (not the last one: cancel the subscription instead). Its "
    'unused time in the current period is credited to the second ("Unused time on … after …"), pending for the '
    'customer\'s next invoice, unless `proration_behavior=none`. Answers `{"id", "object": '
    '"subscription_item", "deleted": true}`. `clear_usage` is accepted and ignored (no metered usage).',
    response={"id": SUBSCRIPTION_ITEM_ID, "object": "subscription_item", "deleted": True},
    path_id=SUBSCRIPTION_ITEM_ID,
)
