"""Metadata rules, as at Stripe (https://docs.stripe.com/api/metadata).

String keys to string values; at most 50 keys, keys at most 40 characters,
values at most 500. In an update an empty value unsets that key, and
``metadata=""`` unsets them all. The API, the dashboard and the services all
go through ``clean`` and ``merge``, so no path can store metadata the API
would refuse.
"""

from collections.abc import Mapping

from kassa.errors import InvalidRequest

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


class _UnsetAll:
    def __repr__(self) -> str:
        return "UNSET_ALL"


UNSET_ALL = _UnsetAll()


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid metadata: {message}", code="parameter_invalid_metadata", param="metadata")


def _unstorable(text: str) -> bool:
    """NUL (PostgreSQL refuses it) or a lone surrogate (not encodable as UTF-8)."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def clean(value) -> dict[str, str] | _UnsetAll:
    """A change to apply: a dict (``""`` values unset keys) or UNSET_ALL."""
    if value is UNSET_ALL or value == "" or value is None:
        return UNSET_ALL
    if not isinstance(value, Mapping):
        raise _invalid("it must be a hash of string keys to string values.")
    if len(value) > MAX_KEYS:
        raise _invalid(f"at most {MAX_KEYS} keys.")
    cleaned = {}
    for raw_key, raw_value in value.items():
        key = str(raw_key)
        if not key:
            raise _invalid("keys cannot be empty.")
        if len(key) > MAX_KEY_LENGTH:
            raise _invalid(f"keys are 1 to {MAX_KEY_LENGTH} characters ({key[:MAX_KEY_LENGTH]!r}).")
        if raw_value is None:
            text = ""
        elif isinstance(raw_value, bool):
            text = "true" if raw_value else "false"
        elif isinstance(raw_value, (str, int)):
            text = str(raw_value)
        else:
            raise _invalid(f"the value of {key!r} must be a string.")
        if len(text) > MAX_VALUE_LENGTH:
            raise _invalid(f"values are at most {MAX_VALUE_LENGTH} characters (key {key!r}).")
        if _unstorable(key) or _unstorable(text):
            raise _invalid("keys and values cannot contain NUL or unpaired surrogate characters.")
        cleaned[key] = text
    return cleaned


def merge(current: Mapping[str, str] | None, change) -> dict[str, str]:
    """``current`` with ``change`` applied; the result must still hold at most 50 keys."""
    change = clean(change)
    if change is UNSET_ALL:
        return {}
    merged = dict(current or {})
    for key, value in change.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_KEYS:
        raise _invalid(f"at most {MAX_KEYS} keys.")
    return merged


def replace(current: Mapping[str, str] | None, new: Mapping[str, str] | None) -> dict:
    """The change that turns ``current`` into exactly ``new`` (the dashboard edits the whole map)."""
    if not isinstance(new, Mapping):
        return new  # let clean() explain what is wrong
    return {**dict.fromkeys(current or {}, ""), **new}
