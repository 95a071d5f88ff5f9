"""Dashboard pages for subscriptions; every write calls billing.subscriptions.services.

- The list: customer, status in Stripe's words, "50.00 EUR every 30 days", the current period's end / next
  renewal; filters by status and created, search by email, name or id, CSV export.
- A subscription's page is a record: status, customer, items, current period, trial, cancellation, pause,
  default card, the next invoice as ``invoices.create_preview`` computes it (nothing written), its invoices
  and a timeline (parts.py). Its buttons, for those who may write, are what its status allows: change price
  or quantity (previewed with its prorations first, the proration behaviour chosen), pause or resume
  collection, pause or resume the subscription, cancel now or at the period's end (with a reason), or keep a
  subscription set to cancel.
- "Add subscription" (also from a customer's page): prices and quantities, collection, trial, the first
  billing date, the default card. Its first invoice is finalized in the page's transaction and charged only
  after it commits (``subscription_create_records`` then ``subscription_first_invoice_collect``): no lock is
  held across the processor's call.
"""

import math
from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import KassaError
from merchants.admin_base import ScopedAdmin, errors_on_fields, service_errors_as_form_errors, when
from merchants.admin_lists import CreatedRangeFilter, CsvExportMixin, csv_amount

from ...catalogue import selectors as catalogue_selectors
from ...catalogue.display import price_interval
from ...catalogue.models import Customer, Price
from ...invoices.admin.parts import CustomerChoiceField, customer_label, day
from ...invoices.models import Invoice
from ...payments.models import PaymentMethod
from .. import preview, services
from ..models import Subscription
from . import parts, recurring
from .parts import midnight

S = Subscription.Status
CHARGE = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
SEND = Invoice.CollectionMethod.SEND_INVOICE
ENDED = (S.CANCELED, S.INCOMPLETE_EXPIRED)
#: how many (price, quantity) rows the new subscription's form has
NEW_ITEMS = 3

COLLECTION_CHOICES = [
    (CHARGE, _("Charge the customer's card automatically")),
    (SEND, _("Email each invoice with a link to pay it")),
]
PRORATION_CHOICES = [
    ("create_prorations", _("Prorate: credit the unused time and charge the rest on the next invoice")),
    ("always_invoice", _("Prorate and invoice the difference now")),
    ("none", _("No proration: the new price applies from the next renewal")),
]
FEEDBACK_CHOICES = [
    ("", "—"),
    ("too_expensive", _("Too expensive")),
    ("missing_features", _("Missing features")),
    ("switched_service", _("Switched to another service")),
    ("unused", _("Not used enough")),
    ("customer_service", _("Customer service")),
    ("too_complex", _("Too complex")),
    ("low_quality", _("Quality")),
    ("other", _("Other")),
]


class RecurringPriceField(forms.ModelChoiceField):
    def label_from_instance(self, price):
        amount = money.format_amount(price.unit_amount or 0, price.currency)
        return f"{parts.price_label(price)} — {amount} {price_interval(price)}"


class CardField(forms.ModelChoiceField):
    def label_from_instance(self, card):
        return f"{card} ({customer_label(card.customer)})"


def recurring_prices(merchant, livemode: bool):
    return (
        catalogue_selectors.price_list(merchant=merchant, livemode=livemode, active=True, type=Price.Type.RECURRING)
        .select_related("product")
        .order_by("product__name", "unit_amount", "pk")
    )


# --- a new subscription -------------------------------------------------------------------------------

ADD_FIELD_MAP = {
    **{f"items[{n}][price]": f"price_{n + 1}" for n in range(NEW_ITEMS)},
    **{f"items[{n}][quantity]": f"quantity_{n + 1}" for n in range(NEW_ITEMS)},
    **{f"items[{n}]": f"price_{n + 1}" for n in range(NEW_ITEMS)},
    "items": "price_1",
    "billing_cycle_anchor": "first_billing",
    "trial_end": "trial_period_days",
}


class SubscriptionForm(forms.ModelForm):
    customer = CustomerChoiceField(queryset=Customer.objects.none(), label=_("Customer"))
    # NEW_ITEMS rows of a price and its quantity (declared, so that the admin's form factory sees them)
    price_1 = RecurringPriceField(queryset=Price.objects.none(), label=_("Price"))
    quantity_1 = forms.IntegerField(min_value=1, max_value=money.MAX_AMOUNT, initial=1, label=_("Quantity"))
    price_2 = RecurringPriceField(queryset=Price.objects.none(), required=False, label=_("Another price"))
    quantity_2 = forms.IntegerField(
        min_value=1, max_value=money.MAX_AMOUNT, initial=1, required=False, label=_("Quantity")
    )
    price_3 = RecurringPriceField(queryset=Price.objects.none(), required=False, label=_("Another price"))
    quantity_3 = forms.IntegerField(
        min_value=1, max_value=money.MAX_AMOUNT, initial=1, required=False, label=_("Quantity")
    )
    collection_method = forms.ChoiceField(
        choices=COLLECTION_CHOICES, widget=forms.RadioSelect, initial=CHARGE, label=_("Payment collection")
    )
    days_until_due = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        label=_("Days until due"),
        help_text=_("For emailed invoices; empty: your invoice settings' default."),
    )
    default_payment_method = CardField(
        queryset=PaymentMethod.objects.none(),
        required=False,
        label=_("Card"),
        help_text=_("One of the customer's saved cards; empty: their default card."),
    )
    trial_period_days = forms.IntegerField(
        required=False, min_value=0, max_value=730, label=_("Trial days"), help_text=_("Nothing is billed before.")
    )
    first_billing = forms.DateField(
        required=False,
        label=_("First full period starts on"),
        help_text=_("Empty: today. Periods are then counted from that date (the billing cycle anchor)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    bill_until_then = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Bill the days until then"),
        help_text=_("Their share of a full period, on the first invoice; unticked, they are free."),
    )
    description = forms.CharField(required=False, max_length=500, label=_("Description"))

    customers = Customer.objects.none()
    prices = Price.objects.none()
    cards = PaymentMethod.objects.none()

    class Meta:
        model = Subscription
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = self.customers
        self.fields["default_payment_method"].queryset = self.cards
        for n in range(1, NEW_ITEMS + 1):
            self.fields[f"price_{n}"].queryset = self.prices

    def items(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {"price": data[f"price_{n}"], "quantity": data.get(f"quantity_{n}") or 1}
            for n in range(1, NEW_ITEMS + 1)
            if data.get(f"price_{n}") is not None
        ]


# --- forms of the buttons that ask something first ----------------------------------------------------


class ItemRowForm(forms.Form):
    item = forms.CharField(required=False, widget=forms.HiddenInput)
    price = RecurringPriceField(queryset=Price.objects.none(), required=False, label=_("Price"))
    quantity = forms.IntegerField(min_value=1, max_value=money.MAX_AMOUNT, required=False, label=_("Quantity"))
    remove = forms.BooleanField(required=False, label=_("Remove"))

    def __init__(self, *args, prices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["price"].queryset = prices if prices is not None else Price.objects.none()


class ChangeForm(forms.Form):
    proration_behavior = forms.ChoiceField(
        choices=PRORATION_CHOICES, widget=forms.RadioSelect, initial="create_prorations", label=_("Proration")
    )
    proration_date = forms.IntegerField(required=False, widget=forms.HiddenInput)


class PauseCollectionForm(forms.Form):
    behavior = forms.ChoiceField(
        choices=Subscription.PauseBehavior.choices,
        initial=Subscription.PauseBehavior.KEEP_AS_DRAFT,
        widget=forms.RadioSelect,
        label=_("Invoices made while paused"),
    )
    resumes_on = forms.DateField(
        required=False,
        label=_("Resume on"),
        help_text=_("Empty: until you resume it."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class CancelForm(forms.Form):
    when = forms.ChoiceField(
        choices=[
            ("period_end", _("At the end of the current period")),
            ("now", _("Now")),
        ],
        initial="period_end",
        widget=forms.RadioSelect,
        label=_("Cancel"),
    )
    prorate = forms.BooleanField(
        required=False,
        label=_("Credit the unused time"),
        help_text=_("Cancelling now: the rest of the period is credited on the customer's next invoice."),
    )
    feedback = forms.ChoiceField(choices=FEEDBACK_CHOICES, required=False, label=_("Reason"))
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    comment.label = _("Comment")


# --- the admin ---------------------------------------------------------------------------------------------


@admin.register(Subscription)
class SubscriptionAdmin(CsvExportMixin, ScopedAdmin):
    form = SubscriptionForm
    list_display = [
        "public_id_display",
        "customer_display",
        "status_display",
        "price_display",
        "renewal_display",
        "created",
    ]
    list_display_links = ["public_id_display"]
    list_filter = [parts.SubscriptionStatusFilter, "collection_method", CreatedRangeFilter]
    search_fields = ["=public_id", "customer__email", "customer__name", "=customer__public_id"]
    search_help_text = _("An email, a name or an id (sub_…, cus_…).")
    list_select_related = ["customer"]
    csv_name = "subscriptions"

    class Media:
        css = {"all": ["kassa/invoices.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("items__price__product")

    # --- columns --------------------------------------------------------------------------------
    @admin.display(description=_("Subscription"), ordering="-id")
    def public_id_display(self, subscription):
        return subscription.public_id

    @admin.display(description=_("Customer"), ordering="customer__email")
    def customer_display(self, subscription):
        return customer_label(subscription.customer)

    @admin.display(description=_("Status"), ordering="status")
    def status_display(self, subscription):
        return parts.status_badge(subscription)

    @admin.display(description=_("Price"))
    def price_display(self, subscription):
        return parts.price_summary(subscription)

    @admin.display(description=_("Next renewal"), ordering="next_renewal_at")
    def renewal_display(self, subscription):
        if subscription.status in ENDED:
            return "—"
        period = parts.current_period(subscription)
        return day(subscription.next_renewal_at or (period[1] if period else None))

    # --- the page's sections --------------------------------------------------------------------
    @admin.display(description=_("Customer"))
    def customer_link(self, subscription):
        return parts.customer_link(subscription)

    @admin.display(description=_("Items"))
    def items_table(self, subscription):
        return parts.items_table(subscription)

    @admin.display(description=_("Current period"))
    def period_display(self, subscription):
        period = parts.current_period(subscription)
        return f"{when(period[0])} → {when(period[1])}" if period else "—"

    @admin.display(description=_("Trial"))
    def trial_display(self, subscription):
        if not subscription.trial_end:
            return "—"
        return f"{when(subscription.trial_start)} → {when(subscription.trial_end)}"

    @admin.display(description=_("Cancellation"))
    def cancellation_display(self, subscription):
        if subscription.canceled_at:
            text = gettext("Canceled %(when)s") % {"when": when(subscription.canceled_at)}
        elif subscription.cancel_at:
            text = gettext("Cancels on %(when)s") % {"when": when(subscription.cancel_at)}
        elif subscription.cancel_at_period_end:
            text = gettext("Cancels at the end of the current period")
        else:
            return "—"
        details = [
            str(dict(FEEDBACK_CHOICES).get(subscription.cancellation_feedback, ""))
            if subscription.cancellation_feedback
            else "",
            subscription.cancellation_comment or "",
        ]
        return " · ".join([text, *(d for d in details if d)])

    @admin.display(description=_("Collection"))
    def collection_display(self, subscription):
        text = str(dict(COLLECTION_CHOICES)[subscription.collection_method])
        if subscription.collection_method == SEND and subscription.days_until_due is not None:
            text += " · " + gettext("due after %(days)d days") % {"days": subscription.days_until_due}
        if subscription.charge_automatically_once_paid:
            text += " · " + gettext("charged automatically once the payer has paid an invoice online")
        elif subscription.save_default_payment_method == subscription.SaveDefaultPaymentMethod.ON_SUBSCRIPTION:
            text += " · " + gettext("the card that pays becomes the default")
        if subscription.pause_behavior:
            paused = gettext("Paused: %(behavior)s") % {"behavior": subscription.get_pause_behavior_display()}
            if subscription.pause_resumes_at:
                paused += " · " + gettext("resumes %(when)s") % {"when": when(subscription.pause_resumes_at)}
            text += f" — {paused}"
        return text

    @admin.display(description=_("Card"))
    def card_display(self, subscription):
        card = subscription.default_payment_method
        if card is None:
            card = subscription.customer.default_payment_method
            return gettext("The customer's default: %(card)s") % {"card": card} if card else "—"
        return str(card)

    @admin.display(description=_("Next invoice"))
    def preview_display(self, subscription):
        return parts.preview_table(subscription)

    @admin.display(description=_("Invoices"))
    def invoices_display(self, subscription):
        return parts.invoices_table(subscription)

    @admin.display(description=_("Timeline"))
    def timeline_display(self, subscription):
        return parts.timeline_table(subscription)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            items = [name for n in range(1, NEW_ITEMS + 1) for name in (f"price_{n}", f"quantity_{n}")]
            return [
                (None, {"fields": ["customer", *items]}),
                (
                    _("Billing"),
                    {
                        "fields": [
                            "collection_method",
                            "days_until_due",
                            "default_payment_method",
                            "trial_period_days",
                            "first_billing",
                            "bill_until_then",
                            "description",
                        ]
                    },
                ),
            ]
        return [
            (
                None,
                {
                    "fields": [
                        "status_display",
                        "customer_link",
                        "price_display",
                        "period_display",
                        "trial_display",
                        "cancellation_display",
                        "collection_display",
                        "card_display",
                        "public_id",
                        "created",
                    ]
                },
            ),
            (_("Items"), {"fields": ["items_table"]}),
            (_("Next invoice"), {"fields": ["preview_display"]}),
            (_("Invoices"), {"fields": ["invoices_display"]}),
            (_("Timeline"), {"fields": ["timeline_display"]}),
            (_("More"), {"fields": ["livemode", "description", "metadata"], "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return flatten_fieldsets(self.get_fieldsets(request, obj))

    # A subscription is a record: its page changes it through its buttons, never by saving the page.
    def has_change_permission(self, request, obj=None):
        return self._can_write(request) and obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        scope = self.scope(request)
        attrs = {}
        if obj is None and scope is not None and scope.merchant is not None:
            merchant, livemode = scope.merchant, scope.livemode
            customers = Customer.objects.filter(merchant=merchant, livemode=livemode, deleted=False)
            attrs = {
                "customers": customers.order_by("email", "pk"),
                "prices": recurring_prices(merchant, livemode),
                "cards": PaymentMethod.objects.filter(customer__in=customers, single_use_for__isnull=True)
                .select_related("customer")
                .order_by("customer__email", "-pk"),
            }
        kwargs["form"] = type("SubscriptionForm", (SubscriptionForm,), attrs)
        return super().get_form(request, obj, change, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._can_write(request):
            context["subscription_actions"] = self._actions_for(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.has_add_permission(request):
            extra_context["recurring_url"] = reverse("admin:billing_subscription_recurring")
        return super().changelist_view(request, extra_context)

    def _actions_for(self, subscription: Subscription) -> list[dict]:
        """The buttons the status allows (the services check again). ``form``: a page that asks first."""
        actions = []

        def add(name, label, *, form=False, confirm=None):
            url = reverse(f"admin:billing_subscription_{name}", args=[subscription.pk])
            actions.append({"name": name, "label": label, "url": url, "form": form, "confirm": confirm})

        if subscription.status in ENDED:
            return actions
        if subscription.status != S.PAUSED:
            add("change_items", _("Change price or quantity…"), form=True)
        if subscription.status in (S.ACTIVE, S.TRIALING, S.PAST_DUE, S.UNPAID) and not subscription.pause_behavior:
            add("pause_collection", _("Pause collection…"), form=True)
        if subscription.pause_behavior:
            add("resume_collection", _("Resume collection"))
        if subscription.status in (S.ACTIVE, S.TRIALING):
            add(
                "pause",
                _("Pause subscription"),
                confirm=_("Pause this subscription? No period renews and nothing is billed until you resume it."),
            )
        if subscription.status == S.PAUSED:
            add(
                "resume",
                _("Resume subscription"),
                confirm=_("Resume now? A new period starts today and its invoice is made and collected at once."),
            )
        if subscription.cancel_at_period_end or subscription.cancel_at:
            add("keep", _("Don't cancel"))
        add("cancel", _("Cancel subscription…"), form=True)
        return actions

    # --- writes -----------------------------------------------------------------------------------
    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        merchant, livemode = self.current(request)
        collection = data["collection_method"]
        now = timezone.now()
        anchor = midnight(data["first_billing"]) if data.get("first_billing") else None
        if anchor is not None and anchor <= now:
            anchor = None  # today (or a day gone): periods start now
        with errors_on_fields(ADD_FIELD_MAP):
            subscription, invoice = services.subscription_create_records(
                merchant=merchant,
                livemode=livemode,
                customer=data["customer"],
                items=form.items(),
                now=now,
                collection_method=collection,
                days_until_due=data.get("days_until_due") if collection == SEND else None,
                default_payment_method=data.get("default_payment_method"),
                trial_period_days=data.get("trial_period_days") or None,
                billing_cycle_anchor=anchor,
                proration_behavior="create_prorations" if data.get("bill_until_then") else "none",
                description=data.get("description") or None,
            )
        # Charged once the page's transaction has committed (add_view), never inside it.
        request.kassa_first_invoice = (subscription, invoice)
        return subscription

    def add_view(self, request, form_url="", extra_context=None):
        response = super().add_view(request, form_url, extra_context)  # its transaction has committed here
        made = getattr(request, "kassa_first_invoice", None)
        if made is not None and response.status_code == 302:
            try:
                subscription = services.subscription_first_invoice_collect(
                    subscription=made[0], invoice=made[1], now=timezone.now()
                )
            except KassaError as exc:  # made, not charged: its page and its open invoice say so
                self.message_user(request, exc.message, messages.WARNING)
            else:
                self.message_user(request, self._status_message(subscription))
        return response

    @staticmethod
    def _status_message(subscription: Subscription) -> str:
        status = parts.STATUS_WORDS[subscription.status]
        return gettext("Subscription %(id)s for %(customer)s: %(status)s.") % {
            "id": subscription.public_id,
            "customer": customer_label(subscription.customer),
            "status": status,
        }

    def save_related(self, request, form, formsets, change):
        """Nothing: the service wrote the items."""

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:billing_subscription_change", args=[obj.pk]))

    # --- buttons ----------------------------------------------------------------------------------------
    def get_urls(self):
        views = [
            ("change-items", "change_items", self.change_items_view),
            ("pause-collection", "pause_collection", self.pause_collection_view),
            ("resume-collection", "resume_collection", self.resume_collection_view),
            ("pause", "pause", self.pause_view),
            ("resume", "resume", self.resume_view),
            ("cancel", "cancel", self.cancel_view),
            ("keep", "keep", self.keep_view),
        ]
        own = [
            path(
                "recurring/",
                self.admin_site.admin_view(lambda request: recurring.recurring_payment_view(self, request)),
                name="billing_subscription_recurring",
            ),
        ]
        own += [
            path(f"<int:pk>/{route}/", self.admin_site.admin_view(view), name=f"billing_subscription_{name}")
            for route, name, view in views
        ]
        return [*own, *super().get_urls()]

    def _form_page(self, request, subscription, *, title, form, template_context=None, intro="", submit=""):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "subscription": subscription,
            "form": form,
            "intro": intro,
            "submit": submit or title,
            **(template_context or {}),
        }
        return TemplateResponse(request, "admin/billing/subscription/action_form.html", context)

    def _back(self, subscription) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:billing_subscription_change", args=[subscription.pk]))

    def change_items_view(self, request, pk):
        """Each item's price and quantity, a new item, the proration behaviour; "Preview" shows the next invoice
        with the change's prorations (nothing written), "Apply" makes the change."""
        subscription = self.object_for_write(request, pk)
        items = list(subscription.items.select_related("price__product").order_by("pk"))
        first = items[0].price if items else None
        prices = recurring_prices(subscription.merchant, subscription.livemode).filter(currency=subscription.currency)
        if first is not None:
            prices = prices.filter(
                recurring_interval=first.recurring_interval, recurring_interval_count=first.recurring_interval_count
            )
        posted = request.POST if request.method == "POST" else None
        rows = forms.formset_factory(ItemRowForm, extra=1)(
            posted,
            prefix="items",
            initial=[{"item": i.public_id, "price": i.price_id, "quantity": i.quantity} for i in items],
            form_kwargs={"prices": prices},
        )
        form = ChangeForm(posted)
        preview_html = None
        if posted is not None and form.is_valid() and rows.is_valid():
            changes = self._changes(rows, {item.public_id: item for item in items})
            behavior = form.cleaned_data["proration_behavior"]
            if not changes:
                form.add_error(None, gettext("Nothing changed."))
            elif "_apply" in request.POST:
                proration_date = form.cleaned_data.get("proration_date")
                try:
                    services.subscription_update(
                        subscription=subscription,
                        now=timezone.now(),
                        items=changes,
                        proration_behavior=behavior,
                        **({"proration_date": proration_date} if proration_date else {}),
                    )
                except KassaError as exc:
                    service_errors_as_form_errors(form, exc)
                else:
                    self.message_user(request, gettext("Subscription %(id)s changed.") % {"id": subscription.public_id})
                    return self._back(subscription)
            else:
                proposed = [
                    preview.ItemChange(
                        id=c.get("id"),
                        price=c.get("price"),
                        quantity=c.get("quantity"),
                        deleted=c.get("deleted", False),
                    )
                    for c in changes
                ]
                # The change applied next counts from the previewed instant (whole seconds, as the API's
                # proration_date), so it bills what the preview showed.
                at = math.ceil(timezone.now().timestamp())
                preview_html = parts.preview_table(
                    subscription,
                    items=proposed,
                    proration_behavior=behavior,
                    proration_date=datetime.fromtimestamp(at, tz=UTC),
                )
                form = ChangeForm({**request.POST.dict(), "proration_date": at})
                form.is_valid()
        return self._form_page(
            request,
            subscription,
            title=gettext("Change subscription %(id)s") % {"id": subscription.public_id},
            form=form,
            template_context={"rows": rows, "preview": preview_html, "preview_button": True},
            intro=gettext("Prices in %(currency)s with the same billing interval. Preview first to see the prorations.")
            % {"currency": subscription.currency.upper()},
            submit=gettext("Apply change"),
        )

    @staticmethod
    def _changes(rows, items: dict) -> list[dict]:
        changes = []
        for row in rows.forms:
            data = getattr(row, "cleaned_data", {})
            item = items.get(data.get("item") or "")
            if item is not None:
                if data.get("remove"):
                    changes.append({"id": item.public_id, "deleted": True})
                    continue
                price, quantity = data.get("price") or item.price, data.get("quantity") or item.quantity
                if price.pk != item.price_id or quantity != item.quantity:
                    changes.append({"id": item.public_id, "price": price, "quantity": quantity})
            elif data.get("price") is not None and not data.get("remove"):
                changes.append({"price": data["price"], "quantity": data.get("quantity") or 1})
        return changes

    def pause_collection_view(self, request, pk):
        subscription = self.object_for_write(request, pk)
        form = PauseCollectionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            resumes = form.cleaned_data.get("resumes_on")
            pause = {"behavior": form.cleaned_data["behavior"], "resumes_at": midnight(resumes) if resumes else None}
            try:
                services.subscription_update(subscription=subscription, now=timezone.now(), pause_collection=pause)
            except KassaError as exc:
                service_errors_as_form_errors(
                    form,
                    exc,
                    {"pause_collection[behavior]": "behavior", "pause_collection[resumes_at]": "resumes_on"},
                )
            else:
                self.message_user(request, gettext("Collection paused."))
                return self._back(subscription)
        return self._form_page(
            request,
            subscription,
            title=gettext("Pause collection of %(id)s") % {"id": subscription.public_id},
            form=form,
            intro=gettext(
                "The subscription keeps renewing; its invoices are not collected while paused (Stripe's "
                "pause_collection)."
            ),
            submit=gettext("Pause collection"),
        )

    def resume_collection_view(self, request, pk):
        def act(subscription):
            services.subscription_update(subscription=subscription, now=timezone.now(), pause_collection=None)
            return gettext("Collection resumed.")

        return self.button_view(request, pk, act)

    def pause_view(self, request, pk):
        def act(subscription):
            services.subscription_pause(subscription=subscription, now=timezone.now())
            return gettext("Subscription %(id)s paused.") % {"id": subscription.public_id}

        return self.button_view(request, pk, act)

    def resume_view(self, request, pk):
        def act(subscription):
            subscription = services.subscription_resume(subscription=subscription, now=timezone.now())
            return self._status_message(subscription)

        return self.button_view(request, pk, act)

    def keep_view(self, request, pk):
        def act(subscription):
            services.subscription_update(
                subscription=subscription, now=timezone.now(), cancel_at_period_end=False, cancel_at=None
            )
            return gettext("Subscription %(id)s will not be canceled.") % {"id": subscription.public_id}

        return self.button_view(request, pk, act)

    def cancel_view(self, request, pk):
        subscription = self.object_for_write(request, pk)
        form = CancelForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            details = {"feedback": data.get("feedback") or None, "comment": data.get("comment") or None}
            try:
                if data["when"] == "now":
                    services.subscription_cancel(
                        subscription=subscription,
                        now=timezone.now(),
                        prorate=data.get("prorate", False),
                        cancellation_details=details,
                    )
                    message = gettext("Subscription %(id)s canceled.")
                else:
                    services.subscription_update(
                        subscription=subscription,
                        now=timezone.now(),
                        cancel_at_period_end=True,
                        cancellation_details=details,
                    )
                    message = gettext("Subscription %(id)s cancels at the end of its current period.")
            except KassaError as exc:
                service_errors_as_form_errors(
                    form,
                    exc,
                    {"cancellation_details[feedback]": "feedback", "cancellation_details[comment]": "comment"},
                )
            else:
                self.message_user(request, message % {"id": subscription.public_id})
                return self._back(subscription)
        return self._form_page(
            request,
            subscription,
            title=gettext("Cancel subscription %(id)s") % {"id": subscription.public_id},
            form=form,
            submit=gettext("Cancel subscription"),
        )


# --- CSV export: stable English headers ---------------------------------------------------------------------


def _first_item(subscription):
    items = sorted(subscription.items.all(), key=lambda item: item.pk)
    return items[0] if items else None


SubscriptionAdmin.csv_columns = [
    ("id", lambda s: s.public_id),
    ("created", lambda s: s.created),
    ("status", lambda s: s.status),
    ("customer_id", lambda s: s.customer.public_id),
    ("customer_email", lambda s: s.customer.email),
    ("collection_method", lambda s: s.collection_method),
    ("currency", lambda s: s.currency.upper()),
    (
        "amount",
        lambda s: csv_amount(sum((i.price.unit_amount or 0) * i.quantity for i in s.items.all()), s.currency),
    ),
    (
        "interval",
        lambda s: (
            f"{_first_item(s).price.recurring_interval_count or 1} {_first_item(s).price.recurring_interval}"
            if _first_item(s)
            else ""
        ),
    ),
    ("current_period_end", lambda s: _first_item(s).current_period_end if _first_item(s) else None),
    ("next_renewal", lambda s: s.next_renewal_at),
    ("cancel_at_period_end", lambda s: "true" if s.cancel_at_period_end else "false"),
    ("canceled", lambda s: s.canceled_at),
]
