"""What /v1/docs/ says about webhook endpoints and events: each operation's text and real examples.

Answers of a real Kassa with readable ids. (webhooks/ sits below billing/, so the
customer in the event example is written out here rather than imported.)
"""

from kassa.api.schema import Doc

CREATED = 1764504000  # 2025-11-30 12:00 UTC
ENDPOINT_ID = "we_8QcN2vLx7RbT4mKw9YpH3sZd"
EVENT_ID = "evt_1RbT8mKx2QcN7vLw4YpH9sZb"

ENDPOINT = {
    "id": ENDPOINT_ID,
    "object": "webhook_endpoint",
    "api_version": None,
    "application": None,
    "created": CREATED,
    "description": "Order fulfilment",
    "enabled_events": ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"],
    "livemode": False,
    "metadata": {},
    "status": "enabled",
    "url": "https://shop.example/webhooks/kassa",
}

EVENT = {
    "id": EVENT_ID,
    "object": "event",
    "api_version": "2026-11-01.kassa",
    "created": CREATED,
    "data": {
        "object": {
            "id": "cus_9TkR2mLx7QbW4nVc8ZpH1sYe",
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": CREATED,
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": "jenny.rosen@example.com",
            "invoice_prefix": None,
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {"crm_id": "4711"},
            "name": "Jenny Rosen",
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
    },
    "livemode": False,
    "pending_webhooks": 0,
    "request": {"id": "req_fCkUvkzhGp6SdR", "idempotency_key": "5f0c2e6a-8d1b-4c3e-9a7f-2b6d4e8c1a3f"},
    "type": "customer.created",
}

# --- webhook endpoints ---------------------------------------------------------------------

WEBHOOK_ENDPOINTS_LIST = Doc(
    tag="Webhook Endpoints",
    summary="List all webhook endpoints",
    description="Your webhook endpoints in this mode, newest first.",
    response=ENDPOINT,
    query={"limit": 3},
)
WEBHOOK_ENDPOINTS_CREATE = Doc(
    tag="Webhook Endpoints",
    summary="Create a webhook endpoint",
    description='Registers a URL of your server to receive the events named in `enabled_events` (`["*"]` for '
    "all) as signed POSTs. The answer, and only this one, includes the endpoint's signing `secret` "
    "(`whsec_…`): keep it to verify each delivery's `Stripe-Signature` header with "
    "`stripe.Webhook.construct_event`. A failed delivery is retried with backoff for about three days (a few "
    "hours in test mode). Live-mode endpoints must use https, and no endpoint may point at a private address.",
    requests=(
        (
            "Listen for payments and refunds",
            {
                "url": "https://shop.example/webhooks/kassa",
                "enabled_events": ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"],
                "description": "Order fulfilment",
            },
        ),
    ),
    response={**ENDPOINT, "secret": "whsec_..."},
)
WEBHOOK_ENDPOINTS_RETRIEVE = Doc(
    tag="Webhook Endpoints",
    summary="Retrieve a webhook endpoint",
    description="The webhook endpoint with this id (without its secret, which only creation answers).",
    response=ENDPOINT,
    path_id=ENDPOINT_ID,
)
WEBHOOK_ENDPOINTS_UPDATE = Doc(
    tag="Webhook Endpoints",
    summary="Update a webhook endpoint",
    description="Changes the URL, the events sent, the description or metadata; `disabled=true` pauses "
    "deliveries and `disabled=false` resumes them.",
    requests=(("Send every event", {"enabled_events": ["*"]}),),
    response={**ENDPOINT, "enabled_events": ["*"]},
    path_id=ENDPOINT_ID,
)
WEBHOOK_ENDPOINTS_DELETE = Doc(
    tag="Webhook Endpoints",
    summary="Delete a webhook endpoint",
    description="Stops sending events to this URL for good, pending deliveries included.",
    response={"id": ENDPOINT_ID, "object": "webhook_endpoint", "deleted": True},
    path_id=ENDPOINT_ID,
)

# --- events --------------------------------------------------------------------------------

EVENTS_LIST = Doc(
    tag="Events",
    summary="List all events",
    description="What happened in this mode, newest first: filter by `type` (`payment_intent.*` matches a "
    "family), by `types`, or with `delivery_success=false` find those your endpoints did not take.",
    response=EVENT,
    query={"limit": 3, "type": "customer.created"},
)
EVENTS_RETRIEVE = Doc(
    tag="Events",
    summary="Retrieve an event",
    description="The event with this id, as it was sent: `data.object` is the object as it was when the event "
    "happened.",
    response=EVENT,
    path_id=EVENT_ID,
)
EVENTS_RETRY = Doc(
    tag="Events",
    summary="Resend an event",
    description="Sends the event again to one of your webhook endpoints, now: after fixing a receiver that "
    "failed. This is the call the Stripe CLI's `events resend` makes; stripe-python has no typed method "
    "for it (use `client.raw_request`).",
    requests=(("Resend to an endpoint", {"webhook_endpoint": ENDPOINT_ID}),),
    response=EVENT,
    path_id=EVENT_ID,
)
