"""Dashboard pages for selling: payment links and checkout sessions.

- Payment links are made and changed only through ``billing.checkout.services``
  (``save_via_service``, run inside the form's validation as ScopedAdmin does),
  and are deactivated, never deleted: sessions and payments point at them.
- Checkout sessions are ledgers: read-only pages.
- A payment's page shows the link or session it came through: registered with
  the payments dashboard here (``PaymentIntentAdmin.add_source``).
"""

import segno
from django import forms
from django.contrib import admin, messages
from django.db.models import F, OuterRef, Subquery, Sum
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kassa import metadata, money
from merchants.admin_base import LedgerAdmin, ScopedAdmin, admin_link, errors_on_fields, html_table
from merchants.selectors import payments_readiness
from merchants.widgets import MetadataField, MoneyField, copyable

from ..catalogue import display, selectors
from ..catalogue.models import Price
from ..payments.admin import PaymentIntentAdmin
from ..payments.models import PaymentIntent
from . import selectors as checkout_selectors
from . import services as checkout
from .models import CheckoutSession, Locale, PaymentLink, PaymentLinkLineItem

LINE_ITEM_ROWS = 5


def _money(amount: int | None, currency: str) -> str:
    return "—" if amount is None else money.format_amount(amount, currency)


# --- payment links -------------------------------------------------------------------


class PriceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, price):
        nickname = f" · {price.nickname}" if price.nickname else ""
        amount = money.format_amount(price.unit_amount, price.currency)
        if price.type == Price.Type.RECURRING:
            amount = f"{amount} {display.price_interval(price)}"
        return f"{price.product.name}{nickname} — {amount}"


AFTER_COMPLETION_FIELDS = ["after_completion_type", "after_completion_redirect_url", "after_completion_message"]
COLLECTION_FIELDS = ["email_collection", "phone_number_collection", "billing_address_collection"]
# What the payer's page collects and the language it speaks (Stripe's locale; "" or auto: the payer's choice).
PAGE_FIELDS = [*COLLECTION_FIELDS, "locale"]
# Stripe's setup_future_usage as one checkbox: saved for charges without the payer (off_session), or not saved.
CARD_FIELDS = ["save_card"]
LINK_FIELD_MAP = {
    "payment_intent_data[setup_future_usage]": "save_card",
    "after_completion[type]": "after_completion_type",
    "after_completion[redirect][url]": "after_completion_redirect_url",
    "after_completion[hosted_confirmation][custom_message]": "after_completion_message",
}


class PaymentLinkForm(forms.ModelForm):
    """What a link's page changes: after payment, what to collect, metadata (payment_link_update)."""

    after_completion_type = forms.ChoiceField(
        choices=[
            (PaymentLink.AfterCompletion.HOSTED_CONFIRMATION, _("Show Kassa's confirmation page")),
            (PaymentLink.AfterCompletion.REDIRECT, _("Redirect to your website")),
        ],
        initial=PaymentLink.AfterCompletion.HOSTED_CONFIRMATION,
        label=_("After payment"),
    )
    after_completion_redirect_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label=_("Redirect URL"),
        help_text=_("Where the payer goes after paying."),
    )
    after_completion_message = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Confirmation message"),
        help_text=_("Shown on Kassa's confirmation page after paying."),
    )
    billing_address_collection = forms.ChoiceField(
        choices=[("auto", _("Only when needed")), ("required", _("Always (required)"))],
        initial="auto",
        label=_("Billing address"),
    )
    metadata = MetadataField()
    # Blank is Stripe's auto: the payer's pick on the page, else their browser.
    locale = forms.ChoiceField(
        choices=[("", Locale.AUTO.label), (Locale.EN, Locale.EN.label), (Locale.FR, Locale.FR.label)],
        required=False,
        label=_("Page language"),
    )

    save_card = forms.BooleanField(
        required=False,
        label=_("Save the card for later charges"),
        help_text=_(
            "The card the payer pays with stays saved on their customer, and the page tells them so: you can "
            "charge it again later without them. Otherwise the card pays this payment only."
        ),
    )

    class Meta:
        model = PaymentLink
        fields = [*AFTER_COMPLETION_FIELDS, *PAGE_FIELDS, "metadata"]
        labels = {
            "locale": _("Page language"),
            "email_collection": _("Collect email"),
            "phone_number_collection": _("Collect phone number"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["save_card"].initial = bool(self.instance.setup_future_usage)

    def setup_future_usage(self) -> str:
        """The checkbox as Stripe's value: a link already saving cards on_session (the API's) keeps that."""
        if not self.cleaned_data.get("save_card"):
            return ""
        return self.instance.setup_future_usage or "off_session"

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

    amount = MoneyField(
        required=False,
        label=_("Amount"),
        help_text=_("In the currency's own units: 12.50 EUR, 1500 JPY."),
    )
    amount_description = forms.CharField(
        required=False,
        max_length=250,
        label=_("Description"),
        help_text=_("What the payer buys, shown on the pay page."),
    )

    trial_period_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=checkout.TRIAL_DAYS_MAX,
        label=_("Free trial (days)"),
        help_text=_("Recurring prices only: the subscription starts with this many free days; the card is saved."),
    )

    #: the merchant's active prices (one-time and recurring) in the current mode; set per request by the admin
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
        # An amount with an error was typed, though the field has no value to give.
        has_amount = data.get("amount") is not None or "amount" in self.errors
        if self.line_items and has_amount:
            raise forms.ValidationError(_("Use prices or an amount, not both."))
        if not self.line_items and not has_amount:
            raise forms.ValidationError(_("Pick at least one price, or enter an amount."))
        if has_amount and not (data.get("amount_description") or "").strip():
            self.add_error("amount_description", _("Say what the payer buys."))
        if data.get("trial_period_days") and not self.makes_subscriptions():
            self.add_error("trial_period_days", _("A free trial needs recurring prices."))
        return data

    def makes_subscriptions(self) -> bool:
        return any(price.type == Price.Type.RECURRING for _row, price, _quantity in self.line_items)


def _line_item_fields() -> dict:
    fields = {}
    for i in range(LINE_ITEM_ROWS):
        fields[f"price_{i}"] = PriceChoiceField(
            queryset=Price.objects.none(),
            required=False,
            label=_("Price") if i == 0 else format_lazy("{} {}", _("Price"), i + 1),
        )
        fields[f"quantity_{i}"] = forms.IntegerField(
            required=False, min_value=1, max_value=checkout.MAX_QUANTITY, initial=1, label=_("Quantity")
        )
    return fields


# Declared fields must exist on the class for the admin's modelform_factory; five rows, built in a loop.
PaymentLinkCreateForm = type("PaymentLinkCreateForm", (PaymentLinkCreateBase,), _line_item_fields())


@admin.register(PaymentLink)
class PaymentLinkAdmin(ScopedAdmin):
    list_display = ["name", "kind", "total", "active", "url", "created"]
    list_display_links = ["name"]
    list_filter = ["active"]
    search_fields = ["=public_id", "line_items__price__product__name"]
    search_help_text = _("A product name or an id (plink_…).")
    date_hierarchy = "created"
    actions = ["deactivate_selected", "activate_selected"]

    change_fieldsets = [
        (None, {"fields": ["public_id", "active", "url_box", "qr_code"]}),
        (_("What the payer buys"), {"fields": ["kind", "line_items_table", "total", "trial"]}),
        (_("After payment"), {"fields": AFTER_COMPLETION_FIELDS}),
        (_("Collect from the payer"), {"fields": PAGE_FIELDS}),
        (_("The card"), {"fields": CARD_FIELDS}),
        (_("More"), {"fields": ["metadata", "livemode", "created"]}),
    ]
    change_readonly = [
        "public_id",
        "active",
        "url_box",
        "qr_code",
        "kind",
        "line_items_table",
        "total",
        "trial",
        "livemode",
        "created",
    ]

    def get_queryset(self, request):
        # A subquery, not a join: the changelist's search also joins line items and would skew a Sum over a join.
        total = (
            PaymentLinkLineItem.objects.filter(payment_link=OuterRef("pk"))
            .values("payment_link")
            .annotate(total=Sum(F("price__unit_amount") * F("quantity")))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(total_amount=Subquery(total))
            .prefetch_related("line_items__price__product")
        )

    # --- columns and read-only fields -----------------------------------------
    @admin.display(description=_("Sells"))
    def name(self, link):
        return checkout_selectors.payment_link_name(link)

    @admin.display(description=_("Kind"))
    def kind(self, link):
        if checkout.payment_link_mode(link) == CheckoutSession.Mode.SUBSCRIPTION:
            return _("Subscription")
        return _("One-time payment")

    @admin.display(description=_("Free trial"))
    def trial(self, link):
        days = (link.subscription_data or {}).get("trial_period_days")
        if not days:
            return "—"
        return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}

    @admin.display(description=_("URL"))
    def url(self, link):
        url = checkout.payment_link_url(link)
        return format_html('<a href="{0}" target="_blank" rel="noopener">{0}</a>', url)

    @admin.display(description=_("Total"), ordering="total_amount")
    def total(self, link):
        amount = getattr(link, "total_amount", None)
        if amount is None:
            amount = sum(item.price.unit_amount * item.quantity for item in link.line_items.select_related("price"))
        recurring = [item for item in link.line_items.all() if item.price.type == Price.Type.RECURRING]
        if not recurring:
            return _money(amount, link.currency)
        # A subscription link's one-time prices are billed on its first invoice only (as at Stripe): shown apart.
        every = sum(item.price.unit_amount * item.quantity for item in recurring)
        shown = f"{_money(every, link.currency)} {display.price_interval(recurring[0].price)}"
        if amount == every:
            return shown
        return _("%(recurring)s and %(once)s once") % {
            "recurring": shown,
            "once": _money(amount - every, link.currency),
        }

    @admin.display(description=_("URL"))
    def url_box(self, link):
        return copyable(checkout.payment_link_url(link), label=_("URL"), code_id="kassa-link-url")

    @admin.display(description=_("QR code"))
    def qr_code(self, link):
        # segno draws the URL as modules of a path; no text of ours goes into the markup.
        svg = segno.make(checkout.payment_link_url(link), error="m").svg_inline(
            scale=4, svgclass="kassa-qr", title=str(_("QR code of the payment link"))
        )
        return mark_safe(svg)  # noqa: S308

    @admin.display(description=_("Line items"))
    def line_items_table(self, link):
        return html_table(
            "kassa-link-items",
            [_("Product"), _("Unit price"), _("Quantity"), _("Amount")],
            (
                (
                    admin_link(item.price.product, item.price.product.name),
                    money.format_amount(item.price.unit_amount, item.price.currency)
                    + (f" {display.price_interval(item.price)}" if item.price.type == Price.Type.RECURRING else ""),
                    item.quantity,
                    money.format_amount(item.price.unit_amount * item.quantity, item.price.currency),
                )
                for item in link.line_items.select_related("price__product")
            ),
        )

    # --- forms ---------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.change_fieldsets
        rows = [(f"price_{i}", f"quantity_{i}") for i in range(LINE_ITEM_ROWS)]
        return [
            (
                _("From prices in your catalogue"),
                {
                    "fields": [*rows, "trial_period_days"],
                    "description": _(
                        "Active prices, all in one currency: one-time prices for a payment, or recurring prices "
                        "(of one interval) for a subscription, whose first period the payer pays on the link."
                    ),
                },
            ),
            (
                _("Or from an amount"),
                {
                    "fields": ["amount", "amount_description"],
                    "description": _("Kassa makes a product and a price for it."),
                },
            ),
            (_("After payment"), {"fields": AFTER_COMPLETION_FIELDS}),
            (_("Collect from the payer"), {"fields": PAGE_FIELDS}),
            (_("The card"), {"fields": CARD_FIELDS}),
            (_("More"), {"fields": ["metadata"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.change_readonly if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            merchant, livemode = self.current(request)
            prices = selectors.price_list(merchant=merchant, livemode=livemode, active=True).order_by(
                "type", "product__name", "unit_amount"
            )
            kwargs["form"] = type("PaymentLinkCreateForm", (PaymentLinkCreateForm,), {"prices": prices})
        else:
            kwargs["form"] = PaymentLinkForm
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        scope = self.scope(request)
        if scope and scope.merchant is not None:
            initial.setdefault("amount", scope.merchant.default_currency)
        return initial

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            changes = {f: data[f] for f in PAGE_FIELDS if f in form.changed_data}
            if set(AFTER_COMPLETION_FIELDS) & set(form.changed_data):
                changes["after_completion"] = form.after_completion()
            if "save_card" in form.changed_data:
                changes["setup_future_usage"] = form.setup_future_usage()
            if "metadata" in form.changed_data:
                changes["metadata"] = metadata.replace(form.instance.metadata, data.get("metadata") or {})
            if not changes:
                return form.instance
            with errors_on_fields(LINK_FIELD_MAP):
                return checkout.payment_link_update(payment_link=form.instance, **changes)
        merchant, livemode = self.current(request)
        options = {
            "after_completion": form.after_completion(),
            "metadata": data.get("metadata") or None,
            "setup_future_usage": form.setup_future_usage(),
            **{f: data[f] for f in PAGE_FIELDS},
        }
        if form.line_items:
            if form.makes_subscriptions():
                options["subscription_data"] = {"trial_period_days": data.get("trial_period_days")}
            field_map = {
                **LINK_FIELD_MAP,
                "line_items": "price_0",
                "subscription_data[trial_period_days]": "trial_period_days",
            }
            for n, (row, _, _) in enumerate(form.line_items):
                field_map[f"line_items[{n}][price]"] = f"price_{row}"
                field_map[f"line_items[{n}][quantity]"] = f"quantity_{row}"
            with errors_on_fields(field_map):
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
            "currency": "amount",
            "name": "amount_description",
        }
        with errors_on_fields(field_map):
            return checkout.payment_link_create_for_amount(
                merchant=merchant,
                livemode=livemode,
                amount=data["amount"].amount,
                currency=data["amount"].currency,
                description=data["amount_description"].strip(),
                **options,
            )

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        # Straight to the link's page: its URL and QR code are what the merchant came for.
        readiness = payments_readiness(merchant=obj.merchant, livemode=obj.livemode)
        if readiness.ready:
            self.message_user(
                request, _("Payment link %(id)s created. Share its URL or QR code.") % {"id": obj.public_id}
            )
        else:  # the pay page would answer 503: say so rather than "share it"
            self.message_user(
                request,
                _("Payment link %(id)s created, but payers cannot pay it yet. %(problem)s")
                % {"id": obj.public_id, "problem": readiness.problem},
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:billing_paymentlink_change", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        return False  # links are deactivated, never deleted: sessions and payments point at them

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
        active = request.POST.get("active") == "1"

        def act(link):
            checkout.payment_link_update(payment_link=link, active=active)
            if active:
                return _("Payment link %(link)s is active: payers can use it again.") % {"link": link.public_id}
            return _("Payment link %(link)s is inactive: payers can no longer use it.") % {"link": link.public_id}

        return self.button_view(request, pk, act)

    def _set_active(self, request, queryset, active: bool):
        for link in queryset:
            checkout.payment_link_update(payment_link=link, active=active)
        count = len(queryset)
        if active:
            message = ngettext("%(count)d payment link activated.", "%(count)d payment links activated.", count)
        else:
            message = ngettext("%(count)d payment link deactivated.", "%(count)d payment links deactivated.", count)
        self.message_user(request, message % {"count": count})

    @admin.action(description=_("Deactivate selected payment links"), permissions=["change"])
    def deactivate_selected(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description=_("Activate selected payment links"), permissions=["change"])
    def activate_selected(self, request, queryset):
        self._set_active(request, queryset, True)


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(LedgerAdmin):
    list_display = ["short_id", "mode", "status", "payment_status", "amount_display", "email", "link", "created"]
    list_filter = ["mode", "status", "payment_status"]
    search_fields = ["=public_id", "customer_email", "client_reference_id", "=payment_intent__public_id"]
    list_select_related = ["payment_link", "payment_intent"]
    list_prefetch_related = ["payment_link__line_items__price__product"]
    date_hierarchy = "created"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "mode",
                    "status",
                    "payment_status",
                    "amount_display",
                    "email",
                    "link",
                    "payment",
                    "subscription_link",
                    "saved_card",
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

    @admin.display(description=_("ID"), ordering="id")
    def short_id(self, session):
        return session.public_id[:24] + "…"

    @admin.display(description=_("Total"), ordering="amount_total")
    def amount_display(self, session):
        return _money(session.amount_total, session.currency)  # "—" for a setup-mode session: nothing to pay

    @admin.display(description=_("Customer email"))
    def email(self, session):
        return session.customer_email or (session.customer_details or {}).get("email") or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*self.list_prefetch_related)

    @admin.display(description=_("Payment link"))
    def link(self, session):
        if session.payment_link is None:
            return "—"
        return admin_link(session.payment_link, checkout_selectors.payment_link_name(session.payment_link))

    @admin.display(description=_("Payment"))
    def payment(self, session):
        return admin_link(session.payment_intent)

    @admin.display(description=_("Subscription"))
    def subscription_link(self, session):
        """The subscription the payer started (a declined payer's, not started, is not shown)."""
        if session.subscription_id is None or session.status != CheckoutSession.Status.COMPLETE:
            return "—"
        if not self.admin_site.is_registered(type(session.subscription)):
            return session.subscription.public_id
        return admin_link(session.subscription)

    @admin.display(description=_("Saved card"))
    def saved_card(self, session):
        card = checkout_selectors.checkout_session_saved_card(session)
        return "—" if card is None else admin_link(card.customer or session.customer, str(card))

    @admin.display(description=_("Line items"))
    def line_items_table(self, session):
        return html_table(
            "kassa-session-items",
            [_("Item"), _("Quantity"), _("Amount")],
            (
                (item.description, item.quantity, money.format_amount(item.amount_total, item.currency))
                for item in session.line_items.all()
            ),
        )


def _source(session: CheckoutSession | None) -> str | None:
    """The payment link it came through, else its checkout session."""
    if session is None:
        return None
    if session.payment_link_id:
        return admin_link(session.payment_link, checkout_selectors.payment_link_name(session.payment_link))
    return admin_link(session, session.public_id[:24] + "…")


def _session_of(payment_intent: PaymentIntent) -> CheckoutSession | None:
    try:
        return payment_intent.checkout_session
    except CheckoutSession.DoesNotExist:
        return None


PaymentIntentAdmin.add_source(lambda payment_intent: _source(_session_of(payment_intent)))
