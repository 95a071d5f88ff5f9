"""Input parameters and output shapes of tax rates, as Stripe names them.

Input serializers only validate and coerce; output serializers only render.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kassa.api import fields as f
from kassa.api.views import CreatedListParams
from kassa.errors import KassaError

from .. import services
from ..models import TaxRate

PERCENTAGE_HELP = (
    "The tax rate in percent, 0 to 100 with up to 4 decimal places: `20` for 20 %, `5.5` for 5.5 %. "
    "Kassa keeps it as an exact decimal. It never changes once the rate is made."
)
TAX_TYPE_HELP = "The high-level tax type, such as `vat` or `sales_tax` (Stripe's list)."


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 100})
class PercentageParam(serializers.Field):
    """A percentage sent as a form string (``5.5``) or a JSON number: an exact Decimal, never a float."""

    def to_internal_value(self, data):
        try:
            return services.parse_percentage(data)
        except KassaError as exc:
            raise ValidationError(exc.message, code="parameter_invalid") from None


@extend_schema_field({"type": "number"})
class PercentageOut(serializers.Field):
    """The stored Decimal as a JSON number, exactly as written (``20``, ``5.5``), as Stripe answers it."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal):
        exact = value.normalize()
        if exact == exact.to_integral_value():
            return int(exact)
        # At most 4 decimal places and 7 digits: the float's shortest form is exactly this decimal.
        return float(format(exact, "f"))


class TaxRateFieldsParams(f.StrictSerializer):
    """What tax_rates_create and tax_rates_update share."""

    active = f.Boolean(required=False, help_text="false archives the rate: it can no longer be applied anew.")
    country = f.OptionalString(max_length=2, help_text="Two-letter country code (ISO 3166-1 alpha-2), e.g. `FR`.")
    state = f.OptionalString(
        max_length=3, help_text="ISO 3166-2 subdivision code without the country prefix, e.g. `NY`."
    )
    jurisdiction = f.OptionalString(
        max_length=50, help_text="The tax jurisdiction, for your reports; shown on the customer's invoice."
    )
    description = f.OptionalString(max_length=5000, help_text="A note for you; customers never see it.")
    tax_type = f.Choice(choices=[(t, t) for t in TaxRate.TAX_TYPES], required=False, help_text=TAX_TYPE_HELP)
    metadata = f.Metadata()


class TaxRateCreateParams(TaxRateFieldsParams):
    display_name = f.String(
        max_length=50, help_text="The name shown to customers on invoices and receipts, e.g. `VAT` or `TVA`."
    )
    percentage = PercentageParam(help_text=PERCENTAGE_HELP)
    inclusive = f.Boolean(
        help_text="true: the tax is included in the prices it applies to; false: it is added on top. "
        "It never changes once the rate is made."
    )


class TaxRateUpdateParams(TaxRateFieldsParams):
    display_name = f.String(required=False, max_length=50, help_text="The name shown to customers.")


class TaxRateListParams(CreatedListParams):
    active = f.Boolean(
        required=False, allow_null=True, default=None, help_text="Only active (true) or archived (false) rates."
    )
    inclusive = f.Boolean(
        required=False, allow_null=True, default=None, help_text="Only inclusive (true) or exclusive (false) rates."
    )


class TaxRateOut(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = f.Constant("tax_rate")
    active = serializers.BooleanField(help_text="false once archived: it can no longer be applied anew.")
    country = serializers.CharField(allow_null=True, help_text="Two-letter country code (ISO 3166-1 alpha-2).")
    created = f.UnixTime()
    description = serializers.CharField(allow_null=True, help_text="A note for you; customers never see it.")
    display_name = serializers.CharField(help_text="The name shown to customers on invoices and receipts.")
    effective_percentage = f.Fixed(
        None,
        "number",
        help_text="Always null in Kassa, as at Stripe for rates you make yourself (it is Stripe Tax's).",
    )
    flat_amount = f.Fixed(None, "object", help_text="Always null: Kassa's tax rates are percentages.")
    inclusive = serializers.BooleanField(help_text="Whether the tax is included in prices (true) or added on top.")
    jurisdiction = serializers.CharField(allow_null=True, help_text="The tax jurisdiction, shown on invoices.")
    jurisdiction_level = f.Fixed(None, help_text="Always null, as at Stripe for rates you make yourself.")
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    percentage = PercentageOut(help_text="The tax rate in percent, exactly as created (`20`, `5.5`).")
    rate_type = f.Fixed(None, help_text="Always null, as at Stripe for rates you make yourself.")
    state = serializers.CharField(allow_null=True, help_text="ISO 3166-2 subdivision code, e.g. `NY`.")
    tax_type = serializers.CharField(allow_null=True, help_text=TAX_TYPE_HELP)
