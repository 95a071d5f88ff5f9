"""Reads for merchants and keys."""

import base64

from django.db.models import QuerySet

from kassa.errors import AuthenticationFailed, PermissionDenied

from .models import APIKey, Membership, Merchant
from .services import hash_key


def api_key_from_authorization(header: str) -> APIKey:
    """The usable key named by an ``Authorization`` header (Bearer, or Basic with the key as user name)."""
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            credentials = base64.b64decode(credentials, validate=True).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            raise AuthenticationFailed("Invalid Basic authorization header.") from None
    elif scheme.lower() != "bearer":
        raise AuthenticationFailed("Invalid authorization header. Use 'Authorization: Bearer YOUR_SECRET_KEY'.")
    if not credentials:
        raise AuthenticationFailed("You did not provide an API key. Use 'Authorization: Bearer YOUR_SECRET_KEY'.")
    key = APIKey.objects.select_related("merchant").filter(secret_hash=hash_key(credentials)).first()
    shown = credentials[:8] + "*" * 4 + credentials[-4:] if len(credentials) > 12 else "****"
    if key is None:
        raise AuthenticationFailed(f"Invalid API Key provided: {shown}", code="api_key_invalid")
    if key.status == APIKey.Status.REVOKED:
        raise AuthenticationFailed(f"This API key has been revoked: {shown}", code="api_key_expired")
    if key.status == APIKey.Status.EXPIRED:
        raise AuthenticationFailed(f"This API key has expired: {shown}", code="api_key_expired")
    if key.merchant.status != Merchant.Status.ACTIVE:
        raise PermissionDenied("This merchant account is disabled.", code="account_disabled")
    return key


def memberships_of(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, merchant__status=Merchant.Status.ACTIVE).select_related("merchant")
