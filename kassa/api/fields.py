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

from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

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
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = str(data).strip().lower()
        if not money.is_supported(value):
            self.fail("unsupported", input=data)
        return value


class Timestamp(Integer):
    """Unix seconds, within the years a datetime can hold."""

    def __init__(self, **kwargs):
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
    # Only at the top level: a nested serializer shares its root's context, not its names.

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Invalid hash"]}, code="parameter_invalid")
        stripe_names = self.context.get("stripe_params", ()) if self.parent is None else ()
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
        super().__init__(value, **kwargs)
        kind = schema or _FIXED_TYPES[type(value)]
        shape = {"type": kind, "description": f"Always {json.dumps(value)} in Kassa."}
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


class DeletedOut(serializers.Serializer):
    """What a delete answers, as at Stripe: ``{"id", "object", "deleted": true}``."""

    id = serializers.CharField()
    object = serializers.CharField()
    deleted = serializers.BooleanField()


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
