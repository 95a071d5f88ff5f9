from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Account"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
