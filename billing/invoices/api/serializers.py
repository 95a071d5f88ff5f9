"""Input parameters and output shapes of tax rates, invoice items and invoices, as Stripe names them.

Input serializers only validate and coerce; output serializers only render.
"""

from decimal import ROUND_HALF_EVEN, Decimal

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kassa.api import fields as f
from kassa.api.fields import ID
from kassa.api.views import (
    CreatedListParams,
    CreatedOrTimestamp,
    ListParams,
    reference,
    reference_field,
    represent,
)
from kassa.db import many
from kassa.errors import KassaError

from ...catalogue.api.serializers import CustomerOut, address_out
from ...payments.api.serializers import PaymentIntentOut, PaymentMethodOut
from .. import services
from ..models import Invoice, InvoicePayment, TaxRate
from ..selectors import invoice_default_tax_rates_read, invoice_lines_read, invoice_payments_read, invoice_urls

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


class TaxRateOut(f.Out):
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


# --- invoice items and invoices -----------------------------------------------------------------------

ITEM_DESCRIPTION_HELP = "What the line says on the invoice, shown to the customer."


class PeriodParams(f.StrictSerializer):
    start = f.Timestamp(help_text="The period's start (Unix seconds).")
    end = f.Timestamp(help_text="The period's end (Unix seconds), not before its start.")


class PricingParams(f.StrictSerializer):
    price = f.String(help_text="A one-time price (`price_…`): the item costs its unit amount times quantity.", **ID)


def _tax_rate_ids(help_text: str):
    return f.List(child=f.String(**ID), required=False, max_length=5, help_text=help_text)


class InvoiceItemUpdateParams(f.StrictSerializer):
    amount = f.Amount(
        required=False,
        help_text="The line's whole amount (not per unit), in the currency's smallest unit, 0 or more. "
        + f.AMOUNT_HELP,
    )
    description = f.OptionalString(max_length=500, help_text=ITEM_DESCRIPTION_HELP)
    discountable = f.Boolean(required=False, help_text="Stored and returned: Kassa has no discounts.")
    metadata = f.Metadata()
    period = PeriodParams(required=False, help_text="The period the line is for, shown on the invoice.")
    pricing = PricingParams(required=False, help_text="Price the item by a one-time price.")
    quantity = f.Integer(
        required=False,
        min_value=0,
        max_value=services.QUANTITY_MAX,
        help_text="How many units (0 to 2147483647; with a price, amount = unit amount times quantity, "
        "at most the currency's maximum amount).",
    )
    tax_rates = _tax_rate_ids(
        'The tax rates of this line (`txr_…`); `""` clears them (the invoice\'s default tax rates then apply).'
    )

    def validate_quantity(self, value):
        return value


class InvoiceItemCreateParams(InvoiceItemUpdateParams):
    customer = f.String(help_text="The customer to bill (`cus_…`).", **ID)
    currency = f.Currency(required=False)
    invoice = f.String(
        required=False, help_text="A draft invoice of the same customer and currency to add the line to.", **ID
    )


class InvoiceItemListParams(CreatedListParams):
    customer = f.String(required=False, **ID)
    invoice = f.String(required=False, help_text="Only the lines of this invoice (`in_…`).", **ID)
    pending = f.Boolean(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only items no invoice has taken yet; false: only items on an invoice.",
    )


#: Stripe's unit_amount_decimal: "a decimal value with at most 12 decimal places".
UNIT_AMOUNT_PLACES = Decimal("1e-12")


def _unit_amount_decimal(item) -> str | None:
    if item.unit_amount is not None:
        return str(item.unit_amount)
    if item.quantity:
        unit = (Decimal(item.amount) / item.quantity).quantize(UNIT_AMOUNT_PLACES, rounding=ROUND_HALF_EVEN)
        return format(unit.normalize(), "f")
    return None


BILLED_HELP = "The customer's %s: the customer's own until the invoice is finalized, then as finalized."


def _billed(invoice, name: str):
    """Stripe's ``customer_*`` fields: equal to the customer's until finalization, then frozen (copied then)."""
    if invoice.status == Invoice.Status.DRAFT:
        return getattr(invoice.customer, name)
    return getattr(invoice, f"customer_{name}")


def pricing_out(item) -> dict | None:
    details = None
    if item.price is not None:
        details = {"price": item.price.public_id, "product": item.price.product.public_id}
    return {"price_details": details, "type": "price_details", "unit_amount_decimal": _unit_amount_decimal(item)}


def period_out(item) -> dict:
    return {"end": int(item.period_end.timestamp()), "start": int(item.period_start.timestamp())}


OBJECT = serializers.DictField(allow_null=True)


def test_clock_reference(serializer, customer):
    """Stripe's ``test_clock`` of an invoice or item: its customer's clock, whose time it lives on, as the
    customer shows it (CustomerOut.test_clock_out expands it: invoices sit below billing.clocks)."""
    return reference(serializer, customer.test_clock, "test_clock", CustomerOut.test_clock_out)


class InvoiceItemOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("invoiceitem")
    amount = serializers.IntegerField(help_text="The line's whole amount. " + f.AMOUNT_HELP)
    currency = serializers.CharField()
    customer = serializers.SerializerMethodField()
    customer_account = f.Fixed(None)
    date = f.UnixTime(source="created", help_text="When the item was made (Unix seconds).")
    description = serializers.CharField(allow_null=True, help_text=ITEM_DESCRIPTION_HELP)
    discountable = serializers.BooleanField(help_text="Stored and returned: Kassa has no discounts.")
    discounts = f.Fixed([])
    frozen_fields = f.Fixed(None, "array")
    invoice = serializers.SerializerMethodField()
    invoicing_rules = f.Fixed(None, "array")
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    net_amount = serializers.IntegerField(source="amount", help_text="The amount (Kassa has no discounts).")
    parent = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField()
    pricing = serializers.SerializerMethodField()
    proration = serializers.BooleanField()
    proration_details = f.Fixed(None, "object")
    quantity = serializers.IntegerField()
    quantity_decimal = serializers.SerializerMethodField()
    tax_rates = serializers.SerializerMethodField()
    test_clock = serializers.SerializerMethodField()

    @reference_field("customer")
    def get_customer(self, item):
        return reference(self, item.customer, "customer", CustomerOut)

    @reference_field("customer's test clock (test mode only; null on the wall clock)")
    def get_test_clock(self, item):
        return test_clock_reference(self, item.customer)

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="The invoice's id (`in_…`); null while pending.")
    )
    def get_invoice(self, item):
        return item.invoice.public_id if item.invoice_id else None

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="An item a subscription made (a proration): `type` `subscription_details` and "
            "`subscription_details` (`subscription`, `subscription_item`); null for an item you made.",
        )
    )
    def get_parent(self, item):
        if item.subscription_item_id is None:
            return None
        subscription_item = item.subscription_item
        return {
            "subscription_details": {
                "subscription": subscription_item.subscription.public_id,
                "subscription_item": subscription_item.public_id,
            },
            "type": "subscription_details",
        }

    @extend_schema_field(
        inline_serializer("InvoiceItemPeriod", {"start": serializers.IntegerField(), "end": serializers.IntegerField()})
    )
    def get_period(self, item):
        return period_out(item)

    @extend_schema_field(OBJECT)
    def get_pricing(self, item):
        return pricing_out(item)

    def get_quantity_decimal(self, item) -> str:
        return str(item.quantity)

    @extend_schema_field(TaxRateOut(many=True))
    def get_tax_rates(self, item):
        return [represent(TaxRateOut, rate, {"expand": set()}) for rate in many(item, "tax_rates")]

    def to_representation(self, item):
        if getattr(item, "deleted", False):
            return {"id": item.public_id, "object": "invoiceitem", "deleted": True}
        return super().to_representation(item)


def taxes_out(taxes: list[dict]) -> list[dict]:
    """Stripe's ``taxes`` / ``total_taxes`` entries from the stored ones."""
    return [
        {
            "amount": tax["amount"],
            "tax_behavior": "inclusive" if tax["inclusive"] else "exclusive",
            "tax_rate_details": {"tax_rate": tax["tax_rate"]},
            "taxability_reason": "standard_rated",
            "taxable_amount": tax["taxable_amount"],
            "type": "tax_rate_details",
        }
        for tax in taxes
    ]


TAXES = serializers.ListField(
    child=serializers.DictField(),
    help_text="Tax per rate: `amount`, `tax_behavior` (`inclusive`/`exclusive`), `tax_rate_details.tax_rate`, "
    "`taxable_amount`, rounded per line and per rate.",
)


def _line_subscription(item) -> str | None:
    """The subscription a line belongs to: its invoice's (a subscription's lines are on its own invoices; a
    previewed line, on no saved invoice, carries its preview's)."""
    invoice = item.invoice if item.invoice_id else getattr(item, "preview_invoice", None)
    if invoice is None or invoice.subscription_id is None:
        return None
    return invoice.subscription.public_id


class InvoiceLineItemOut(f.Out):
    id = serializers.CharField(source="line_id", help_text="The line's id (`il_…`).")
    object = f.Constant("line_item")
    amount = serializers.IntegerField(help_text="The line's amount. " + f.AMOUNT_HELP)
    currency = serializers.CharField()
    description = serializers.CharField(allow_null=True, help_text=ITEM_DESCRIPTION_HELP)
    discount_amounts = f.Fixed([])
    discountable = serializers.BooleanField()
    discounts = f.Fixed([])
    invoice = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    parent = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField()
    pretax_credit_amounts = f.Fixed([])
    pricing = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    quantity_decimal = serializers.SerializerMethodField()
    subscription = serializers.SerializerMethodField()
    subtotal = serializers.IntegerField(source="amount", help_text="The line's amount before taxes and discounts.")
    taxes = serializers.SerializerMethodField()

    def get_invoice(self, item) -> str | None:
        return item.invoice.public_id if item.invoice_id else None

    @extend_schema_field(
        serializers.CharField(allow_null=True, help_text="The subscription that made this line (`sub_…`), if any.")
    )
    def get_subscription(self, item):
        return _line_subscription(item)

    @extend_schema_field(OBJECT)
    def get_parent(self, item):
        subscription = _line_subscription(item)
        if subscription is not None and item.subscription_item_id is not None:
            return {
                "invoice_item_details": None,
                "subscription_item_details": {
                    # A proration was a pending invoice item before the invoice took it (its ii_ id, as at Stripe).
                    "invoice_item": item.public_id if item.proration else None,
                    "proration": item.proration,
                    "proration_details": {"credited_items": None},
                    "subscription": subscription,
                    "subscription_item": item.subscription_item.public_id,
                },
                "type": "subscription_item_details",
            }
        return {
            "invoice_item_details": {
                "invoice_item": item.public_id,
                "proration": item.proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }

    @extend_schema_field(
        inline_serializer("InvoiceLinePeriod", {"start": serializers.IntegerField(), "end": serializers.IntegerField()})
    )
    def get_period(self, item):
        return period_out(item)

    @extend_schema_field(OBJECT)
    def get_pricing(self, item):
        return pricing_out(item)

    def get_quantity_decimal(self, item) -> str:
        return str(item.quantity)

    @extend_schema_field(TAXES)
    def get_taxes(self, item):
        return taxes_out(item.taxes)


class InvoicePaymentOut(f.Out):
    id = serializers.CharField(source="public_id", help_text="The invoice payment's id (`inpay_…`).")
    object = f.Constant("invoice_payment")
    amount_paid = serializers.IntegerField(allow_null=True, help_text="What was paid; null until it is.")
    amount_requested = serializers.IntegerField(help_text="What this payment asked for.")
    created = f.UnixTime()
    currency = serializers.CharField()
    invoice = serializers.SerializerMethodField()
    is_default = serializers.BooleanField()
    livemode = serializers.SerializerMethodField()
    payment = serializers.SerializerMethodField()
    status = serializers.CharField(help_text="`open`, `paid` or `canceled`.")
    status_transitions = serializers.SerializerMethodField()

    def get_invoice(self, payment) -> str:
        return payment.invoice.public_id

    def get_livemode(self, payment) -> bool:
        return payment.invoice.livemode

    @extend_schema_field(OBJECT)
    def get_payment(self, payment):
        if payment.payment_intent is None:
            return {"type": "out_of_band_payment"}
        intent = reference(self, payment.payment_intent, "payment.payment_intent", PaymentIntentOut)
        return {"payment_intent": intent, "type": "payment_intent"}

    @extend_schema_field(OBJECT)
    def get_status_transitions(self, payment):
        def ts(value):
            return int(value.timestamp()) if value else None

        return {"canceled_at": ts(payment.canceled_at), "paid_at": ts(payment.paid_at)}


LINES_SHOWN = 10


class InvoiceOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("invoice")
    account_country = serializers.SerializerMethodField()
    account_name = serializers.SerializerMethodField()
    account_tax_ids = f.Fixed(None, "array")
    amount_due = serializers.IntegerField(help_text="What the customer owes in all. " + f.AMOUNT_HELP)
    amount_overpaid = f.Fixed(0)
    amount_paid = serializers.IntegerField(help_text="What was paid so far.")
    amount_paid_off_stripe = serializers.SerializerMethodField()
    amount_remaining = serializers.IntegerField(help_text="What is still to pay.")
    amount_shipping = f.Fixed(0)
    application = f.Fixed(None)
    attempt_count = serializers.IntegerField(help_text="How many times Kassa tried to charge it.")
    attempted = serializers.BooleanField(help_text="Whether a charge was tried.")
    auto_advance = serializers.BooleanField(
        help_text="true: Kassa finalizes the draft an hour after it was made and, for charge_automatically, "
        "charges the default card."
    )
    automatic_tax = serializers.SerializerMethodField()
    automatically_finalizes_at = f.UnixTime(allow_null=True, help_text="When beat will finalize the draft.")
    billing_reason = serializers.CharField(help_text="`manual` for an invoice you made.")
    collection_method = serializers.CharField(help_text="`charge_automatically` or `send_invoice`.")
    confirmation_secret = f.Fixed(None, "object")
    created = f.UnixTime()
    currency = serializers.CharField()
    custom_fields = f.Fixed(None, "array")
    customer = serializers.SerializerMethodField()
    customer_account = f.Fixed(None)
    customer_address = serializers.SerializerMethodField()
    customer_email = serializers.SerializerMethodField()
    customer_name = serializers.SerializerMethodField()
    customer_phone = serializers.SerializerMethodField()
    customer_shipping = f.Fixed(None, "object")
    customer_tax_exempt = f.Fixed(None)
    customer_tax_ids = f.Fixed(None, "array")
    default_payment_method = serializers.SerializerMethodField()
    default_source = f.Fixed(None)
    default_tax_rates = serializers.SerializerMethodField()
    description = serializers.CharField(allow_null=True, help_text="The memo shown to the customer.")
    discounts = f.Fixed([])
    due_date = f.UnixTime(allow_null=True, help_text="When a send_invoice invoice is due (Unix seconds).")
    effective_at = f.UnixTime(source="finalized_at", allow_null=True, help_text="When it was finalized.")
    ending_balance = serializers.SerializerMethodField()
    footer = serializers.CharField(allow_null=True, help_text="The footer shown on the invoice.")
    from_invoice = f.Fixed(None, "object")
    hosted_invoice_url = serializers.SerializerMethodField()
    invoice_pdf = serializers.SerializerMethodField()
    issuer = serializers.SerializerMethodField()
    last_finalization_error = serializers.DictField(allow_null=True, help_text="Why beat could not finalize it.")
    latest_revision = f.Fixed(None)
    lines = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    next_payment_attempt = f.UnixTime(
        allow_null=True,
        help_text="When Kassa will next try to charge it (automatic collection): after a failure, the next retry "
        "of the merchant's schedule (Settings → Failed payments); null when no attempt is planned (paid, automatic "
        "collection off, retries exhausted, or waiting for the customer's new card or 3-D Secure).",
    )
    number = serializers.CharField(allow_null=True, help_text="Its number (`ACME-0001`), given at finalization.")
    on_behalf_of = f.Fixed(None)
    parent = serializers.SerializerMethodField()
    payment_settings = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    period_end = f.UnixTime()
    period_start = f.UnixTime()
    post_payment_credit_notes_amount = f.Fixed(0)
    pre_payment_credit_notes_amount = f.Fixed(0)
    receipt_number = f.Fixed(None)
    rendering = f.Fixed(None, "object")
    shipping_cost = f.Fixed(None, "object")
    shipping_details = f.Fixed(None, "object")
    starting_balance = f.Fixed(0)
    statement_descriptor = f.Fixed(None)
    status = serializers.CharField(help_text="`draft`, `open`, `paid`, `void` or `uncollectible`.")
    status_details = f.Fixed(None, "object")
    status_transitions = serializers.SerializerMethodField()
    subtotal = serializers.IntegerField(help_text="The lines' amounts (inclusive taxes inside, exclusive not).")
    subtotal_excluding_tax = serializers.IntegerField(help_text="subtotal less inclusive taxes.")
    test_clock = serializers.SerializerMethodField()
    threshold_reason = f.Fixed(None, "object")
    total = serializers.IntegerField(help_text="What the customer pays: subtotal plus exclusive taxes.")
    total_discount_amounts = f.Fixed([])
    total_excluding_tax = serializers.IntegerField(help_text="total less every tax.")
    total_pretax_credit_amounts = f.Fixed([])
    total_taxes = serializers.SerializerMethodField()
    webhooks_delivered_at = f.Fixed(None, "integer")

    def get_account_country(self, invoice) -> str | None:
        return (invoice.issuer or {}).get("address", {}).get("country") or None

    def get_account_name(self, invoice) -> str | None:
        return (invoice.issuer or {}).get("legal_name") or invoice.merchant.name

    def get_amount_paid_off_stripe(self, invoice) -> int:
        return invoice.amount_paid if invoice.paid_out_of_band else 0

    @extend_schema_field(OBJECT)
    def get_automatic_tax(self, _):
        return {"disabled_reason": None, "enabled": False, "liability": None, "provider": None, "status": None}

    @reference_field("customer")
    def get_customer(self, invoice):
        return reference(self, invoice.customer, "customer", CustomerOut)

    @reference_field("customer's test clock (test mode only; null on the wall clock)")
    def get_test_clock(self, invoice):
        return test_clock_reference(self, invoice.customer)

    @extend_schema_field(OBJECT)
    def get_customer_address(self, invoice):
        return address_out(_billed(invoice, "address"))

    @extend_schema_field(serializers.CharField(allow_null=True, help_text=BILLED_HELP % "email"))
    def get_customer_email(self, invoice):
        return _billed(invoice, "email")

    @extend_schema_field(serializers.CharField(allow_null=True, help_text=BILLED_HELP % "name"))
    def get_customer_name(self, invoice):
        return _billed(invoice, "name")

    @extend_schema_field(serializers.CharField(allow_null=True, help_text=BILLED_HELP % "phone"))
    def get_customer_phone(self, invoice):
        return _billed(invoice, "phone")

    @reference_field("payment method")
    def get_default_payment_method(self, invoice):
        return reference(self, invoice.default_payment_method, "default_payment_method", PaymentMethodOut)

    @extend_schema_field(TaxRateOut(many=True))
    def get_default_tax_rates(self, invoice):
        return [represent(TaxRateOut, rate, {"expand": set()}) for rate in invoice_default_tax_rates_read(invoice)]

    def get_ending_balance(self, invoice) -> int | None:
        return None if invoice.status == Invoice.Status.DRAFT else 0

    def get_hosted_invoice_url(self, invoice) -> str | None:
        return invoice_urls(invoice)[0]

    def get_invoice_pdf(self, invoice) -> str | None:
        return invoice_urls(invoice)[1]

    @extend_schema_field(OBJECT)
    def get_issuer(self, _):
        return {"type": "self"}

    @extend_schema_field(
        inline_serializer(
            "InvoiceLines",
            {
                "object": serializers.CharField(),
                "data": InvoiceLineItemOut(many=True),
                "has_more": serializers.BooleanField(),
                "total_count": serializers.IntegerField(),
                "url": serializers.CharField(),
            },
        )
    )
    def get_lines(self, invoice):
        lines = invoice_lines_read(invoice)
        context = {"expand": set()}
        return {
            "object": "list",
            "data": [represent(InvoiceLineItemOut, line, context) for line in lines[:LINES_SHOWN]],
            "has_more": len(lines) > LINES_SHOWN,
            "total_count": len(lines),
            "url": f"/v1/invoices/{invoice.public_id}/lines",
        }

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="A subscription's invoice: `type` `subscription_details` and `subscription_details` "
            "(`subscription`, its `metadata`); null for an invoice you made.",
        )
    )
    def get_parent(self, invoice):
        if invoice.subscription_id is None:
            return None
        subscription = invoice.subscription
        # Set on a preview of a change only: the time its prorations were computed for.
        proration_date = getattr(invoice, "preview_proration_date", None)
        return {
            "quote_details": None,
            "subscription_details": {
                "metadata": subscription.metadata,
                "subscription": subscription.public_id,
                "subscription_proration_date": int(proration_date.timestamp()) if proration_date else None,
            },
            "type": "subscription_details",
        }

    @extend_schema_field(OBJECT)
    def get_payment_settings(self, _):
        return {"default_mandate": None, "payment_method_options": None, "payment_method_types": None}

    @extend_schema_field(
        inline_serializer(
            "InvoicePayments",
            {
                "object": serializers.CharField(),
                "data": InvoicePaymentOut(many=True),
                "has_more": serializers.BooleanField(),
                "url": serializers.CharField(),
            },
        )
    )
    def get_payments(self, invoice):
        expand = self.context.get("expand", ())
        nested = {"payment.payment_intent"} if "payments.data.payment.payment_intent" in expand else set()
        context = {"expand": nested, "view": self.context.get("view")}
        if invoice.status == Invoice.Status.DRAFT or not invoice.attempted:
            # Nothing to read: a draft takes no payment (collection.py pays open invoices only), and an invoice's
            # payments are made only where its attempt is counted (collection._payment_open), so one never
            # attempted has none (as a renewal's invoice when it is finalized).
            payments = []
        else:
            payments = invoice_payments_read(invoice)
        return {
            "object": "list",
            "data": [represent(InvoicePaymentOut, payment, context) for payment in payments],
            "has_more": False,
            "url": "/v1/invoice_payments",
        }

    @extend_schema_field(OBJECT)
    def get_status_transitions(self, invoice):
        def ts(value):
            return int(value.timestamp()) if value else None

        return {
            "finalized_at": ts(invoice.finalized_at),
            "marked_uncollectible_at": ts(invoice.marked_uncollectible_at),
            "paid_at": ts(invoice.paid_at),
            "voided_at": ts(invoice.voided_at),
        }

    @extend_schema_field(TAXES)
    def get_total_taxes(self, invoice):
        return taxes_out(invoice.total_taxes)

    def to_representation(self, invoice):
        if getattr(invoice, "deleted", False):
            return {"id": invoice.public_id, "object": "invoice", "deleted": True}
        return super().to_representation(invoice)


class InvoiceUpdateParams(f.StrictSerializer):
    auto_advance = f.Boolean(
        required=False, help_text="true: Kassa finalizes the draft an hour after it was made, then collects it."
    )
    collection_method = f.Choice(choices=Invoice.CollectionMethod.choices, required=False)
    days_until_due = f.Integer(
        required=False, min_value=0, max_value=365, help_text="send_invoice only: due this many days after finalizing."
    )
    default_payment_method = f.OptionalString(
        max_length=255, help_text="A saved card of the customer (`pm_…`) to charge instead of the customer's default."
    )
    default_tax_rates = _tax_rate_ids("Tax rates for every line without its own (`txr_…`).")
    description = f.OptionalString(max_length=1500, help_text="A memo shown to the customer.")
    due_date = f.Timestamp(required=False, help_text="send_invoice only: when it is due (Unix seconds, in the future).")
    footer = f.OptionalString(max_length=5000, help_text="The footer shown on the invoice.")
    metadata = f.Metadata()


class InvoiceCreateParams(InvoiceUpdateParams):
    customer = f.String(help_text="The customer to bill (`cus_…`).", **ID)
    currency = f.Currency(required=False)
    pending_invoice_items_behavior = f.Choice(
        choices=["include", "exclude"],
        required=False,
        help_text="`include` takes the customer's pending items in the invoice's currency; `exclude` (the "
        "default) leaves them pending.",
    )


class InvoiceListParams(CreatedListParams):
    customer = f.String(required=False, **ID)
    status = f.Choice(choices=Invoice.Status.choices, required=False)
    collection_method = f.Choice(choices=Invoice.CollectionMethod.choices, required=False)
    due_date = CreatedOrTimestamp(
        required=False, help_text="Only invoices due at this time, or in a range: `due_date[gte]` …"
    )


class InvoiceFinalizeParams(f.StrictSerializer):
    auto_advance = f.Boolean(required=False, help_text="Whether Kassa collects the invoice automatically from now on.")


class InvoicePayParams(f.StrictSerializer):
    payment_method = f.String(
        required=False,
        help_text="A saved card of the customer (`pm_…`); defaults to the invoice's or customer's.",
        **ID,
    )
    paid_out_of_band = f.Boolean(
        required=False, default=False, help_text="true: record a payment made outside Kassa; nothing is charged."
    )
    off_session = f.Boolean(
        required=False, default=True, help_text="Whether the customer is away (true, the default) when charged."
    )


class InvoiceActionParams(f.StrictSerializer):
    """Send, void, mark uncollectible: no parameters but expand[]."""


class InvoiceLinesListParams(ListParams):
    pass


class InvoicePaymentFilter(f.StrictSerializer):
    """``payment[type]`` and ``payment[payment_intent]``: Stripe's ``payment_record`` names a Payment Record,
    which Kassa does not have (every invoice payment of Kassa's is a PaymentIntent's)."""

    type = f.Choice(
        choices=["payment_intent", "payment_record"],
        help_text="`payment_intent`: the payments made by a PaymentIntent (every one Kassa makes). "
        "`payment_record` is refused: Kassa has no payment records.",
    )
    payment_intent = f.String(required=False, help_text="Only the payment made by this PaymentIntent (`pi_…`).", **ID)
    stripe_unsupported = ("payment_record",)

    def validate(self, attrs):
        if attrs["type"] == "payment_record":
            raise ValidationError(
                {
                    "type": [
                        serializers.ErrorDetail(
                            "Kassa has no payment records: every invoice payment is a PaymentIntent's "
                            "(`payment_intent`).",
                            code="parameter_invalid",
                        )
                    ]
                }
            )
        return attrs


class InvoicePaymentListParams(CreatedListParams):
    invoice = f.String(required=False, help_text="Only the payments of this invoice (`in_…`).", **ID)
    status = f.Choice(choices=InvoicePayment.Status.choices, required=False)
    payment = InvoicePaymentFilter(required=False)
