"""Dashboard pages for payments (PaymentIntents) and refunds.

- Payments and refunds are ledgers: read-only pages, no add, no edit, no
  delete (dj-stripe's rule). The one write is the "Refund…" page, which calls
  ``refund_create`` and needs the same write role as every other dashboard
  write.
- Staff type amounts in major units ("12.50"); ``money.to_minor`` converts and
  refuses more decimals than the currency has (none for JPY).
- Where a payment came from (a payment link, a checkout session) is told by
  the part that owns it (``PaymentIntentAdmin.add_source``): payments knows no
  owner.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from kassa import money
from kassa.errors import KassaError
from kassa.ids import random_string
from merchants.admin_base import LedgerAdmin, admin_link, major_to_minor, when

from . import services as payments
from .models import PaymentIntent, Refund

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
    list_select_related = ["customer"]
    #: fn(payment_intent) -> html or None, from the parts that own payments (add_source)
    sources: list = []
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
        return admin_link(pi.customer, str(pi.customer)) if pi.customer else "—"

    @admin.display(description="Card")
    def card(self, pi):
        return str(pi.payment_method) if pi.payment_method else "—"

    @classmethod
    def add_source(cls, source, *, select_related: str) -> None:
        """Called by a part that owns payments (checkout): how to show where a payment came from."""
        cls.sources.append(source)
        cls.list_select_related = [*cls.list_select_related, select_related]

    @admin.display(description="Link or session")
    def source(self, pi):
        return next((shown for source in self.sources if (shown := source(pi)) is not None), "—")

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
                (when(entry.created), TIMELINE_LABELS.get(entry.kind, entry.kind), entry.message)
                for entry in pi.timeline.all()
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
                    admin_link(r),
                    money.format_amount(r.amount, r.currency),
                    r.status,
                    REASON_LABELS.get(r.reason, "—"),
                    when(r.created),
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
        payment_intent = self.object_for_write(request, pk)
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
        return admin_link(refund.payment_intent)

    @admin.display(description="Reason", ordering="reason")
    def reason_display(self, refund):
        return REASON_LABELS.get(refund.reason, "—")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, refund):
        return money.format_amount(refund.amount, refund.currency)
