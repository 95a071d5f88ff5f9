"""Encryption at rest for processor secrets (MultiFernet over KASSA_ENCRYPTION_KEYS).

The first key encrypts; every key decrypts, so keys rotate by putting a new
one first and running ``manage.py rotate_encryption_keys``. Each app registers
its encrypted columns here (``encrypted_fields``) at start-up, so rotation
reaches every secret without knowing which apps hold them.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "KASSA_ENCRYPTION_KEYS must hold Fernet keys (urlsafe base64 of 32 bytes), comma-separated."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.KASSA_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    return fernet().decrypt(ciphertext.encode()).decode()


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the first key; raises InvalidToken if no key opens it."""
    return fernet().rotate(ciphertext.encode()).decode()


#: model -> the names of its columns holding ``encrypt``'s output (an empty value means none stored)
ENCRYPTED_FIELDS: dict[type, tuple[str, ...]] = {}


def encrypted_fields(model: type, *names: str) -> None:
    """Called from an app's ``ready()``: these columns of ``model`` hold ciphertext to rotate."""
    ENCRYPTED_FIELDS[model] = names


__all__ = ["ENCRYPTED_FIELDS", "InvalidToken", "decrypt", "encrypt", "encrypted_fields", "rotate"]
