"""Input fields and the strict serializer base: Stripe's parameter rules.

- Unknown parameters are refused by name (``parameter_unknown``).
- Form bodies carry strings; each field coerces and names its own error
  code (``parameter_invalid_integer``, ``amount_too_large`` …).
- An empty string unsets an optional value, as at Stripe.
- Metadata: ≤ 50 keys, key ≤ 40 characters, value ≤ 500; an empty value
  unsets that key and ``metadata=""`` unsets them all.
"""

import json
import math
import re
from collections.abc import Mapping

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

from kassa import metadata, money
from kassa.errors import KassaError

from .params import as_list


class StripeCodesMixin:
    """Raise DRF's failures under Stripe's error codes."""

    stripe_codes: dict[str, str] = {}

    def fail(self, key, **kwargs):
        try:
            super().fail(key, **kwargs)
        except ValidationError as exc:
            code = self.stripe_codes.get(key)
            if code is None:
                raise
            detail = exc.detail[0] if isinstance(exc.detail, list) else exc.detail
            raise ValidationError(str(detail), code=code) from None

    def run_validators(self, value):
        # Limits (min_value, max_length …) fail through validators, not through fail().
        try:
            super().run_validators(value)
        except ValidationError as exc:
            details = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise ValidationError(
                [serializers.ErrorDetail(str(d), code=self.stripe_codes.get(d.code, d.code)) for d in details]
            ) from None


class String(StripeCodesMixin, serializers.CharField):
    stripe_codes = {"invalid": "parameter_invalid_string", "max_length": "parameter_invalid_string_too_long"}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 5000)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, (dict, list, bool)):
            self.fail("invalid")
        return super().to_internal_value(data)


class OptionalString(String):
    """A string that ``""`` (or JSON null) unsets."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        # CharField answers '' before to_internal_value runs; '' means "unset".
        value = super().run_validation(data)
        return value or None


class Integer(StripeCodesMixin, serializers.IntegerField):
    stripe_codes = {"invalid": "parameter_invalid_integer", "max_string_length": "parameter_invalid_integer"}
    default_error_messages = {"invalid": "Invalid integer: {input}"}

    def to_internal_value(self, data):
        # Every non-integer fails here, with the input in the message (DRF's own
        # failure path has no input to show): strings of digits and ints only.
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid", input=str(data)[:50])
        if isinstance(data, str) and not data.strip().lstrip("-").isdigit():
            self.fail("invalid", input=data[:50])
        return super().to_internal_value(data)


class Number(StripeCodesMixin, serializers.FloatField):
    """A measurement (a package's inches and ounces, as Stripe's): a decimal number. Never used for money."""

    stripe_codes = {"invalid": "parameter_invalid"}
    default_error_messages = {"invalid": "Invalid decimal: {input}"}

    def to_internal_value(self, data):
        # Every non-number fails here, with the input in the message (DRF's own failure has none).
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            self.fail("invalid", input=str(data)[:50])
        if isinstance(data, str) and "_" in data:  # Python's float() takes "1_000"; Stripe does not
            self.fail("invalid", input=data[:50])
        try:
            number = float(data)
        except (ValueError, OverflowError):
            self.fail("invalid", input=str(data)[:50])
        if not math.isfinite(number):
            self.fail("invalid", input=str(data)[:50])
        return number


AMOUNT_HELP = (
    "In the currency's smallest unit, as an integer: 1999 is 19.99 USD; in a zero-decimal currency "
    "such as JPY, 500 is ¥500."
)
CURRENCY_HELP = "Three-letter ISO 4217 currency code in lowercase (`usd`, `eur`, `jpy`); any currency Stripe supports."
METADATA_HELP = (
    "Key-value pairs for your own use (an order id, a SKU): at most 50 keys, keys up to 40 characters, "
    "values up to 500. Sending a key with an empty value removes it; `metadata` empty removes them all."
)


class Amount(Integer):
    """An amount in the currency's minor unit: a non-negative integer, never a float."""

    stripe_codes = {
        **Integer.stripe_codes,
        "min_value": "amount_too_small",
        "max_value": "amount_too_large",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", money.MAX_AMOUNT)
        kwargs.setdefault("help_text", "An amount. " + AMOUNT_HELP)
        super().__init__(**kwargs)


class Boolean(StripeCodesMixin, serializers.BooleanField):
    """``true``/``false`` (form) or a JSON boolean, as Stripe accepts; not yes/on/1."""

    stripe_codes = {"invalid": "parameter_invalid_boolean"}
    default_error_messages = {"invalid": "Invalid boolean: {input}"}
    TRUE_VALUES = {"true", True}
    FALSE_VALUES = {"false", False}
    NULL_VALUES = {"null", None}


class Choice(StripeCodesMixin, serializers.ChoiceField):
    stripe_codes = {"invalid_choice": "parameter_invalid"}


@extend_schema_field({"type": "string", "enum": sorted(money.SUPPORTED)})
class Currency(String):
    """A lowercase ISO 4217 code that Stripe supports (upper case is accepted too)."""

    stripe_codes = {**String.stripe_codes, "unsupported": "parameter_invalid_currency"}
    default_error_messages = {"unsupported": "Invalid currency: {input}. Kassa supports the currencies Stripe does."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("help_text", CURRENCY_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = str(data).strip().lower()
        if not money.is_supported(value):
            self.fail("unsupported", input=data)
        return value


class Timestamp(Integer):
    """Unix seconds, within the years a datetime can hold."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "A time in Unix seconds (UTC).")
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 253402214400)  # 9999-12-31T00:00:00Z: room for a one-second window
        super().__init__(**kwargs)


class List(StripeCodesMixin, serializers.ListField):
    """A list from JSON, ``name[]=`` or ``name[0]=``; ``""`` is the empty list."""

    stripe_codes = {"not_a_list": "parameter_invalid_array", "max_length": "parameter_invalid_array"}

    def to_internal_value(self, data):
        return super().to_internal_value(as_list(data))

    def get_value(self, dictionary):
        # ListField looks for html-form style keys on QueryDicts; ours are plain dicts.
        return dictionary.get(self.field_name, serializers.empty)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class Metadata(serializers.Field):
    """A metadata change (kassa/metadata.py): a dict whose ``""`` values unset keys, or UNSET_ALL."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("help_text", METADATA_HELP)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return (True, metadata.UNSET_ALL)
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        try:
            return metadata.clean(data)
        except KassaError as exc:
            raise ValidationError(exc.message, code=exc.code) from None

    def to_representation(self, value):
        return value


class StrictSerializer(serializers.Serializer):
    """Input parameters: refuses any it does not know, by name."""

    # (The docstring above is every params component's description in the OpenAPI schema.)
    # The context's ``stripe_params`` (kassa/api/stripe_params.py) are the top-level names
    # Stripe has for the operation: one of those is refused as a Stripe parameter Kassa
    # does not support yet (kassa/api/errors.py words it), still under ``parameter_unknown``.
    # Only at the top level: a nested serializer shares its root's context, not its names; a nested hash names
    # its own Stripe parameters Kassa does not take in ``stripe_unsupported``.

    #: a nested hash's Stripe parameters that Kassa does not take (refused as not supported yet)
    stripe_unsupported: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Invalid hash"]}, code="parameter_invalid")
        stripe_names = self.context.get("stripe_params", ()) if self.parent is None else self.stripe_unsupported
        for key in data:
            field = self.fields.get(key)
            if field is None or field.read_only:
                code = "stripe_parameter_unsupported" if key in stripe_names else "parameter_unknown"
                raise ValidationError({key: [serializers.ErrorDetail("unknown", code=code)]})
        return super().to_internal_value(data)


# ---- output ------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class Constant(serializers.Field):
    """The fixed ``object`` name of a resource."""

    def __init__(self, value, **kwargs):
        self.value = value
        kwargs.setdefault("help_text", f"String representing the object's type: always `{value}`.")
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def to_representation(self, _):
        return self.value


_FIXED_TYPES = {type(None): "string", bool: "boolean", str: "string", int: "integer", list: "array", dict: "object"}


class Fixed(Constant):
    """A field of Stripe's object that Kassa always answers the same way, because it has no such feature.

    ``None`` for a feature Kassa lacks (``transfer_data``), ``false`` or
    ``[]`` where that is Stripe's own answer without it (``delinquent``,
    ``custom_fields``). Kept so that clients reading Stripe's shape find
    every field they expect; ``schema`` is its OpenAPI type (the default is
    taken from the value; give it for a ``None`` that is not a string).
    """

    def __init__(self, value, schema: str | None = None, **kwargs):
        kwargs.setdefault("help_text", f"Always {json.dumps(value)} in Kassa, which has no such feature.")
        super().__init__(value, **kwargs)
        kind = schema or _FIXED_TYPES[type(value)]
        shape = {"type": kind, "description": self.help_text}
        if value is None:
            shape["nullable"] = True
        if kind == "array":
            shape["items"] = {"type": "object"}
        set_override(self, "field", shape)


@extend_schema_field(OpenApiTypes.INT)
class UnixTime(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return int(value.timestamp()) if value is not None else None


class Out(serializers.Serializer):
    """An object as the API (and an event's ``data.object``) shows it: every output serializer's base.

    DRF's ``to_representation`` walks ``_readable_fields`` (a generator over every field, leaving out the write-only
    ones) for each object it renders. An output serializer's fields never change once built, and ``represent``
    keeps one instance per class (kassa.api.views), so the readable ones are listed once per instance, each with
    how it may be shown faster than DRF's own loop shows it (``_plan``); the rest is DRF's own loop, unchanged.
    Rendering is most of what an event costs, and a renewal records seven (docs/performance-history.md).

    Four shortcuts, each giving exactly what DRF gives:

    - A ``Constant`` (or ``Fixed``) field shows its value whatever the object: DRF reads the object itself as its
      attribute (``source="*"``), finds it is not None and calls the field, which hands back its value. About a
      third of an invoice's fields are such.
    - Most fields read one attribute of the object (``source`` a plain name). DRF's ``get_attribute`` takes three
      Python calls to do that for each field of each object rendered; here a plain ``getattr`` does it, and
      anything that is not plain goes to DRF's own ``get_attribute`` as before: a field that reads otherwise (a
      dotted or ``*`` source, a related field's own reading), an object that is a mapping, an attribute that is
      missing (DRF's default, ``allow_null``, ``SkipField`` and error rules) or a related object that does not
      exist (None), or a callable one (DRF calls a method). Any other error of the read is raised as DRF raises it.
    - Such an attribute read by a field of exactly DRF's ``CharField``, ``IntegerField`` or ``BooleanField``,
      holding exactly a ``str``, an ``int`` or a ``bool`` (in that order), is shown as it is: those fields'
      ``to_representation`` (``str()``, ``int()``, its true and false values) hands such a value back unchanged.
    - A field of exactly DRF's ``SerializerMethodField`` (reading the object itself, ``source="*"``) shows what its
      serializer's method answers for the object: DRF takes two calls to read the object as its attribute and one
      more to find the method; here the method, bound once, is called (about 150 such fields a renewal's events)."""

    def to_representation(self, instance):
        readable = self.__dict__.get("_readable")
        if readable is None:
            fields = self.fields.values()
            readable = self.__dict__["_readable"] = [_plan(field) for field in fields if not field.write_only]
        plain = not isinstance(instance, Mapping)
        shown = {}
        for field, name, constant, as_is, method in readable:
            if constant is not _NOT_CONSTANT:
                shown[field.field_name] = constant
                continue
            if method is not None:
                shown[field.field_name] = None if instance is None else method(instance)  # DRF shows None as None
                continue
            try:
                if plain and name is not None:
                    try:
                        attribute = getattr(instance, name)
                    except (AttributeError, KeyError, ObjectDoesNotExist):  # what DRF's get_attribute answers its way
                        attribute = field.get_attribute(instance)
                    else:
                        if type(attribute) is as_is:
                            shown[field.field_name] = attribute
                            continue
                        if callable(attribute):
                            attribute = field.get_attribute(instance)
                else:
                    attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            shown[field.field_name] = None if check_for_none is None else field.to_representation(attribute)
        return shown


#: ``_plan``'s "not a constant" (None is a constant's value: ``Fixed(None)``).
_NOT_CONSTANT = object()
#: DRF's fields whose ``to_representation`` hands a value of exactly this type back unchanged.
_SHOWN_AS_IS = {serializers.CharField: str, serializers.IntegerField: int, serializers.BooleanField: bool}


def _plan(field) -> tuple:
    """How ``Out`` shows ``field``: (the field, the one attribute it reads plainly or None, its constant value or
    ``_NOT_CONSTANT``, the value type it shows as it is or None, its serializer's method bound or None)."""
    constant = _NOT_CONSTANT
    if type(field).to_representation is Constant.to_representation and field.source == "*":
        constant = field.value
    method = None
    if type(field) is serializers.SerializerMethodField and field.source == "*":
        method = getattr(field.parent, field.method_name)  # as its to_representation finds it, once
    return field, _plain_source(field), constant, _SHOWN_AS_IS.get(type(field)), method


def _plain_source(field) -> str | None:
    """The one attribute ``field`` reads, when it reads it as DRF's ``Field.get_attribute`` does (``Out``)."""
    if type(field).get_attribute is not serializers.Field.get_attribute or len(field.source_attrs) != 1:
        return None
    return field.source_attrs[0]


class DeletedOut(Out):
    """What a delete answers, as at Stripe: ``{"id", "object", "deleted": true}``."""

    id = serializers.CharField(help_text="The deleted object's id.")
    object = serializers.CharField(help_text="The deleted object's type (`product`, `customer` …).")
    deleted = serializers.BooleanField(help_text="Always true.")


ID = {"max_length": 255}


@extend_schema_field(OpenApiTypes.STR)
class Kind(Choice):
    """A choice that the schema shows as a string naming its values.

    drf-spectacular names enum components after the field, and many of Stripe's
    fields are called ``type`` with different values; documented as enums they
    would collide (and the schema check fails on the warning). A pattern
    still tells generated clients and schemathesis which values are valid.
    """

    def __init__(self, choices, **kwargs):
        values = [str(c[0] if isinstance(c, tuple) else c) for c in choices]
        kwargs.setdefault("help_text", "One of: " + ", ".join(values))
        super().__init__(choices=choices, **kwargs)
        pattern = "^(" + "|".join(re.escape(v) for v in values) + ")$"
        self._spectacular_annotation = {"field": {"type": "string", "pattern": pattern}}


def card_only_types() -> List:
    """Accepted for code written for Stripe; Kassa takes cards only."""
    return List(child=Kind(choices=["card"]), required=False, max_length=1)


def missing(name: str) -> ValidationError:
    return ValidationError({name: [serializers.ErrorDetail("required", code="required")]})


# ---- documentation -------------------------------------------------------

#: Descriptions of fields and parameters that mean the same wherever they appear, by name.
#: kassa/api/schema.py fills in any field or parameter that has no help_text of its own from
#: here; a name that means different things in different objects (``status``, ``type``,
#: ``url``) is described where it is declared instead.
FIELD_DESCRIPTIONS = {
    "id": "Unique identifier for the object, with a prefix naming its type (`prod_`, `pi_`, `cus_` …).",
    "object": "String representing the object's type.",
    "livemode": "true for an object of live mode, false for test mode: the key used decides the mode.",
    "created": "When the object was created, in Unix seconds (UTC).",
    "updated": "When the object was last changed, in Unix seconds (UTC).",
    "canceled_at": "When it was canceled, in Unix seconds (UTC); null while it is not.",
    "expires_at": "When it expires, in Unix seconds (UTC).",
    "metadata": METADATA_HELP,
    "currency": CURRENCY_HELP,
    "unit_amount": "The price of one unit. " + AMOUNT_HELP,
    "unit_amount_decimal": "unit_amount as a string, as Stripe answers it.",
    "amount_subtotal": "The total before discounts and taxes (Kassa has neither). " + AMOUNT_HELP,
    "amount_total": "The total to pay. " + AMOUNT_HELP,
    "amount_discount": "Discounts applied: always 0 in Kassa.",
    "amount_tax": "Tax applied: always 0 in Kassa, which computes no tax.",
    "amount_shipping": "Shipping charged: always 0 in Kassa.",
    "email": "An email address.",
    "name": "The name shown to people.",
    "phone": "A phone number, as entered.",
    "address": "A postal address.",
    "city": "City, district, suburb, town or village.",
    "country": "Two-letter country code (ISO 3166-1 alpha-2), e.g. `FR`.",
    "line1": "Address line 1 (street, PO box or company name).",
    "line2": "Address line 2 (apartment, suite, unit or building).",
    "postal_code": "ZIP or postal code.",
    "state": "State, county, province or region.",
    "active": "Whether the object can be used for new purchases.",
    "quantity": "How many units, at least 1.",
    "customer": "The customer's id (`cus_…`).",
    "payment_intent": "The PaymentIntent's id (`pi_…`).",
    "payment_method": "The saved card's id (`pm_…`).",
    "payment_link": "The payment link's id (`plink_…`).",
    "product": "The product's id (`prod_…`).",
    "price": "The price's id (`price_…`).",
    "webhook_endpoint": "The webhook endpoint's id (`we_…`).",
    "limit": "How many objects to answer, 1 to 100 (default 10).",
    "starting_after": "A cursor for the next page: the id of the last object of the page you have.",
    "ending_before": "A cursor for the previous page: the id of the first object of the page you have.",
    "gt": "Later than this time (Unix seconds).",
    "gte": "At or later than this time (Unix seconds).",
    "lt": "Earlier than this time (Unix seconds).",
    "lte": "At or earlier than this time (Unix seconds).",
    "ids": "Only these ids (at most 100).",
    "interval": "How often a recurring price is charged: `day`, `week`, `month` or `year`.",
    "interval_count": "How many intervals between two charges (1 to 365); `interval=month, interval_count=3` is "
    "every three months.",
    "usage_type": "Always `licensed`: the quantity is set, not metered.",
    "brand": "Card brand: `visa`, `mastercard`, `amex` …",
    "display_brand": "The brand to show the payer.",
    "last4": "The card number's last four digits.",
    "exp_month": "The card's expiry month, 1 to 12.",
    "exp_year": "The card's four-digit expiry year.",
    "nickname": "A name for the price, never shown to payers.",
    "lookup_key": "A key of your own to find the price by (`lookup_keys` on the list) instead of its id; "
    "unique among the merchant's active prices.",
    "lookup_keys": "Only prices with one of these lookup keys (at most 10).",
    "transfer_lookup_key": "Take the lookup key over from the price that has it now.",
    "images": "Up to 8 image URLs shown with the product.",
    "statement_descriptor": "What the payer's bank statement shows, at most 22 characters.",
    "unit_label": "What one unit is called on receipts (`seat`, `kg`), at most 12 characters.",
    "shippable": "Whether the product is shipped (a physical good).",
    "height": "Height, in inches.",
    "length": "Length, in inches.",
    "weight": "Weight, in ounces.",
    "width": "Width, in inches.",
    "package_dimensions": "The package's size and weight, for shipping.",
    "marketing_features": "Up to 15 features listed with the product on a pricing table.",
    "tax_code": "Stored and returned as sent: Kassa computes no tax.",
    "recurring": "For a subscription price: how often it is charged. null for a one-time price.",
    "deleted": "Always true.",
    "has_more": "Whether there are more objects after this page.",
    "data": "The page's objects.",
    "locale": "The language of the hosted payment page: `auto` (the payer's browser decides), `en` or `fr`.",
    "client_reference_id": "Your own reference for the checkout (a cart or order id), returned as sent.",
    "success_url": "Where the payer is sent after paying; `{CHECKOUT_SESSION_ID}` in it is replaced with the "
    "session's id.",
    "cancel_url": "Where the payer is sent if they go back instead of paying.",
    "billing_address_collection": "`auto` (the hosted page asks for an address only when the card needs one) or "
    "`required` (always).",
    "phone_number_collection": "Whether the hosted page asks the payer for a phone number.",
    "enabled": "Whether this is switched on.",
    "customer_email": "The email the hosted page is filled in with (the payer can still change it).",
    "customer_details": "What the payer entered on the hosted page (email, name, phone, address); null until then.",
    "payment_status": "`paid` once the payment succeeded, `unpaid` before.",
    "mode": "Always `payment` (one-time payments): Kassa has no subscriptions or setup sessions yet.",
    "line_items": "What is sold: a price (or price_data) and a quantity per line, at most 20 lines.",
    "price_data": "A one-time price made on the spot (with its product) instead of an existing price.",
    "product_data": "The product to make with this price.",
    "receipt_email": "Where the receipt for this payment is sent.",
    "cancellation_reason": "Why it was canceled: `duplicate`, `fraudulent`, `requested_by_customer` or "
    "`abandoned`; null unless canceled.",
    "latest_charge": "The processor's id of the charge that paid it (`ch_…`); null before.",
    "amount_received": "How much was received. " + AMOUNT_HELP,
    "amount_capturable": "Always 0: Kassa captures payments as they are confirmed.",
    "capture_method": "Always `automatic`.",
    "confirmation_method": "Always `automatic`.",
    "client_secret": "A secret for the payer's browser to finish this payment; do not log or share it otherwise.",
    "payment_method_types": 'Always `["card"]`: Kassa takes cards.',
    "billing_details": "The card holder's details, as the payer entered them.",
    "card": "The card: brand, last four digits and expiry (never the number).",
    "token": "A card token (`tok_…`) made by Stripe.js in the payer's browser.",
    "api_version": "The API version events to this endpoint are rendered with; null for the merchant's default.",
    "enabled_events": 'The event types sent to this endpoint, e.g. `payment_intent.succeeded`; `["*"]` for all.',
    "connect": "Stripe Connect's flag: accepted as false only, Kassa has no connected accounts.",
    "disabled": "true stops deliveries to this endpoint; false resumes them.",
    "types": "Only events of these types (at most 20).",
    "delivery_success": "Only events whose delivery to every endpoint succeeded (true) or failed (false).",
    "pending_webhooks": "How many endpoints have not yet received this event.",
    "request": "The API request that caused the event: its id and Idempotency-Key, or nulls for an event of the "
    "processor or the dashboard.",
    "previous_attributes": "For `*.updated` events, the changed fields' values before the change.",
    "idempotency_key": "The Idempotency-Key of the request, if it had one.",
    "reason": "Why it was refunded: `duplicate`, `fraudulent` or `requested_by_customer`; null when not given.",
    "failure_reason": "Why the refund failed, when it did; null otherwise.",
    "custom_message": "A message shown on the confirmation page after paying, at most 500 characters.",
    "redirect": "Where to send the payer after paying.",
    "hosted_confirmation": "The confirmation page Kassa shows after paying.",
    "after_completion": "What happens after the payer paid: Kassa's confirmation page, or a redirect to your site.",
    "total_details": "The total's breakdown (discounts, shipping, tax): zeros in Kassa.",
    "ui_mode": "Always `hosted`: the payer pays on Kassa's hosted page.",
    "customer_creation": "When a customer is made for the payer.",
    "email_collection": "Kassa extension (not in Stripe's API): whether the hosted page asks the payer for an email "
    "address. Defaults to true.",
    "balance": "Always 0: Kassa keeps no customer balance.",
    "use_stripe_sdk": "What Stripe.js needs to take the payer through the bank's check.",
    "account_country": "The seller's country as issued on the invoice (your invoice settings).",
    "account_name": "The seller's legal name as issued on the invoice (your invoice settings).",
    "amount_paid_off_stripe": "What was paid outside Kassa (`paid_out_of_band`).",
    "automatic_tax": "Stripe Tax: always disabled in Kassa, which uses your tax rates.",
    "collection_method": "`charge_automatically` (a saved card is charged) or `send_invoice` (the customer pays "
    "by the due date).",
    "customer_address": "The customer's address as finalized on the invoice.",
    "default_tax_rates": "Tax rates applied to every line without tax rates of its own.",
    "discountable": "Stored and returned: Kassa has no discounts.",
    "start": "The start, in Unix seconds (UTC).",
    "end": "The end, in Unix seconds (UTC).",
    "ending_balance": "Always 0 once finalized (Kassa keeps no customer balance); null for a draft.",
    "hosted_invoice_url": "The invoice's page for the customer (to see and pay it); null for a draft.",
    "invoice_pdf": "The invoice's PDF, downloadable without a login; null for a draft.",
    "invoice": "The invoice's id (`in_…`).",
    "is_default": "Always true: the invoice's payment.",
    "issuer": "Who issued the invoice: always `self` (you).",
    "lines": "The invoice's first lines (`lines.url` lists them all): amounts, quantities, taxes per rate.",
    "parent": "What made the object: null for what you made yourself.",
    "payment": "The PaymentIntent that paid (`type: payment_intent`), or `out_of_band_payment`.",
    "payment_settings": "Stripe's payment settings: nulls in Kassa (cards only).",
    "payments": "The invoice's payments (`inpay_…`), each with its PaymentIntent.",
    "period": "The period the line is for: `start` and `end` in Unix seconds.",
    "period_start": "The start of the invoice's period (when it was made, for an invoice you make).",
    "period_end": "The end of the invoice's period (when it was made, for an invoice you make).",
    "pricing": "How the line is priced: the price and product (`price_details`) and the unit amount as a decimal "
    "string.",
    "proration": "Always false: Kassa has no subscriptions' prorations yet.",
    "quantity_decimal": "quantity as a decimal string, as Stripe answers it.",
    "status_transitions": "When the object reached each status (Unix seconds), null for those it has not.",
    "tax_rates": "The tax rates of this line (full objects).",
    "total_count": "How many objects the whole list has.",
    "url": "The URL to list them all.",
}
