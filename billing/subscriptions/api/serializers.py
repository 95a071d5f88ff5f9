"""Input parameters and output shapes of subscriptions and subscription items, as Stripe names them
(API 2026-10-28.endive: the current period on each item).

Input serializers only validate and coerce; output serializers only render.
"""

import datetime

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kassa.api import fields as f
from kassa.api.fields import ID
from kassa.api.views import CreatedListParams, CreatedOrTimestamp, ListParams, reference, reference_field, represent
from kassa.db import many

from ...catalogue.api.serializers import CustomerOut, PriceOut, RecurringParams
from ...invoices.api.serializers import InvoiceOut, TaxRateOut
from ...invoices.models import Invoice
from ...payments.api.serializers import PaymentMethodOut
from ..models import Subscription
from ..selectors import subscription_items

OBJECT = serializers.DictField(allow_null=True)
ITEMS_SHOWN = 20


def moment(value: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)


def _tax_rate_ids(help_text: str):
    return f.List(child=f.String(**ID), required=False, max_length=5, help_text=help_text)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["now"]}]})
class TimestampOrNow(serializers.Field):
    """Unix seconds, or ``now``."""

    def to_internal_value(self, data):
        if data == "now":
            return "now"
        try:
            value = int(data)
        except (TypeError, ValueError):
            raise ValidationError("Invalid timestamp: must be an integer Unix timestamp or now.") from None
        if not 0 <= value <= 253402214400:
            raise ValidationError("Invalid timestamp.")
        return moment(value)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer"},
            {"type": "string", "enum": ["now", "unchanged"]},
            {
                "type": "object",
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": ["now", "timestamp", "unchanged"],
                        "description": "`timestamp` (a new subscription), `now` or `unchanged`.",
                    },
                    "timestamp": {
                        "type": "integer",
                        "description": "With `type=timestamp`: the anchor (Unix seconds, not before the start).",
                    },
                },
                "required": ["type"],
            },
        ]
    }
)
class BillingCycleAnchor(serializers.Field):
    """``billing_cycle_anchor``: ``now``, ``unchanged``, Unix seconds, or (API 2026-10-28's shape) ``{type: now |
    unchanged | timestamp, timestamp}``; to ``"now"``, ``"unchanged"`` or a datetime."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            kind = data.get("type")
            if kind in ("now", "unchanged"):
                if "timestamp" in data:
                    raise ValidationError("timestamp is only valid with type=timestamp.")
                return kind
            if kind != "timestamp":
                raise ValidationError("type must be now, timestamp or unchanged.")
            if data.get("timestamp") in (None, ""):
                raise ValidationError("type=timestamp needs a timestamp.")
            data = data["timestamp"]
        elif data in ("now", "unchanged"):
            return data
        return TimestampOrNow().to_internal_value(data)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": ["now", "unchanged"]},
            {
                "type": "object",
                "properties": {
                    "type": {
                        "type": "string",
                        "enum": ["now", "unchanged"],
                        "description": "`now`: a new period from now; `unchanged`: the anchor stays.",
                    }
                },
                "required": ["type"],
            },
        ]
    }
)
class ResumeAnchor(BillingCycleAnchor):
    """A resumption's ``billing_cycle_anchor``: ``now`` or ``unchanged``, as a string or (API 2026-10-28's shape, as
    stripe-python 16 types it) ``{type: now | unchanged}``."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in ("now", "unchanged"):
            raise ValidationError("Must be now or unchanged.")
        return value


class ItemPriceDataParams(f.StrictSerializer):
    currency = f.Currency()
    product = f.String(help_text="The product (`prod_…`) the price is for.", **ID)
    recurring = RecurringParams(help_text="How often the price bills.")
    unit_amount = f.Amount()


class ItemParams(f.StrictSerializer):
    price = f.String(required=False, help_text="A recurring price (`price_…`).", **ID)
    price_data = ItemPriceDataParams(required=False, help_text="A recurring price made for this item only.")
    quantity = f.Integer(required=False, min_value=0, max_value=2_147_483_647, help_text="How many units.")
    metadata = f.Metadata()
    tax_rates = _tax_rate_ids("The item's own tax rates (`txr_…`), instead of the subscription's defaults.")


class OneTimePriceDataParams(f.StrictSerializer):
    currency = f.Currency()
    product = f.String(help_text="The product (`prod_…`) the line is named after.", **ID)
    unit_amount = f.Amount()


class AddInvoiceItemParams(f.StrictSerializer):
    price = f.String(required=False, help_text="A one-time price (`price_…`).", **ID)
    price_data = OneTimePriceDataParams(required=False, help_text="An amount for this line only.")
    quantity = f.Integer(required=False, min_value=1, max_value=2_147_483_647, help_text="How many units.")
    metadata = f.Metadata()
    tax_rates = _tax_rate_ids("The line's own tax rates (`txr_…`), instead of the subscription's defaults.")


class ItemUpdateParams(ItemParams):
    id = f.String(required=False, help_text="The item to change (`si_…`); without it, a new item.", **ID)
    deleted = f.Boolean(required=False, help_text="true removes the item `id`.")
    clear_usage = f.Boolean(required=False, help_text="Accepted and ignored: Kassa has no metered usage.")


class AnchorConfigParams(f.StrictSerializer):
    day_of_month = f.Integer(min_value=1, max_value=31, help_text="The day of the month periods start on.")


class PauseCollectionParams(f.StrictSerializer):
    behavior = f.Choice(choices=Subscription.PauseBehavior.choices, help_text="What becomes of invoices meanwhile.")
    resumes_at = f.Timestamp(required=False, help_text="When collection resumes by itself (Unix seconds).")


class CancellationDetailsParams(f.StrictSerializer):
    comment = f.OptionalString(max_length=5000, help_text="Why the customer canceled, in their words.")
    feedback = f.OptionalString(max_length=32, help_text="Stripe's feedback codes, e.g. `too_expensive`.")


class PaymentSettingsParams(f.StrictSerializer):
    save_default_payment_method = f.Choice(
        choices=Subscription.SaveDefaultPaymentMethod.values,
        required=False,
        help_text="`on_subscription`: the card that pays one of its invoices (on the hosted invoice page too, where "
        "the card is then saved on the customer) becomes the subscription's `default_payment_method`; `off` (the "
        "default): it does not.",
    )


PAYMENT_SETTINGS_HELP = "`save_default_payment_method`: whether the card that pays becomes the default."
PAYMENT_BEHAVIORS = ["allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"]
PAYMENT_BEHAVIOR_UPDATE_HELP = (
    "`pending_if_incomplete`: a change of `items` that costs something is held in `pending_update` and its "
    "invoice charged now; paid, the change applies (`customer.subscription.pending_update_applied`), unpaid after "
    "23 hours it is dropped (`customer.subscription.pending_update_expired`). Only `items`, `proration_behavior` "
    "and `proration_date` may come with it. Other values: the change applies at once."
)
#: What a change does with the time it moves (Stripe's ``proration_behavior``).
PRORATION_BEHAVIORS = ["create_prorations", "always_invoice", "none"]
PRORATION_HELP = (
    "`create_prorations` (the default): a price or quantity change credits the unused time and charges the "
    "remaining time of the current period, to the second, as pending invoice items the next invoice takes; "
    "`always_invoice`: the same, invoiced and charged now (a net credit waits for the next invoice); `none`: "
    "nothing is prorated, the change takes effect on the next renewal's invoice."
)


class SubscriptionUpdateParams(f.StrictSerializer):
    cancel_at = f.Timestamp(
        required=False,
        allow_null=True,
        help_text="Cancel at this time (Unix seconds); inside the current period it ends the period there, the "
        "time no longer billed credited per `proration_behavior`.",
    )
    cancel_at_period_end = f.Boolean(required=False, help_text="true: cancel when the current period ends.")
    cancellation_details = CancellationDetailsParams(required=False, help_text="Why the customer is leaving.")
    default_payment_method = f.OptionalString(
        max_length=255, help_text="A saved card of the customer (`pm_…`) that pays the subscription's invoices."
    )
    default_tax_rates = _tax_rate_ids("Tax rates for every line without its own (`txr_…`).")
    description = f.OptionalString(max_length=500, help_text="A note for you, also on the invoices.")
    items = f.List(child=ItemUpdateParams(), required=False, max_length=20, help_text="Items to add, change or remove.")
    metadata = f.Metadata()
    pause_collection = PauseCollectionParams(
        required=False, allow_null=True, help_text='Pause collecting payments; `""` resumes.'
    )
    payment_behavior = f.Choice(
        choices=PAYMENT_BEHAVIORS,
        required=False,
        help_text=PAYMENT_BEHAVIOR_UPDATE_HELP
        + " With `always_invoice`, a declined charge leaves the change made and the invoice open.",
    )
    payment_settings = PaymentSettingsParams(required=False, help_text=PAYMENT_SETTINGS_HELP)
    proration_behavior = f.Choice(choices=PRORATION_BEHAVIORS, required=False, help_text=PRORATION_HELP)
    proration_date = f.Timestamp(
        required=False,
        help_text="When the change counts from for its prorations (Unix seconds, in the current period; default "
        "now): pass the one given to invoices.create_preview to be billed exactly what was previewed.",
    )
    trial_end = TimestampOrNow(required=False, help_text="Move the trial's end, or `now` to end it and bill now.")
    billing_cycle_anchor = BillingCycleAnchor(
        required=False,
        help_text="`now` (or `{type: now}`): a new period starts now and is invoiced at once (`billing_reason="
        "subscription_update`), the unused time of the current period credited on it per `proration_behavior`; "
        "`unchanged` (the default): the cycle stays.",
    )

    def to_internal_value(self, data):
        if isinstance(data, dict) and data.get("pause_collection") == "":
            data = {**data, "pause_collection": None}
        if isinstance(data, dict) and data.get("cancel_at") == "":
            data = {**data, "cancel_at": None}
        return super().to_internal_value(data)


class SubscriptionCreateParams(f.StrictSerializer):
    customer = f.String(help_text="The customer to bill (`cus_…`).", **ID)
    items = f.List(child=ItemParams(), allow_empty=False, max_length=20, help_text="Up to 20 recurring prices.")
    add_invoice_items = f.List(
        child=AddInvoiceItemParams(),
        required=False,
        max_length=20,
        help_text="One-time prices (or amounts) billed on the first invoice only.",
    )
    billing_cycle_anchor = f.Timestamp(
        required=False,
        help_text="When periods start from (Unix seconds, in the future): the first period is a stub up to it.",
    )
    billing_cycle_anchor_config = AnchorConfigParams(
        required=False, help_text="`day_of_month`: the day periods start on each month, clamped to the month's end."
    )
    cancel_at = f.Timestamp(required=False, help_text="Cancel at this time (Unix seconds).")
    cancel_at_period_end = f.Boolean(required=False, default=False, help_text="true: end when the first period ends.")
    collection_method = f.Choice(choices=Invoice.CollectionMethod.choices, required=False)
    days_until_due = f.Integer(required=False, min_value=0, max_value=365, help_text="send_invoice only.")
    default_payment_method = f.OptionalString(max_length=255, help_text="A saved card of the customer (`pm_…`).")
    default_tax_rates = _tax_rate_ids("Tax rates for every line without its own (`txr_…`).")
    description = f.OptionalString(max_length=500, help_text="A note for you, also on the invoices.")
    metadata = f.Metadata()
    payment_behavior = f.Choice(
        choices=PAYMENT_BEHAVIORS,
        required=False,
        help_text="`allow_incomplete` (the default): charge, and answer `incomplete` if it fails; "
        "`default_incomplete`: do not charge; `error_if_incomplete`: a failed charge ends it with the card's error.",
    )
    payment_settings = PaymentSettingsParams(required=False, help_text=PAYMENT_SETTINGS_HELP)
    proration_behavior = f.Choice(
        choices=PRORATION_BEHAVIORS,
        required=False,
        help_text="With a later anchor: `create_prorations` bills the stub period's share; `none` bills nothing.",
    )
    trial_end = TimestampOrNow(required=False, help_text="The trial's end (Unix seconds), or `now` for none.")
    trial_period_days = f.Integer(required=False, min_value=0, max_value=730, help_text="A trial of this many days.")


class SubscriptionListParams(CreatedListParams):
    customer = f.String(required=False, **ID)
    price = f.String(required=False, help_text="Only subscriptions with an item of this price.", **ID)
    status = f.Choice(
        choices=[*Subscription.Status.values, "all", "ended"],
        required=False,
        help_text="A status, `ended` (canceled or expired) or `all`; by default every status but canceled.",
    )
    collection_method = f.Choice(choices=Invoice.CollectionMethod.choices, required=False)
    current_period_end = CreatedOrTimestamp(required=False)
    current_period_start = CreatedOrTimestamp(required=False)


class SubscriptionCancelParams(f.StrictSerializer):
    cancellation_details = CancellationDetailsParams(required=False, help_text="Why the customer is leaving.")
    invoice_now = f.Boolean(
        required=False,
        default=False,
        help_text="true: a final invoice now with everything pending for the customer (prorations, invoice items), "
        "finalized and collected; a net credit makes it zero and waits, pending, for the customer's next invoice.",
    )
    prorate = f.Boolean(
        required=False,
        default=False,
        help_text="true: the unused time of the current period is credited, to the second (Kassa keeps no "
        "customer balance: the credit lowers the final invoice, or the customer's next one).",
    )


class AnchorTypeParams(f.StrictSerializer):
    type = f.Choice(choices=["now", "unchanged"])


class SubscriptionResumeParams(f.StrictSerializer):
    billing_cycle_anchor = ResumeAnchor(
        required=False,
        help_text="`now` (the default): a new period starts and is billed now; `unchanged`: the anchor stays, and "
        "the time left in a period no invoice billed yet is billed per `proration_behavior`.",
    )
    proration_behavior = f.Choice(
        choices=PRORATION_BEHAVIORS,
        required=False,
        help_text="With `billing_cycle_anchor=unchanged`: `create_prorations` (the default) bills the time left in "
        "the current period, when no invoice billed it yet, on the next invoice; `always_invoice` invoices and "
        "charges it now; `none` bills nothing.",
    )
    proration_date = f.Timestamp(
        required=False, help_text="With `unchanged`: bill the time left as though resumed then (in the period)."
    )
    payment_behavior = f.Choice(choices=PAYMENT_BEHAVIORS, required=False, help_text="Accepted and ignored.")


class SubscriptionPauseParams(f.StrictSerializer):
    type = f.Choice(choices=["subscription"], required=False, help_text="Always `subscription`: the whole of it.")
    invoicing_behavior = f.Choice(
        choices=["invoice", "pending_invoice_item"],
        required=False,
        help_text="Accepted; nothing is billed or credited when a subscription is paused in Kassa.",
    )


class SubscriptionItemListParams(ListParams):
    subscription = f.String(help_text="The subscription whose items to list (`sub_…`).", **ID)


class SubscriptionItemCreateParams(ItemParams):
    subscription = f.String(help_text="The subscription to add the item to (`sub_…`).", **ID)
    proration_behavior = f.Choice(choices=PRORATION_BEHAVIORS, required=False, help_text=PRORATION_HELP)


class SubscriptionItemUpdateParams(ItemParams):
    proration_behavior = f.Choice(choices=PRORATION_BEHAVIORS, required=False, help_text=PRORATION_HELP)


class SubscriptionItemDeleteParams(f.StrictSerializer):
    clear_usage = f.Boolean(required=False, help_text="Accepted and ignored: Kassa has no metered usage.")
    proration_behavior = f.Choice(
        choices=PRORATION_BEHAVIORS,
        required=False,
        help_text="`create_prorations` (the default): the item's unused time is credited, pending for the next "
        "invoice; `always_invoice`: the same (a credit alone is never invoiced now: Kassa keeps no customer "
        "balance); `none`: nothing is credited.",
    )
    proration_date = f.Timestamp(
        required=False, help_text="When the removal counts from (Unix seconds, inside the current period); now."
    )


# --- output -------------------------------------------------------------------------------------------


def _ts(value):
    return int(value.timestamp()) if value is not None else None


class SubscriptionItemOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("subscription_item")
    billed_until = serializers.SerializerMethodField(help_text="Billed up to here: the current period's end.")
    billing_thresholds = f.Fixed(None, "object")
    created = f.UnixTime()
    current_period_end = f.UnixTime(help_text="The end of the item's current period (Unix seconds).")
    current_period_start = f.UnixTime(help_text="The start of the item's current period (Unix seconds).")
    current_trial = f.Fixed(None, "object")
    discounts = f.Fixed([])
    metadata = serializers.DictField(child=serializers.CharField())
    plan = serializers.SerializerMethodField(help_text="The price in Stripe's older `plan` shape.")
    price = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    subscription = serializers.SerializerMethodField(help_text="The item's subscription (`sub_…`).")
    tax_rates = serializers.SerializerMethodField()

    def get_billed_until(self, item) -> int | None:
        return _ts(item.current_period_end)

    @extend_schema_field(OBJECT)
    def get_plan(self, item):
        price = item.price
        return {
            "id": price.public_id,
            "object": "plan",
            "active": price.active,
            "amount": price.unit_amount,
            "amount_decimal": str(price.unit_amount),
            "billing_scheme": "per_unit",
            "created": _ts(price.created),
            "currency": price.currency,
            "interval": price.recurring_interval,
            "interval_count": price.recurring_interval_count or 1,
            "livemode": price.livemode,
            "metadata": price.metadata,
            "meter": None,
            "nickname": price.nickname,
            "product": price.product.public_id,
            "tiers_mode": None,
            "transform_usage": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }

    @extend_schema_field(PriceOut)
    def get_price(self, item):
        return represent(PriceOut, item.price, {"expand": set()})

    def get_subscription(self, item) -> str:
        return item.subscription.public_id

    @extend_schema_field(TaxRateOut(many=True))
    def get_tax_rates(self, item):
        return [represent(TaxRateOut, rate, {"expand": set()}) for rate in many(item, "tax_rates")]

    def to_representation(self, item):
        if getattr(item, "deleted", False):
            return {"id": item.public_id, "object": "subscription_item", "deleted": True}
        return super().to_representation(item)


class SubscriptionOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("subscription")
    application = f.Fixed(None)
    application_fee_percent = f.Fixed(None, "number")
    automatic_tax = serializers.SerializerMethodField()
    billing_cycle_anchor = f.UnixTime(help_text="The instant periods are counted from (Unix seconds).")
    billing_cycle_anchor_config = serializers.SerializerMethodField(
        help_text="`day_of_month` when the subscription was made with one; else null."
    )
    billing_mode = serializers.SerializerMethodField(help_text="Always `classic`.")
    billing_thresholds = f.Fixed(None, "object")
    cancel_at = f.UnixTime(allow_null=True, help_text="When it will be canceled, if set.")
    cancel_at_period_end = serializers.BooleanField(help_text="Whether it ends when the current period ends.")
    canceled_at = f.UnixTime(allow_null=True, help_text="When it was canceled (or asked to be).")
    cancellation_details = serializers.SerializerMethodField(
        help_text="`comment` and `feedback` given when canceling; `reason` `cancellation_requested` once canceled."
    )
    collection_method = serializers.CharField(help_text="`charge_automatically` or `send_invoice`.")
    created = f.UnixTime()
    currency = serializers.CharField()
    customer = serializers.SerializerMethodField()
    customer_account = f.Fixed(None)
    days_until_due = serializers.IntegerField(allow_null=True, help_text="send_invoice: days to pay each invoice.")
    default_payment_method = serializers.SerializerMethodField()
    default_source = f.Fixed(None)
    default_tax_rates = serializers.SerializerMethodField()
    description = serializers.CharField(allow_null=True, help_text="A note for you, also on the invoices.")
    discounts = f.Fixed([])
    ended_at = f.UnixTime(allow_null=True, help_text="When it ended.")
    invoice_settings = serializers.SerializerMethodField(help_text="Always the seller itself as `issuer`.")
    items = serializers.SerializerMethodField(help_text="The subscription's items, with their current period.")
    latest_invoice = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    next_pending_invoice_item_invoice = f.Fixed(None, "integer")
    on_behalf_of = f.Fixed(None)
    pause_collection = serializers.SerializerMethodField(
        help_text="While collection is paused: `behavior` and `resumes_at`; else null."
    )
    payment_settings = serializers.SerializerMethodField(
        help_text="`save_default_payment_method`: `on_subscription` when the card that pays an invoice becomes the "
        "default, else `off`; `payment_method_types` and `payment_method_options` are null (cards only)."
    )
    pending_invoice_item_interval = f.Fixed(None, "object")
    pending_setup_intent = f.Fixed(None)
    pending_update = serializers.SerializerMethodField(
        help_text="A change held by `payment_behavior=pending_if_incomplete` until its invoice (`latest_invoice`) is "
        "paid: `expires_at`, `subscription_items` as they will be; null otherwise."
    )
    schedule = f.Fixed(None)
    start_date = f.UnixTime(help_text="When the subscription started (Unix seconds).")
    status = serializers.CharField(
        help_text="`incomplete`, `incomplete_expired`, `trialing`, `active`, `past_due`, `unpaid`, `canceled` or "
        "`paused`: the latest invoice decides."
    )
    test_clock = serializers.SerializerMethodField(help_text="The customer's test clock (`clock_…`), if any.")
    transfer_data = f.Fixed(None, "object")
    trial_end = f.UnixTime(allow_null=True, help_text="When the trial ends (Unix seconds); null without one.")
    trial_settings = serializers.SerializerMethodField(help_text="Always `create_invoice` when a trial ends.")
    trial_start = f.UnixTime(allow_null=True, help_text="When the trial started (Unix seconds).")

    @extend_schema_field(OBJECT)
    def get_automatic_tax(self, _):
        return {"disabled_reason": None, "enabled": False, "liability": None}

    @extend_schema_field(OBJECT)
    def get_billing_cycle_anchor_config(self, sub):
        if sub.billing_cycle_anchor_day_of_month is None:
            return None
        return {
            "day_of_month": sub.billing_cycle_anchor_day_of_month,
            "hour": None,
            "minute": None,
            "month": None,
            "second": None,
        }

    @extend_schema_field(OBJECT)
    def get_billing_mode(self, _):
        return {"type": "classic"}

    @extend_schema_field(OBJECT)
    def get_cancellation_details(self, sub):
        return {
            "comment": sub.cancellation_comment,
            "feedback": sub.cancellation_feedback,
            "reason": sub.cancellation_reason,
        }

    @reference_field("customer")
    def get_customer(self, sub):
        return reference(self, sub.customer, "customer", CustomerOut)

    @reference_field("payment method")
    def get_default_payment_method(self, sub):
        return reference(self, sub.default_payment_method, "default_payment_method", PaymentMethodOut)

    @extend_schema_field(TaxRateOut(many=True))
    def get_default_tax_rates(self, sub):
        return [represent(TaxRateOut, rate, {"expand": set()}) for rate in many(sub, "default_tax_rates")]

    @extend_schema_field(OBJECT)
    def get_invoice_settings(self, _):
        return {"account_tax_ids": None, "issuer": {"type": "self"}}

    @extend_schema_field(
        inline_serializer(
            "SubscriptionItems",
            {
                "object": serializers.CharField(),
                "data": SubscriptionItemOut(many=True),
                "has_more": serializers.BooleanField(),
                "total_count": serializers.IntegerField(),
                "url": serializers.CharField(),
            },
        )
    )
    def get_items(self, sub):
        items = subscription_items(sub)  # each one's subscription is ``sub`` (the related manager sets it)
        context = {"expand": set()}
        return {
            "object": "list",
            "data": [represent(SubscriptionItemOut, item, context) for item in items[:ITEMS_SHOWN]],
            "has_more": len(items) > ITEMS_SHOWN,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={sub.public_id}",
        }

    @reference_field("invoice")
    def get_latest_invoice(self, sub):
        return reference(self, sub.latest_invoice, "latest_invoice", InvoiceOut)

    @extend_schema_field(OBJECT)
    def get_pause_collection(self, sub):
        if not sub.pause_behavior:
            return None
        return {"behavior": sub.pause_behavior, "resumes_at": _ts(sub.pause_resumes_at)}

    @extend_schema_field(OBJECT)
    def get_pending_update(self, sub):
        if not sub.pending_update:
            return None
        return {key: value for key, value in sub.pending_update.items() if key != "entries"}

    @extend_schema_field(OBJECT)
    def get_payment_settings(self, sub):
        return {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": sub.save_default_payment_method,
        }

    def get_test_clock(self, sub) -> str | None:
        clock = sub.customer.test_clock
        return clock.public_id if clock is not None else None

    @extend_schema_field(OBJECT)
    def get_trial_settings(self, _):
        return {"end_behavior": {"missing_payment_method": "create_invoice"}}
