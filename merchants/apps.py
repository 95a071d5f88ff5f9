from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Account"

    def ready(self) -> None:
        from kassa import crypto

        from . import checks  # noqa: F401  (registers system checks)
        from .models import ProcessorCredential

        crypto.encrypted_fields(ProcessorCredential, "secret_key_ciphertext", "webhook_secret_ciphertext")
