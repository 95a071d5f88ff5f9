"""Two-factor login for the dashboard: one authenticator app (TOTP) and backup codes, per user.

django-otp keeps the devices and does the cryptography, replay protection
(a code is good once) and throttling (each failure doubles the wait before
the device accepts another try). This module holds Kassa's rules around it:
who must use two-factor, and how a device is set up, used and removed.

A user's authenticator is a ``TOTPDevice``; it counts only once ``confirmed``
(set after the first correct code, so a half-finished set-up never locks
anyone out). The backup codes are one ``StaticDevice`` with ten single-use
codes, made when the authenticator is confirmed and shown once.
"""

import re
from base64 import b32encode
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kassa.errors import InvalidRequest, PermissionDenied, RateLimited

from .models import Membership, Merchant

BACKUP_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_NAME = "Backup codes"
_TOTP_SHAPE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class PendingAuthenticator:
    device: TOTPDevice
    secret: str  # base32, as authenticator apps take it when typed in
    config_url: str  # otpauth://… for the QR code


def two_factor_enabled(*, user) -> bool:
    return user_has_device(user, confirmed=True)


def two_factor_required(*, user) -> bool:
    """Platform staff when KASSA_REQUIRE_2FA_PLATFORM is on; members of a merchant that requires it."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return settings.KASSA_REQUIRE_2FA_PLATFORM
    return Membership.objects.filter(user=user, merchant__require_two_factor=True).exists()


def two_factor_start(*, user) -> PendingAuthenticator:
    """The unconfirmed authenticator to scan: the one already begun, or a new one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return PendingAuthenticator(
        device=device, secret=b32encode(device.bin_key).decode().rstrip("="), config_url=device.config_url
    )


@transaction.atomic
def two_factor_confirm(*, user, token: str) -> tuple[TOTPDevice, list[str]]:
    """Switch two-factor on with the first code from the app; returns the device and the new backup codes."""
    if two_factor_enabled(user=user):
        raise InvalidRequest(gettext("Two-factor authentication is already on."), param="token")
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        raise InvalidRequest(gettext("Start the set-up again: scan the new QR code."), param="token")
    if not device.verify_token(token.strip().replace(" ", "")):
        raise InvalidRequest(
            gettext("That code is not right. Check the time on your phone and try the newest code."), param="token"
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return device, _new_backup_codes(user=user)


@transaction.atomic
def two_factor_backup_codes_renew(*, user, token: str) -> list[str]:
    """Ten new backup codes (the old ones stop working), after a current code."""
    if two_factor_verify(user=user, token=token) is None:
        raise InvalidRequest(gettext("That code is not right."), param="token")
    return _new_backup_codes(user=user)


def _new_backup_codes(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def two_factor_verify(*, user, token: str):
    """The device that accepts ``token`` (six digits: the app; otherwise a backup code, used up), or None.

    Only the device the code's shape points to is tried, so a typo in an app
    code does not throttle the backup codes and the other way round. While
    django-otp's throttle holds the device (1 s after one wrong code, 2 s
    after two, doubling), every code is refused with RateLimited.
    """
    token = (token or "").strip().replace(" ", "").lower()
    if not token:
        return None
    model = TOTPDevice if _TOTP_SHAPE.match(token) else StaticDevice
    with transaction.atomic():
        for device in model.objects.select_for_update().filter(user=user, confirmed=True):
            allowed, _ = device.verify_is_allowed()
            if not allowed:
                raise RateLimited(gettext("Too many wrong codes: wait a few seconds and try again."), param="token")
            if device.verify_token(token):
                return device
    return None


def two_factor_backup_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def two_factor_remove(*, user, token: str) -> None:
    """Switch two-factor off, after a current code, unless the user must use it."""
    if two_factor_required(user=user):
        raise PermissionDenied(
            gettext("Two-factor authentication is required for your account; it cannot be switched off."), param="token"
        )
    if two_factor_verify(user=user, token=token) is None:
        raise InvalidRequest(gettext("That code is not right."), param="token")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


@transaction.atomic
def merchant_two_factor_set(*, merchant: Merchant, required: bool, acting_role: str | None) -> Merchant:
    """Only the merchant's owner (or platform staff, acting_role=None) decides whether members must use two-factor."""
    if acting_role is not None and acting_role != Membership.Role.OWNER:
        raise PermissionDenied("Only an owner can change the two-factor requirement.", param="require_two_factor")
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    merchant.require_two_factor = required
    merchant.save(update_fields=["require_two_factor"])
    return merchant
