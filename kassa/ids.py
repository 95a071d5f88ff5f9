"""Public ids: a type prefix plus random base62, never the database id."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_string(length: int) -> str:
    """``length`` base62 characters from the OS's CSPRNG (one call, not one per character)."""
    # A byte per character (8 bits for the 5.95 each needs): the modulo bias is negligible.
    number = int.from_bytes(secrets.token_bytes(length), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 62)
        chars.append(_ALPHABET[index])
    return "".join(chars)


def public_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_string(length)}"
