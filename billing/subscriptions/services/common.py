"""What the subscription services share: statuses and their moves, the items' checks, a period's lines, and
when a subscription next has work for beat (``next_renewal_at``)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext

from kassa.db import many, update_where
from kassa.errors import InvalidRequest
from webhooks.services.outbox import event_emit

from ...catalogue.models import Price
from ...invoices import services as invoices
from ...invoices.models import Invoice
from .. import periods, prorations
from ..models import Subscription, SubscriptionItem
from ..selectors import items_read_with, subscription_items

S = Subscription.Status

#: Where each status may go (STYLE.md: forward only; anything else raises).
#: https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses
TRANSITIONS = {
    S.INCOMPLETE: {S.ACTIVE, S.TRIALING, S.INCOMPLETE_EXPIRED, S.CANCELED},
    S.TRIALING: {S.ACTIVE, S.PAST_DUE, S.CANCELED, S.PAUSED},
    S.ACTIVE: {S.PAST_DUE, S.UNPAID, S.CANCELED, S.PAUSED},
    S.PAST_DUE: {S.ACTIVE, S.UNPAID, S.CANCELED},
    S.UNPAID: {S.ACTIVE, S.CANCELED},
    S.PAUSED: {S.ACTIVE, S.CANCELED},
    S.CANCELED: set(),
    S.INCOMPLETE_EXPIRED: set(),
}
ENDED = {S.CANCELED, S.INCOMPLETE_EXPIRED}
#: As at Stripe: a first invoice left unpaid this long ends the subscription (incomplete_expired).
INCOMPLETE_EXPIRES_AFTER = timedelta(hours=23)
#: As at Stripe: a pending update (payment_behavior=pending_if_incomplete) whose invoice is unpaid this long is dropped.
PENDING_UPDATE_EXPIRES_AFTER = timedelta(hours=23)
#: customer.subscription.trial_will_end, this long before the trial ends (as at Stripe).
TRIAL_WILL_END_BEFORE = timedelta(days=3)
#: Items per subscription, as at Stripe.
ITEMS_MAX = 20


def upcoming_before() -> timedelta:
    """invoice.upcoming this many days before a renewal: settings.KASSA_INVOICE_UPCOMING_DAYS (default 3)."""
    return timedelta(days=getattr(settings, "KASSA_INVOICE_UPCOMING_DAYS", 3))


def status_move(subscription: Subscription, status: str) -> None:
    if status == subscription.status:
        return
    if status not in TRANSITIONS[subscription.status]:
        raise InvalidRequest(
            f"Subscription {subscription.public_id} is {subscription.status} and cannot become {status}.",
            code="subscription_unexpected_state",
            param="subscription",
        )
    subscription.status = status


def of_customers(queryset: QuerySet, customers: QuerySet | None) -> QuerySet:
    """``customers``' subscriptions (a test clock's advance); without them, those on the wall clock."""
    if customers is None:
        return queryset.filter(customer__test_clock__isnull=True)
    return queryset.filter(customer__in=customers)


def recurring_price_check(price: Price, *, merchant, livemode: bool, param: str) -> Price:
    if price.merchant_id != merchant.pk or price.livemode != livemode:
        raise InvalidRequest(f"No such price: '{price.public_id}'", code="resource_missing", param=param)
    if price.type != Price.Type.RECURRING:
        raise InvalidRequest(
            f"The price {price.public_id} is a one-time price; a subscription takes recurring prices only.",
            param=param,
        )
    return price


def interval_of(price: Price) -> tuple[str, int]:
    return price.recurring_interval, price.recurring_interval_count or 1


def period_after(subscription: Subscription, price: Price, at: datetime) -> tuple[datetime, datetime]:
    """The period that starts at (or contains) ``at``: the stub before the anchor, else counted from it."""
    interval, count = interval_of(price)
    return periods.period_at(
        anchor=subscription.billing_cycle_anchor,
        interval=interval,
        count=count,
        at=at,
        start=at,
        day_of_month=subscription.billing_cycle_anchor_day_of_month,
    )


def stub_amount(subscription: Subscription, price: Price, quantity: int, start: datetime, end: datetime) -> int:
    """The part of a full period's amount a stub period before the anchor is worth, to the second, rounded half
    up once (the full period is the one that ends at the anchor; a stub cut short at ``cancel_at`` ends before it)."""
    interval, count = interval_of(price)
    full_start = periods.period_start(
        anchor=subscription.billing_cycle_anchor,
        interval=interval,
        count=count,
        n=-1,
        day_of_month=subscription.billing_cycle_anchor_day_of_month,
    )
    return share_amount(price.unit_amount * quantity, start, end, full_start, subscription.billing_cycle_anchor)


def share_amount(whole: int, start: datetime, end: datetime, full_start: datetime, full_end: datetime) -> int:
    """The share of ``whole``, the amount of the full period [full_start, full_end), that [start, end) is worth, to
    the second, rounded half up once."""
    full = int((full_end - full_start).total_seconds())
    part = min(int((end - start).total_seconds()), full)
    return (2 * whole * part + full) // (2 * full) if full > 0 else whole


def period_until_cancel(cancel_at: datetime | None, start: datetime, end: datetime) -> tuple[datetime, datetime | None]:
    """A period [start, end) that ``cancel_at`` falls inside ends at ``cancel_at`` and is billed for its share of the
    whole period, as at Stripe, where a ``cancel_at`` "during a future period [...] will always cause a proration for
    that period": (the period's end, and the end it would have had, or None when it is not cut). The renewal into
    that period bills it so (``period_advance``), and ``invoices.create_preview`` shows it so; the renewal due at
    ``cancel_at`` then ends the subscription."""
    if cancel_at is not None and start < cancel_at < end:
        return cancel_at, end
    return end, None


def next_work_at(subscription: Subscription, period_end: datetime | None) -> datetime | None:
    """When beat next has something to do for this subscription: its period's end (a renewal, the trial's
    end, a cancellation at the period's end), an earlier ``cancel_at`` or pause end; an unpaid first invoice's
    expiry; while paused, only its ``cancel_at`` (or a pending update's expiry); nothing once it has ended."""
    if subscription.status in ENDED or period_end is None:
        return None
    if subscription.status == S.INCOMPLETE:
        return min(subscription.created + INCOMPLETE_EXPIRES_AFTER, period_end)
    if subscription.status == S.PAUSED:
        # No period renews while paused; its cancel_at still ends it then, and a pending update still expires.
        later = [t for t in (subscription.cancel_at, subscription.pending_update_expires_at) if t is not None]
        return min(later) if later else None
    candidates = [period_end]
    if subscription.cancel_at is not None:
        candidates.append(subscription.cancel_at)
    if subscription.pause_behavior and subscription.pause_resumes_at is not None:
        candidates.append(subscription.pause_resumes_at)
    if subscription.pending_update_expires_at is not None:
        candidates.append(subscription.pending_update_expires_at)
    return min(candidates)


def current_period(subscription: Subscription) -> tuple[datetime, datetime] | None:
    item = subscription.items.order_by("pk").first()
    return (item.current_period_start, item.current_period_end) if item else None


def period_lines(
    *,
    subscription: Subscription,
    items: list[tuple],
    start: datetime,
    end: datetime,
    trial: bool,
    unbilled: bool = False,
    whole_end: datetime | None = None,
) -> list[dict]:
    """One line per item for the period [start, end) (``items``: ``(subscription item, price, quantity, tax
    rates)``): its price times quantity (nothing in a trial or an ``unbilled`` stub, else a share of it for a
    stub period before the anchor, or for a period cut short at ``cancel_at``: ``whole_end``, the end it would
    have had, ``period_until_cancel``). Pure: the renewal and the first invoice write these
    (``period_invoice_create``), ``invoices.create_preview`` shows them (the subscription and its items may be
    unsaved there)."""
    lines = []
    # A trial's lines say so in the invoice's language, as its prorations' do (read only for a trial's invoice).
    language = prorations.invoice_language(subscription.customer) if trial else None
    for item, price, quantity, rates in items:
        amount = None
        description = price.product.name
        if trial:
            amount = 0
            with translation.override(language):
                description = gettext("Trial period for %(product)s") % {"product": price.product.name}
        elif unbilled:
            amount = 0
        elif start < subscription.billing_cycle_anchor:
            amount = stub_amount(subscription, price, quantity, start, end)
        elif whole_end is not None and end < whole_end:
            amount = share_amount(price.unit_amount * quantity, start, end, start, whole_end)
        lines.append(
            {
                "subscription_item": item,
                "price": price,
                "quantity": quantity,
                "period_start": start,
                "period_end": end,
                "amount": amount,
                "description": description,
                "tax_rates": rates,
            }
        )
    return lines


def _card_still_saved(subscription: Subscription):
    """The subscription's own default card while it is still one of its customer's saved cards. A detach clears it
    from the subscriptions naming it (``cards.subscriptions_card_detached``), but one can still be left: set by an
    update that read the card before a detach committed. It is not the period's invoice's default: that invoice is
    charged as one without it (the customer's default card; with none usable the attempt fails, the subscription
    goes past_due and dunning asks the payer for a card), where invoicing would refuse it as a default and the
    renewal would fail on it at every tick, never invoiced and never past_due."""
    card = subscription.default_payment_method
    return card if card is not None and card.customer_id == subscription.customer_id else None


def period_invoice_create(
    *,
    subscription: Subscription,
    start: datetime,
    end: datetime,
    now: datetime,
    billing_reason: str,
    trial: bool,
    unbilled: bool = False,
    whole_end: datetime | None = None,
    lines_kept: bool = False,
    customer_locked: bool = False,
    held: bool = False,
) -> Invoice:
    """The draft of one period, with its lines (``period_lines`` of the subscription's items, in one insert), as
    the subscription's latest invoice (the caller holds its lock, and saves it with the period it moves: one
    UPDATE, not two; the database refuses a second create/cycle invoice for the same period). ``lines_kept``: the
    caller finalizes it next, in this transaction, through this copy; ``whole_end``: the period is cut short at its
    ``end`` (``period_until_cancel``), billed for its share of the period ending then; ``customer_locked``: the
    caller read the subscription's customer under its row lock in this transaction; ``held``: made in the caller's
    transaction with no savepoint of its own (all three ``invoices.invoice_create``'s). A second invoice of the
    period raises ``invoices.PeriodInvoiced``, nothing written."""
    lines = period_lines(
        subscription=subscription,
        items=[(item, item.price, item.quantity, many(item, "tax_rates")) for item in subscription_items(subscription)],
        start=start,
        end=end,
        trial=trial,
        unbilled=unbilled,
        whole_end=whole_end,
    )
    invoice = invoices.invoice_create(
        merchant=subscription.merchant,
        livemode=subscription.livemode,
        customer=subscription.customer,
        now=now,
        collection_method=subscription.collection_method,
        days_until_due=subscription.days_until_due
        if subscription.collection_method == Invoice.CollectionMethod.SEND_INVOICE
        else None,
        default_payment_method=_card_still_saved(subscription),
        default_tax_rates=many(subscription, "default_tax_rates"),
        currency=subscription.currency,
        description=subscription.description,
        billing_reason=billing_reason,
        # A renewal (or a period an update starts) takes the customer's pending invoice items (the prorations of a
        # change), as at Stripe; a first invoice does not.
        pending_invoice_items_behavior="exclude"
        if billing_reason == Invoice.BillingReason.SUBSCRIPTION_CREATE
        else "include",
        subscription=subscription,
        subscription_period_start=start,
        subscription_lines=lines,
        lines_kept=lines_kept,
        customer_locked=customer_locked,
        held=held,
    )
    subscription.latest_invoice = invoice  # saved by the caller
    if invoice.subtotal < 0:
        # A downgrade's credit larger than the period's charge: carried to the next invoice, never lost.
        try:
            prorations.credit_carry_forward(invoice=invoice, now=now)
        except IntegrityError as exc:
            # Never taken for the period's constraint by a caller that catches that one (renewal.period_advance
            # catches invoices.PeriodInvoiced alone): this fails the caller's whole transaction.
            raise RuntimeError(f"Carrying invoice {invoice.public_id}'s credit forward failed") from exc
    return invoice


def items_period_set(subscription: Subscription, start: datetime, end: datetime) -> None:
    period = {"current_period_start": start, "current_period_end": end}
    update_where(SubscriptionItem, period, "subscription_id = %s", [subscription.pk])  # built once: every renewal
    for item in items_read_with(subscription) or ():
        item.current_period_start, item.current_period_end = start, end  # its renderings show the new period


def emit_updated(subscription: Subscription, before: dict) -> None:
    event_emit(type="customer.subscription.updated", obj=subscription, before=before)


def pending_update_clear(subscription: Subscription) -> Invoice | None:
    """Forget the subscription's pending update (applied, or dropped); the invoice it waited for."""
    invoice = subscription.pending_update_invoice
    subscription.pending_update = None
    subscription.pending_update_invoice = None
    subscription.pending_update_expires_at = None
    return invoice


def pending_update_expire(subscription: Subscription, now: datetime) -> Invoice | None:
    """The renewal pass at ``now`` (the caller holds the lock): a pending update whose invoice was not paid by
    ``expires_at`` is dropped (``customer.subscription.pending_update_expired``); the invoice it waited for is
    returned, for the caller to void once committed (paying it later must not charge for a change that was
    dropped). None when there is nothing to drop."""
    if subscription.pending_update_expires_at is None or subscription.pending_update_expires_at > now:
        return None
    invoice = pending_update_clear(subscription)
    subscription.save()
    event_emit(type="customer.subscription.pending_update_expired", obj=subscription)
    return invoice
