"""The portal page's Subscriptions section: the payer's subscriptions that have not ended, each with what it
costs, its status in plain words and its next date; "Cancel subscription" (at the end of the period, with a
reason) and "Keep my subscription" when the merchant's settings allow cancelling, "Change plan" between the
prices the merchant offers when they allow switching, "Change quantity" (seats, licences) when they allow that,
both only for a subscription to one of the products of the prices offered, as at Stripe (``services.updatable``).

Registered in billing/apps.py (order 10: first on the page). Every action names a subscription by its public
id, looked up among the session's customer's subscriptions only (services.py); the writes are the
subscriptions core's ``subscription_update``, so the API, the events and the next invoice see exactly what a
merchant's own update would make. Amounts are formatted as the invoices section formats them
(``money.format_localised``), dates as the invoice page does (``format_day``).
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kassa import money
from kassa.errors import KassaError

from ..catalogue.display import price_interval
from ..hosted import i18n
from ..invoices.documents_build import format_day
from ..invoices.models import Invoice
from ..subscriptions.models import Subscription
from . import selectors, services
from .models import PortalConfiguration
from .sections import Section

S = Subscription.Status

# What a payer reads for each status (the merchant's dashboard keeps Stripe's words).
STATUS_WORDS = {
    S.ACTIVE: pgettext_lazy("subscription status", "Active"),
    S.TRIALING: pgettext_lazy("subscription status", "Trial"),
    S.PAST_DUE: pgettext_lazy("subscription status", "Payment overdue"),
    S.UNPAID: pgettext_lazy("subscription status", "Unpaid"),
    S.PAUSED: pgettext_lazy("subscription status", "Paused"),
    S.INCOMPLETE: pgettext_lazy("subscription status", "Awaiting the first payment"),
}
MESSAGES = {
    "renews_on": _("Renews on %(date)s"),
    "trial_ends_on": _("Trial ends on %(date)s"),
    "cancels_on": _("Cancels on %(date)s"),
    "overdue": _("Your last payment failed. Update your card so that it can be taken again."),
    # A subscription paid by invoice (send_invoice) is past due when its last invoice is unpaid after its due date.
    "invoice_overdue": _("Your last invoice is overdue."),
    "paused": _("Paused: nothing is billed until it resumes."),
    "quantity": _("%(quantity)s × %(amount)s"),  # noqa: RUF001
    "price": _("%(amount)s %(interval)s"),
    "not_found": _("This subscription cannot be changed here. Reload the page and try again."),
    "not_offered": _("This plan is not offered here any more. Reload the page and choose another."),
    "not_now": _("This subscription cannot be changed now. Contact %(merchant)s."),
    "reason_unknown": _("Choose one of the reasons offered."),
    "comment_too_long": _("Your comment is too long (500 characters at most)."),
    "quantity_invalid": _("Enter a whole number from 1 to %(max)s."),
    "other_plan": _(
        "This plan is billed on another schedule or in another currency than your subscription, so it cannot "
        "replace it here. Contact %(merchant)s to change it."
    ),
}


def words(key: str, **values) -> str:
    return i18n.fill(MESSAGES, key, **values)


def price_words(price, language: str, quantity: int = 1) -> str:
    """ "€50.00 every month", "2 x €12.50 every month" (with a multiplication sign): formatted for the reader."""
    amount = money.format_localised(price.unit_amount or 0, price.currency, language)
    if quantity != 1:
        amount = words("quantity", quantity=quantity, amount=amount)
    return words("price", amount=amount, interval=price_interval(price))


def _next_date(subscription: Subscription, period_end, language: str) -> str:
    if subscription.cancel_at is not None:
        return words("cancels_on", date=format_day(subscription.cancel_at, language))
    if period_end is None or subscription.status in (S.PAUSED, S.INCOMPLETE):
        return ""
    day = format_day(period_end, language)
    if subscription.cancel_at_period_end:
        return words("cancels_on", date=day)
    if subscription.status == S.TRIALING and subscription.trial_end is not None:
        return words("trial_ends_on", date=format_day(subscription.trial_end, language))
    return words("renews_on", date=day)


def _plans(ctx, subscription: Subscription, prices: list) -> list[dict]:
    """The merchant's offered prices for this subscription: those of its currency and interval can be chosen;
    the others are listed as not available for it."""
    current = subscription.items.all()[0].price
    same = (current.currency, current.recurring_interval, current.recurring_interval_count or 1)
    return [
        {
            "id": price.public_id,
            "name": price.product.name,
            "price": price_words(price, ctx.language),
            "current": price.pk == current.pk,
            "available": (price.currency, price.recurring_interval, price.recurring_interval_count or 1) == same,
        }
        for price in prices
    ]


def _overdue(subscription: Subscription) -> tuple[str, str]:
    """What a past-due subscription's payer reads, and where they pay: its latest invoice sent to them (whatever
    the subscription's collection method is now) is paid on its hosted page, linked here whether or not the
    portal lists invoices; a charge that failed asks for a card."""
    if subscription.status != S.PAST_DUE:
        return "", ""
    latest = subscription.latest_invoice
    emailed = latest is not None and latest.collection_method == Invoice.CollectionMethod.SEND_INVOICE
    if emailed and latest.status == Invoice.Status.OPEN:
        return words("invoice_overdue"), reverse("invoices:page", args=[latest.token])
    return words("overdue"), ""


def _subscription(ctx, subscription: Subscription, prices: list) -> dict:
    configuration = ctx.configuration
    items = list(subscription.items.all())
    updatable = services.updatable(subscription, prices)
    overdue, pay_url = _overdue(subscription)
    return {
        "id": subscription.public_id,
        "items": [
            {"name": item.price.product.name, "price": price_words(item.price, ctx.language, item.quantity)}
            for item in items
        ],
        "status": subscription.status,
        "status_label": STATUS_WORDS.get(subscription.status, subscription.status),
        "next_date": _next_date(subscription, items[0].current_period_end if items else None, ctx.language),
        "period_end": format_day(items[0].current_period_end, ctx.language) if items else "",
        "overdue": overdue,
        "pay_url": pay_url,
        "paused": words("paused") if subscription.status == S.PAUSED else "",
        "cancelable": configuration.subscription_cancel and services.can_cancel(subscription),
        "keepable": configuration.subscription_cancel and subscription.cancel_at_period_end,
        "plans": _plans(ctx, subscription, prices) if configuration.subscription_update and updatable else [],
        "quantity": items[0].quantity if items else 0,
        "quantity_editable": configuration.subscription_update_quantity and updatable,
    }


def subscriptions_context(ctx) -> dict | None:
    subscriptions = list(selectors.portal_subscriptions(session=ctx.session))
    if not subscriptions:
        return None
    configuration = ctx.configuration
    changes = configuration.subscription_update or configuration.subscription_update_quantity
    prices = list(selectors.portal_switch_prices(session=ctx.session)) if changes else []
    offered = set(configuration.cancellation_reasons or [])
    return {
        "subscriptions": [_subscription(ctx, subscription, prices) for subscription in subscriptions],
        "reasons": [
            (value, label) for value, label in PortalConfiguration.CancellationReason.choices if value in offered
        ],
        "cancel_url": ctx.action_url("subscriptions", "cancel"),
        "keep_url": ctx.action_url("subscriptions", "keep"),
        "switch_url": ctx.action_url("subscriptions", "switch"),
        "quantity_url": ctx.action_url("subscriptions", "quantity"),
        "quantity_max": services.QUANTITY_MAX,
    }


def _value(data, name: str) -> str:
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def subscriptions_cancel(ctx, data) -> None:
    services.portal_subscription_cancel(
        session=ctx.session,
        subscription_id=_value(data, "subscription"),
        feedback=_value(data, "feedback"),
        comment=_value(data, "comment"),
        now=ctx.now,
    )


def subscriptions_keep(ctx, data) -> None:
    services.portal_subscription_keep(session=ctx.session, subscription_id=_value(data, "subscription"), now=ctx.now)


def subscriptions_switch(ctx, data) -> None:
    services.portal_subscription_switch(
        session=ctx.session, subscription_id=_value(data, "subscription"), price_id=_value(data, "price"), now=ctx.now
    )


def subscriptions_quantity(ctx, data) -> None:
    services.portal_subscription_quantity(
        session=ctx.session,
        subscription_id=_value(data, "subscription"),
        quantity=_value(data, "quantity"),
        now=ctx.now,
    )


def subscriptions_refusal(ctx, error: KassaError) -> str | None:
    """The payer's words for this section's refusals, by code and param (the core's English stays in logs)."""
    merchant = ctx.session.merchant.name
    param = error.param or ""
    if error.code == "resource_missing":
        return words("not_offered") if param == "price" else words("not_found")
    if error.code == "subscription_unexpected_state":
        return words("not_now", merchant=merchant)
    if param == "cancellation_details[feedback]":
        return words("reason_unknown")
    if param == "comment":
        return words("comment_too_long")
    if param == "quantity":
        return words("quantity_invalid", max=services.QUANTITY_MAX)
    if param.startswith("items["):
        # The subscriptions core refuses a price of another interval or currency (one schedule per subscription).
        return words("other_plan", merchant=merchant)
    return None


SUBSCRIPTIONS = Section(
    key="subscriptions",
    order=10,
    template="portal/sections/subscriptions.html",
    context=subscriptions_context,
    actions={
        "cancel": subscriptions_cancel,
        "keep": subscriptions_keep,
        "switch": subscriptions_switch,
        "quantity": subscriptions_quantity,
    },
    confirmations={
        "cancel": _("Your subscription will end at the end of the current period. You will not be charged again."),
        "keep": _("Your subscription will continue."),
        "switch": _("Your plan has been changed."),
        "quantity": _("Your quantity has been changed."),
    },
    refusal=subscriptions_refusal,
)
