"""Reads of the customer portal: every one scoped by the session's merchant, mode and customer."""

from django.db.models import QuerySet

from ..invoices.models import Invoice
from .models import PortalSession

INVOICES_SHOWN = 50


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
