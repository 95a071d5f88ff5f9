"""Public ids: a type prefix plus random base62, never the database id."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_string(length)}"
