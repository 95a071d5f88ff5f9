"""Input parameters and output shapes of the catalogue, as Stripe names them.

Input serializers only validate and coerce; output serializers only render.
"""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.views import CreatedListParams, reference, reference_field, represent

from ..models import Customer, Price, Product

# --- products ---------------------------------------------------------------


class MarketingFeatureParams(f.StrictSerializer):
    name = f.String(max_length=80)


class PackageDimensionsParams(f.StrictSerializer):
    height = f.Number()
    length = f.Number()
    weight = f.Number()
    width = f.Number()


class RecurringParams(f.StrictSerializer):
    interval = f.Choice(choices=Price.Interval.choices)
    interval_count = f.Integer(required=False, min_value=1, max_value=365)


class DefaultPriceDataParams(f.StrictSerializer):
    currency = f.Currency()
    unit_amount = f.Amount()
    recurring = RecurringParams(required=False)
    metadata = f.Metadata()


class ProductFieldsParams(f.StrictSerializer):
    """What products_create and products_update share."""

    description = f.OptionalString(
        max_length=40000, help_text="What the product is, shown to payers on the hosted payment page."
    )
    images = f.List(child=f.String(max_length=2048), required=False, max_length=8)
    url = f.OptionalString(max_length=2000, help_text="A page of your site about the product.")
    unit_label = f.OptionalString(max_length=12)
    shippable = f.Boolean(required=False)
    statement_descriptor = f.OptionalString(max_length=22)
    tax_code = f.OptionalString(
        max_length=64, help_text="Stored and returned as sent: Kassa computes no tax (see the README)."
    )
    marketing_features = f.List(child=MarketingFeatureParams(), required=False, max_length=15)
    package_dimensions = PackageDimensionsParams(required=False, allow_null=True)
    metadata = f.Metadata()


class ProductCreateParams(ProductFieldsParams):
    name = f.String(max_length=250)
    active = f.Boolean(required=False, default=True)
    default_price_data = DefaultPriceDataParams(
        required=False, help_text="Makes the product's first price and makes it the default, as at Stripe."
    )


class ProductUpdateParams(ProductFieldsParams):
    name = f.String(required=False, max_length=250)
    active = f.Boolean(required=False)
    default_price = f.String(required=False, max_length=64, help_text="One of this product's active prices.")


class ProductListParams(CreatedListParams):
    active = f.Boolean(required=False, allow_null=True, default=None)
    ids = f.List(child=f.String(max_length=64), required=False, max_length=100)


class MarketingFeatureOut(f.Out):
    name = serializers.CharField()


class PackageDimensionsOut(f.Out):
    height = serializers.FloatField()
    length = serializers.FloatField()
    weight = serializers.FloatField()
    width = serializers.FloatField()


class ProductOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("product")
    active = serializers.BooleanField()
    created = f.UnixTime()
    default_price = serializers.SerializerMethodField()
    description = serializers.CharField(
        allow_null=True, help_text="What the product is, shown to payers on the hosted payment page."
    )
    images = serializers.ListField(child=serializers.CharField())
    livemode = serializers.BooleanField()
    marketing_features = MarketingFeatureOut(many=True)
    metadata = serializers.DictField(child=serializers.CharField())
    name = serializers.CharField()
    package_dimensions = PackageDimensionsOut(allow_null=True)
    shippable = serializers.BooleanField(allow_null=True)
    statement_descriptor = serializers.CharField(allow_null=True)
    tax_code = serializers.CharField(allow_null=True)
    type = f.Constant("service")
    unit_label = serializers.CharField(allow_null=True)
    updated = f.UnixTime()
    url = serializers.CharField(allow_null=True, help_text="A page of your site about the product.")

    @extend_schema_field(
        {
            "oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/PriceOut"}],
            "nullable": True,
            "description": "The default price's id, or the price when expanded; null when the product has none.",
        }
    )
    def get_default_price(self, product: Product):
        if product.default_price_id is None:
            return None
        if "default_price" in self.context.get("expand", ()):
            return PriceOut(product.default_price, context={"expand": set()}).data
        return product.default_price.public_id


# --- prices -----------------------------------------------------------------


class ProductDataParams(f.StrictSerializer):
    name = f.String(max_length=250)
    active = f.Boolean(required=False, default=True)
    metadata = f.Metadata()


class PriceCreateParams(f.StrictSerializer):
    currency = f.Currency()
    unit_amount = f.Amount()
    product = f.String(required=False, max_length=64)
    product_data = ProductDataParams(required=False)
    recurring = RecurringParams(required=False)
    active = f.Boolean(required=False, default=True)
    nickname = f.OptionalString(max_length=250)
    lookup_key = f.OptionalString(max_length=200)
    transfer_lookup_key = f.Boolean(required=False, default=False)
    metadata = f.Metadata()


class PriceUpdateParams(f.StrictSerializer):
    active = f.Boolean(required=False)
    nickname = f.OptionalString(max_length=250)
    lookup_key = f.OptionalString(max_length=200)
    transfer_lookup_key = f.Boolean(required=False, default=False)
    metadata = f.Metadata()


class RecurringFilter(f.StrictSerializer):
    interval = f.Choice(choices=Price.Interval.choices, required=False)


class PriceListParams(CreatedListParams):
    active = f.Boolean(required=False, allow_null=True, default=None)
    product = f.String(required=False, max_length=64)
    currency = f.Currency(required=False)
    type = f.Choice(choices=Price.Type.choices, required=False)
    lookup_keys = f.List(child=f.String(max_length=200), required=False, max_length=10)
    recurring = RecurringFilter(required=False)


class RecurringOut(f.Out):
    interval = serializers.CharField(source="recurring_interval")
    interval_count = serializers.IntegerField(source="recurring_interval_count")
    usage_type = serializers.SerializerMethodField()

    def get_usage_type(self, _) -> str:
        return "licensed"


class PriceOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("price")
    active = serializers.BooleanField()
    billing_scheme = serializers.SerializerMethodField()
    created = f.UnixTime()
    currency = serializers.CharField()
    custom_unit_amount = f.Fixed(None, "object")
    livemode = serializers.BooleanField()
    lookup_key = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    nickname = serializers.CharField(allow_null=True)
    product = serializers.SerializerMethodField()
    recurring = serializers.SerializerMethodField()
    tax_behavior = f.Fixed("unspecified")
    tiers_mode = f.Fixed(None)
    transform_quantity = f.Fixed(None, "object")
    type = serializers.CharField(help_text="`one_time` (paid once) or `recurring` (a subscription price).")
    unit_amount = serializers.IntegerField()
    unit_amount_decimal = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(help_text="Always `per_unit`: the unit amount times the quantity."))
    def get_billing_scheme(self, _) -> str:
        return "per_unit"

    @extend_schema_field(
        {
            "oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/ProductOut"}],
            "description": "The product's id, or the product when expanded.",
        }
    )
    def get_product(self, price: Price):
        if "product" in self.context.get("expand", ()):
            return ProductOut(price.product).data
        return price.product.public_id

    @extend_schema_field(RecurringOut(allow_null=True))
    def get_recurring(self, price: Price):
        # Through the thread's one RecurringOut (represent): making a serializer copies its fields, which cost more
        # than rendering it (every subscription's event shows its items' prices).
        return represent(RecurringOut, price, {}) if price.type == Price.Type.RECURRING else None

    def get_unit_amount_decimal(self, price: Price) -> str:
        return str(price.unit_amount)


# --- customers --------------------------------------------------------------


ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def address_out(address: dict | None) -> dict | None:
    if address is None:
        return None
    return {key: address.get(key) or None for key in ADDRESS_KEYS}


class AddressParams(f.StrictSerializer):
    city = f.OptionalString(max_length=200)
    country = f.OptionalString(max_length=2)
    line1 = f.OptionalString(max_length=200)
    line2 = f.OptionalString(max_length=200)
    postal_code = f.OptionalString(max_length=20)
    state = f.OptionalString(max_length=200)


class CustomerInvoiceSettingsParams(f.StrictSerializer):
    default_payment_method = f.OptionalString(
        max_length=255,
        help_text='One of the customer\'s own saved cards (`pm_…`), charged by default; `""` clears it. '
        "The card must already be attached to this customer.",
    )


class CustomerParams(f.StrictSerializer):
    email = f.OptionalString(max_length=512)
    name = f.OptionalString(max_length=256)
    phone = f.OptionalString(max_length=40)
    description = f.OptionalString(
        max_length=5000, help_text="A note about the customer, for you; payers never see it."
    )
    address = AddressParams(required=False, allow_null=True)
    invoice_settings = CustomerInvoiceSettingsParams(
        required=False, help_text="The customer's invoicing defaults: `default_payment_method`, their default card."
    )
    metadata = f.Metadata()
    preferred_locales = f.List(
        child=f.String(max_length=20),
        required=False,
        max_length=10,
        help_text="The customer's languages, in order (`fr-FR`, `en`): their invoices and emails use the first "
        "Kassa speaks (English or French), else your default language.",
    )

    def validate_email(self, value):
        if value and "@" not in value:
            raise serializers.ValidationError(f"Invalid email address: {value}", code="email_invalid")
        return value

    def to_internal_value(self, data):
        if data.get("address") == "":
            data = {**data, "address": None}
        return super().to_internal_value(data)


class CustomerCreateParams(CustomerParams):
    test_clock = f.String(
        required=False,
        max_length=255,
        help_text="A test clock (`clock_…`, test mode only) whose time the customer lives on; set on create only.",
    )


class CustomerListParams(CreatedListParams):
    email = f.String(required=False, max_length=512)


class CustomerOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("customer")
    address = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()
    created = f.UnixTime()
    currency = serializers.SerializerMethodField()
    default_source = f.Fixed(None)
    delinquent = f.Fixed(False)
    description = serializers.CharField(
        allow_null=True, help_text="A note about the customer, for you; payers never see it."
    )
    discount = f.Fixed(None, "object")
    email = serializers.CharField(allow_null=True)
    invoice_prefix = f.Fixed(None)
    invoice_settings = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    name = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    preferred_locales = serializers.ListField(
        child=serializers.CharField(), help_text="The customer's languages, in order (`fr-FR`, `en`)."
    )
    shipping = f.Fixed(None, "object")
    tax_exempt = f.Fixed("none")
    test_clock = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_address(self, customer: Customer):
        if customer.address is None:
            return None
        return {key: customer.address.get(key) for key in AddressParams._declared_fields}

    def get_balance(self, _) -> int:
        return 0

    #: PaymentMethodOut, for ``expand[]=invoice_settings.default_payment_method``: set at start-up by
    #: billing/apps.py (the catalogue sits below payments and does not import it)
    payment_method_out = None

    @extend_schema_field(
        inline_serializer(
            "CustomerInvoiceSettings",
            {
                "custom_fields": f.Fixed(None, "array"),
                "default_payment_method": serializers.CharField(
                    allow_null=True,
                    help_text="The default saved card's id (`pm_…`), or the card when expanded; null when none.",
                ),
                "footer": f.Fixed(None),
                "rendering_options": f.Fixed(None, "object"),
            },
            help_text="The customer's invoicing defaults: `default_payment_method` is the saved card charged "
            "by default.",
        )
    )
    def get_invoice_settings(self, customer: Customer) -> dict:
        default = reference(
            self, customer.default_payment_method, "invoice_settings.default_payment_method", self.payment_method_out
        )
        return {"custom_fields": None, "default_payment_method": default, "footer": None, "rendering_options": None}

    #: TestClockOut, for ``expand[]=test_clock``: set at start-up by billing/apps.py (the catalogue sits below
    #: billing.clocks and does not import it)
    test_clock_out = None

    @reference_field("test clock (test mode only)")
    def get_test_clock(self, customer: Customer):
        return reference(self, customer.test_clock, "test_clock", self.test_clock_out)

    def get_currency(self, _) -> str | None:
        return None

    def to_representation(self, customer: Customer):
        if customer.deleted:
            return {"id": customer.public_id, "object": "customer", "deleted": True}
        return super().to_representation(customer)
