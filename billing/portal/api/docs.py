"""What /v1/docs/ says about customer portal sessions: the operation's text and a real example.

The example objects are answers of a real Kassa with their ids made readable
(tests/kassa/test_api_docs.py checks each against the schema and sends the
write's default request to a live Kassa).
"""

from kassa.api.schema import SAMPLE_BASE_URL, Doc

from ...catalogue.api.docs import CREATED, CUSTOMER_ID

SESSION = {
    "id": "bps_6QwT3nLc8KxR2mZb9VpY4sHd",
    "object": "billing_portal.session",
    "after_expiration": None,
    "configuration": "bpc_2KdW7xNq4LmT9bRc3VyZ8sPe",
    "created": CREATED,
    "customer": CUSTOMER_ID,
    "customer_account": None,
    "flow": None,
    "livemode": False,
    "locale": None,
    "on_behalf_of": None,
    "return_url": "https://shop.example/account",
    "url": f"{SAMPLE_BASE_URL}/portal/Jq4Xr8LmW2nPz7KbV3sHdYc9TfG5aQeR1uNwC6xZk0B",
}

TAG = "Customer Portal"

PORTAL_SESSIONS_CREATE = Doc(
    tag=TAG,
    summary="Create a customer portal session",
    description="A short-lived `url` to send the customer to at once, where they see their invoices (with "
    "PDFs), update their card (it becomes their default card, as `invoice_settings[default_payment_method]` "
    "would) and edit their email and billing address, as your portal settings allow (Dashboard: Settings, Customer "
    "portal). The `url` opens once, within 5 minutes of its creation; the session then lasts an hour in the "
    "browser that opened it, after which the customer comes back through your site for a new one. "
    "`configuration`, `flow_data` and `on_behalf_of` are not supported yet. Sends "
    "`billing_portal.session.created` (with `url` null).",
    requests=(("A session for a customer", {"customer": CUSTOMER_ID, "return_url": "https://shop.example/account"}),),
    response=SESSION,
)
