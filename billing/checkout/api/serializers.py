"""Input parameters and output shapes of payment links and checkout sessions (Stripe Checkout's shape).

Same rules as payments_serializers.py: validate and coerce in, render out. Kassa
extensions to Stripe's parameters (``email_collection``, ``payment_link`` on a
session) say so in their help text, which the OpenAPI schema shows.
"""

import datetime

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.fields import ID, Kind, card_only_types, missing
from kassa.api.views import CreatedListParams, ListParams, reference, reference_field, represent
from kassa.errors import InvalidRequest

from ...catalogue.api.serializers import CustomerOut, PriceOut, address_out
from ...invoices.api.serializers import InvoiceOut
from ...payments.api.serializers import PaymentIntentOut
from ...subscriptions.api.serializers import SubscriptionOut
from ...subscriptions.services.create import TRIAL_DAYS_MAX
from .. import services as checkout
from ..models import CheckoutSession, Locale, PaymentLink

# --- payment links ------------------------------------------------------------------


class PhoneNumberCollectionOut(f.Out):
    enabled = serializers.BooleanField(source="phone_number_collection")


class InlineProductDataParams(f.StrictSerializer):
    name = f.String(max_length=250)
    description = f.OptionalString(max_length=40000, help_text="What the product is, shown to payers.")
    images = f.List(child=f.String(max_length=2048), required=False, max_length=8)
    metadata = f.Metadata()


class InlinePriceDataParams(f.StrictSerializer):
    currency = f.Currency()
    unit_amount = f.Amount()
    product_data = InlineProductDataParams()


class PaymentLinkLineItemParams(f.StrictSerializer):
    price = f.String(required=False, **ID)
    price_data = InlinePriceDataParams(
        required=False, help_text="A one-time price made for this link (with its product), as at Stripe."
    )
    quantity = f.Integer(required=False, min_value=1, max_value=checkout.MAX_QUANTITY, default=1)


class AfterCompletionRedirectParams(f.StrictSerializer):
    url = f.String(max_length=2048, help_text="Your page to send the payer to after paying.")


class AfterCompletionConfirmationParams(f.StrictSerializer):
    custom_message = f.OptionalString(max_length=500)


class AfterCompletionParams(f.StrictSerializer):
    type = Kind(choices=PaymentLink.AfterCompletion.values)
    redirect = AfterCompletionRedirectParams(required=False)
    hosted_confirmation = AfterCompletionConfirmationParams(required=False)


class PhoneNumberCollectionParams(f.StrictSerializer):
    enabled = f.Boolean()


EMAIL_COLLECTION_HELP = (
    "Kassa extension (not in Stripe's API): whether the hosted page asks the payer for an email "
    "address. Defaults to true."
)


LOCALE_HELP = (
    "The language of the hosted payment page: auto (the payer's pick on the page's language switch, else their "
    "browser's Accept-Language, else English), en or fr. Stripe's other locales are refused until Kassa has "
    "their translations. Unset behaves as auto."
)
LINK_LOCALE_HELP = (
    "Kassa extension (Stripe has locale on checkout sessions only): the language of the hosted page of every "
    "session opened from this link, which copies it. " + LOCALE_HELP
)


def locale_param(help_text: str) -> Kind:
    return Kind(
        choices=Locale.values,
        required=False,
        allow_blank=True,  # "" unsets it, as every optional value at Stripe
        help_text=help_text,
        error_messages={
            "invalid_choice": f"`{{input}}` is not a locale Kassa supports yet; use one of: {', '.join(Locale.values)}."
        },
    )


class BlankAsNull(serializers.CharField):
    """``null`` until set, as at Stripe (a locale, a setup session's currency); the model stores unset as ``""``."""

    def to_representation(self, value):
        return value or None


SETUP_FUTURE_USAGE_HELP = (
    "`off_session` (you will charge the card later without the payer, e.g. with "
    "`payment_intents.create(customer=…, payment_method=…, confirm=true, off_session=true)`) or `on_session`: "
    "the card the payer pays with is saved on their customer once the payment succeeds, and the page tells the "
    "payer so. Unset, the card pays this payment only and is not saved, as at Stripe."
)


class PaymentIntentDataParams(f.StrictSerializer):
    setup_future_usage = f.Choice(
        choices=[("off_session", "off_session"), ("on_session", "on_session")],
        required=False,
        help_text=SETUP_FUTURE_USAGE_HELP,
    )


class LinkPaymentIntentDataParams(f.StrictSerializer):
    setup_future_usage = f.Choice(
        choices=[("off_session", "off_session"), ("on_session", "on_session")],
        required=False,
        allow_blank=True,  # "" unsets it on update, as at Stripe
        help_text=SETUP_FUTURE_USAGE_HELP + " Sessions opened from the link copy it.",
    )


def _setup_future_usage(attrs: dict) -> dict:
    """``payment_intent_data[setup_future_usage]`` to the services' plain ``setup_future_usage``."""
    if "payment_intent_data" in attrs:
        data = attrs.pop("payment_intent_data") or {}
        if "setup_future_usage" in data:
            attrs["setup_future_usage"] = data["setup_future_usage"] or ""
    return attrs


class SubscriptionDataParams(f.StrictSerializer):
    """What the subscription a subscription-mode session (or link) makes is made with."""

    trial_period_days = f.Integer(
        required=False,
        min_value=1,
        max_value=TRIAL_DAYS_MAX,
        help_text="Days of free trial: nothing is charged at checkout (the card is saved), the first period is "
        "billed when the trial ends.",
    )
    description = f.OptionalString(max_length=500, help_text="The subscription's description.")
    metadata = f.Metadata(help_text="Set on the subscription.")


SUBSCRIPTION_DATA_HELP = (
    "Subscription mode only (recurring prices): what the subscription is made with. Kassa supports "
    "trial_period_days, description and metadata; other keys are refused."
)


class SessionSubscriptionDataParams(SubscriptionDataParams):
    """What the subscription a subscription-mode session makes is made with."""

    trial_end = f.Timestamp(
        required=False,
        help_text="When the trial ends (Unix seconds, at least 48 hours ahead); instead of trial_period_days.",
    )
    billing_cycle_anchor = f.Timestamp(
        required=False,
        help_text="When periods start from (Unix seconds, after the session expires): the first invoice bills the "
        "stub period up to it (its share, or nothing with proration_behavior=none).",
    )
    proration_behavior = f.Choice(
        choices=["create_prorations", "none"],
        required=False,
        help_text="With billing_cycle_anchor: `create_prorations` (the default) bills the stub's share, `none` "
        "bills nothing before the anchor.",
    )
    default_tax_rates = f.List(
        child=f.String(**ID), required=False, max_length=5, help_text="Tax rates for every line (`txr_…`)."
    )


SESSION_SUBSCRIPTION_DATA_HELP = (
    "Subscription mode only: what the subscription is made with (trial_period_days or trial_end, "
    "billing_cycle_anchor, proration_behavior, default_tax_rates, description, metadata); other keys are refused."
)


class PaymentLinkUpdateParams(f.StrictSerializer):
    active = f.Boolean(required=False)
    after_completion = AfterCompletionParams(required=False)
    billing_address_collection = f.Choice(choices=PaymentLink.AddressCollection.choices, required=False)
    phone_number_collection = PhoneNumberCollectionParams(required=False)
    email_collection = f.Boolean(required=False, help_text=EMAIL_COLLECTION_HELP)
    locale = locale_param(LINK_LOCALE_HELP)
    payment_intent_data = LinkPaymentIntentDataParams(
        required=False, help_text="What the PaymentIntents of the link's payments are made with."
    )
    subscription_data = SubscriptionDataParams(
        required=False,
        help_text="A link of recurring prices: what each subscription it makes is made with (replaced as a whole "
        "on update, as at Stripe). Refused on a link of one-time prices.",
    )
    metadata = f.Metadata()

    def validate(self, attrs):
        # The services take phone collection as a plain flag.
        if "phone_number_collection" in attrs:
            attrs["phone_number_collection"] = attrs["phone_number_collection"]["enabled"]
        return _setup_future_usage(attrs)


class PaymentLinkCreateParams(PaymentLinkUpdateParams):
    line_items = f.List(child=PaymentLinkLineItemParams(), allow_empty=False, max_length=checkout.MAX_LINE_ITEMS)


class PaymentLinkListParams(ListParams):
    active = f.Boolean(required=False, allow_null=True, default=None)


class PaymentLinkOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("payment_link")
    active = serializers.BooleanField()
    after_completion = serializers.SerializerMethodField()
    allow_promotion_codes = serializers.SerializerMethodField()
    application = f.Fixed(None)
    application_fee_amount = f.Fixed(None, "integer")
    application_fee_percent = f.Fixed(None, "number")
    automatic_tax = f.Fixed({"enabled": False, "liability": None})
    billing_address_collection = serializers.CharField()
    consent_collection = f.Fixed(None, "object")
    created = f.UnixTime()
    currency = serializers.CharField()
    custom_fields = f.Fixed([])
    custom_text = f.Fixed(
        {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None}
    )
    customer_creation = serializers.SerializerMethodField()
    email_collection = serializers.BooleanField(help_text=EMAIL_COLLECTION_HELP)
    inactive_message = f.Fixed(None)
    invoice_creation = f.Fixed(None, "object")
    livemode = serializers.BooleanField()
    locale = BlankAsNull(allow_null=True, help_text=LINK_LOCALE_HELP)
    metadata = serializers.DictField(child=serializers.CharField())
    on_behalf_of = f.Fixed(None)
    payment_intent_data = serializers.SerializerMethodField()
    payment_method_collection = f.Fixed("always")
    payment_method_types = serializers.SerializerMethodField()
    phone_number_collection = PhoneNumberCollectionOut(source="*")
    restrictions = f.Fixed(None, "object")
    shipping_address_collection = f.Fixed(None, "object")
    shipping_options = f.Fixed([])
    submit_type = f.Fixed("auto")
    subscription_data = serializers.SerializerMethodField()
    tax_id_collection = f.Fixed({"enabled": False, "required": "never"})
    transfer_data = f.Fixed(None, "object")
    url = serializers.SerializerMethodField()

    @extend_schema_field(
        inline_serializer(
            "PaymentLinkSubscriptionData",
            {
                "description": serializers.CharField(
                    allow_null=True, help_text="The description each subscription is made with."
                ),
                "invoice_settings": serializers.DictField(help_text="Always the account's own (issuer self)."),
                "metadata": serializers.DictField(
                    child=serializers.CharField(), help_text="Set on each subscription the link makes."
                ),
                "trial_period_days": serializers.IntegerField(
                    allow_null=True, help_text="Days of free trial each subscription starts with; null for none."
                ),
                "trial_settings": serializers.DictField(allow_null=True, help_text="Always null."),
            },
            allow_null=True,
            help_text="A link of recurring prices (its sessions make subscriptions): what they are made with. "
            "Null for a link of one-time prices.",
        )
    )
    def get_subscription_data(self, link: PaymentLink):
        data = link.subscription_data
        if data is None:
            return None
        return {
            "description": data.get("description"),
            "invoice_settings": {"issuer": {"type": "self"}},
            "metadata": data.get("metadata") or {},
            "trial_period_days": data.get("trial_period_days"),
            "trial_settings": None,
        }

    @extend_schema_field(
        inline_serializer(
            "PaymentLinkAfterCompletion",
            {
                "type": serializers.ChoiceField(
                    choices=PaymentLink.AfterCompletion.values,
                    help_text="`hosted_confirmation` (Kassa's page) or `redirect` (your page).",
                ),
                # One of the two, the one ``type`` names, as at Stripe.
                "redirect": inline_serializer(
                    "PaymentLinkAfterCompletionRedirect",
                    {"url": serializers.CharField(help_text="Your page the payer is sent to after paying.")},
                    required=False,
                ),
                "hosted_confirmation": inline_serializer(
                    "PaymentLinkAfterCompletionHostedConfirmation",
                    {"custom_message": serializers.CharField(allow_null=True)},
                    required=False,
                ),
            },
        )
    )
    def get_after_completion(self, link: PaymentLink):
        if link.after_completion_type == PaymentLink.AfterCompletion.REDIRECT:
            return {"type": "redirect", "redirect": {"url": link.after_completion_redirect_url}}
        return {
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": link.after_completion_message or None},
        }

    @extend_schema_field(
        inline_serializer(
            "PaymentLinkPaymentIntentData",
            {
                "capture_method": serializers.CharField(
                    allow_null=True, help_text="Always null: Kassa captures at once."
                ),
                "description": serializers.CharField(allow_null=True, help_text="Always null."),
                "metadata": serializers.DictField(child=serializers.CharField(), help_text="Always empty."),
                "setup_future_usage": serializers.CharField(allow_null=True, help_text=SETUP_FUTURE_USAGE_HELP),
                "statement_descriptor": serializers.CharField(allow_null=True, help_text="Always null."),
                "statement_descriptor_suffix": serializers.CharField(allow_null=True, help_text="Always null."),
                "transfer_group": serializers.CharField(allow_null=True, help_text="Always null."),
            },
            allow_null=True,
            help_text="What the link's PaymentIntents are made with: null unless `setup_future_usage` was set.",
        )
    )
    def get_payment_intent_data(self, link: PaymentLink):
        if not link.setup_future_usage:
            return None
        return {
            "capture_method": None,
            "description": None,
            "metadata": {},
            "setup_future_usage": link.setup_future_usage,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "transfer_group": None,
        }

    @extend_schema_field(serializers.BooleanField(help_text="Always false: Kassa has no promotion codes."))
    def get_allow_promotion_codes(self, _) -> bool:
        return False

    def get_customer_creation(self, _) -> str:
        # Paying always makes (or reuses) a Kassa customer: the card is attached to it at the processor.
        return "always"

    def get_payment_method_types(self, _) -> list[str]:
        return ["card"]

    @extend_schema_field(serializers.CharField(help_text="The link to share: its hosted payment page."))
    def get_url(self, link: PaymentLink) -> str:
        return checkout.payment_link_url(link)


# --- line items (of links and sessions) ---------------------------------------------


class LineItemOut(f.Out):
    """Stripe's ``item``: a checkout session's line item, amounts fixed when the session was made."""

    id = serializers.CharField(source="public_id")
    object = f.Constant("item")
    amount_discount = serializers.SerializerMethodField()
    amount_subtotal = serializers.IntegerField()
    amount_tax = serializers.SerializerMethodField()
    amount_total = serializers.IntegerField()
    adjustable_quantity = f.Fixed(None, "object")
    currency = serializers.CharField()
    description = serializers.CharField(help_text="What the line sells: the product's name.")
    price = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()

    def get_amount_discount(self, _) -> int:
        return 0

    def get_amount_tax(self, _) -> int:
        return 0

    @extend_schema_field(PriceOut)
    def get_price(self, item):
        expand = {"product"} if "price.product" in self.context.get("expand", ()) else set()
        return represent(PriceOut, item.price, {"expand": expand, "view": self.context.get("view")})


class PaymentLinkLineItemOut(LineItemOut):
    """A payment link's line item: amounts from its price, as the next session will charge them."""

    amount_subtotal = serializers.SerializerMethodField()
    amount_total = serializers.SerializerMethodField()
    currency = serializers.CharField(source="price.currency")
    description = serializers.CharField(source="price.product.name", help_text="The product's name.")

    def get_amount_subtotal(self, item) -> int:
        return item.price.unit_amount * item.quantity

    def get_amount_total(self, item) -> int:
        return item.price.unit_amount * item.quantity


# --- checkout sessions --------------------------------------------------------------


class CheckoutLineItemParams(f.StrictSerializer):
    price = f.String(required=False, **ID)
    price_data = InlinePriceDataParams(required=False)
    quantity = f.Integer(required=False, min_value=1, max_value=checkout.MAX_QUANTITY, default=1)


class CheckoutSessionCreateParams(f.StrictSerializer):
    payment_link = f.String(
        required=False,
        help_text=(
            "Kassa extension: start a session from an active payment link (its line items and settings); "
            "no other parameter may be sent with it. The only call a publishable key may make here."
        ),
        **ID,
    )
    mode = f.Choice(
        choices=CheckoutSession.Mode.choices,
        required=False,
        help_text="Required unless payment_link is given: `payment` (the payer pays one-time line_items), "
        "`setup` (the payer saves a card on their customer for later charges; no line_items, nothing is charged) "
        "or `subscription` (recurring line_items: the payer pays the subscription's first invoice, or starts "
        "its trial, and the card becomes the subscription's and the customer's default).",
        error_messages={
            "invalid_choice": 'Kassa supports mode "payment", "setup" and "subscription"; "{input}" is not one.'
        },
    )
    line_items = f.List(
        child=CheckoutLineItemParams(),
        required=False,
        max_length=checkout.MAX_LINE_ITEMS,
        help_text="Required in payment mode (one-time prices) and subscription mode (recurring prices of one "
        "currency and interval, and one-time prices billed on the first invoice only), unless payment_link is "
        "given; refused in setup mode.",
    )
    subscription_data = SessionSubscriptionDataParams(required=False, help_text=SESSION_SUBSCRIPTION_DATA_HELP)
    currency = f.Currency(
        required=False,
        help_text="Optional in setup mode (Kassa's sessions take cards only, where Stripe does not require it); "
        "in payment mode it must be the line items' currency.",
    )
    customer_creation = f.Choice(
        choices=[("always", "always"), ("if_required", "if_required")],
        required=False,
        help_text="Kept and answered; Kassa finds or makes a customer either way (by the payer's email), since "
        "the card is saved on one at the processor.",
    )
    payment_intent_data = PaymentIntentDataParams(
        required=False, help_text="Payment mode only: what the session's PaymentIntent is made with."
    )
    success_url = f.OptionalString(
        max_length=5000, help_text="Kept verbatim; the hosted page replaces {CHECKOUT_SESSION_ID} when it redirects."
    )
    cancel_url = f.OptionalString(max_length=5000)
    client_reference_id = f.OptionalString(max_length=200)
    payment_method_types = card_only_types()
    customer = f.String(required=False, **ID)
    customer_email = f.OptionalString(max_length=254)
    expires_at = f.Timestamp(required=False, help_text="Unix seconds, 30 minutes to 24 hours from now.")
    locale = locale_param(LOCALE_HELP)
    metadata = f.Metadata()

    def validate(self, attrs):
        if "payment_link" in attrs:
            others = sorted(set(self.initial_data) - {"payment_link"})
            if others:
                raise InvalidRequest(
                    f"payment_link cannot be combined with {others[0]}: a session made from a payment link "
                    "takes its line items and settings from the link.",
                    code="parameters_exclusive",
                    param=others[0],
                )
            return attrs
        if "mode" not in attrs:
            raise missing("mode")
        if attrs["mode"] != CheckoutSession.Mode.SETUP and "line_items" not in attrs:
            raise missing("line_items")
        if attrs["mode"] == CheckoutSession.Mode.SETUP and "payment_intent_data" in attrs:
            raise InvalidRequest(
                "payment_intent_data is for payment mode; a setup-mode session always saves the card.",
                param="payment_intent_data",
            )
        _setup_future_usage(attrs)
        attrs.pop("payment_method_types", None)
        if "expires_at" in attrs:
            attrs["expires_at"] = datetime.datetime.fromtimestamp(attrs["expires_at"], tz=datetime.UTC)
        return attrs


class CheckoutSessionExpireParams(f.StrictSerializer):
    """Expiring takes no parameters (but ``expand[]``)."""


class CheckoutSessionListParams(CreatedListParams):
    customer = f.String(required=False, **ID)
    payment_intent = f.String(required=False, **ID)
    payment_link = f.String(required=False, **ID)
    status = f.Choice(choices=CheckoutSession.Status.choices, required=False)


class CheckoutSessionOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("checkout.session")
    after_expiration = f.Fixed(None, "object")
    allow_promotion_codes = f.Fixed(None, "boolean")
    amount_subtotal = serializers.IntegerField(allow_null=True, help_text="Null in setup mode.")
    amount_total = serializers.IntegerField(allow_null=True, help_text="Null in setup mode.")
    automatic_tax = f.Fixed({"enabled": False, "liability": None, "provider": None, "status": None})
    billing_address_collection = serializers.CharField()
    cancel_url = serializers.CharField(allow_null=True)
    client_reference_id = serializers.CharField(allow_null=True)
    client_secret = f.Fixed(None)
    consent = f.Fixed(None, "object")
    consent_collection = f.Fixed(None, "object")
    created = f.UnixTime()
    currency = BlankAsNull(allow_null=True, help_text="Null for a setup-mode session made without one.")
    custom_fields = f.Fixed([])
    custom_text = f.Fixed(
        {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None}
    )
    customer = serializers.SerializerMethodField()
    customer_creation = serializers.CharField(
        help_text="`if_required` unless the session was made with `always`; Kassa finds or makes a customer either way."
    )
    customer_details = serializers.SerializerMethodField()
    customer_email = serializers.CharField(allow_null=True)
    discounts = f.Fixed([])
    email_collection = serializers.BooleanField(help_text=EMAIL_COLLECTION_HELP)
    expires_at = f.UnixTime()
    invoice = serializers.SerializerMethodField()
    invoice_creation = f.Fixed(None, "object")
    livemode = serializers.BooleanField()
    locale = BlankAsNull(
        allow_null=True, help_text=LOCALE_HELP + " A session opened from a payment link has the link's."
    )
    metadata = serializers.DictField(child=serializers.CharField())
    mode = serializers.CharField(
        help_text="`payment`, `setup` (saves a card, charges nothing) or `subscription` (starts a subscription)."
    )
    payment_intent = serializers.SerializerMethodField()
    payment_link = serializers.SerializerMethodField()
    payment_method_collection = f.Fixed("always")
    payment_method_options = f.Fixed({})
    payment_method_types = serializers.SerializerMethodField()
    payment_status = serializers.CharField(
        help_text="`unpaid`, `paid`, or `no_payment_required` (setup mode, or a subscription's trial: nothing "
        "is charged)."
    )
    phone_number_collection = PhoneNumberCollectionOut(source="*")
    recovered_from = f.Fixed(None)
    setup_intent = f.Fixed(
        None,
        help_text="Always null: Kassa has no SetupIntents. A setup-mode session saves the card by attaching it to "
        "the customer at once, as POST /v1/payment_methods does: find it in the customer's cards "
        "(GET /v1/payment_methods?customer=…, newest first) or the payment_method.attached event.",
    )
    shipping_address_collection = f.Fixed(None, "object")
    shipping_cost = f.Fixed(None, "object")
    shipping_options = f.Fixed([])
    status = serializers.CharField(
        help_text="`open` (can be paid, or a card saved), `complete` (paid, or the card saved) or `expired` (can no "
        "longer be)."
    )
    submit_type = f.Fixed(None)
    subscription = serializers.SerializerMethodField()
    success_url = serializers.CharField(allow_null=True)
    tax_id_collection = f.Fixed(None, "object")
    total_details = serializers.SerializerMethodField()
    ui_mode = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    @reference_field("customer")
    def get_customer(self, session: CheckoutSession):
        return reference(self, session.customer, "customer", CustomerOut)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_customer_details(self, session: CheckoutSession):
        details = session.customer_details
        if details is None:
            return None
        return {
            "address": address_out(details.get("address")),
            "email": details.get("email"),
            "name": details.get("name"),
            "phone": details.get("phone"),
            "tax_exempt": "none",
            "tax_ids": [],
        }

    @extend_schema_field(
        serializers.CharField(
            allow_null=True,
            help_text="Subscription mode: the subscription's first invoice (its id, or the invoice when expanded), "
            "once the session is complete; null before and in other modes.",
        )
    )
    def get_invoice(self, session: CheckoutSession):
        if session.status != CheckoutSession.Status.COMPLETE:
            return None
        return reference(self, session.invoice, "invoice", InvoiceOut)

    @extend_schema_field(
        serializers.CharField(
            allow_null=True,
            help_text="Subscription mode: the subscription the payer started (its id, or the subscription when "
            "expanded), once the session is complete; null before (a declined payer's subscription is not "
            "started) and in other modes.",
        )
    )
    def get_subscription(self, session: CheckoutSession):
        if session.status != CheckoutSession.Status.COMPLETE:
            return None
        return reference(self, session.subscription, "subscription", SubscriptionOut)

    @reference_field("PaymentIntent")
    def get_payment_intent(self, session: CheckoutSession):
        return reference(self, session.payment_intent, "payment_intent", PaymentIntentOut)

    @reference_field("payment link")
    def get_payment_link(self, session: CheckoutSession):
        return reference(self, session.payment_link, "payment_link", PaymentLinkOut)

    def get_payment_method_types(self, _) -> list[str]:
        return ["card"]

    @extend_schema_field(
        inline_serializer(
            "CheckoutTotalDetails",
            {
                "amount_discount": serializers.IntegerField(),
                "amount_shipping": serializers.IntegerField(),
                "amount_tax": serializers.IntegerField(),
            },
        )
    )
    def get_total_details(self, _):
        return {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}

    def get_ui_mode(self, _) -> str:
        return "hosted"

    @extend_schema_field(
        serializers.CharField(
            allow_null=True, help_text="The hosted payment page to send the payer to; null once not open."
        )
    )
    def get_url(self, session: CheckoutSession) -> str | None:
        # As at Stripe: the hosted page's address only while the session can still be paid.
        return checkout.checkout_session_url(session) if session.status == CheckoutSession.Status.OPEN else None
