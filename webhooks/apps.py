from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Inbound Stripe events and outbound merchant webhooks."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from kassa import crypto
        from kassa.api.views import represent

        from .api.serializers import EndpointOut
        from .models import WebhookEndpoint
        from .services import outbox

        outbox.register(WebhookEndpoint, lambda obj: represent(EndpointOut, obj, {"expand": set(), "view": None}))
        crypto.encrypted_fields(WebhookEndpoint, "secret_ciphertext", "previous_secret_ciphertext")
