"""What /v1/docs/ says about tax rates, invoice items and invoices: each operation's text and real examples.

The example objects are answers of a real Kassa with their ids made readable
(tests/kassa/test_api_docs.py checks each against the schema and sends every
write's default request to a live Kassa).
"""

from kassa.api.schema import Doc

from ...catalogue.api.docs import CREATED
from .invoice_examples import (
    INVOICE,
    INVOICE_ID,
    INVOICE_ITEM,
    INVOICE_ITEM_ID,
    INVOICE_PAYMENT,
    INVOICE_PAYMENT_ID,
    LINE_ITEM,
)

TAX_RATE_ID = "txr_3Kd8PqW2mNx7RbT5vLc9HsZa"

TAX_RATE = {
    "id": TAX_RATE_ID,
    "object": "tax_rate",
    "active": True,
    "country": "FR",
    "created": CREATED,
    "description": "TVA France, taux normal",
    "display_name": "TVA",
    "effective_percentage": None,
    "flat_amount": None,
    "inclusive": False,
    "jurisdiction": "FR",
    "jurisdiction_level": None,
    "livemode": False,
    "metadata": {},
    "percentage": 20,
    "rate_type": None,
    "state": None,
    "tax_type": "vat",
}

TAX_RATES_LIST = Doc(
    tag="Tax Rates",
    summary="List all tax rates",
    description="Your tax rates, newest first. Filter by `active` to leave out archived ones, or by `inclusive`.",
    response=TAX_RATE,
    query={"limit": 3, "active": True},
)
TAX_RATES_CREATE = Doc(
    tag="Tax Rates",
    summary="Create a tax rate",
    description="Makes a tax rate to apply to invoice items and invoices. `percentage` is exact, up to 4 decimal "
    "places (`5.5`); `inclusive=true` means your prices already contain the tax, `false` that it is added on "
    "top. Tax is computed per invoice line and per rate, rounded to the currency's smallest unit, halves away "
    "from zero. The percentage and `inclusive` never change: to charge another rate, make a new one and "
    "archive the old one (`active=false`).",
    requests=(
        (
            "French VAT, added on top",
            {
                "display_name": "TVA",
                "percentage": 20,
                "inclusive": False,
                "country": "FR",
                "jurisdiction": "FR",
                "description": "TVA France, taux normal",
                "tax_type": "vat",
            },
        ),
        ("A reduced rate included in prices", {"display_name": "TVA", "percentage": 5.5, "inclusive": True}),
    ),
    response=TAX_RATE,
)
TAX_RATES_RETRIEVE = Doc(
    tag="Tax Rates",
    summary="Retrieve a tax rate",
    description="The tax rate with this id, archived or not.",
    response=TAX_RATE,
    path_id=TAX_RATE_ID,
)
TAX_RATES_UPDATE = Doc(
    tag="Tax Rates",
    summary="Update a tax rate",
    description="Changes the parameters you send and leaves the others as they are. `percentage` and `inclusive` "
    "cannot change (sending them is refused, naming the parameter): invoices that used the rate keep meaning "
    "what they said. `active=false` archives the rate; tax rates are never deleted.",
    requests=(("Archive the rate", {"active": False, "metadata": {"replaced_by": "txr_new"}}),),
    response={**TAX_RATE, "active": False, "metadata": {"replaced_by": "txr_new"}},
    path_id=TAX_RATE_ID,
)


# --- invoice items and invoices ---------------------------------------------------------------------

INVOICEITEMS_LIST = Doc(
    tag="Invoice Items",
    summary="List all invoice items",
    description="Your invoice items, newest first. `pending=true` lists those no invoice has taken yet; "
    "`customer` and `invoice` narrow the list.",
    response=INVOICE_ITEM,
    query={"limit": 3, "pending": True},
)
INVOICEITEMS_CREATE = Doc(
    tag="Invoice Items",
    summary="Create an invoice item",
    description="Adds a line to bill a customer: priced by a one-time price (`pricing[price]`, the amount is "
    "the unit amount times `quantity`) or by `amount` + `currency` (the line's whole amount). Without `invoice` "
    "the item waits on the customer (pending) until an invoice made with "
    "`pending_invoice_items_behavior=include` takes it; with `invoice` it joins that draft, which must be "
    "the same customer's and in the same currency. Kassa keeps no customer balance: amounts and quantities "
    "are 0 or more.",
    requests=(
        (
            "A line priced by a price",
            {
                "customer": "cus_9PqRtY2wXc4VbN7mKs3LdJhA",
                "pricing": {"price": "price_1QwErTyUiOpAsDfGhJkLzXcV"},
                "quantity": 2,
            },
        ),
        (
            "A free amount with a tax rate",
            {
                "customer": "cus_9PqRtY2wXc4VbN7mKs3LdJhA",
                "amount": 4500,
                "currency": "eur",
                "description": "Consulting, March",
                "tax_rates": [TAX_RATE_ID],
            },
        ),
    ),
    response=INVOICE_ITEM,
)
INVOICEITEMS_RETRIEVE = Doc(
    tag="Invoice Items",
    summary="Retrieve an invoice item",
    description="The invoice item with this id, pending or on an invoice.",
    response=INVOICE_ITEM,
    path_id=INVOICE_ITEM_ID,
)
INVOICEITEMS_UPDATE = Doc(
    tag="Invoice Items",
    summary="Update an invoice item",
    description="Changes an item while it is pending or on a draft invoice (whose totals follow); once the "
    "invoice is finalized its lines never change.",
    requests=(("Change the quantity", {"quantity": 3, "metadata": {"order": "6735"}}),),
    response={**INVOICE_ITEM, "metadata": {"order": "6735"}},
    path_id=INVOICE_ITEM_ID,
)
INVOICEITEMS_DELETE = Doc(
    tag="Invoice Items",
    summary="Delete an invoice item",
    description="Deletes an item that is pending or on a draft invoice.",
    response={"id": INVOICE_ITEM_ID, "object": "invoiceitem", "deleted": True},
    path_id=INVOICE_ITEM_ID,
)

INVOICES_LIST = Doc(
    tag="Invoices",
    summary="List all invoices",
    description="Your invoices, newest first. Filter by `customer`, `status` (`draft`, `open`, `paid`, `void`, "
    "`uncollectible`), `collection_method`, `created` or `due_date`.",
    response=INVOICE,
    query={"limit": 3, "status": "open"},
)
INVOICES_CREATE = Doc(
    tag="Invoices",
    summary="Create an invoice",
    description="Makes a draft invoice for a customer. `pending_invoice_items_behavior=include` takes the "
    "customer's pending invoice items (Stripe's default is `exclude`). `collection_method=send_invoice` "
    "asks the customer to pay by a due date (`days_until_due`, by default your invoice settings', or "
    "`due_date`); `charge_automatically` charges their saved card. `auto_advance` (false by default, as for "
    "invoices made through Stripe's API) lets Kassa finalize the draft an hour later and collect it. "
    "A draft has no number: it gets one, without gaps, when it is finalized.",
    requests=(
        (
            "Invoice the pending items, payable in 30 days",
            {
                "customer": "cus_9PqRtY2wXc4VbN7mKs3LdJhA",
                "collection_method": "send_invoice",
                "days_until_due": 30,
                "pending_invoice_items_behavior": "include",
            },
        ),
        (
            "An empty draft with VAT on every line",
            {"customer": "cus_9PqRtY2wXc4VbN7mKs3LdJhA", "currency": "eur", "default_tax_rates": [TAX_RATE_ID]},
        ),
    ),
    response=INVOICE,
)
INVOICES_RETRIEVE = Doc(
    tag="Invoices",
    summary="Retrieve an invoice",
    description="The invoice with this id, with its first lines and its payments.",
    response=INVOICE,
    path_id=INVOICE_ID,
)
INVOICES_UPDATE = Doc(
    tag="Invoices",
    summary="Update an invoice",
    description="A draft can change entirely. Once finalized, amounts, customer and collection method are "
    "fixed: an open invoice can change its `description`, `footer`, `metadata`, `auto_advance` and "
    "`default_payment_method`; a paid, void or uncollectible one only its `metadata`. Anything else is "
    "refused, naming the parameter.",
    requests=(("Add a memo", {"description": "Thank you for your business", "metadata": {"order": "6735"}}),),
    response={**INVOICE, "description": "Thank you for your business", "metadata": {"order": "6735"}},
    path_id=INVOICE_ID,
)
INVOICES_DELETE = Doc(
    tag="Invoices",
    summary="Delete a draft invoice",
    description="Deletes a draft (a finalized invoice is voided instead: its number stays on record). Its "
    "invoice items become pending again.",
    response={"id": INVOICE_ID, "object": "invoice", "deleted": True},
    path_id=INVOICE_ID,
)
INVOICES_FINALIZE = Doc(
    tag="Invoices",
    summary="Finalize an invoice",
    description="Draft → open: the invoice gets its number (`PREFIX-0001`, gap-free per mode), the customer's "
    "and your seller details are copied onto it, and a `send_invoice` invoice gets its due date. A zero "
    "total is paid at once. Finalizing twice is refused.",
    requests=(("Finalize", {"auto_advance": False}),),
    response={**INVOICE, "status": "open"},
    path_id=INVOICE_ID,
)
INVOICES_SEND = Doc(
    tag="Invoices",
    summary="Send an invoice",
    description="Sends an open `send_invoice` invoice to its customer, with the link to pay it.",
    response=INVOICE,
    path_id=INVOICE_ID,
)
INVOICES_PAY = Doc(
    tag="Invoices",
    summary="Pay an invoice",
    description="Charges a saved card of the customer for what remains (`payment_method`, else the "
    "invoice's or the customer's default card), off-session by default; or records a payment made outside "
    "Kassa (`paid_out_of_band=true`: nothing is charged). Two calls at once make one charge: the second "
    "gets a 409. A declined card is a 402; a card asking for 3-D Secure a 402 "
    "`invoice_payment_intent_requires_action` (the customer completes it on the hosted invoice page). "
    "An uncollectible invoice can still be paid; a paid or void one cannot.",
    requests=(("Charge the default card", {}), ("Paid by bank transfer", {"paid_out_of_band": True})),
    response=INVOICE,
    path_id=INVOICE_ID,
)
INVOICES_VOID = Doc(
    tag="Invoices",
    summary="Void an invoice",
    description="Open or uncollectible → void: the invoice keeps its number but takes no payment any more.",
    response={**INVOICE, "status": "void"},
    path_id=INVOICE_ID,
)
INVOICES_MARK_UNCOLLECTIBLE = Doc(
    tag="Invoices",
    summary="Mark an invoice uncollectible",
    description="Open → uncollectible (written off); it can still be paid, or voided.",
    response={**INVOICE, "status": "uncollectible"},
    path_id=INVOICE_ID,
)
INVOICES_LINES = Doc(
    tag="Invoices",
    summary="List an invoice's line items",
    description="The invoice's lines in the order they were added, with their taxes per rate.",
    response=LINE_ITEM,
    path_id=INVOICE_ID,
    query={"limit": 10},
)

INVOICE_PAYMENTS_LIST = Doc(
    tag="Invoice Payments",
    summary="List all invoice payments",
    description="The payments of your invoices, newest first: the list each invoice's `payments.url` names. "
    "Filter by `invoice`, `status` (`open`, `paid`, `canceled`), `payment[type]=payment_intent` with "
    "`payment[payment_intent]`, or `created`. A payment made outside Kassa (`paid_out_of_band`) has none; "
    "`payment[type]=payment_record` is refused, as Kassa has no payment records.",
    response=INVOICE_PAYMENT,
    query={"invoice": INVOICE_ID},
)
INVOICE_PAYMENTS_RETRIEVE = Doc(
    tag="Invoice Payments",
    summary="Retrieve an invoice payment",
    description="The invoice payment with this id: what it asked for and what was paid, and the PaymentIntent "
    "that collects it (`expand[]=payment.payment_intent` for the whole object).",
    response=INVOICE_PAYMENT,
    path_id=INVOICE_PAYMENT_ID,
)
