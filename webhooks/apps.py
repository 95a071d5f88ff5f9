from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Inbound Stripe events and outbound merchant webhooks (built in the webhooks issue)."""

    name = "webhooks"
    verbose_name = "Webhooks"
