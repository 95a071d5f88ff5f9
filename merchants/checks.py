"""System checks that catch misconfiguration at ``manage.py check`` (dj-stripe's habit)."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Warning, register

from kassa import i18n_compile


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


@register(deploy=True)
def translations_compiled(app_configs, **kwargs):
    """A catalog without its .mo (built, never committed) leaves its pages in English without a word."""
    stale = [str(po.relative_to(i18n_compile.ROOT)) for po in i18n_compile.catalogs() if i18n_compile.stale(po)]
    if stale:
        return [
            Warning(
                f"Gettext catalogs not compiled, or changed since: {', '.join(stale)}.",
                hint="Run `make messages` (or python -m kassa.i18n_compile); the Dockerfile does it in the build.",
                id="kassa.W004",
            )
        ]
    return []
