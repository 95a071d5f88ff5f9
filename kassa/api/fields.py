"""Input fields and the strict serializer base: Stripe's parameter rules.

- Unknown parameters are refused by name (``parameter_unknown``).
- Form bodies carry strings; each field coerces and names its own error
  code (``parameter_invalid_integer``, ``amount_too_large`` …).
- An empty string unsets an optional value, as at Stripe.
- Metadata: ≤ 50 keys, key ≤ 40 characters, value ≤ 500; an empty value
  unsets that key and ``metadata=""`` unsets them all.
"""

from collections.abc import Mapping

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kassa import money

from .params import as_list

UNSET_ALL = object()


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
        if isinstance(data, (bool, float)):
            self.fail("invalid", input=data)
        if isinstance(data, str) and not data.strip().lstrip("-").isdigit():
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


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
    stripe_codes = {"invalid": "parameter_invalid_boolean"}
    default_error_messages = {"invalid": "Invalid boolean: {input}"}


class Choice(StripeCodesMixin, serializers.ChoiceField):
    stripe_codes = {"invalid_choice": "parameter_invalid"}


class Currency(String):
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
    """Unix seconds."""


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
    """Returns a dict to merge (``""`` values unset a key) or ``UNSET_ALL``."""

    default_error_messages = {
        "invalid": "Invalid metadata: it must be a hash of string keys to string values.",
        "too_many": "Invalid metadata: at most 50 keys.",
        "key_too_long": "Invalid metadata: keys are at most 40 characters ({key}).",
        "value_too_long": "Invalid metadata: values are at most 500 characters (key {key}).",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if data == "" or data is None:
            return UNSET_ALL
        if not isinstance(data, Mapping):
            raise ValidationError(self.error_messages["invalid"], code="parameter_invalid_metadata")
        if len(data) > 50:
            raise ValidationError(self.error_messages["too_many"], code="parameter_invalid_metadata")
        cleaned = {}
        for raw_key, raw_value in data.items():
            key = str(raw_key)
            if isinstance(raw_value, (dict, list)):
                raise ValidationError(self.error_messages["invalid"], code="parameter_invalid_metadata")
            if len(key) > 40 or not key:
                raise ValidationError(
                    self.error_messages["key_too_long"].format(key=key[:40]), code="parameter_invalid_metadata"
                )
            if raw_value is None:
                value = ""
            else:
                value = str(raw_value).lower() if isinstance(raw_value, bool) else str(raw_value)
            if len(value) > 500:
                raise ValidationError(
                    self.error_messages["value_too_long"].format(key=key), code="parameter_invalid_metadata"
                )
            cleaned[key] = value
        return cleaned

    def to_representation(self, value):
        return value


def metadata_apply(current: dict, change) -> dict:
    """Stripe's metadata update rules; the result must still hold ≤ 50 keys."""
    from kassa.errors import InvalidRequest

    if change is UNSET_ALL:
        return {}
    merged = dict(current)
    for key, value in change.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise InvalidRequest("Invalid metadata: at most 50 keys.", code="parameter_invalid_metadata", param="metadata")
    return merged


class StrictSerializer(serializers.Serializer):
    """Input parameters: refuses any it does not know, by name."""

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Invalid hash"]}, code="parameter_invalid")
        for key in data:
            field = self.fields.get(key)
            if field is None or field.read_only:
                raise ValidationError({key: [serializers.ErrorDetail("unknown", code="parameter_unknown")]})
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


@extend_schema_field(OpenApiTypes.INT)
class UnixTime(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return int(value.timestamp()) if value is not None else None


def now_unix() -> int:
    return int(timezone.now().timestamp())
