"""What /v1/docs/ says about payment links and checkout sessions: each operation's text and real examples.

Answers of a real Kassa with readable ids (see billing/catalogue/api/docs.py).
``locale`` is in the example objects already: another change adds it to both
objects, and an example may carry a field the schema does not list yet.
"""

from kassa.api.schema import SAMPLE_BASE_URL, Doc

from ...catalogue.api.docs import CREATED, PRICE, PRICE_ID

PAYMENT_LINK_ID = "plink_5RbT8mKx2QcN7vLw4YpH9sZa"
SESSION_ID = "cs_test_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0"
LINE_ITEM_ID = "li_8NcR4tLw2KmX7vQb9YpH3sZe"

TEA_PRICE_DATA = {"currency": "usd", "unit_amount": 1999, "product_data": {"name": "Green tea"}}

PAYMENT_LINK = {
    "id": PAYMENT_LINK_ID,
    "object": "payment_link",
    "active": True,
    "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": None}},
    "allow_promotion_codes": False,
    "application": None,
    "application_fee_amount": None,
    "application_fee_percent": None,
    "automatic_tax": {"enabled": False, "liability": None},
    "billing_address_collection": "auto",
    "consent_collection": None,
    "created": CREATED,
    "currency": "usd",
    "custom_fields": [],
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer_creation": "always",
    "email_collection": True,
    "inactive_message": None,
    "invoice_creation": None,
    "livemode": False,
    "locale": "auto",
    "metadata": {},
    "on_behalf_of": None,
    "payment_intent_data": None,
    "payment_method_collection": "always",
    "payment_method_types": ["card"],
    "phone_number_collection": {"enabled": False},
    "restrictions": None,
    "shipping_address_collection": None,
    "shipping_options": [],
    "submit_type": "auto",
    "subscription_data": None,
    "tax_id_collection": {"enabled": False, "required": "never"},
    "transfer_data": None,
    "url": f"{SAMPLE_BASE_URL}/pay/test_EXAMPLEpageAddress0",
}

LINE_ITEM = {
    "id": LINE_ITEM_ID,
    "object": "item",
    "amount_discount": 0,
    "amount_subtotal": 3998,
    "amount_tax": 0,
    "amount_total": 3998,
    "adjustable_quantity": None,
    "currency": "usd",
    "description": "Green tea",
    "price": PRICE,
    "quantity": 2,
}

CHECKOUT_SESSION = {
    "id": SESSION_ID,
    "object": "checkout.session",
    "after_expiration": None,
    "allow_promotion_codes": None,
    "amount_subtotal": 1999,
    "amount_total": 1999,
    "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
    "billing_address_collection": "auto",
    "cancel_url": "https://shop.example/cart",
    "client_reference_id": None,
    "client_secret": None,
    "consent": None,
    "consent_collection": None,
    "created": CREATED,
    "currency": "usd",
    "custom_fields": [],
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer": None,
    "customer_creation": "if_required",
    "customer_details": None,
    "customer_email": None,
    "discounts": [],
    "email_collection": True,
    "expires_at": CREATED + 86400,
    "invoice": None,
    "invoice_creation": None,
    "livemode": False,
    "locale": "auto",
    "metadata": {},
    "mode": "payment",
    "payment_intent": None,
    "payment_link": None,
    "payment_method_collection": "always",
    "payment_method_options": {},
    "payment_method_types": ["card"],
    "payment_status": "unpaid",
    "phone_number_collection": {"enabled": False},
    "recovered_from": None,
    "setup_intent": None,
    "shipping_address_collection": None,
    "shipping_cost": None,
    "shipping_options": [],
    "status": "open",
    "submit_type": None,
    "subscription": None,
    "success_url": "https://shop.example/success?session_id={CHECKOUT_SESSION_ID}",
    "tax_id_collection": None,
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    "ui_mode": "hosted",
    "url": f"{SAMPLE_BASE_URL}/pay/session/{SESSION_ID}",
}

# --- payment links -----------------------------------------------------------------------

PAYMENT_LINKS_LIST = Doc(
    tag="Payment Links",
    summary="List all payment links",
    description="Your payment links, newest first; `active=true` leaves out the deactivated ones.",
    response=PAYMENT_LINK,
    query={"limit": 3, "active": True},
)
PAYMENT_LINKS_CREATE = Doc(
    tag="Payment Links",
    summary="Create a payment link",
    description="Makes a shareable URL (`url`) to a hosted payment page that sells `line_items`: share it by "
    "email, in a chat or behind a button, no code needed. Each line is an existing `price`, or `price_data` "
    "to make a one-time price (and its product) on the spot; all lines share one currency. Every payer who "
    "opens the URL gets a checkout session of their own, and `checkout.session.completed` tells you who paid. "
    "With `payment_intent_data[setup_future_usage]` the card each payer pays with stays saved on their "
    "customer (`payment_method.attached`) for later charges; otherwise it pays that payment only.",
    requests=(
        ("Sell two teas at a new price", {"line_items": [{"price_data": TEA_PRICE_DATA, "quantity": 2}]}),
        ("Sell an existing price", {"line_items": [{"price": PRICE_ID, "quantity": 2}]}),
        (
            "Keep the payer's card for later charges",
            {
                "line_items": [{"price": PRICE_ID, "quantity": 1}],
                "payment_intent_data": {"setup_future_usage": "off_session"},
            },
        ),
    ),
    response=PAYMENT_LINK,
)
PAYMENT_LINKS_RETRIEVE = Doc(
    tag="Payment Links",
    summary="Retrieve a payment link",
    description="The payment link with this id; its line items are at `/v1/payment_links/{id}/line_items`.",
    response=PAYMENT_LINK,
    path_id=PAYMENT_LINK_ID,
)
PAYMENT_LINKS_UPDATE = Doc(
    tag="Payment Links",
    summary="Update a payment link",
    description="Changes what happens after paying, what the page asks for, or `active`: a deactivated link's "
    "page tells payers it is no longer available. Its line items cannot change: make a new link.",
    requests=(
        (
            "Redirect to your site after paying",
            {"after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/thanks"}}},
        ),
    ),
    response={
        **PAYMENT_LINK,
        "after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/thanks"}},
    },
    path_id=PAYMENT_LINK_ID,
)
PAYMENT_LINKS_LINE_ITEMS = Doc(
    tag="Payment Links",
    summary="Retrieve a payment link's line items",
    description="What the link sells, in its order, with the amounts the next payer will be charged. "
    "`expand[]=data.price.product` answers each price's product in full.",
    response=LINE_ITEM,
    path_id=PAYMENT_LINK_ID,
)

# --- checkout sessions -------------------------------------------------------------------

CHECKOUT_SESSIONS_LIST = Doc(
    tag="Checkout Sessions",
    summary="List all checkout sessions",
    description="Your checkout sessions, newest first; filter by `status` (`open`, `complete`, `expired`), "
    "`customer`, `payment_intent` or `payment_link`.",
    response=CHECKOUT_SESSION,
    query={"limit": 3, "status": "complete"},
)
CHECKOUT_SESSIONS_CREATE = Doc(
    tag="Checkout Sessions",
    summary="Create a checkout session",
    description="Makes a hosted payment page for one payer: redirect them to the answer's `url`. When they have "
    "paid, Kassa sends them to `success_url` and you get `checkout.session.completed` (or retrieve the "
    "session: `payment_status` is `paid`). The session expires after 24 hours, or at `expires_at`. "
    "\n\n`mode=setup` saves a card instead, charging nothing: no `line_items` (and `currency` is optional); the "
    "page asks for a card with a *Save card* button and saves it on the `customer` given, or on the payer's "
    "customer found or made by their email. The session is then `complete` with `payment_status` "
    "`no_payment_required`, and you get `payment_method.attached` and `checkout.session.completed`. "
    "`setup_intent` stays null: Kassa has no SetupIntents; the card is the customer's newest "
    "(`GET /v1/payment_methods?customer=…`), ready for `payment_intents.create(…, confirm=true, "
    "off_session=true)`. In payment mode, `payment_intent_data[setup_future_usage]` keeps the card the payer "
    "pays with on their customer once the payment succeeds; without it the card pays that payment only."
    "\n\nFrom a browser, a publishable key may create a session from a payment link, with `payment_link` "
    "and nothing else (a Kassa extension: the link's line items and settings apply).",
    requests=(
        (
            "Sell a tea",
            {
                "mode": "payment",
                "line_items": [{"price_data": TEA_PRICE_DATA, "quantity": 1}],
                "success_url": "https://shop.example/success?session_id={CHECKOUT_SESSION_ID}",
                "cancel_url": "https://shop.example/cart",
            },
        ),
        ("From a payment link", {"payment_link": PAYMENT_LINK_ID}),
        (
            "Save a card for later charges (setup mode)",
            {
                "mode": "setup",
                "customer_email": "ann@example.com",
                "customer_creation": "always",
                "success_url": "https://shop.example/card-saved",
            },
        ),
        (
            "Sell a tea and keep the card",
            {
                "mode": "payment",
                "line_items": [{"price_data": TEA_PRICE_DATA, "quantity": 1}],
                "payment_intent_data": {"setup_future_usage": "off_session"},
                "success_url": "https://shop.example/success?session_id={CHECKOUT_SESSION_ID}",
            },
        ),
    ),
    response=CHECKOUT_SESSION,
)
CHECKOUT_SESSIONS_RETRIEVE = Doc(
    tag="Checkout Sessions",
    summary="Retrieve a checkout session",
    description="The session as it stands: `status` `complete` and `payment_status` `paid` once the payer paid. "
    "`expand[]` can name `customer`, `payment_intent` and `payment_link`.",
    response=CHECKOUT_SESSION,
    path_id=SESSION_ID,
)
CHECKOUT_SESSIONS_EXPIRE = Doc(
    tag="Checkout Sessions",
    summary="Expire a checkout session",
    description="Closes an open session at once, so that its page can no longer be paid (the cart changed, the "
    "order was canceled). A session the payer already paid cannot be expired.",
    response={**CHECKOUT_SESSION, "status": "expired", "url": None, "expires_at": CREATED + 600},
    path_id=SESSION_ID,
)
CHECKOUT_SESSIONS_LINE_ITEMS = Doc(
    tag="Checkout Sessions",
    summary="Retrieve a checkout session's line items",
    description="What the session sells, with the amounts fixed when it was made. "
    "`expand[]=data.price.product` answers each price's product in full.",
    response={**LINE_ITEM, "amount_subtotal": 1999, "amount_total": 1999, "quantity": 1},
    path_id=SESSION_ID,
)
