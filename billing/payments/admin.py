"""Dashboard pages for payments (PaymentIntents) and refunds.

- Payments and refunds are ledgers: read-only pages, no add, no edit, no
  delete (dj-stripe's rule). The one write is the "Refund…" page, which calls
  ``refund_create`` and needs the same write role as every other dashboard
  write.
- Staff type amounts in major units ("12.50"); ``money.to_minor`` converts and
  refuses more decimals than the currency has (none for JPY).
- Statuses are shown in Stripe's dashboard's words (``selectors.payment_display_status``),
  in the lists, on the pages and in the CSV exports; the lists filter by them
  and by a created-date range, search ids, emails and amounts typed in major
  units, and export what they show (``merchants.admin_lists``).
- Every attempt is on the payment's page: the timeline (declines with the
  processor's reason, 3-D Secure, success) and the attempts with their card.
- Where a payment came from (a payment link, a checkout session) is told by
  the part that owns it (``PaymentIntentAdmin.add_source``): payments knows no
  owner. The customer's page gets its history from here (``CustomerAdmin.add_history``).
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import InvalidRequest, KassaError
from kassa.ids import random_string
from merchants.admin_base import LedgerAdmin, admin_link, html_table, when
from merchants.admin_lists import AmountSearchMixin, CreatedRangeFilter, CsvExportMixin, csv_amount
from merchants.widgets import parse_major

from ..catalogue import services as catalogue
from ..catalogue.admin import CustomerAdmin
from . import selectors
from . import services as payments
from .models import PaymentAttempt, PaymentIntent, Refund

# --- payments ------------------------------------------------------------------------

TIMELINE_LABELS = {
    "created": _("Created"),
    "requires_action": _("3-D Secure asked"),
    "succeeded": _("Succeeded"),
    "succeeded_after_cancel": _("Succeeded after cancel"),
    "payment_failed": _("Failed"),
    "canceled": _("Canceled"),
    "refund_created": _("Refund requested"),
    "refunded": _("Refunded"),
    "refund_failed": _("Refund failed"),
}

ATTEMPT_LABELS = {
    PaymentAttempt.Status.PENDING: _("Pending"),
    PaymentAttempt.Status.REQUIRES_ACTION: _("3-D Secure asked"),
    PaymentAttempt.Status.SUCCEEDED: _("Succeeded"),
    PaymentAttempt.Status.FAILED: _("Failed"),
    PaymentAttempt.Status.ERRORED: _("No answer (outcome unknown)"),
}

REASON_LABELS = {
    Refund.Reason.DUPLICATE: _("Duplicate"),
    Refund.Reason.FRAUDULENT: _("Fraudulent"),
    Refund.Reason.REQUESTED_BY_CUSTOMER: _("Requested by customer"),
}


def status_badge(payment: PaymentIntent) -> str:
    code, label = selectors.payment_display_status(payment)
    return format_html('<span class="kassa-status kassa-status--{}">{}</span>', code, label)


def decline_reason(error: dict | None) -> str:
    """The processor's reason for a decline, as the timeline and the CSV show it: "Your card was declined. (…)"."""
    if not error:
        return ""
    code = error.get("decline_code") or error.get("code") or ""
    return f"{error.get('message', '')} ({code})" if code else error.get("message", "")


def _attempt_reason(attempt: PaymentAttempt) -> str:
    error = {"message": attempt.error_message, "decline_code": attempt.decline_code, "code": attempt.error_code}
    return decline_reason(error if attempt.error_message else None) or "—"


class DisplayStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return list(selectors.DISPLAY_STATUSES.items())

    def queryset(self, request, queryset):
        if self.value() in selectors.DISPLAY_STATUSES:
            return selectors.payments_filter_display_status(queryset, self.value())
        return queryset


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=32, label=_("Amount"))
    # A new key each time the page is shown: the same form posted twice makes one refund.
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    reason = forms.ChoiceField(choices=[("", "—"), *REASON_LABELS.items()], required=False, label=_("Reason"))

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = _("Amount (%(currency)s)") % {"currency": currency.upper()}

    def clean_amount(self):
        return parse_major(self.cleaned_data["amount"], self.currency, minimum=1)


@admin.register(PaymentIntent)
class PaymentIntentAdmin(AmountSearchMixin, CsvExportMixin, LedgerAdmin):
    list_display = ["amount_display", "status_display", "customer_email", "public_id", "created"]
    list_display_links = ["amount_display"]
    list_filter = [DisplayStatusFilter, CreatedRangeFilter]
    search_fields = [
        "=public_id",
        "=customer__public_id",
        "=refunds__public_id",
        "=processor_id",
        "customer__email",
        "receipt_email",
    ]
    search_help_text = _("An email, an id (pi_…, cus_…, re_…) or an amount (12.50).")
    list_select_related = ["customer"]
    #: fn(payment_intent) -> html or None, from the parts that own payments (add_source)
    sources: list = []
    csv_name = "payments"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "status_display",
                    "amount_display",
                    "amount_received_display",
                    "refunded_display",
                    "customer_link",
                    "customer_email",
                    "card",
                    "source",
                    "description",
                    "decline_display",
                    "created",
                ]
            },
        ),
        (_("Timeline"), {"fields": ["timeline_table"]}),
        (_("Attempts"), {"fields": ["attempts_table"]}),
        (_("Refunds"), {"fields": ["refunds_table"]}),
        (
            _("Processor"),
            {
                "fields": [
                    "processor_id",
                    "status",
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

    def get_queryset(self, request):
        return selectors.payments_with_refunds(super().get_queryset(request))

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, pi):
        return status_badge(pi)

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, pi):
        return money.format_amount(pi.amount, pi.currency)

    @admin.display(description=_("Received"))
    def amount_received_display(self, pi):
        return money.format_amount(pi.amount_received, pi.currency)

    @admin.display(description=_("Refunded"))
    def refunded_display(self, pi):
        return money.format_amount(selectors.payment_amount_refunded(pi), pi.currency)

    @admin.display(description=_("Customer email"), ordering="customer__email")
    def customer_email(self, pi):
        return selectors.payer_email(pi) or "—"

    @admin.display(description=_("Customer"))
    def customer_link(self, pi):
        return admin_link(pi.customer, str(pi.customer)) if pi.customer else "—"

    @admin.display(description=_("Card"))
    def card(self, pi):
        return str(pi.payment_method) if pi.payment_method else "—"

    @admin.display(description=_("Why it failed"))
    def decline_display(self, pi):
        if pi.status != PaymentIntent.Status.REQUIRES_PAYMENT_METHOD or not pi.last_payment_error:
            return "—"
        return decline_reason(pi.last_payment_error)

    @classmethod
    def add_source(cls, source) -> None:
        """Called by a part that owns payments (checkout): how to show where a payment came from (its page)."""
        cls.sources.append(source)

    @admin.display(description=_("Link or session"))
    def source(self, pi):
        return next((shown for source in self.sources if (shown := source(pi)) is not None), "—")

    @admin.display(description=_("Last error"))
    def last_payment_error_display(self, pi):
        return decline_reason(pi.last_payment_error) or "—"

    @admin.display(description=_("Timeline"))
    def timeline_table(self, pi):
        return html_table(
            "kassa-timeline",
            [_("When"), _("What"), _("Details")],
            (
                (when(entry.created), TIMELINE_LABELS.get(entry.kind, entry.kind), entry.message)
                for entry in pi.timeline.all()
            ),
        )

    @admin.display(description=_("Attempts"))
    def attempts_table(self, pi):
        attempts = list(pi.attempts.select_related("payment_method"))
        if not attempts:
            return _("None: no card was charged (a card refused when it was given is in the timeline).")
        return html_table(
            "kassa-attempts",
            [_("When"), _("Card"), _("Outcome"), _("Reason")],
            (
                (
                    when(attempt.created),
                    str(attempt.payment_method) if attempt.payment_method else "—",
                    ATTEMPT_LABELS.get(attempt.status, attempt.status),
                    _attempt_reason(attempt),
                )
                for attempt in attempts
            ),
        )

    @admin.display(description=_("Refunds"))
    def refunds_table(self, pi):
        refunds = list(pi.refunds.order_by("id"))
        if not refunds:
            return _("None")
        return html_table(
            "kassa-refunds",
            [_("Refund"), _("Amount"), _("Status"), _("Reason"), _("When")],
            (
                (
                    admin_link(r),
                    money.format_amount(r.amount, r.currency),
                    r.get_status_display(),
                    REASON_LABELS.get(r.reason, "—"),
                    when(r.created),
                )
                for r in refunds
            ),
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
                    _("Refund %(refund)s of %(amount)s: %(status)s.")
                    % {
                        "refund": refund.public_id,
                        "amount": money.format_amount(refund.amount, refund.currency),
                        "status": refund.get_status_display().lower(),
                    },
                    messages.SUCCESS if refund.status == Refund.Status.SUCCEEDED else messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:billing_paymentintent_change", args=[payment_intent.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund %(payment)s") % {"payment": payment_intent.public_id},
            "opts": self.model._meta,
            "payment_intent": payment_intent,
            "form": form,
            "refundable": refundable,
            "amount": money.format_amount(payment_intent.amount_received, currency),
            "remaining": money.format_amount(max(remaining, 0), currency),
        }
        return TemplateResponse(request, "admin/billing/refund_form.html", context)


@admin.register(Refund)
class RefundAdmin(AmountSearchMixin, CsvExportMixin, LedgerAdmin):
    list_display = ["amount_display", "status_display", "customer_email", "payment", "public_id", "created"]
    list_display_links = ["amount_display"]
    list_filter = ["status", "reason", CreatedRangeFilter]
    search_fields = [
        "=public_id",
        "=payment_intent__public_id",
        "=payment_intent__customer__public_id",
        "=processor_id",
        "payment_intent__customer__email",
        "payment_intent__receipt_email",
    ]
    search_help_text = _("An email, an id (re_…, pi_…, cus_…) or an amount (12.50).")
    list_select_related = ["payment_intent__customer"]
    csv_name = "refunds"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "payment",
                    "amount_display",
                    "status_display",
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

    @admin.display(description=_("Payment"), ordering="payment_intent")
    def payment(self, refund):
        return admin_link(refund.payment_intent)

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, refund):
        return refund.get_status_display()

    @admin.display(description=_("Customer email"))
    def customer_email(self, refund):
        return selectors.payer_email(refund.payment_intent) or "—"

    @admin.display(description=_("Reason"), ordering="reason")
    def reason_display(self, refund):
        return REASON_LABELS.get(refund.reason, "—")

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, refund):
        return money.format_amount(refund.amount, refund.currency)


# --- CSV exports: stable English headers (a spreadsheet's formulas and scripts refer to them) -------------

PaymentIntentAdmin.csv_columns = [
    ("id", lambda pi: pi.public_id),
    ("created", lambda pi: pi.created),
    ("amount", lambda pi: csv_amount(pi.amount, pi.currency)),
    ("amount_refunded", lambda pi: csv_amount(selectors.payment_amount_refunded(pi), pi.currency)),
    ("currency", lambda pi: pi.currency.upper()),
    ("status", lambda pi: selectors.payment_display_status(pi)[1]),
    ("customer_id", lambda pi: pi.customer.public_id if pi.customer else ""),
    ("customer_email", selectors.payer_email),
    ("description", lambda pi: pi.description),
    ("decline_reason", lambda pi: decline_reason(pi.last_payment_error)),
]

RefundAdmin.csv_columns = [
    ("id", lambda r: r.public_id),
    ("created", lambda r: r.created),
    ("amount", lambda r: csv_amount(r.amount, r.currency)),
    ("currency", lambda r: r.currency.upper()),
    ("status", lambda r: r.get_status_display()),
    ("reason", lambda r: REASON_LABELS.get(r.reason, "")),
    ("payment_id", lambda r: r.payment_intent.public_id),
    ("customer_email", lambda r: selectors.payer_email(r.payment_intent)),
]


# --- the customer's page: their payments, cards, refunds and what they spent -------------------------------


def _customer_total_spent(customer) -> str:
    totals = selectors.customer_total_spent(customer)
    if not totals:
        return "—"
    return format_html_join(", ", "<span>{}</span>", ((money.format_amount(a, c),) for c, a in totals.items()))


def _customer_payments(customer) -> str:
    payments_ = list(selectors.customer_payments(customer)[:50])
    if not payments_:
        return _("None yet")
    return html_table(
        "kassa-customer-payments",
        [_("Amount"), _("Status"), _("Payment"), _("When")],
        (
            (
                admin_link(pi, money.format_amount(pi.amount, pi.currency)),
                status_badge(pi),
                pi.public_id,
                when(pi.created),
            )
            for pi in payments_
        ),
    )


def _card_name(card, customer) -> str:
    if card.pk == customer.default_payment_method_id:
        badge = '{} <span class="kassa-status kassa-status--succeeded" id="kassa-default-card">{}</span>'
        return format_html(badge, str(card), _("Default"))
    return str(card)


def _customer_cards(customer, *, buttons: bool = False) -> str:
    """The customer's saved cards, the default marked; for writers, a "Make default" and a "Remove" button each."""
    cards = list(customer.payment_methods.order_by("-id"))
    if not cards:
        return _("None yet")
    headers = [_("Card"), _("Expires"), _("Saved")]
    if buttons:
        headers.append(_("Actions"))
    rows = []
    for card in cards:
        row = [
            _card_name(card, customer),
            f"{card.card_exp_month:02d}/{card.card_exp_year}" if card.card_exp_month else "—",
            when(card.created),
        ]
        if buttons:
            row.append(_card_buttons(card, customer))
        rows.append(row)
    return html_table("kassa-customer-cards", headers, rows)


def _card_buttons(card, customer) -> str:
    """Buttons of the page's ``kassa-customer-actions`` form (templates/admin/billing/customer/change_form.html)."""
    button = (
        '<button type="submit" form="kassa-customer-actions" formaction="{}" name="payment_method" value="{}" '
        'class="kassa-card-{}">{}</button>'
    )
    remove = format_html(
        button,
        reverse("admin:billing_customer_card_remove", args=[customer.pk]),
        card.public_id,
        "remove",
        _("Remove"),
    )
    if card.pk == customer.default_payment_method_id:
        return remove
    default = format_html(
        button,
        reverse("admin:billing_customer_card_default", args=[customer.pk]),
        card.public_id,
        "default",
        _("Make default"),
    )
    return format_html("{} {}", default, remove)


def _customers_card(request, customer):
    """The customer's own saved card named by the button (another's, or a removed one, is refused)."""
    card = customer.payment_methods.filter(public_id=request.POST.get("payment_method") or "").first()
    if card is None:
        raise InvalidRequest(gettext("This card is not saved on this customer."))
    return card


def _card_make_default(request, customer) -> str:
    card = _customers_card(request, customer)
    catalogue.customer_update(customer=customer, default_payment_method=card)
    return gettext("%(card)s is now the default card of %(customer)s.") % {"card": card, "customer": customer}


def _card_remove(request, customer) -> str:
    card = _customers_card(request, customer)
    payments.payment_method_detach(payment_method=card)
    return gettext("%(card)s was removed from %(customer)s; it can no longer be charged.") % {
        "card": card,
        "customer": customer,
    }


def _customer_refunds(customer) -> str:
    refunds = list(selectors.customer_refunds(customer)[:50])
    if not refunds:
        return _("None")
    return html_table(
        "kassa-customer-refunds",
        [_("Amount"), _("Status"), _("Payment"), _("When")],
        (
            (
                admin_link(r, money.format_amount(r.amount, r.currency)),
                r.get_status_display(),
                admin_link(r.payment_intent),
                when(r.created),
            )
            for r in refunds
        ),
    )


CustomerAdmin.add_history("total_spent", _("Total spent"), _customer_total_spent)
CustomerAdmin.add_history("payments_table", _("Payments"), _customer_payments)
CustomerAdmin.add_history(
    "cards_table", _("Cards"), _customer_cards, lambda customer: _customer_cards(customer, buttons=True)
)
CustomerAdmin.add_button("cards/default", "card_default", _card_make_default)
CustomerAdmin.add_button("cards/remove", "card_remove", _card_remove)
CustomerAdmin.add_history("refunds_table", _("Refunds"), _customer_refunds)
