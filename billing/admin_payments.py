"""Dashboard pages for taking money: payment links, payments (PaymentIntents), refunds, checkout sessions.

- Payment links are made and changed only through ``billing.services.checkout``
  (``save_via_service``, run inside the form's validation as ScopedAdmin does),
  and are deactivated, never deleted: sessions and payments point at them.
- Payments, refunds and checkout sessions are ledgers: read-only pages, no add,
  no edit, no delete (dj-stripe's rule). The one write is the "Refund…" page,
  which calls ``refund_create`` and needs the same write role as every other
  dashboard write.
- Staff type amounts in major units ("12.50"); ``money.to_minor`` converts and
  refuses more decimals than the currency has (none for JPY).
"""

import re
from contextlib import contextmanager

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, OuterRef, Subquery, Sum
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from kassa import metadata, money
from kassa.errors import KassaError
from kassa.ids import random_string
from merchants.admin_base import LedgerAdmin, ScopedAdmin

from . import selectors
from .models import CheckoutSession, PaymentIntent, PaymentLink, PaymentLinkLineItem, Price, Refund
from .services import checkout, payments

LINE_ITEM_ROWS = 5
_AMOUNT_RE = re.compile(r"^\d{1,12}(\.\d{1,6})?$")


def _money(amount: int | None, currency: str) -> str:
    return "—" if amount is None else money.format_amount(amount, currency)


def _when(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "—"


def _admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "—"
    url = reverse(f"admin:billing_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or obj.public_id)


def major_to_minor(value: str, currency: str) -> int:
    """ "12.50" EUR -> 1250; a ValidationError for anything that is not a positive amount of this currency."""
    value = (value or "").strip()
    if not _AMOUNT_RE.match(value):
        example = "1500" if money.decimal_places(currency) == 0 else "12.50"
        raise forms.ValidationError(f"Enter an amount in {currency.upper()}, e.g. {example}.")
    try:
        amount = money.to_minor(value, currency)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None
    if amount < 1:
        raise forms.ValidationError("The amount must be more than zero.")
    return amount


@contextmanager
def _errors_on_fields(field_map: dict):
    """Re-aim a service error's ``param`` (the API's name) at the dashboard form's field."""
    try:
        yield
    except KassaError as exc:
        exc.param = field_map.get(exc.param, exc.param)
        raise


# --- payment links -------------------------------------------------------------------


class PriceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, price):
        nickname = f" · {price.nickname}" if price.nickname else ""
        return f"{price.product.name}{nickname} — {money.format_amount(price.unit_amount, price.currency)}"


AFTER_COMPLETION_FIELDS = ["after_completion_type", "after_completion_redirect_url", "after_completion_message"]
COLLECTION_FIELDS = ["email_collection", "phone_number_collection", "billing_address_collection"]
LINK_FIELD_MAP = {
    "after_completion[type]": "after_completion_type",
    "after_completion[redirect][url]": "after_completion_redirect_url",
    "after_completion[hosted_confirmation][custom_message]": "after_completion_message",
}


class PaymentLinkForm(forms.ModelForm):
    """What a link's page changes: after payment, what to collect, metadata (payment_link_update)."""

    after_completion_type = forms.ChoiceField(
        choices=[
            (PaymentLink.AfterCompletion.HOSTED_CONFIRMATION, "Show Kassa's confirmation page"),
            (PaymentLink.AfterCompletion.REDIRECT, "Redirect to your website"),
        ],
        initial=PaymentLink.AfterCompletion.HOSTED_CONFIRMATION,
        label="After payment",
    )
    after_completion_redirect_url = forms.URLField(
        required=False, assume_scheme="https", label="Redirect URL", help_text="Where the payer goes after paying."
    )
    after_completion_message = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Confirmation message",
        help_text="Shown on Kassa's confirmation page after paying.",
    )
    billing_address_collection = forms.ChoiceField(
        choices=[("auto", "Only when needed"), ("required", "Always (required)")],
        initial="auto",
        label="Billing address",
    )
    metadata = forms.JSONField(required=False, initial=dict, help_text='A JSON object of strings, e.g. {"order": "42"}')

    class Meta:
        model = PaymentLink
        fields = [*AFTER_COMPLETION_FIELDS, *COLLECTION_FIELDS, "metadata"]
        labels = {
            "email_collection": "Collect email",
            "phone_number_collection": "Collect phone number",
        }

    def after_completion(self) -> dict:
        data = self.cleaned_data
        if data.get("after_completion_type") == PaymentLink.AfterCompletion.REDIRECT:
            return {"type": "redirect", "redirect": {"url": data.get("after_completion_redirect_url") or ""}}
        return {
            "type": "hosted_confirmation",
            "hosted_confirmation": {"custom_message": data.get("after_completion_message") or ""},
        }


class PaymentLinkCreateBase(PaymentLinkForm):
    """A new link: up to LINE_ITEM_ROWS price/quantity rows, or a plain amount (Kassa makes product and price)."""

    amount = forms.CharField(required=False, max_length=32, help_text="In major units: 12.50 EUR, 1500 JPY.")
    amount_currency = forms.ChoiceField(
        required=False, choices=[(c, c.upper()) for c in sorted(money.SUPPORTED)], label="Currency"
    )
    amount_description = forms.CharField(
        required=False, max_length=250, label="Description", help_text="What the payer buys, shown on the pay page."
    )

    #: the merchant's active one-time prices in the current mode; set per request by the admin
    prices = Price.objects.none()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(LINE_ITEM_ROWS):
            self.fields[f"price_{i}"].queryset = self.prices

    def clean(self):
        data = super().clean()
        self.line_items = [
            (i, data[f"price_{i}"], data.get(f"quantity_{i}") or 1)
            for i in range(LINE_ITEM_ROWS)
            if data.get(f"price_{i}")
        ]
        has_amount = bool((data.get("amount") or "").strip())
        if self.line_items and has_amount:
            raise forms.ValidationError("Use prices or an amount, not both.")
        if not self.line_items and not has_amount:
            raise forms.ValidationError("Pick at least one price, or enter an amount.")
        if has_amount:
            currency = data.get("amount_currency") or ""
            if not money.is_supported(currency):
                self.add_error("amount_currency", "Pick a currency.")
            else:
                try:
                    data["amount_minor"] = major_to_minor(data["amount"], currency)
                except forms.ValidationError as exc:
                    self.add_error("amount", exc)
            if not (data.get("amount_description") or "").strip():
                self.add_error("amount_description", "Say what the payer buys.")
        return data


def _line_item_fields() -> dict:
    fields = {}
    for i in range(LINE_ITEM_ROWS):
        fields[f"price_{i}"] = PriceChoiceField(
            queryset=Price.objects.none(), required=False, label="Price" if i == 0 else f"Price {i + 1}"
        )
        fields[f"quantity_{i}"] = forms.IntegerField(
            required=False, min_value=1, max_value=checkout.MAX_QUANTITY, initial=1, label="Quantity"
        )
    return fields


# Declared fields must exist on the class for the admin's modelform_factory; five rows, built in a loop.
PaymentLinkCreateForm = type("PaymentLinkCreateForm", (PaymentLinkCreateBase,), _line_item_fields())


@admin.register(PaymentLink)
class PaymentLinkAdmin(ScopedAdmin):
    list_display = ["public_id", "url", "active", "total", "created"]
    list_filter = ["active"]
    search_fields = ["public_id", "line_items__price__product__name"]
    date_hierarchy = "created"
    actions = ["deactivate_selected", "activate_selected"]

    change_fieldsets = [
        (None, {"fields": ["public_id", "active", "url_box", "qr_code"]}),
        ("What the payer buys", {"fields": ["line_items_table", "total"]}),
        ("After payment", {"fields": AFTER_COMPLETION_FIELDS}),
        ("Collect from the payer", {"fields": COLLECTION_FIELDS}),
        ("More", {"fields": ["metadata", "livemode", "created"]}),
    ]
    change_readonly = ["public_id", "active", "url_box", "qr_code", "line_items_table", "total", "livemode", "created"]

    def get_queryset(self, request):
        # A subquery, not a join: the changelist's search also joins line items and would skew a Sum over a join.
        total = (
            PaymentLinkLineItem.objects.filter(payment_link=OuterRef("pk"))
            .values("payment_link")
            .annotate(total=Sum(F("price__unit_amount") * F("quantity")))
            .values("total")
        )
        return super().get_queryset(request).annotate(total_amount=Subquery(total))

    # --- columns and read-only fields -----------------------------------------
    @admin.display(description="URL")
    def url(self, link):
        url = checkout.payment_link_url(link)
        return format_html('<a href="{0}" target="_blank" rel="noopener">{0}</a>', url)

    @admin.display(description="Total", ordering="total_amount")
    def total(self, link):
        amount = getattr(link, "total_amount", None)
        if amount is None:
            amount = sum(item.price.unit_amount * item.quantity for item in link.line_items.select_related("price"))
        return _money(amount, link.currency)

    @admin.display(description="URL")
    def url_box(self, link):
        return format_html(
            '<code id="kassa-link-url" class="kassa-link-url">{}</code> '
            '<button type="button" class="button" data-copy="kassa-link-url">Copy</button>',
            checkout.payment_link_url(link),
        )

    @admin.display(description="QR code")
    def qr_code(self, link):
        # segno draws the URL as modules of a path; no text of ours goes into the markup.
        svg = segno.make(checkout.payment_link_url(link), error="m").svg_inline(
            scale=4, svgclass="kassa-qr", title="QR code of the payment link"
        )
        return mark_safe(svg)  # noqa: S308

    @admin.display(description="Line items")
    def line_items_table(self, link):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _admin_link(item.price.product, item.price.product.name),
                    money.format_amount(item.price.unit_amount, item.price.currency),
                    item.quantity,
                    money.format_amount(item.price.unit_amount * item.quantity, item.price.currency),
                )
                for item in link.line_items.select_related("price__product")
            ),
        )
        return format_html(
            '<table class="kassa-table"><thead><tr><th>Product</th><th>Unit price</th><th>Quantity</th>'
            "<th>Amount</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    # --- forms ---------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.change_fieldsets
        rows = [(f"price_{i}", f"quantity_{i}") for i in range(LINE_ITEM_ROWS)]
        return [
            (
                "From prices in your catalogue",
                {"fields": rows, "description": "Active one-time prices, all in one currency."},
            ),
            (
                "Or from an amount",
                {
                    "fields": ["amount", "amount_currency", "amount_description"],
                    "description": "Kassa makes a product and a price for it.",
                },
            ),
            ("After payment", {"fields": AFTER_COMPLETION_FIELDS}),
            ("Collect from the payer", {"fields": COLLECTION_FIELDS}),
            ("More", {"fields": ["metadata"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.change_readonly if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            merchant, livemode = self.current(request)
            prices = selectors.price_list(
                merchant=merchant, livemode=livemode, active=True, type=Price.Type.ONE_TIME
            ).order_by("product__name", "unit_amount")
            kwargs["form"] = type("PaymentLinkCreateForm", (PaymentLinkCreateForm,), {"prices": prices})
        else:
            kwargs["form"] = PaymentLinkForm
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        scope = self.scope(request)
        if scope and scope.merchant is not None:
            initial.setdefault("amount_currency", scope.merchant.default_currency)
        return initial

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            changes = {f: data[f] for f in COLLECTION_FIELDS if f in form.changed_data}
            if set(AFTER_COMPLETION_FIELDS) & set(form.changed_data):
                changes["after_completion"] = form.after_completion()
            if "metadata" in form.changed_data:
                changes["metadata"] = metadata.replace(form.instance.metadata, data.get("metadata") or {})
            if not changes:
                return form.instance
            with _errors_on_fields(LINK_FIELD_MAP):
                return checkout.payment_link_update(payment_link=form.instance, **changes)
        merchant, livemode = self.current(request)
        options = {
            "after_completion": form.after_completion(),
            "metadata": data.get("metadata") or None,
            **{f: data[f] for f in COLLECTION_FIELDS},
        }
        if form.line_items:
            field_map = dict(LINK_FIELD_MAP)
            for n, (row, _, _) in enumerate(form.line_items):
                field_map[f"line_items[{n}][price]"] = f"price_{row}"
                field_map[f"line_items[{n}][quantity]"] = f"quantity_{row}"
            with _errors_on_fields(field_map):
                return checkout.payment_link_create(
                    merchant=merchant,
                    livemode=livemode,
                    line_items=[{"price": price, "quantity": quantity} for _, price, quantity in form.line_items],
                    **options,
                )
        field_map = {
            **LINK_FIELD_MAP,
            "unit_amount": "amount",
            "line_items": "amount",
            "currency": "amount_currency",
            "name": "amount_description",
        }
        with _errors_on_fields(field_map):
            return checkout.payment_link_create_for_amount(
                merchant=merchant,
                livemode=livemode,
                amount=data["amount_minor"],
                currency=data["amount_currency"],
                description=data["amount_description"].strip(),
                **options,
            )

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        # Straight to the link's page: its URL and QR code are what the merchant came for.
        self.message_user(request, f"Payment link {obj.public_id} created. Share its URL or QR code.")
        return HttpResponseRedirect(reverse("admin:billing_paymentlink_change", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        return False  # links are deactivated, never deleted: sessions and payments point at them

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_write"] = self._can_write(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- activate / deactivate ------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/activation/",
                self.admin_site.admin_view(self.activation_view),
                name="billing_paymentlink_activation",
            ),
            *super().get_urls(),
        ]

    def activation_view(self, request, pk):
        """POST ``active=0|1``: an explicit target state, so a repeated click changes nothing more."""
        link = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request, link):
            raise PermissionDenied
        active = request.POST.get("active") == "1"
        try:
            checkout.payment_link_update(payment_link=link, active=active)
        except KassaError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            state = "active: payers can use it again" if active else "inactive: payers can no longer use it"
            self.message_user(request, f"Payment link {link.public_id} is {state}.")
        return HttpResponseRedirect(reverse("admin:billing_paymentlink_change", args=[link.pk]))

    def _set_active(self, request, queryset, active: bool):
        for link in queryset:
            checkout.payment_link_update(payment_link=link, active=active)
        self.message_user(request, f"{len(queryset)} payment link(s) {'activated' if active else 'deactivated'}.")

    @admin.action(description="Deactivate selected payment links", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description="Activate selected payment links", permissions=["change"])
    def activate_selected(self, request, queryset):
        self._set_active(request, queryset, True)


# --- payments ------------------------------------------------------------------------

TIMELINE_LABELS = {
    "created": "Created",
    "requires_action": "3-D Secure asked",
    "succeeded": "Succeeded",
    "payment_failed": "Failed",
    "canceled": "Canceled",
    "refund_created": "Refund requested",
    "refunded": "Refunded",
}


REASON_LABELS = {
    Refund.Reason.DUPLICATE: "Duplicate",
    Refund.Reason.FRAUDULENT: "Fraudulent",
    Refund.Reason.REQUESTED_BY_CUSTOMER: "Requested by customer",
}


def _source(session: CheckoutSession | None) -> str:
    """The payment link it came through, else its checkout session."""
    if session is None:
        return "—"
    if session.payment_link_id:
        return _admin_link(session.payment_link)
    return _admin_link(session, session.public_id[:24] + "…")


def _session_of(payment_intent: PaymentIntent) -> CheckoutSession | None:
    try:
        return payment_intent.checkout_session
    except CheckoutSession.DoesNotExist:
        return None


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=32)
    # A new key each time the page is shown: the same form posted twice makes one refund.
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    reason = forms.ChoiceField(choices=[("", "—"), *REASON_LABELS.items()], required=False)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = f"Amount ({currency.upper()})"

    def clean_amount(self):
        return major_to_minor(self.cleaned_data["amount"], self.currency)


@admin.register(PaymentIntent)
class PaymentIntentAdmin(LedgerAdmin):
    list_display = ["public_id", "status", "amount_display", "customer_email", "source", "created"]
    list_filter = ["status", ("created", admin.DateFieldListFilter)]
    date_hierarchy = "created"
    search_fields = ["=public_id", "customer__email", "receipt_email"]
    list_select_related = ["customer", "checkout_session__payment_link"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "status",
                    "amount_display",
                    "amount_received_display",
                    "refunded_display",
                    "customer_link",
                    "customer_email",
                    "card",
                    "source",
                    "description",
                    "created",
                ]
            },
        ),
        ("Timeline", {"fields": ["timeline_table"]}),
        ("Refunds", {"fields": ["refunds_table"]}),
        (
            "Processor",
            {
                "fields": [
                    "processor_id",
                    "latest_charge",
                    "last_payment_error_display",
                    "canceled_at",
                    "cancellation_reason",
                    "livemode",
                    "metadata",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, pi):
        return money.format_amount(pi.amount, pi.currency)

    @admin.display(description="Received")
    def amount_received_display(self, pi):
        return money.format_amount(pi.amount_received, pi.currency)

    @admin.display(description="Refunded")
    def refunded_display(self, pi):
        refunded = sum(r.amount for r in pi.refunds.all() if r.status == Refund.Status.SUCCEEDED)
        return money.format_amount(refunded, pi.currency)

    @admin.display(description="Customer email", ordering="customer__email")
    def customer_email(self, pi):
        return (pi.customer.email if pi.customer else None) or pi.receipt_email or "—"

    @admin.display(description="Customer")
    def customer_link(self, pi):
        return _admin_link(pi.customer, str(pi.customer)) if pi.customer else "—"

    @admin.display(description="Card")
    def card(self, pi):
        return str(pi.payment_method) if pi.payment_method else "—"

    @admin.display(description="Link or session")
    def source(self, pi):
        return _source(_session_of(pi))

    @admin.display(description="Last error")
    def last_payment_error_display(self, pi):
        error = pi.last_payment_error
        if not error:
            return "—"
        code = error.get("decline_code") or error.get("code") or ""
        return f"{error.get('message', '')} ({code})" if code else error.get("message", "")

    @admin.display(description="Timeline")
    def timeline_table(self, pi):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (_when(event.created), TIMELINE_LABELS.get(event.kind, event.kind), event.message)
                for event in pi.timeline.all()
            ),
        )
        return format_html(
            '<table class="kassa-table" id="kassa-timeline"><thead><tr><th>When</th><th>What</th><th>Details</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Refunds")
    def refunds_table(self, pi):
        refunds = list(pi.refunds.order_by("id"))
        if not refunds:
            return "None"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _admin_link(r),
                    money.format_amount(r.amount, r.currency),
                    r.status,
                    REASON_LABELS.get(r.reason, "—"),
                    _when(r.created),
                )
                for r in refunds
            ),
        )
        return format_html(
            '<table class="kassa-table" id="kassa-refunds"><thead><tr><th>Refund</th><th>Amount</th><th>Status</th>'
            "<th>Reason</th><th>When</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["can_refund"] = (
                self._can_write(request)
                and obj.status == PaymentIntent.Status.SUCCEEDED
                and payments.refundable_amount(obj) > 0
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- refund ----------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="billing_paymentintent_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request, pk):
        payment_intent = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self._can_write(request):
            raise PermissionDenied
        currency = payment_intent.currency
        remaining = payments.refundable_amount(payment_intent)
        refundable = payment_intent.status == PaymentIntent.Status.SUCCEEDED and remaining > 0
        form = RefundForm(
            request.POST if request.method == "POST" else None,
            currency=currency,
            initial={"amount": str(money.to_decimal(max(remaining, 0), currency)), "request_key": random_string(32)},
        )
        if request.method == "POST" and refundable and form.is_valid():
            try:
                refund = payments.refund_create(
                    payment_intent=payment_intent,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"] or None,
                    request_key=form.cleaned_data["request_key"],
                )
            except KassaError as exc:
                form.add_error("amount" if exc.param == "amount" else None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Refund {refund.public_id} of {money.format_amount(refund.amount, refund.currency)}: "
                    f"{refund.status}.",
                    messages.SUCCESS if refund.status == Refund.Status.SUCCEEDED else messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:billing_paymentintent_change", args=[payment_intent.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund {payment_intent.public_id}",
            "opts": self.model._meta,
            "payment_intent": payment_intent,
            "form": form,
            "refundable": refundable,
            "amount": money.format_amount(payment_intent.amount_received, currency),
            "remaining": money.format_amount(max(remaining, 0), currency),
        }
        return TemplateResponse(request, "admin/billing/refund_form.html", context)


@admin.register(Refund)
class RefundAdmin(LedgerAdmin):
    list_display = ["public_id", "payment", "amount_display", "status", "reason_display", "created"]
    list_filter = ["status", "reason"]
    search_fields = ["=public_id", "=payment_intent__public_id"]
    list_select_related = ["payment_intent"]
    date_hierarchy = "created"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "payment",
                    "amount_display",
                    "status",
                    "reason_display",
                    "failure_reason",
                    "processor_id",
                    "livemode",
                    "metadata",
                    "created",
                ]
            },
        )
    ]

    @admin.display(description="Payment", ordering="payment_intent")
    def payment(self, refund):
        return _admin_link(refund.payment_intent)

    @admin.display(description="Reason", ordering="reason")
    def reason_display(self, refund):
        return REASON_LABELS.get(refund.reason, "—")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, refund):
        return money.format_amount(refund.amount, refund.currency)


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(LedgerAdmin):
    list_display = ["short_id", "status", "payment_status", "amount_display", "email", "link", "created"]
    list_filter = ["status", "payment_status"]
    search_fields = ["=public_id", "customer_email", "client_reference_id", "=payment_intent__public_id"]
    list_select_related = ["payment_link", "payment_intent"]
    date_hierarchy = "created"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "status",
                    "payment_status",
                    "amount_display",
                    "email",
                    "link",
                    "payment",
                    "line_items_table",
                    "client_reference_id",
                    "success_url",
                    "cancel_url",
                    "expires_at",
                    "completed_at",
                    "livemode",
                    "metadata",
                    "created",
                ]
            },
        )
    ]

    @admin.display(description="ID", ordering="id")
    def short_id(self, session):
        return session.public_id[:24] + "…"

    @admin.display(description="Total", ordering="amount_total")
    def amount_display(self, session):
        return money.format_amount(session.amount_total, session.currency)

    @admin.display(description="Customer email")
    def email(self, session):
        return session.customer_email or (session.customer_details or {}).get("email") or "—"

    @admin.display(description="Payment link")
    def link(self, session):
        return _admin_link(session.payment_link)

    @admin.display(description="Payment")
    def payment(self, session):
        return _admin_link(session.payment_intent)

    @admin.display(description="Line items")
    def line_items_table(self, session):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (item.description, item.quantity, money.format_amount(item.amount_total, item.currency))
                for item in session.line_items.all()
            ),
        )
        return format_html(
            '<table class="kassa-table"><thead><tr><th>Item</th><th>Quantity</th><th>Amount</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            rows,
        )
