"""Input parameters and output shapes of PaymentIntents, refunds and saved payment methods.

Input serializers only validate and coerce; the services hold the rules the
dashboard shares (refundable amounts, whose card is whose). Output serializers
only render, with Stripe's field names, leaving out the fields of Stripe's
objects that Kassa has no concept for. References render as ids unless
``expand[]`` names them (``reference``). The checkout side is in
billing/checkout/api/serializers.py.
"""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kassa.api import fields as f
from kassa.api.fields import ID, Kind, card_only_types, missing
from kassa.api.views import CreatedListParams, ListParams, reference, reference_field
from kassa.errors import InvalidRequest

from ...catalogue.api.serializers import AddressParams, CustomerOut, address_out
from ..models import PaymentIntent, Refund

# --- PaymentIntents -----------------------------------------------------------------


def _check_email(value: str | None) -> str | None:
    if value and "@" not in value:
        raise ValidationError(f"Invalid email address: {value}", code="email_invalid")
    return value


DESCRIPTION_HELP = "What the payment is for, for you (the dashboard shows it)."


class PaymentIntentUpdateParams(f.StrictSerializer):
    description = f.OptionalString(max_length=1000, help_text=DESCRIPTION_HELP)
    receipt_email = f.OptionalString(max_length=254)
    metadata = f.Metadata()

    def validate_receipt_email(self, value):
        return _check_email(value)


class PaymentIntentCreateParams(PaymentIntentUpdateParams):
    amount = f.Amount(min_value=1, help_text="How much to charge, at least 1. " + f.AMOUNT_HELP)
    currency = f.Currency()
    customer = f.String(required=False, help_text="The customer who pays (`cus_…`).", **ID)
    payment_method = f.String(
        required=False, help_text="A saved card (pm_…) of the customer; required with confirm=true.", **ID
    )
    confirm = f.Boolean(
        required=False,
        default=False,
        help_text="true charges payment_method at once (as a separate confirm call would); false (the default) "
        "leaves the PaymentIntent to be confirmed later.",
    )
    off_session = f.Boolean(
        required=False,
        default=False,
        help_text="With confirm=true: the payer is not there (you charge a card saved earlier, e.g. by a setup-mode "
        "checkout session). A card that asks for authentication is then refused (402 `authentication_required`) "
        "instead of waiting for 3-D Secure, as at Stripe.",
    )
    payment_method_types = card_only_types()

    def validate(self, attrs):
        if attrs["confirm"] and "payment_method" not in attrs:
            raise missing("payment_method")
        if attrs["off_session"] and not attrs["confirm"]:
            raise InvalidRequest("off_session can only be used with confirm=true.", param="off_session")
        attrs.pop("payment_method_types", None)
        return attrs


class PaymentIntentListParams(CreatedListParams):
    customer = f.String(required=False, **ID)


class PaymentIntentConfirmParams(f.StrictSerializer):
    payment_method = f.String(required=False, **ID)


class PaymentIntentCancelParams(f.StrictSerializer):
    cancellation_reason = f.Choice(
        choices=["duplicate", "fraudulent", "requested_by_customer", "abandoned"], required=False
    )


class PaymentIntentOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("payment_intent")
    amount = serializers.IntegerField(help_text="How much to charge. " + f.AMOUNT_HELP)
    amount_capturable = serializers.SerializerMethodField()
    amount_received = serializers.IntegerField()
    application = f.Fixed(None)
    application_fee_amount = f.Fixed(None, "integer")
    automatic_payment_methods = f.Fixed(None, "object")
    canceled_at = f.UnixTime(allow_null=True)
    cancellation_reason = serializers.CharField(allow_null=True)
    capture_method = serializers.SerializerMethodField()
    client_secret = serializers.CharField(help_text="Kassa's own client secret for this PaymentIntent.")
    confirmation_method = serializers.SerializerMethodField()
    created = f.UnixTime()
    currency = serializers.CharField()
    customer = serializers.SerializerMethodField()
    description = serializers.CharField(allow_null=True, help_text=DESCRIPTION_HELP)
    last_payment_error = serializers.SerializerMethodField()
    latest_charge = serializers.CharField(allow_null=True)
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    next_action = serializers.SerializerMethodField()
    on_behalf_of = f.Fixed(None)
    payment_method = serializers.SerializerMethodField()
    payment_method_types = serializers.SerializerMethodField()
    processing = f.Fixed(None, "object")
    receipt_email = serializers.CharField(allow_null=True)
    review = f.Fixed(None)
    setup_future_usage = serializers.CharField(
        allow_null=True,
        help_text="`off_session` or `on_session`: the card this payment is made with stays saved on the customer "
        "once it succeeds (set through a checkout session's or payment link's `payment_intent_data`); null: the "
        "card pays this PaymentIntent only and is not saved.",
    )
    shipping = f.Fixed(None, "object")
    source = f.Fixed(None)
    statement_descriptor = f.Fixed(None)
    statement_descriptor_suffix = f.Fixed(None)
    status = serializers.CharField(
        help_text="`requires_payment_method` (waiting for a card, or the last one was refused), "
        "`requires_confirmation`, `requires_action` (3-D Secure, see next_action), `processing`, `succeeded` "
        "or `canceled`."
    )
    transfer_data = f.Fixed(None, "object")
    transfer_group = f.Fixed(None)

    def get_amount_capturable(self, _) -> int:
        return 0  # Kassa captures automatically

    def get_capture_method(self, _) -> str:
        return "automatic"

    def get_confirmation_method(self, _) -> str:
        return "automatic"

    @reference_field("customer")
    def get_customer(self, intent: PaymentIntent):
        return reference(self, intent.customer, "customer", CustomerOut)

    @extend_schema_field(
        serializers.DictField(
            allow_null=True,
            help_text="Why the last attempt failed (`type`, `code`, `decline_code`, `message`); null when it did not.",
        )
    )
    def get_last_payment_error(self, intent: PaymentIntent):
        error = intent.last_payment_error
        if not error:
            return None
        return {key: value for key, value in error.items() if value is not None}

    @extend_schema_field(
        inline_serializer(
            "PaymentIntentNextAction",
            {
                "type": serializers.CharField(help_text="Always `use_stripe_sdk`."),
                "use_stripe_sdk": inline_serializer(
                    "PaymentIntentUseStripeSdk",
                    {
                        "type": serializers.CharField(help_text="Always `stripe_js`."),
                        "client_secret": serializers.CharField(
                            allow_null=True, help_text="The processor's client secret, for Stripe.js."
                        ),
                    },
                ),
            },
            allow_null=True,
            help_text="Set while the status is requires_action, otherwise null.",
        )
    )
    def get_next_action(self, intent: PaymentIntent):
        if intent.status != PaymentIntent.Status.REQUIRES_ACTION:
            return None
        # Kassa's extension: the processor's client secret, for Stripe.js's
        # handleCardAction() with the merchant's Stripe publishable key. Retrieving
        # the PaymentIntent afterwards re-reads the processor and shows the outcome.
        secret = self.context.get("processor_client_secret")
        return {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "stripe_js", "client_secret": secret}}

    @reference_field("payment method")
    def get_payment_method(self, intent: PaymentIntent):
        return reference(self, intent.payment_method, "payment_method", PaymentMethodOut)

    def get_payment_method_types(self, _) -> list[str]:
        return ["card"]


# --- refunds ------------------------------------------------------------------------


class RefundUpdateParams(f.StrictSerializer):
    metadata = f.Metadata()


class RefundCreateParams(RefundUpdateParams):
    payment_intent = f.String(**ID)
    amount = f.Amount(required=False, min_value=1, help_text="Defaults to what remains refundable.")
    reason = f.Choice(choices=Refund.Reason.choices, required=False)


class RefundListParams(CreatedListParams):
    payment_intent = f.String(required=False, **ID)


class RefundOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("refund")
    amount = serializers.IntegerField(help_text="How much is refunded. " + f.AMOUNT_HELP)
    balance_transaction = f.Fixed(None)
    charge = serializers.CharField(
        source="payment_intent.latest_charge", allow_null=True, help_text="The refunded charge's id (`ch_…`)."
    )
    created = f.UnixTime()
    currency = serializers.CharField()
    description = f.Fixed(None)
    failure_reason = serializers.CharField(allow_null=True)
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    next_action = f.Fixed(None, "object")
    payment_intent = serializers.SerializerMethodField()
    pending_reason = f.Fixed(None)
    reason = serializers.CharField(allow_null=True)
    receipt_number = f.Fixed(None)
    source_transfer_reversal = f.Fixed(None)
    status = serializers.CharField(help_text="`pending`, `succeeded`, `failed` or `canceled`.")
    transfer_reversal = f.Fixed(None)

    @reference_field("PaymentIntent")
    def get_payment_intent(self, refund: Refund):
        return reference(self, refund.payment_intent, "payment_intent", PaymentIntentOut)


# --- payment methods ----------------------------------------------------------------


class CardTokenParams(f.StrictSerializer):
    token = f.String(help_text="A card token (tok_…) made by Stripe.js in the payer's browser.", **ID)

    def to_internal_value(self, data):
        if isinstance(data, dict) and {"number", "cvc"} & set(data):
            raise InvalidRequest(
                "Kassa never receives card numbers: make a token with Stripe.js in the browser "
                "and pass it as card[token]=tok_….",
                param="card[number]" if "number" in data else "card[cvc]",
            )
        return super().to_internal_value(data)


class BillingDetailsParams(f.StrictSerializer):
    address = AddressParams(required=False)
    email = f.OptionalString(max_length=254)
    name = f.OptionalString(max_length=256)
    phone = f.OptionalString(max_length=40)

    def validate_email(self, value):
        return _check_email(value)


CUSTOMER_REQUIRED = (
    "Kassa saves a card on a customer: pass customer=cus_…. The card is attached to that customer "
    "at the payment processor, so a payment method cannot exist without one."
)


class PaymentMethodCreateParams(f.StrictSerializer):
    type = Kind(choices=["card"])
    card = CardTokenParams()
    customer = f.String(required=False, help_text="Required by Kassa: " + CUSTOMER_REQUIRED, **ID)
    billing_details = BillingDetailsParams(required=False)

    def validate(self, attrs):
        if not attrs.get("customer"):
            raise InvalidRequest(CUSTOMER_REQUIRED, code="parameter_missing", param="customer")
        return attrs


class PaymentMethodAttachParams(f.StrictSerializer):
    customer = f.String(
        help_text="The customer the card is saved on (`cus_…`). Kassa saves every card on its customer as it "
        "is made, so this must be that customer: attaching to another one is refused.",
        **ID,
    )


class PaymentMethodDetachParams(f.StrictSerializer):
    pass


class CustomerPaymentMethodListParams(ListParams):
    type = Kind(choices=["card"], required=False)


class PaymentMethodListParams(CustomerPaymentMethodListParams):
    customer = f.String(required=False, help_text="Required by Kassa: cards are always saved on a customer.", **ID)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("customer"):
            raise InvalidRequest(
                "Pass customer=cus_…: Kassa lists the cards saved on one customer.",
                code="parameter_missing",
                param="customer",
            )
        return attrs


class PaymentMethodOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("payment_method")
    billing_details = serializers.SerializerMethodField()
    card = serializers.SerializerMethodField()
    created = f.UnixTime()
    customer = serializers.SerializerMethodField()
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    type = serializers.CharField(help_text="Always `card`.")

    @extend_schema_field(serializers.DictField())
    def get_billing_details(self, method):
        details = method.billing_details or {}
        return {
            "address": address_out(details.get("address") or {}),
            "email": details.get("email"),
            "name": details.get("name"),
            "phone": details.get("phone"),
        }

    @extend_schema_field(
        inline_serializer(
            "PaymentMethodCard",
            {
                "brand": serializers.CharField(),
                "display_brand": serializers.CharField(),
                "exp_month": serializers.IntegerField(allow_null=True),
                "exp_year": serializers.IntegerField(allow_null=True),
                "last4": serializers.CharField(),
            },
        )
    )
    def get_card(self, method):
        return {
            "brand": method.card_brand,
            "display_brand": method.card_brand,
            "exp_month": method.card_exp_month,
            "exp_year": method.card_exp_year,
            "last4": method.card_last4,
        }

    @reference_field("customer")
    def get_customer(self, method):
        return reference(self, method.customer, "customer", CustomerOut)


# --- charges (only inside events) ------------------------------------------------------


def charge_out(payment_intent: PaymentIntent) -> dict:
    """The charge of a succeeded PaymentIntent, as Stripe shapes it in ``charge.*`` events.

    Kassa has no charges API of its own: the id is the processor's charge
    (``latest_charge``), the amounts are Kassa's record of the payment.
    """
    refunded = sum(payment_intent.refunds.filter(status=Refund.Status.SUCCEEDED).values_list("amount", flat=True))
    return {
        "id": payment_intent.latest_charge,
        "object": "charge",
        "amount": payment_intent.amount,
        "amount_captured": payment_intent.amount_received,
        "amount_refunded": refunded,
        "captured": True,
        "created": int(payment_intent.created.timestamp()),
        "currency": payment_intent.currency,
        "customer": payment_intent.customer.public_id if payment_intent.customer_id else None,
        "livemode": payment_intent.livemode,
        "metadata": payment_intent.metadata,
        "paid": True,
        "payment_intent": payment_intent.public_id,
        "refunded": refunded >= payment_intent.amount_received,
        "status": "succeeded",
    }
