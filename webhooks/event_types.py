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
    "invoice.created",
    "invoice.finalized",
    "invoice.sent",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.updated",
    "invoice.deleted",
    "invoiceitem.created",
    "invoiceitem.updated",
    "invoiceitem.deleted",
)

#: Sent only by "Send test event" in the dashboard, to one endpoint, whatever it listens for.
TEST_EVENT_TYPE = "webhook_endpoint.test"
