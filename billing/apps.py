from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        # Events carry each object as the API shows it: the outbox renders with the API's serializers.
        from kassa.api.views import represent
        from webhooks.services import outbox

        from . import models
        from .api import checkout_serializers, payments_serializers, serializers

        shapes = {
            models.Product: serializers.ProductOut,
            models.Price: serializers.PriceOut,
            models.Customer: serializers.CustomerOut,
            models.PaymentLink: checkout_serializers.PaymentLinkOut,
            models.CheckoutSession: checkout_serializers.CheckoutSessionOut,
            models.PaymentIntent: payments_serializers.PaymentIntentOut,
            models.Refund: payments_serializers.RefundOut,
        }
        for model, out in shapes.items():
            outbox.register(model, lambda obj, out=out: represent(out, obj, {"expand": set(), "view": None}))
        outbox.register("charge", payments_serializers.charge_out)
