"""Billing → Recurring payment: "every 30 days from 1 February, 50.00 EUR for John Doe" on one page.

Amount (major units, never a float: merchants.widgets.MoneyField), currency, interval in days, start date,
subscriber name and email — or, opened from a customer's page, that customer. One service call
(``subscription_recurring_create``) makes the customer, the product and its price (``interval=day``,
``interval_count=N``) and the subscription in one transaction; the page says beforehand how it will be
collected (a card on file is charged; anyone else is emailed each invoice with a link to pay it, and — the
box ticked by default — charged automatically with the card that paid the first one).
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import KassaError
from merchants.admin_base import service_errors_as_form_errors
from merchants.widgets import Money, MoneyField

from ...catalogue.models import Customer
from ...invoices.admin.parts import customer_label
from .. import services
from ..services.recurring import INTERVAL_DAYS_MAX
from .parts import STATUS_WORDS, midnight

FIELD_MAP = {"currency": "amount", "start": "start", "interval_days": "interval_days", "product_name": "product_name"}


class RecurringPaymentForm(forms.Form):
    name = forms.CharField(required=False, max_length=256, label=_("Subscriber's name"))
    email = forms.EmailField(
        required=False, max_length=512, label=_("Subscriber's email"), help_text=_("Their invoices are sent here.")
    )
    amount = MoneyField(label=_("Amount"))
    interval_days = forms.IntegerField(
        min_value=1, max_value=INTERVAL_DAYS_MAX, initial=30, label=_("Every (days)"), help_text=_("From 1 to 365.")
    )
    start = forms.DateField(
        label=_("Starting on"),
        help_text=_("The first payment is due that day; today: now."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    product_name = forms.CharField(
        max_length=250,
        label=_("On the invoice"),
        help_text=_("What the payments are for, as the invoice's line says it."),
    )
    charge_automatically_once_paid = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Switch to automatic charging after the first payment"),
        help_text=_(
            "The card that pays the first invoice online is saved and charged for the next ones, "
            "instead of emailing each invoice."
        ),
    )

    def __init__(self, *args, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        if customer is not None:  # from a customer's page: that customer, no name or email to type
            del self.fields["name"], self.fields["email"]
        if customer is not None and customer.default_payment_method_id is not None:
            del self.fields["charge_automatically_once_paid"]  # their card is charged from the start

    def clean(self):
        data = super().clean()
        if self.customer is None and not data.get("email") and "email" not in self.errors:
            self.add_error("email", gettext("The subscriber's email is needed: their invoices are emailed to them."))
        start = data.get("start")
        if start is not None and start < timezone.localdate():
            self.add_error("start", gettext("The start date cannot be in the past."))
        return data


def _customer_from(request, model_admin, merchant, livemode) -> Customer | None:
    pk = request.GET.get("customer") or request.POST.get("customer")
    if not pk:
        return None
    try:
        return Customer.objects.get(pk=int(pk), merchant=merchant, livemode=livemode, deleted=False)
    except (ValueError, Customer.DoesNotExist):
        return None


def recurring_payment_view(model_admin, request):
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    merchant, livemode = model_admin.current(request)
    customer = _customer_from(request, model_admin, merchant, livemode)
    initial = {
        "amount": Money(None, merchant.default_currency),
        "start": timezone.localdate(),
        "product_name": gettext("Recurring payment"),
    }
    form = RecurringPaymentForm(request.POST if request.method == "POST" else None, customer=customer, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        start = midnight(data["start"])
        try:
            subscription = services.subscription_recurring_create(
                merchant=merchant,
                livemode=livemode,
                now=timezone.now(),
                amount=data["amount"].amount,
                currency=data["amount"].currency,
                interval_days=data["interval_days"],
                start=start if start > timezone.now() else None,
                product_name=data["product_name"],
                customer=customer,
                name=data.get("name"),
                email=data.get("email"),
                charge_automatically_once_paid=bool(data.get("charge_automatically_once_paid")),
            )
        except KassaError as exc:
            service_errors_as_form_errors(form, exc, FIELD_MAP)
        else:
            model_admin.message_user(
                request,
                gettext(
                    "%(amount)s every %(days)d days from %(start)s for %(customer)s: subscription %(id)s, %(status)s."
                )
                % {
                    "amount": money.format_amount(data["amount"].amount, data["amount"].currency),
                    "days": data["interval_days"],
                    "start": date_format(data["start"], "DATE_FORMAT"),
                    "customer": customer_label(subscription.customer),
                    "id": subscription.public_id,
                    "status": STATUS_WORDS[subscription.status],
                },
            )
            return HttpResponseRedirect(reverse("admin:billing_subscription_change", args=[subscription.pk]))
    has_card = customer is not None and customer.default_payment_method_id is not None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": gettext("Recurring payment"),
        "opts": model_admin.model._meta,
        "form": form,
        "customer": customer,
        "customer_label": customer_label(customer) if customer else "",
        "has_card": has_card,
        "card": customer.default_payment_method if has_card else None,
    }
    return TemplateResponse(request, "admin/billing/subscription/recurring.html", context)
