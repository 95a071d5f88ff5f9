"""``POST /v1/invoices/create_preview`` (stripe-python's ``invoices.create_preview``): parameters, answer, view.

Routed under invoices' path but living here: the preview of a subscription's next invoice knows
subscriptions, which invoicing may not import. A read in a POST's clothes: it writes nothing, so it
records no idempotency key either (replaying a preview would only show an older one).
"""

import datetime

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api import schema
from kassa.api.fields import ID
from kassa.api.views import represent
from kassa.errors import InvalidRequest

from ...catalogue.models import Price, Product
from ...invoices.api.docs import INVOICE
from ...invoices.api.serializers import (
    LINES_SHOWN,
    InvoiceLineItemOut,
    InvoiceOut,
    InvoicePaymentOut,
    PeriodParams,
    TaxRateOut,
)
from ...invoices.api.views.invoices import InvoicingView
from .. import preview
from ..models import Subscription
from .serializers import BillingCycleAnchor, ItemPriceDataParams, TimestampOrNow, moment

BEHAVIOR_HELP = (
    "`create_prorations` (the default): the change's proration lines join the next invoice, which is "
    "previewed; `always_invoice`: the invoice the change would make at once; `none`: no proration lines."
)


PREVIEW_ID = "upcoming_in_4Tg7LmQ2xZc9VbN1kWs8DpRa"
# A customer's pending item previewed: the invoice example as a draft nobody made yet.
PREVIEW = {
    **INVOICE,
    "id": PREVIEW_ID,
    "amount_paid": 0,
    "amount_remaining": 3000,
    "attempt_count": 0,
    "attempted": False,
    "auto_advance": True,
    "billing_reason": "upcoming",
    "effective_at": None,
    "ending_balance": None,
    "hosted_invoice_url": None,
    "invoice_pdf": None,
    "lines": {**INVOICE["lines"], "url": f"/v1/invoices/{PREVIEW_ID}/lines"},
    "number": None,
    "payments": {"object": "list", "data": [], "has_more": False, "url": "/v1/invoice_payments"},
    "status": "draft",
    "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None},
}

INVOICES_CREATE_PREVIEW = schema.Doc(
    tag="Invoices",
    summary="Preview an invoice",
    description="Shows the next invoice of a subscription — or of a customer's pending invoice items — "
    "without making it: nothing is saved and no event is sent. With `subscription_details[items]` it shows "
    'what a change of the subscription would bill: Stripe\'s "Unused time on …" credit and "Remaining '
    'time on …" charge for the rest of the current period, to the second (each line rounded once, half up, '
    "to the currency's smallest unit), then the next period at the new price. Pass the same "
    "`proration_date` to the update to be billed exactly what was previewed. `[trial_end]` previews the invoice "
    "a trial's new end brings (`now`: the one made at once). With `customer` and `subscription_details[items]` "
    "but no `subscription`, it shows the first invoice `subscriptions.create` would make with those items, "
    "`[trial_end]` and `[billing_cycle_anchor]`. The answer's id starts "
    "`upcoming_in_`; it cannot be retrieved, paid or listed.",
    requests=(
        ("A customer's pending items", {"customer": "cus_9PqRtY2wXc4VbN7mKs3LdJhA"}),
        (
            "A new subscription's first invoice, anchored on the 1st of next month",
            {
                "customer": "cus_9PqRtY2wXc4VbN7mKs3LdJhA",
                "subscription_details": {
                    "items": [{"price": "price_3NbV8kLq2WxT7cYm4RsJ9dHe"}],
                    "billing_cycle_anchor": 1801468800,
                },
            },
        ),
        (
            "A subscription's next invoice if it went to 3 seats now",
            {
                "subscription": "sub_6PqT2mWx9LcR4nKb7VyH3sZd",
                "subscription_details": {"items": [{"id": "si_8KcN3tRw5LmQ2vXb9YpH4sZe", "quantity": 3}]},
            },
        ),
    ),
    response=PREVIEW,
)


class PreviewItemParams(f.StrictSerializer):
    id = f.String(required=False, help_text="The subscription item to change or delete (`si_…`).", **ID)
    price = f.String(required=False, help_text="The item's new price, or a new item's (`price_…`).", **ID)
    price_data = ItemPriceDataParams(
        required=False, help_text="A recurring price for the item, shown in the preview and never saved."
    )
    quantity = f.Integer(required=False, min_value=0, max_value=2_147_483_647, help_text="The item's new quantity.")
    deleted = f.Boolean(required=False, default=False, help_text="true: the item (`id`) is removed.")


class PreviewInvoiceItemParams(f.StrictSerializer):
    amount = f.Amount(required=False, help_text="The line's whole amount, 0 or more. " + f.AMOUNT_HELP)
    currency = f.Currency(required=False)
    description = f.OptionalString(max_length=500, help_text="What the line says.")
    discountable = f.Boolean(required=False, help_text="Stored and returned: Kassa has no discounts.")
    metadata = f.Metadata()
    period = PeriodParams(required=False, help_text="The period the line is for, shown on the invoice.")
    price = f.String(required=False, help_text="A one-time price (`price_…`) instead of `amount`.", **ID)
    quantity = f.Integer(required=False, min_value=0, max_value=2_147_483_647, help_text="How many units of `price`.")
    tax_rates = f.List(child=f.String(**ID), required=False, max_length=5, help_text="The line's tax rates (`txr_…`).")


class PreviewSubscriptionDetailsParams(f.StrictSerializer):
    items = f.List(
        child=PreviewItemParams(),
        required=False,
        max_length=20,
        help_text="The change to preview: items to change (`id` with `price` and/or `quantity`), delete "
        "(`id`, `deleted`) or add (`price`, `quantity`); without `subscription`, a new subscription's items.",
    )
    proration_behavior = f.Choice(
        choices=list(preview.BEHAVIORS), required=False, default="create_prorations", help_text=BEHAVIOR_HELP
    )
    proration_date = f.Timestamp(
        required=False,
        help_text="When the change happens, for its prorations (Unix seconds, in the current period; default: "
        "now, or the customer's test clock's time). Pass the same to the subscription update to be charged "
        "exactly what was previewed.",
    )
    cancel_at_period_end = f.Boolean(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: preview as if the subscription ended with its current period (no next invoice); false: "
        "as if it renewed.",
    )
    cancel_at = f.Timestamp(
        required=False,
        allow_null=True,
        help_text="Preview as if the subscription ended at this time (Unix seconds): at or before the current "
        "period's end, there is no next invoice.",
    )
    trial_end = TimestampOrNow(
        required=False,
        help_text="A subscription in a trial: its trial's end moved (Unix seconds; its next invoice is then), or "
        "`now`: the invoice ending the trial makes at once. A new subscription: its trial (a zero first invoice).",
    )
    billing_cycle_anchor = BillingCycleAnchor(
        required=False,
        help_text="A new subscription: when its periods start from (Unix seconds, or `{type: timestamp, "
        "timestamp}`), the first invoice billing the stub up to it (nothing with `proration_behavior=none`); `now` "
        "(the default) starts them now. An existing subscription: `unchanged` only (Kassa does not reset a "
        "subscription's cycle with `now` yet).",
    )


class InvoicePreviewParams(f.StrictSerializer):
    customer = f.String(
        required=False,
        help_text="The customer whose pending invoice items to preview (`cus_…`), or who would subscribe to "
        "`subscription_details[items]` (the first invoice of that new subscription).",
        **ID,
    )
    subscription = f.String(required=False, help_text="The subscription whose next invoice to preview (`sub_…`).", **ID)
    subscription_details = PreviewSubscriptionDetailsParams(
        required=False,
        help_text="A change of the subscription to preview, with its prorations; or, with `customer` and no "
        "`subscription`, a new subscription's items, trial and anchor.",
    )
    invoice_items = f.List(
        child=PreviewInvoiceItemParams(),
        required=False,
        max_length=250,
        help_text="One-off items to add to the preview (with the customer's pending ones); none is saved.",
    )


class InvoicePreviewOut(InvoiceOut):
    """An invoice that is not there: its lines and rates are computed, never stored."""

    @extend_schema_field(
        inline_serializer(
            "InvoicePreviewLines",
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
        lines = invoice.preview_lines
        context = {"expand": set()}
        return {
            "object": "list",
            "data": [represent(InvoiceLineItemOut, line, context) for line in lines[:LINES_SHOWN]],
            "has_more": len(lines) > LINES_SHOWN,
            "total_count": len(lines),
            "url": f"/v1/invoices/{invoice.public_id}/lines",
        }

    @extend_schema_field(TaxRateOut(many=True))
    def get_default_tax_rates(self, invoice):
        return [represent(TaxRateOut, rate, {"expand": set()}) for rate in invoice.preview_default_tax_rates]

    @extend_schema_field(
        inline_serializer(
            "InvoicePreviewPayments",
            {
                "object": serializers.CharField(),
                "data": InvoicePaymentOut(many=True),
                "has_more": serializers.BooleanField(),
                "url": serializers.CharField(),
            },
        )
    )
    def get_payments(self, invoice):
        return {"object": "list", "data": [], "has_more": False, "url": "/v1/invoice_payments"}


class InvoicePreviewView(InvoicingView):
    resource = "invoices"
    also_reads = ("subscriptions",)
    expandable = {"customer": "customers", "default_payment_method": "payment_methods"}
    records_idempotency = False

    @schema.create(
        InvoicePreviewParams,
        InvoicePreviewOut,
        doc=INVOICES_CREATE_PREVIEW,
        operation_id="invoices_create_preview",
    )
    def post(self, request):
        params, expand = self.params(InvoicePreviewParams)
        customer = subscription = None
        if params.get("customer"):
            customer = self.lookup_customer(params["customer"], param="customer")
        if params.get("subscription"):
            subscription = self.lookup(Subscription, params["subscription"], param="subscription")
        details = params.get("subscription_details") or {}
        changes = self._changes(details.get("items") or [])
        invoice_items = self._invoice_items(params.get("invoice_items") or [])
        extra = {}
        if "cancel_at" in details:
            extra["cancel_at"] = moment(details["cancel_at"]) if details["cancel_at"] is not None else None
        proration_date = details.get("proration_date")
        if proration_date is not None:
            proration_date = datetime.datetime.fromtimestamp(proration_date, tz=datetime.UTC)
        for name in ("trial_end", "billing_cycle_anchor"):
            if name in details:
                extra[name] = details[name]
        if customer is None and subscription is None:
            raise InvalidRequest(
                "Give a customer or a subscription to preview.", code="parameter_missing", param="customer"
            )
        invoice = preview.invoice_preview(
            merchant=self.merchant,
            livemode=self.livemode,
            now=timezone.now(),
            customer=customer,
            subscription=subscription,
            items=changes,
            proration_behavior=details.get("proration_behavior", "create_prorations"),
            proration_date=proration_date,
            invoice_items=invoice_items,
            cancel_at_period_end=details.get("cancel_at_period_end"),
            **extra,
        )
        return self.render(InvoicePreviewOut, invoice, expand)

    def _changes(self, items: list[dict]) -> list[preview.ItemChange]:
        changes = []
        for index, item in enumerate(items):
            param = f"subscription_details[items][{index}]"
            price = price_data = None
            if item.get("price"):
                price = self.lookup(Price, item["price"], param=f"{param}[price]")
            if item.get("price_data"):
                price_data = dict(item["price_data"])
                price_data["product"] = self.lookup(
                    Product, price_data["product"], param=f"{param}[price_data][product]"
                )
            changes.append(
                preview.ItemChange(
                    id=item.get("id"),
                    price=price,
                    price_data=price_data,
                    quantity=item.get("quantity"),
                    deleted=item.get("deleted", False),
                )
            )
        return changes

    def _invoice_items(self, given_items: list[dict]) -> list[dict]:
        invoice_items = []
        for index, given in enumerate(given_items):
            entry = dict(given)
            if entry.get("price"):
                entry["price"] = self.lookup(Price, entry["price"], param=f"invoice_items[{index}][price]")
            if "tax_rates" in entry:
                entry["tax_rates"] = self.tax_rates(entry["tax_rates"], f"invoice_items[{index}][tax_rates]")
            if "period" in entry:
                entry["period"] = {key: moment(value) for key, value in entry["period"].items()}
            invoice_items.append(entry)
        return invoice_items
