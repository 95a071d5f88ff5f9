from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = _("Account")

    def ready(self) -> None:
        from kassa import crypto

        from . import checks  # noqa: F401  (registers system checks)
        from .models import ProcessorCredential

        crypto.encrypted_fields(ProcessorCredential, "secret_key_ciphertext", "webhook_secret_ciphertext")


class KassaAdminConfig(admin_apps.AdminConfig):
    """Django's admin app with the dashboard's own site (merchants/admin_site.py) as ``admin.site``.

    Named in INSTALLED_APPS in place of ``django.contrib.admin``; not this module's default config.
    """

    default = False
    default_site = "merchants.admin_site.KassaAdminSite"
