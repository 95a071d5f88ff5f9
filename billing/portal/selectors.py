"""Reads of the customer portal: every one scoped by the session's merchant, mode and customer."""

from django.db.models import Prefetch, QuerySet

from ..catalogue.models import Price
from ..invoices.models import Invoice
from ..subscriptions.models import Subscription, SubscriptionItem
from ..subscriptions.selectors import ENDED
from .models import PortalSession

INVOICES_SHOWN = 50
SUBSCRIPTIONS_SHOWN = 20


def portal_session_by_token(token: str) -> PortalSession | None:
    """The page's lookup: the token is the capability (as an invoice's), so it is not scoped by an API key."""
    return (
        PortalSession.objects.select_related(
            "merchant", "configuration", "customer", "customer__default_payment_method"
        )
        .filter(token=token)
        .first()
    )


def portal_invoices(*, session: PortalSession) -> QuerySet:
    """The session's customer's invoices that have a page (not drafts), newest first, at most ``INVOICES_SHOWN``."""
    return (
        Invoice.objects.filter(merchant=session.merchant, livemode=session.livemode, customer=session.customer)
        .exclude(status=Invoice.Status.DRAFT)
        .order_by("-finalized_at", "-id")[:INVOICES_SHOWN]
    )


def _subscriptions(session: PortalSession) -> QuerySet:
    return (
        Subscription.objects.filter(merchant=session.merchant, livemode=session.livemode, customer=session.customer)
        .exclude(status__in=ENDED)
        .select_related("customer__test_clock")
        .prefetch_related(Prefetch("items", SubscriptionItem.objects.select_related("price__product").order_by("pk")))
    )


def portal_subscriptions(*, session: PortalSession) -> QuerySet:
    """The session's customer's subscriptions that have not ended, newest first, with their items' prices."""
    return _subscriptions(session).order_by("-created", "-id")[:SUBSCRIPTIONS_SHOWN]


def portal_subscription(*, session: PortalSession, subscription_id: str) -> Subscription | None:
    """One of the session's customer's subscriptions by public id (a form's), else None: another customer's,
    another merchant's, an ended one or a made-up id are all the same None."""
    if not isinstance(subscription_id, str) or not subscription_id:
        return None
    return _subscriptions(session).filter(public_id=subscription_id).first()


def portal_switch_prices(*, session: PortalSession) -> QuerySet:
    """The active recurring prices the merchant lets payers switch between (Settings → Customer portal)."""
    return (
        session.configuration.subscription_update_prices.filter(
            merchant=session.merchant, livemode=session.livemode, active=True, type=Price.Type.RECURRING
        )
        .select_related("product")
        .order_by("unit_amount", "pk")
    )
