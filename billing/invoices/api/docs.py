"""What /v1/docs/ says about tax rates: each operation's text and real examples.

The example objects are answers of a real Kassa with their ids made readable
(tests/kassa/test_api_docs.py checks each against the schema and sends every
write's default request to a live Kassa).
"""

from kassa.api.schema import Doc

from ...catalogue.api.docs import CREATED

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
