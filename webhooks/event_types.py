"""The event types Kassa sends; an endpoint may listen for any of them, or ``*`` for all.

Names and meanings as at Stripe (https://docs.stripe.com/api/events/types).
"""

EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.expired",
    "payment_intent.created",
    "payment_intent.requires_action",
    "payment_intent.processing",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "payment_link.created",
    "payment_link.updated",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "payment_method.attached",
    "payment_method.detached",
    "product.created",
    "product.updated",
    "product.deleted",
    "price.created",
    "price.updated",
    "price.deleted",
    "tax_rate.created",
    "tax_rate.updated",
)

#: Sent only by "Send test event" in the dashboard, to one endpoint, whatever it listens for.
TEST_EVENT_TYPE = "webhook_endpoint.test"
