"""Writes for merchants, members, API keys and processor credentials.

Every write the dashboard or a command makes goes through here. Secrets are
returned once, from the function that made them, and never stored in a form
that can be shown again.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kassa import crypto, gateway, mail, money
from kassa.errors import InvalidRequest, PermissionDenied
from kassa.ids import random_string

from . import emails
from .models import APIKey, Membership, Merchant, ProcessorCredential

User = get_user_model()

RESOURCES = (
    "products",
    "prices",
    "customers",
    "payment_methods",
    "payment_links",
    "checkout_sessions",
    "payment_intents",
    "refunds",
    "tax_rates",
    "invoices",
    "invoiceitems",
    "subscriptions",
    "test_clocks",
    "billing_portal",
    "webhook_endpoints",
    "events",
)
ACCESS_LEVELS = ("none", "read", "write")


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """A key just made: the only moment its full secret exists outside the client."""

    api_key: APIKey
    secret: str


@dataclass(frozen=True)
class MerchantCreated:
    merchant: Merchant
    owner: object
    owner_password: str | None
    secret_key: IssuedKey
    publishable_key: IssuedKey


def _validate_permissions(permissions: dict[str, str]) -> dict[str, str]:
    cleaned = {}
    for resource, level in permissions.items():
        if resource not in RESOURCES:
            raise InvalidRequest(f"Unknown resource {resource!r} in permissions.", param="permissions")
        if level not in ACCESS_LEVELS:
            raise InvalidRequest(f"Permission for {resource} must be one of none, read, write.", param="permissions")
        if level != "none":
            cleaned[resource] = level
    return cleaned


@transaction.atomic
def api_key_create(
    *,
    merchant: Merchant,
    livemode: bool,
    kind: str,
    name: str = "",
    permissions: dict[str, str] | None = None,
    rolled_from: APIKey | None = None,
) -> IssuedKey:
    if kind not in APIKey.Kind.values:
        raise InvalidRequest(f"Unknown key type {kind!r}.", param="kind")
    if kind != APIKey.Kind.RESTRICTED and permissions:
        raise InvalidRequest("Only restricted keys carry permissions.", param="permissions")
    prefix = f"{APIKey.PREFIXES[kind]}_{'live' if livemode else 'test'}_"
    raw = prefix + random_string(40)
    key = APIKey.objects.create(
        merchant=merchant,
        livemode=livemode,
        kind=kind,
        name=name,
        secret_hash=hash_key(raw),
        prefix=prefix,
        last4=raw[-4:],
        publishable_token=raw if kind == APIKey.Kind.PUBLISHABLE else "",
        permissions=_validate_permissions(permissions or {}) if kind == APIKey.Kind.RESTRICTED else {},
        rolled_from=rolled_from,
    )
    return IssuedKey(api_key=key, secret=raw)


@transaction.atomic
def api_key_roll(*, api_key: APIKey, expires_in: timedelta) -> IssuedKey:
    """A new key with the same powers; the old one works until ``now + expires_in``."""
    key = APIKey.objects.select_for_update().get(pk=api_key.pk)
    if not key.usable:
        raise InvalidRequest("Only an active key can be rolled.")
    if hasattr(key, "rolled_to"):
        raise InvalidRequest("This key was already rolled.")
    if expires_in < timedelta(0) or expires_in > timedelta(days=settings.KASSA_KEY_ROLL_MAX_DAYS):
        raise InvalidRequest(
            f"The old key may keep working for at most {settings.KASSA_KEY_ROLL_MAX_DAYS} days.",
            param="expires_in",
        )
    key.expires_at = timezone.now() + expires_in
    key.save(update_fields=["expires_at"])
    return api_key_create(
        merchant=key.merchant,
        livemode=key.livemode,
        kind=key.kind,
        name=key.name,
        permissions=key.permissions,
        rolled_from=key,
    )


@transaction.atomic
def api_key_rename(*, api_key: APIKey, name: str) -> APIKey:
    APIKey.objects.filter(pk=api_key.pk).update(name=name)
    api_key.name = name
    return api_key


@transaction.atomic
def api_key_permissions_set(*, api_key: APIKey, permissions: dict[str, str], name: str | None = None) -> APIKey:
    """A restricted key's new permissions (and ``name``, when given: the key's page saves both, together), as Stripe
    lets a restricted key be edited: they apply from the key's next request (every request reads its key). Its
    idempotency records stay its own: every check runs before one is looked up, so a narrowed key never replays an
    answer it may no longer be given. A key rolled from it keeps the permissions it was rolled with (it is another
    key); a revoked or expired key is not changed."""
    key = APIKey.objects.select_for_update().get(pk=api_key.pk)
    if key.kind != APIKey.Kind.RESTRICTED:
        raise InvalidRequest("Only restricted keys carry permissions.", param="permissions")
    if not key.usable:
        raise InvalidRequest("This key no longer works: its permissions cannot be changed.", param="permissions")
    key.permissions = _validate_permissions(permissions)
    key.name = key.name if name is None else name
    key.save(update_fields=["permissions", "name"])
    return key


@transaction.atomic
def api_key_revoke(*, api_key: APIKey) -> APIKey:
    """Stops the key at once."""
    key = APIKey.objects.select_for_update().get(pk=api_key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, api_key: APIKey) -> None:
    """Record use at most once a minute, so authentication stays read-only on the hot path."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


@transaction.atomic
def merchant_create(
    *,
    name: str,
    owner_email: str,
    owner_password: str | None = None,
    support_email: str = "",
    default_currency: str = "usd",
    invite: bool = False,
    language: str = "en",
) -> MerchantCreated:
    """A merchant, its owner (a new or existing user) and a pair of test keys.

    ``invite``: email the owner an invitation (with a link to set a password if they have none) once this
    commits, in ``language`` (the creator's), which also becomes the owner's email language. The owner is
    told of payments received and failed; they may switch either off.
    """
    name = name.strip()
    if not name:
        raise InvalidRequest("A merchant needs a name.", param="name")
    default_currency = default_currency.lower()
    if not money.is_supported(default_currency):
        raise InvalidRequest(f"Invalid currency: {default_currency}.", param="default_currency")
    owner = _user_for_email(owner_email, param="owner_email")
    if owner_password and not owner.has_usable_password():
        owner.set_password(owner_password)
        owner.save(update_fields=["password"])
    merchant = Merchant.objects.create(
        name=name, support_email=support_email or owner.email, default_currency=default_currency
    )
    membership = Membership.objects.create(
        user=owner,
        merchant=merchant,
        role=Membership.Role.OWNER,
        notify_payments=True,
        notify_failures=True,
        language=mail.language_or_default(language),
    )
    if invite:
        emails.invitation_queue(membership=membership)
    secret = api_key_create(merchant=merchant, livemode=False, kind=APIKey.Kind.SECRET, name="Default secret key")
    publishable = api_key_create(
        merchant=merchant, livemode=False, kind=APIKey.Kind.PUBLISHABLE, name="Default publishable key"
    )
    return MerchantCreated(
        merchant=merchant,
        owner=owner,
        owner_password=owner_password,
        secret_key=secret,
        publishable_key=publishable,
    )


@transaction.atomic
def merchant_update(*, merchant: Merchant, **changes) -> Merchant:
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if "default_currency" in changes:
        changes["default_currency"] = changes["default_currency"].lower()
        if not money.is_supported(changes["default_currency"]):
            raise InvalidRequest(f"Invalid currency: {changes['default_currency']}.", param="default_currency")
    if "status" in changes and changes["status"] not in Merchant.Status.values:
        raise InvalidRequest("Unknown status.", param="status")
    allowed = {"name", "support_email", "default_currency", "status", "receipts_enabled"}
    for field, value in changes.items():
        if field not in allowed:
            raise InvalidRequest(f"{field} cannot be changed.", param=field)
        setattr(merchant, field, value)
    if changes:
        merchant.save(update_fields=list(changes))
    return merchant


def _check_owner_rule(*, acting_role: str | None, old_role: str | None, new_role: str | None) -> None:
    """Only owners (or platform staff, acting_role=None) give, change or take away the owner role."""
    if acting_role is None or acting_role == Membership.Role.OWNER:
        return
    if Membership.Role.OWNER in (old_role, new_role):
        raise PermissionDenied("Only an owner can give, change or remove the owner role.", param="role")


def _user_for_email(email: str, *, param: str = "email"):
    """The one user with this email (or user name), made if there is none; staff, so they can log in."""
    email = User.objects.normalize_email(email.strip())
    if "@" not in email:
        raise InvalidRequest("A valid email address is needed.", param=param)
    matches = list(User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))[:2])
    if len(matches) > 1:
        raise InvalidRequest(
            "More than one user has this email address; a platform admin must sort that out first.", param=param
        )
    if matches:
        user = matches[0]
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        return user
    user = User(username=email, email=email, is_staff=True)
    user.set_unusable_password()  # they set one through the password-reset link
    user.save()
    return user


@transaction.atomic
def membership_add(
    *,
    merchant: Merchant,
    email: str,
    role: str,
    acting_role: str | None = None,
    invite: bool = False,
    language: str = "en",
) -> Membership:
    """Add a person (a user is made if new) to the merchant, or change their role if already in.

    ``invite``: a new member gets an invitation once this commits, in ``language`` (the inviter's), which
    becomes their email language; notices about payments stay off until they or a manager switch them on.
    """
    if role not in Membership.Role.values:
        raise InvalidRequest(f"Unknown role {role!r}.", param="role")
    user = _user_for_email(email)
    existing = Membership.objects.select_for_update().filter(user=user, merchant=merchant).first()
    if existing is not None:
        return membership_update(membership=existing, role=role, acting_role=acting_role)
    _check_owner_rule(acting_role=acting_role, old_role=None, new_role=role)
    membership = Membership.objects.create(
        user=user, merchant=merchant, role=role, language=mail.language_or_default(language)
    )
    if invite:
        emails.invitation_queue(membership=membership)
    return membership


@transaction.atomic
def membership_email_settings_set(
    *,
    membership: Membership,
    notify_payments: bool,
    notify_failures: bool,
    language: str,
    notify_daily: bool | None = None,
) -> Membership:
    """Which notices a member gets about this merchant, and in which language (the member or a manager);
    ``notify_daily`` None leaves the daily summary as it is."""
    if language not in mail.LANGUAGES:
        raise InvalidRequest(f"Unknown language {language!r}.", param="language")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership.notify_payments = notify_payments
    membership.notify_failures = notify_failures
    if notify_daily is not None:
        membership.notify_daily = notify_daily
    membership.language = language
    membership.save(update_fields=["notify_payments", "notify_failures", "notify_daily", "language"])
    return membership


@transaction.atomic
def member_language_set(*, user, language: str) -> int:
    """A person chose ``language`` on the dashboard's switch: it becomes their email language at every merchant
    they belong to (the Email notifications page can still set another one per merchant). Returns the count."""
    if language not in mail.LANGUAGES:
        raise InvalidRequest(f"Unknown language {language!r}.", param="language")
    return Membership.objects.filter(user=user).exclude(language=language).update(language=language)


@transaction.atomic
def membership_update(*, membership: Membership, role: str, acting_role: str | None = None) -> Membership:
    if role not in Membership.Role.values:
        raise InvalidRequest(f"Unknown role {role!r}.", param="role")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_owner_rule(acting_role=acting_role, old_role=membership.role, new_role=role)
    membership.role = role
    membership.save(update_fields=["role"])
    _ensure_an_owner(membership.merchant)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, acting_role: str | None = None) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_owner_rule(acting_role=acting_role, old_role=membership.role, new_role=None)
    merchant = membership.merchant
    membership.delete()
    _ensure_an_owner(merchant)


def _ensure_an_owner(merchant: Merchant) -> None:
    if not Membership.objects.filter(merchant=merchant, role=Membership.Role.OWNER).exists():
        raise InvalidRequest("A merchant must keep at least one owner.", param="role")


def _hint(secret: str) -> str:
    """'sk_test_…abcd': enough to recognise a key, never enough to use it."""
    cut = secret.rfind("_") + 1
    return f"{secret[:cut] if cut <= 8 else ''}…{secret[-4:]}"


@transaction.atomic
def processor_credential_set(
    *, merchant: Merchant, livemode: bool, secret_key: str, webhook_secret: str = "", publishable_key: str = ""
) -> ProcessorCredential:
    """Save (or replace) the merchant's Stripe keys for one mode, encrypted.

    A test-mode credential must be a test key and a live one a live key, so
    that test objects can never move real money.
    """
    secret_key = secret_key.strip()
    webhook_secret = webhook_secret.strip()
    mode = "live" if livemode else "test"
    if not (secret_key.startswith((f"sk_{mode}_", f"rk_{mode}_"))):
        raise InvalidRequest(
            f"A {mode}-mode Stripe secret key starts with sk_{mode}_ or rk_{mode}_.", param="secret_key"
        )
    if livemode and settings.KASSA_ENCRYPTION_KEY_IS_DEVELOPMENT:
        raise InvalidRequest(
            "Live Stripe keys are refused while Kassa encrypts with a development key, which anyone on this "
            "machine may read. Set KASSA_ENCRYPTION_KEYS first (see the README's configuration).",
            code="encryption_key_development",
            param="secret_key",
        )
    publishable_key = publishable_key.strip()
    if publishable_key and not publishable_key.startswith(f"pk_{mode}_"):
        raise InvalidRequest(f"A {mode}-mode Stripe publishable key starts with pk_{mode}_.", param="publishable_key")
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        raise InvalidRequest("A Stripe webhook signing secret starts with whsec_.", param="webhook_secret")
    credential, _ = ProcessorCredential.objects.select_for_update().get_or_create(
        merchant=merchant,
        livemode=livemode,
        defaults={"secret_key_ciphertext": "", "secret_key_hint": ""},
    )
    credential.secret_key_ciphertext = crypto.encrypt(secret_key)
    credential.secret_key_hint = _hint(secret_key)
    if publishable_key:
        credential.publishable_key = publishable_key
    if webhook_secret:
        credential.webhook_secret_ciphertext = crypto.encrypt(webhook_secret)
        credential.webhook_secret_hint = _hint(webhook_secret)
    credential.updated = timezone.now()
    credential.last_checked_at = None
    credential.last_check_ok = None
    credential.last_check_message = ""
    credential.save()
    return credential


def processor_credential_check(*, credential: ProcessorCredential) -> ProcessorCredential:
    """Call Stripe with the saved key and record whether it works (no lock held across the call)."""
    ok, message = gateway.check_connection(credential)
    ProcessorCredential.objects.filter(pk=credential.pk).update(
        last_checked_at=timezone.now(), last_check_ok=ok, last_check_message=message[:300]
    )
    credential.refresh_from_db()
    return credential


@transaction.atomic
def encryption_keys_rotate() -> int:
    """Re-encrypt every stored secret of every app (kassa.crypto.ENCRYPTED_FIELDS) with the first key."""
    count = 0
    for model, names in crypto.ENCRYPTED_FIELDS.items():
        for row in model.objects.select_for_update():
            for name in names:
                if getattr(row, name):
                    setattr(row, name, crypto.rotate(getattr(row, name)))
            row.save(update_fields=list(names))
            count += 1
    return count
