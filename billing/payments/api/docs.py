"""What /v1/docs/ says about PaymentIntents, refunds and saved cards: each operation's text and real examples.

Answers of a real Kassa with readable ids (see billing/catalogue/api/docs.py).
"""

from kassa.api.schema import Doc

from ...catalogue.api.docs import CREATED, CUSTOMER_ID, PAYMENT_METHOD_ID

PAYMENT_INTENT_ID = "pi_6WbN3qRx8LmT2vKc7YpH9sZd"
REFUND_ID = "re_2KmX7vQb9NcR4tLw8YpH3sZe"
CHARGE_ID = "ch_3QbT7mKw9YpZ4s"

PAYMENT_INTENT = {
    "id": PAYMENT_INTENT_ID,
    "object": "payment_intent",
    "amount": 1999,
    "amount_capturable": 0,
    "amount_received": 0,
    "application": None,
    "application_fee_amount": None,
    "automatic_payment_methods": None,
    "canceled_at": None,
    "cancellation_reason": None,
    "capture_method": "automatic",
    "client_secret": f"{PAYMENT_INTENT_ID}_secret_EXAMPLEnotArealSecret0",
    "confirmation_method": "automatic",
    "created": CREATED,
    "currency": "usd",
    "customer": None,
    "description": "Green tea, 100 g",
    "last_payment_error": None,
    "latest_charge": None,
    "livemode": False,
    "metadata": {"order_id": "6735"},
    "next_action": None,
    "on_behalf_of": None,
    "payment_method": None,
    "payment_method_types": ["card"],
    "processing": None,
    "receipt_email": None,
    "review": None,
    "setup_future_usage": None,
    "shipping": None,
    "source": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
    "status": "requires_payment_method",
    "transfer_data": None,
    "transfer_group": None,
}
PAYMENT_INTENT_SUCCEEDED = {
    **PAYMENT_INTENT,
    "amount_received": 1999,
    "customer": CUSTOMER_ID,
    "latest_charge": CHARGE_ID,
    "payment_method": PAYMENT_METHOD_ID,
    "status": "succeeded",
}

PAYMENT_METHOD = {
    "id": PAYMENT_METHOD_ID,
    "object": "payment_method",
    "billing_details": {
        "address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None},
        "email": None,
        "name": "Jenny Rosen",
        "phone": None,
    },
    "card": {"brand": "visa", "display_brand": "visa", "exp_month": 12, "exp_year": 2034, "last4": "4242"},
    "created": CREATED,
    "customer": CUSTOMER_ID,
    "livemode": False,
    "metadata": {},
    "type": "card",
}

REFUND = {
    "id": REFUND_ID,
    "object": "refund",
    "amount": 500,
    "balance_transaction": None,
    "charge": CHARGE_ID,
    "created": CREATED,
    "currency": "usd",
    "description": None,
    "failure_reason": None,
    "livemode": False,
    "metadata": {},
    "next_action": None,
    "payment_intent": PAYMENT_INTENT_ID,
    "pending_reason": None,
    "reason": "requested_by_customer",
    "receipt_number": None,
    "source_transfer_reversal": None,
    "status": "succeeded",
    "transfer_reversal": None,
}

# --- PaymentIntents ----------------------------------------------------------------------

PAYMENT_INTENTS_LIST = Doc(
    tag="Payment Intents",
    summary="List all PaymentIntents",
    description="Your PaymentIntents, newest first; `customer` lists one customer's payments.",
    response=PAYMENT_INTENT_SUCCEEDED,
    query={"limit": 3, "customer": CUSTOMER_ID},
)
PAYMENT_INTENTS_CREATE = Doc(
    tag="Payment Intents",
    summary="Create a PaymentIntent",
    description="Starts a payment of `amount` (in the currency's smallest unit: `1999` is 19.99 USD). Without "
    "`confirm` it waits, in `requires_payment_method`, for a card: confirm it later. With a customer's saved "
    "card and `confirm=true` it charges at once: the answer is `succeeded`, or `requires_action` when the "
    "bank asks for 3-D Secure (finish it with Stripe.js and `next_action`), and a refused card answers 402 "
    "`card_error` with the PaymentIntent in the error. With `off_session=true` (the payer is not there: a card "
    "they saved earlier through a setup-mode checkout session or `payment_intent_data[setup_future_usage]`) a "
    "card that asks for 3-D Secure is refused (`authentication_required`) instead. To let the payer enter "
    "their card on a page of Kassa's, create a checkout session instead.",
    requests=(
        (
            "Start a payment",
            {"amount": 1999, "currency": "usd", "description": "Green tea, 100 g", "metadata": {"order_id": "6735"}},
        ),
        (
            "Charge a saved card now",
            {
                "amount": 1999,
                "currency": "usd",
                "customer": CUSTOMER_ID,
                "payment_method": PAYMENT_METHOD_ID,
                "confirm": True,
            },
        ),
        (
            "Charge a saved card without the payer (off session)",
            {
                "amount": 1999,
                "currency": "usd",
                "customer": CUSTOMER_ID,
                "payment_method": PAYMENT_METHOD_ID,
                "confirm": True,
                "off_session": True,
            },
        ),
    ),
    response=PAYMENT_INTENT,
)
PAYMENT_INTENTS_RETRIEVE = Doc(
    tag="Payment Intents",
    summary="Retrieve a PaymentIntent",
    description="The PaymentIntent as it stands now: after 3-D Secure, this asks the processor for the outcome. "
    "`expand[]` can name `customer` and `payment_method`.",
    response=PAYMENT_INTENT_SUCCEEDED,
    path_id=PAYMENT_INTENT_ID,
)
PAYMENT_INTENTS_UPDATE = Doc(
    tag="Payment Intents",
    summary="Update a PaymentIntent",
    description="Changes `description`, `receipt_email` or `metadata`; the amount of a PaymentIntent does not "
    "change (cancel it and create another).",
    requests=(
        ("Set the receipt email", {"receipt_email": "jenny.rosen@example.com", "metadata": {"order_id": "6736"}}),
    ),
    response={**PAYMENT_INTENT, "receipt_email": "jenny.rosen@example.com", "metadata": {"order_id": "6736"}},
    path_id=PAYMENT_INTENT_ID,
)
PAYMENT_INTENTS_CONFIRM = Doc(
    tag="Payment Intents",
    summary="Confirm a PaymentIntent",
    description="Charges the PaymentIntent with `payment_method`, a card saved on its customer (or the one it "
    "already has). The answer is `succeeded`, or `requires_action` for 3-D Secure; a refused card answers 402 "
    "`card_error` and leaves the PaymentIntent in `requires_payment_method` with `last_payment_error`, ready "
    "for another card. Confirming again after a network failure is safe: it cannot charge twice.",
    requests=(("Pay with a saved card", {"payment_method": PAYMENT_METHOD_ID}),),
    response=PAYMENT_INTENT_SUCCEEDED,
    path_id=PAYMENT_INTENT_ID,
)
PAYMENT_INTENTS_CANCEL = Doc(
    tag="Payment Intents",
    summary="Cancel a PaymentIntent",
    description="Cancels a PaymentIntent that has not succeeded, so that it can no longer be paid. A succeeded "
    "payment is refunded instead.",
    requests=(("Cancel at the customer's request", {"cancellation_reason": "requested_by_customer"}),),
    response={
        **PAYMENT_INTENT,
        "status": "canceled",
        "canceled_at": CREATED + 300,
        "cancellation_reason": "requested_by_customer",
    },
    path_id=PAYMENT_INTENT_ID,
)

# --- refunds -----------------------------------------------------------------------------

REFUNDS_LIST = Doc(
    tag="Refunds",
    summary="List all refunds",
    description="Your refunds, newest first; `payment_intent` lists one payment's refunds.",
    response=REFUND,
    query={"limit": 3, "payment_intent": PAYMENT_INTENT_ID},
)
REFUNDS_CREATE = Doc(
    tag="Refunds",
    summary="Create a refund",
    description="Sends money back on a succeeded PaymentIntent: all that remains refundable, or `amount` of it "
    "(in the currency's smallest unit). Several partial refunds may follow one another until the whole "
    "amount is refunded. The answer is `succeeded`, or `pending` while the processor works on it.",
    requests=(
        (
            "Refund part of a payment",
            {"payment_intent": PAYMENT_INTENT_ID, "amount": 500, "reason": "requested_by_customer"},
        ),
    ),
    response=REFUND,
)
REFUNDS_RETRIEVE = Doc(
    tag="Refunds",
    summary="Retrieve a refund",
    description="The refund with this id. `expand[]=payment_intent` answers its PaymentIntent in full.",
    response=REFUND,
    path_id=REFUND_ID,
)
REFUNDS_UPDATE = Doc(
    tag="Refunds",
    summary="Update a refund",
    description="Changes a refund's `metadata`; nothing else of a refund can change.",
    requests=(("Note the support ticket", {"metadata": {"ticket": "T-1042"}}),),
    response={**REFUND, "metadata": {"ticket": "T-1042"}},
    path_id=REFUND_ID,
)

# --- payment methods ---------------------------------------------------------------------

PAYMENT_METHODS_LIST = Doc(
    tag="Payment Methods",
    summary="List a customer's cards",
    description="The cards saved on `customer` (required: Kassa saves cards on customers only), newest first.",
    response=PAYMENT_METHOD,
    query={"customer": CUSTOMER_ID, "type": "card"},
)
PAYMENT_METHODS_CREATE = Doc(
    tag="Payment Methods",
    summary="Save a card",
    description="Saves a card on a customer from a token (`tok_…`) that Stripe.js made in the payer's browser "
    "with your Stripe publishable key: the card number never reaches your server or Kassa. The bank checks "
    "the card as it is saved; a refused card answers 402 `card_error`. `tok_visa` is Stripe's test token "
    "(with localstripe, make a token with Stripe.js or its `/v1/tokens`).",
    requests=(
        (
            "Save a card",
            {
                "type": "card",
                "card": {"token": "tok_visa"},
                "customer": CUSTOMER_ID,
                "billing_details": {"name": "Jenny Rosen"},
            },
        ),
    ),
    response=PAYMENT_METHOD,
)
PAYMENT_METHODS_RETRIEVE = Doc(
    tag="Payment Methods",
    summary="Retrieve a card",
    description="The saved card with this id: brand, last four digits and expiry, never the number.",
    response=PAYMENT_METHOD,
    path_id=PAYMENT_METHOD_ID,
)
PAYMENT_METHODS_ATTACH = Doc(
    tag="Payment Methods",
    summary="Attach a card to a customer",
    description="Stripe's attach. Kassa saves every card on its customer as it is made (`POST "
    "/v1/payment_methods` with `customer`, which sends `payment_method.attached`), so attaching it to that same "
    "customer answers the card unchanged. A card already attached to another customer is refused (400 "
    "`payment_method_unexpected_state`), and so is a detached card: it can never be used again.",
    requests=(("Attach to its customer", {"customer": CUSTOMER_ID}),),
    response=PAYMENT_METHOD,
    path_id=PAYMENT_METHOD_ID,
)
PAYMENT_METHODS_DETACH = Doc(
    tag="Payment Methods",
    summary="Detach a card from its customer",
    description="Removes a saved card from its customer, at the payment processor too, and sends "
    "`payment_method.detached`. A detached card can no longer pay (confirming a PaymentIntent with it is "
    "refused) nor be attached again. If it was the customer's default "
    "(`invoice_settings.default_payment_method`), the customer has no default any more (`customer.updated`).",
    response={**PAYMENT_METHOD, "customer": None},
    path_id=PAYMENT_METHOD_ID,
)
CUSTOMERS_PAYMENT_METHODS_LIST = Doc(
    tag="Payment Methods",
    summary="List a customer's cards (by customer)",
    description="The cards saved on the customer, newest first: the same as `GET /v1/payment_methods?customer=cus_…`.",
    response=PAYMENT_METHOD,
    path_id=CUSTOMER_ID,
    query={"type": "card"},
)
