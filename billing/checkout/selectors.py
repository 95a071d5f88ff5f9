"""Reads of payment links and checkout sessions, always scoped by merchant and mode (kassa.api.views.scoped)."""

from django.db.models import QuerySet

from kassa.api.views import scoped

from ..invoices.models import InvoicePayment
from ..payments.models import PaymentIntent
from .models import CheckoutSession, PaymentLink


def payment_link_list(*, merchant, livemode: bool, active: bool | None = None) -> QuerySet:
    queryset = scoped(PaymentLink, merchant=merchant, livemode=livemode)
    if active is not None:
        queryset = queryset.filter(active=active)
    return queryset


def checkout_session_list(
    *,
    merchant,
    livemode: bool,
    customer: str | None = None,
    payment_intent: str | None = None,
    payment_link: str | None = None,
    status: str | None = None,
) -> QuerySet:
    queryset = scoped(CheckoutSession, merchant=merchant, livemode=livemode).select_related(
        "customer", "payment_link", "payment_intent__customer", "payment_intent__payment_method"
    )
    for name, value in (("customer", customer), ("payment_intent", payment_intent), ("payment_link", payment_link)):
        if value:
            queryset = queryset.filter(**{f"{name}__public_id": value})
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def payment_link_name(link: PaymentLink) -> str:
    """What a link sells, as people know it: "Tea", "Tea x 2, Cake" (its products), not plink_…"""
    items = link.line_items.all()  # prefetched by the lists (line_items__price__product)
    names = [item.price.product.name + (f" \u00d7 {item.quantity}" if item.quantity > 1 else "") for item in items]
    return ", ".join(names) or link.public_id


def checkout_session_saved_card(session: CheckoutSession):
    """The card the session saved: a setup session's, or the card a payment with ``setup_future_usage`` kept."""
    if session.saved_payment_method_id:
        return session.saved_payment_method
    intent = session.payment_intent
    if intent is None or not intent.setup_future_usage or intent.status != intent.Status.SUCCEEDED:
        return None
    return intent.payment_method


def checkout_session_payment_intent(session: CheckoutSession) -> PaymentIntent | None:
    """The PaymentIntent the session's page follows: its own (payment mode), or, in subscription mode, the
    latest payment of the subscription's first invoice (which the payer's card pays; the session has none)."""
    if session.payment_intent_id is not None:
        return session.payment_intent
    if session.invoice_id is None:
        return None
    payment = InvoicePayment.objects.filter(invoice_id=session.invoice_id).select_related("payment_intent")
    latest = payment.order_by("-id").first()
    return latest.payment_intent if latest is not None else None
