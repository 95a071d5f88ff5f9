"""System checks that catch misconfiguration at ``manage.py check`` (dj-stripe's habit)."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def encryption_keys(app_configs, **kwargs):
    problems = []
    for index, key in enumerate(settings.KASSA_ENCRYPTION_KEYS):
        try:
            Fernet(key)
        except ValueError:
            problems.append(
                Error(
                    f"KASSA_ENCRYPTION_KEYS entry {index + 1} is not a Fernet key.",
                    hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'",
                    id="kassa.E001",
                )
            )
    if not settings.DEBUG and settings.PUBLIC_DEVELOPMENT_FERNET_KEY in settings.KASSA_ENCRYPTION_KEYS:
        problems.append(Error("KASSA_ENCRYPTION_KEYS holds the public development key.", id="kassa.E002"))
    return problems


@register(deploy=True)
def stripe_target(app_configs, **kwargs):
    if settings.STRIPE_API_BASE:
        return [
            Warning(
                f"STRIPE_API_BASE is set ({settings.STRIPE_API_BASE}): payments go there, not to Stripe.",
                id="kassa.W001",
            )
        ]
    return []


@register(deploy=True)
def webhook_loopback(app_configs, **kwargs):
    if settings.KASSA_WEBHOOKS_ALLOW_LOOPBACK and not settings.DEBUG:
        return [
            Warning(
                "KASSA_WEBHOOKS_ALLOW_LOOPBACK is on: test-mode webhook endpoints may call this machine's loopback.",
                hint="Turn it off in production (it defaults to off when DEBUG is off).",
                id="kassa.W002",
            )
        ]
    return []


@register(deploy=True)
def platform_two_factor(app_configs, **kwargs):
    if not settings.KASSA_REQUIRE_2FA_PLATFORM and not settings.DEBUG:
        return [
            Warning(
                "KASSA_REQUIRE_2FA_PLATFORM is off: platform staff can log in to the dashboard with a password alone.",
                hint="Unset it (it defaults to on when DEBUG is off).",
                id="kassa.W003",
            )
        ]
    return []
