"""What /v1/docs/ says about products, prices and customers: each operation's text and real examples.

The example objects are answers of a real Kassa with their ids made readable
(tests/kassa/test_api_docs.py checks each against the schema and sends every
write's default request to a live Kassa). Other parts' docs build on them.
"""

from kassa.api.schema import Doc

CREATED = 1764504000  # 2025-11-30 12:00 UTC

PRODUCT_ID = "prod_4Nf2qJbW8xKcT1mZr7LdA9Ye"
PRICE_ID = "price_7HcQm2VxL9pR4tYb1WsK8eNd"
CUSTOMER_ID = "cus_9TkR2mLx7QbW4nVc8ZpH1sYe"
PAYMENT_METHOD_ID = "pm_3LxQ8vNc2RbT7mKw9YpZ4sHd"  # a saved card (billing/payments/api/docs.py)

PRODUCT = {
    "id": PRODUCT_ID,
    "object": "product",
    "active": True,
    "created": CREATED,
    "default_price": None,
    "description": "Sencha, 100 g",
    "images": [],
    "livemode": False,
    "marketing_features": [],
    "metadata": {"sku": "T-1"},
    "name": "Green tea",
    "package_dimensions": None,
    "shippable": None,
    "statement_descriptor": None,
    "tax_code": None,
    "type": "service",
    "unit_label": None,
    "updated": CREATED,
    "url": None,
}

PRICE = {
    "id": PRICE_ID,
    "object": "price",
    "active": True,
    "billing_scheme": "per_unit",
    "created": CREATED,
    "currency": "usd",
    "custom_unit_amount": None,
    "livemode": False,
    "lookup_key": None,
    "metadata": {},
    "nickname": None,
    "product": PRODUCT_ID,
    "recurring": None,
    "tax_behavior": "unspecified",
    "tiers_mode": None,
    "transform_quantity": None,
    "type": "one_time",
    "unit_amount": 1999,
    "unit_amount_decimal": "1999",
}

CUSTOMER = {
    "id": CUSTOMER_ID,
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

ADDRESS = {"city": "Paris", "country": "FR", "line1": "8 rue de la Paix", "line2": None, "postal_code": "75002"}

# --- products ---------------------------------------------------------------------------

PRODUCTS_LIST = Doc(
    tag="Products",
    summary="List all products",
    description="Your products, newest first. Filter by `active` to leave out the ones you no longer sell, "
    "or ask for some by `ids`.",
    response=PRODUCT,
    query={"limit": 3, "active": True},
)
PRODUCTS_CREATE = Doc(
    tag="Products",
    summary="Create a product",
    description="Makes something you sell. Give it a price with `default_price_data` in the same call, or "
    "create prices for it afterwards (one product can have several, in different currencies or for "
    "subscriptions). The `description` and `images` are shown to payers on the hosted payment page.",
    requests=(("Create a product", {"name": "Green tea", "description": "Sencha, 100 g", "metadata": {"sku": "T-1"}}),),
    response=PRODUCT,
)
PRODUCTS_RETRIEVE = Doc(
    tag="Products",
    summary="Retrieve a product",
    description="The product with this id. `expand[]=default_price` answers the default price in full.",
    response=PRODUCT,
    path_id=PRODUCT_ID,
)
PRODUCTS_UPDATE = Doc(
    tag="Products",
    summary="Update a product",
    description="Changes the parameters you send and leaves the others as they are. Set `default_price` to one "
    "of the product's active prices to change what payment links of the product charge by default; "
    "`active=false` stops selling it.",
    requests=(("Change the description", {"description": "Sencha, 250 g", "metadata": {"sku": "T-2"}}),),
    response={**PRODUCT, "description": "Sencha, 250 g", "metadata": {"sku": "T-2"}, "updated": CREATED + 60},
    path_id=PRODUCT_ID,
)
PRODUCTS_DELETE = Doc(
    tag="Products",
    summary="Delete a product",
    description="Deletes a product that has no prices. A product with prices cannot be deleted (payments refer "
    "to them): archive it with `active=false` instead.",
    response={"id": PRODUCT_ID, "object": "product", "deleted": True},
    path_id=PRODUCT_ID,
)

# --- prices -----------------------------------------------------------------------------

PRICES_LIST = Doc(
    tag="Prices",
    summary="List all prices",
    description="Your prices, newest first. Filter by `product`, `currency`, `type` (`one_time` or `recurring`), "
    "`active` or `lookup_keys`.",
    response=PRICE,
    query={"limit": 3, "product": PRODUCT_ID},
)
PRICES_CREATE = Doc(
    tag="Prices",
    summary="Create a price",
    description="Sets how much a product costs, in one currency, once or on a schedule (`recurring`). "
    "`unit_amount` is in the currency's smallest unit: `1999` is 19.99 USD, and ¥500 is `500` in JPY, "
    "which has no minor unit. Give an existing `product`, or make one on the spot with `product_data`. "
    "A price's amount never changes: to charge another amount, create a new price.",
    requests=(
        (
            "A one-time price with its product",
            {"currency": "usd", "unit_amount": 1999, "product_data": {"name": "Green tea"}},
        ),
        ("A price for an existing product", {"currency": "usd", "unit_amount": 1999, "product": PRODUCT_ID}),
        (
            "A monthly price",
            {"currency": "eur", "unit_amount": 900, "product": PRODUCT_ID, "recurring": {"interval": "month"}},
        ),
    ),
    response=PRICE,
)
PRICES_RETRIEVE = Doc(
    tag="Prices",
    summary="Retrieve a price",
    description="The price with this id. `expand[]=product` answers its product in full.",
    response=PRICE,
    path_id=PRICE_ID,
)
PRICES_UPDATE = Doc(
    tag="Prices",
    summary="Update a price",
    description="Changes a price's `nickname`, `lookup_key`, `metadata` or `active`; its amount, currency and "
    "schedule cannot change. `active=false` stops new purchases at this price.",
    requests=(("Name the price", {"nickname": "Standard", "metadata": {"plan": "standard"}}),),
    response={**PRICE, "nickname": "Standard", "metadata": {"plan": "standard"}},
    path_id=PRICE_ID,
)

# --- customers --------------------------------------------------------------------------

CUSTOMERS_LIST = Doc(
    tag="Customers",
    summary="List all customers",
    description="Your customers, newest first; `email` finds the ones with that address (exactly, ignoring case).",
    response=CUSTOMER,
    query={"limit": 3, "email": "jenny.rosen@example.com"},
)
CUSTOMERS_CREATE = Doc(
    tag="Customers",
    summary="Create a customer",
    description="Makes a customer to save cards on and charge again later. Payers of payment links and "
    "checkout sessions get one made for them (one per email address). A new customer has no saved card yet, "
    "so `invoice_settings[default_payment_method]` is set later, with an update.",
    requests=(
        (
            "Create a customer",
            {"email": "jenny.rosen@example.com", "name": "Jenny Rosen", "metadata": {"crm_id": "4711"}},
        ),
    ),
    response=CUSTOMER,
)
CUSTOMERS_RETRIEVE = Doc(
    tag="Customers",
    summary="Retrieve a customer",
    description="The customer with this id. A deleted customer is answered as "
    '`{"id": …, "object": "customer", "deleted": true}`.',
    response=CUSTOMER,
    path_id=CUSTOMER_ID,
)
CUSTOMERS_UPDATE = Doc(
    tag="Customers",
    summary="Update a customer",
    description="Changes the parameters you send and leaves the others as they are; an empty value "
    "(`phone=`) removes one. `invoice_settings[default_payment_method]` makes one of the customer's own saved "
    "cards their default (`expand[]=invoice_settings.default_payment_method` answers the card in full); another "
    "customer's card is refused (400 `resource_missing`), and an empty value clears the default. Detaching the "
    "default card clears it too. A new default card retries the customer's past-due `charge_automatically` "
    "invoices at once (just after this answer; each invoice's `invoice.paid` or `invoice.payment_failed` says "
    "how it went).",
    requests=(
        ("Add an address and a phone number", {"phone": "+33 1 23 45 67 89", "address": ADDRESS}),
        ("Make a saved card the default", {"invoice_settings": {"default_payment_method": PAYMENT_METHOD_ID}}),
    ),
    response={**CUSTOMER, "phone": "+33 1 23 45 67 89", "address": {**ADDRESS, "state": None}},
    path_id=CUSTOMER_ID,
)
CUSTOMERS_DELETE = Doc(
    tag="Customers",
    summary="Delete a customer",
    description="Deletes the customer: they leave the customer list and can no longer be charged or referred "
    "to in new payments. Their past payments stay, still referring to the customer's id, and retrieving them "
    "answers the deleted customer.",
    response={"id": CUSTOMER_ID, "object": "customer", "deleted": True},
    path_id=CUSTOMER_ID,
)
