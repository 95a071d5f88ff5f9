"""What the subscriptions' dashboard pages show: statuses in Stripe's words, "50.00 EUR every 30 days", and the
sections of a subscription's page (items, the next invoice as previewed, its invoices, its timeline).

Read-only rendering only; the forms and buttons are in subscriptions.py and recurring.py. The next invoice
comes from ``preview.invoice_preview`` (a selector: nothing is written); the timeline from what the core
records (start, trial, invoices, payment attempts, cancellation) and the subscription's own events
(status changes, pauses), read from the merchant's event log.
"""

from datetime import UTC, datetime, time

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.errors import KassaError
from merchants.admin_base import admin_link, html_table, when
from webhooks.models import Event

from ...catalogue.display import price_interval
from ...invoices.admin.parts import customer_label, day, invoice_status_badge
from ...invoices.models import Invoice
from ...payments.models import PaymentAttempt
from .. import preview
from ..models import Subscription, SubscriptionItem

S = Subscription.Status


def midnight(value, tz=None) -> datetime:
    """A date typed in the dashboard: its start in the viewer's time zone, as an aware datetime in UTC."""
    moment = datetime.combine(value, time.min, tzinfo=tz or timezone.get_current_timezone())
    return moment.astimezone(UTC)


# Stripe's dashboard words; "subscription status": French agrees them with "abonnement" (Actif, Annulé).
STATUS_WORDS = {
    S.INCOMPLETE: pgettext_lazy("subscription status", "Incomplete"),
    S.INCOMPLETE_EXPIRED: pgettext_lazy("subscription status", "Incomplete, expired"),
    S.TRIALING: pgettext_lazy("subscription status", "Trialing"),
    S.ACTIVE: pgettext_lazy("subscription status", "Active"),
    S.PAST_DUE: pgettext_lazy("subscription status", "Past due"),
    S.UNPAID: pgettext_lazy("subscription status", "Unpaid"),
    S.CANCELED: pgettext_lazy("subscription status", "Canceled"),
    S.PAUSED: pgettext_lazy("subscription status", "Paused"),
}
BADGE_CLASS = {  # invoices.css and dashboard.css colour these
    S.INCOMPLETE: "open",
    S.INCOMPLETE_EXPIRED: "void",
    S.TRIALING: "open",
    S.ACTIVE: "succeeded",
    S.PAST_DUE: "failed",
    S.UNPAID: "failed",
    S.CANCELED: "void",
    S.PAUSED: "draft",
}


def status_badge(subscription: Subscription) -> str:
    """The status, and what is coming: "Active · cancels 1 March", "Active · collection paused"."""
    badge = format_html(
        '<span class="kassa-status kassa-status--{}" data-status="{}">{}</span>',
        BADGE_CLASS[subscription.status],
        subscription.status,
        STATUS_WORDS[subscription.status],
    )
    notes = []
    if subscription.status not in (S.CANCELED, S.INCOMPLETE_EXPIRED):
        ends = subscription.cancel_at or (subscription.cancel_at_period_end and subscription.next_renewal_at)
        if ends:
            notes.append(gettext("cancels %(when)s") % {"when": day(ends)})
        if subscription.pause_behavior:
            notes.append(gettext("collection paused"))
    if not notes:
        return badge
    return format_html('{} <span class="kassa-note-inline">{}</span>', badge, " · ".join(notes))


class SubscriptionStatusFilter(admin.SimpleListFilter):
    """Every status, canceled included (the API's list hides canceled ones unless asked; a list page should not)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return list(STATUS_WORDS.items())

    def queryset(self, request, queryset):
        if self.value() in STATUS_WORDS:
            return queryset.filter(status=self.value())
        return queryset


def _unit_summary(price) -> str:
    return f"{money.format_amount(price.unit_amount or 0, price.currency)} {price_interval(price)}"


def item_summary(item: SubscriptionItem) -> str:
    """ "50.00 EUR every 30 days", "3 x 12.50 EUR every month" (with a multiplication sign)."""
    price = item.price
    amount = money.format_amount(price.unit_amount or 0, price.currency)
    if item.quantity != 1:
        amount = f"{item.quantity} × {amount}"  # noqa: RUF001 - the multiplication sign, as invoices print it
    return f"{amount} {price_interval(price)}"


def price_summary(subscription: Subscription) -> str:
    items = list(subscription.items.all())
    if not items:
        return "—"
    return "; ".join(item_summary(item) for item in sorted(items, key=lambda item: item.pk))


def current_period(subscription: Subscription) -> tuple[datetime, datetime] | None:
    items = sorted(subscription.items.all(), key=lambda item: item.pk)
    return (items[0].current_period_start, items[0].current_period_end) if items else None


def price_label(price) -> str:
    nickname = f" · {price.nickname}" if price.nickname else ""
    return f"{price.product.name}{nickname}"


def items_table(subscription: Subscription) -> str:
    items = list(subscription.items.select_related("price__product").order_by("pk"))
    return html_table(
        "kassa-subscription-items",
        [_("Product"), _("Price"), _("Quantity"), _("Current period"), _("ID")],
        (
            (
                admin_link(item.price.product, price_label(item.price)),
                admin_link(
                    item.price,
                    f"{money.format_amount(item.price.unit_amount or 0, item.currency)} {price_interval(item.price)}",
                ),
                item.quantity,
                f"{when(item.current_period_start)} → {when(item.current_period_end)}",
                item.public_id,
            )
            for item in items
        ),
    )


def preview_table(
    subscription: Subscription, *, items=None, proration_behavior="create_prorations", proration_date=None
) -> str:
    """The next invoice as ``invoices.create_preview`` computes it (with a proposed change's prorations), unsaved."""
    try:
        invoice = preview.invoice_preview(
            merchant=subscription.merchant,
            livemode=subscription.livemode,
            now=timezone.now(),
            subscription=subscription,
            items=items or [],
            proration_behavior=proration_behavior,
            proration_date=proration_date,
        )
    except KassaError as exc:
        return format_html('<p class="kassa-note" id="kassa-subscription-no-preview">{}</p>', exc.message)
    currency = invoice.currency
    rows = [
        (
            line.description or (line.price.product.name if line.price_id else "—"),
            gettext("Proration") if getattr(line, "proration", False) else "",
            f"{day(line.period_start)} → {day(line.period_end)}" if line.period_start else "—",
            line.quantity if line.quantity is not None else "—",
            money.format_amount(line.amount, line.currency),
        )
        for line in invoice.preview_lines
    ]
    rows.append(("", "", "", gettext("Subtotal"), money.format_amount(invoice.subtotal, currency)))
    if invoice.total != invoice.subtotal:
        rows.append(("", "", "", gettext("Tax"), money.format_amount(invoice.total - invoice.subtotal, currency)))
    rows.append(("", "", "", gettext("Total"), money.format_amount(invoice.total, currency)))
    table = html_table(
        "kassa-subscription-preview",
        [_("Description"), "", _("Period"), _("Quantity"), _("Amount")],
        rows,
    )
    note = gettext("On %(when)s; a preview, nothing is written until then.") % {"when": when(invoice.created)}
    return format_html('{}<p class="help">{}</p>', table, note)


def invoices_table(subscription: Subscription) -> str:
    invoices = list(Invoice.objects.filter(subscription=subscription).order_by("-id")[:50])
    if not invoices:
        return gettext("None yet")
    now = timezone.now()
    return html_table(
        "kassa-subscription-invoices",
        [_("Number"), _("Reason"), _("Status"), _("Total"), _("Period"), _("Created")],
        (
            (
                admin_link(invoice, str(invoice)),
                invoice.get_billing_reason_display(),
                invoice_status_badge(invoice, now),
                money.format_amount(invoice.total, invoice.currency),
                day(invoice.subscription_period_start) if invoice.subscription_period_start else "—",
                when(invoice.created),
            )
            for invoice in invoices
        ),
    )


EVENT_WORDS = {
    "customer.subscription.paused": _("Paused"),
    "customer.subscription.resumed": _("Resumed"),
    "customer.subscription.deleted": _("Canceled"),
    "customer.subscription.trial_will_end": _("Trial ends in three days (customer told)"),
    "customer.subscription.pending_update_applied": _("Pending update applied"),
    "customer.subscription.pending_update_expired": _("Pending update expired (its invoice unpaid)"),
}
TIMELINE_EVENTS_MAX = 100


def _events(subscription: Subscription):
    """The subscription's own events, newest first, at most TIMELINE_EVENTS_MAX (the merchant's log, by type)."""
    return (
        Event.objects.filter(
            merchant_id=subscription.merchant_id,
            livemode=subscription.livemode,
            type__startswith="customer.subscription.",
            data__object__id=subscription.public_id,
        )
        .exclude(type="customer.subscription.created")
        .order_by("-id")[:TIMELINE_EVENTS_MAX]
    )


def _event_entries(subscription: Subscription) -> list[tuple[datetime, str, str]]:
    """Status changes, pauses and resumptions, from the subscription's events (the core keeps no history)."""
    entries = []
    for event in _events(subscription):
        previous = (event.data.get("previous_attributes") or {}).get("status")
        if event.type == "customer.subscription.updated" and previous:
            status = event.data["object"].get("status")
            words = f"{STATUS_WORDS.get(previous, previous)} → {STATUS_WORDS.get(status, status)}"
            entries.append((event.created, gettext("Status changed"), words))
        elif event.type in EVENT_WORDS and event.type != "customer.subscription.deleted":
            entries.append((event.created, str(EVENT_WORDS[event.type]), ""))
    return entries


def timeline(subscription: Subscription) -> list[tuple[datetime | None, str, str]]:
    """(when, what, details), oldest first: start, trial, each invoice and its failed payments, status changes,
    pauses and the cancellation; what is scheduled (the next renewal, a cancellation) last."""
    entries: list[tuple[datetime | None, str, str]] = [(subscription.start_date, gettext("Started"), "")]
    if subscription.trial_start:
        entries.append((subscription.trial_start, gettext("Trial started"), ""))
    now = timezone.now()
    if subscription.trial_end and subscription.trial_end <= now:
        entries.append((subscription.trial_end, gettext("Trial ended"), ""))
    invoices = list(Invoice.objects.filter(subscription=subscription).order_by("id")[:200])
    for invoice in invoices:
        entries.append((invoice.created, invoice.get_billing_reason_display(), str(invoice)))
        if invoice.paid_at:
            entries.append((invoice.paid_at, gettext("Invoice paid"), str(invoice)))
    failed = PaymentAttempt.objects.filter(
        payment_intent__invoice_payment__invoice__in=invoices, status=PaymentAttempt.Status.FAILED
    ).select_related("payment_intent__invoice_payment__invoice")
    for attempt in failed:
        invoice = attempt.payment_intent.invoice_payment.invoice
        details = f"{invoice}: {attempt.error_message}" if attempt.error_message else str(invoice)
        entries.append((attempt.created, gettext("Payment failed"), details))
    entries += _event_entries(subscription)
    if subscription.canceled_at:
        reason = subscription.get_cancellation_reason_display() if subscription.cancellation_reason else ""
        entries.append((subscription.canceled_at, gettext("Canceled"), reason))
    entries.sort(key=lambda entry: entry[0])
    return entries + _scheduled(subscription, now)


def _scheduled(subscription: Subscription, now: datetime) -> list[tuple[datetime, str, str]]:
    """What is coming: the trial's end, then a cancellation or the next renewal."""
    if subscription.status in (S.CANCELED, S.INCOMPLETE_EXPIRED):
        return []
    entries = []
    if subscription.trial_end and subscription.trial_end > now:
        entries.append((subscription.trial_end, gettext("Trial ends"), ""))
    ends = subscription.cancel_at or (subscription.cancel_at_period_end and subscription.next_renewal_at)
    if ends:
        entries.append((ends, gettext("Cancels"), ""))
    elif subscription.next_renewal_at and subscription.status != S.PAUSED:
        entries.append((subscription.next_renewal_at, gettext("Next renewal"), ""))
    return entries


def timeline_table(subscription: Subscription) -> str:
    return html_table(
        "kassa-subscription-timeline",
        [_("When"), _("What"), _("Details")],
        ((when(moment), what, details) for moment, what, details in timeline(subscription)),
    )


def customer_subscriptions(customer, *, links: bool = False) -> str:
    """A customer's page: their subscriptions; for writers, "Create subscription" and "Recurring payment"."""
    subscriptions = list(
        Subscription.objects.filter(customer=customer).prefetch_related("items__price").order_by("-id")[:50]
    )
    buttons = ""
    if links:
        buttons = format_html(
            '<p><a href="{}?customer={}" class="button" id="kassa-customer-new-subscription">{}</a> '
            '<a href="{}?customer={}" class="button" id="kassa-customer-recurring-payment">{}</a></p>',
            reverse("admin:billing_subscription_add"),
            customer.pk,
            gettext("Create subscription"),
            reverse("admin:billing_subscription_recurring"),
            customer.pk,
            gettext("Recurring payment"),
        )
    if not subscriptions:
        return format_html("{}{}", gettext("None yet"), buttons)
    table = html_table(
        "kassa-customer-subscriptions",
        [_("Subscription"), _("Status"), _("Price"), _("Next renewal"), _("Created")],
        (
            (
                admin_link(subscription),
                status_badge(subscription),
                price_summary(subscription),
                when(subscription.next_renewal_at),
                when(subscription.created),
            )
            for subscription in subscriptions
        ),
    )
    return format_html("{}{}", table, buttons)


def customer_link(subscription: Subscription) -> str:
    return admin_link(subscription.customer, customer_label(subscription.customer))
