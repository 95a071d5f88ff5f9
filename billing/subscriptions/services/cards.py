"""``payment_settings[save_default_payment_method]``: the card that pays a subscription's invoice becomes its default.

As at Stripe (https://docs.stripe.com/api/subscriptions/object#subscription_object-payment_settings-save_default_payment_method),
``on_subscription`` makes the card of a successful payment of one of the subscription's invoices its
``default_payment_method``. A payer's card on the hosted invoice page is single-use by default; for such a
subscription invoicing asks (``hooks.card_kept``, ``subscription_saves_card``) and the page's PaymentIntent
carries ``setup_future_usage=off_session``, so payments saves the card on the customer when the charge succeeds
(``_card_keep``), before invoicing's ``paid`` hook reaches ``subscription_invoice_changed``, which calls
``paying_card_keep`` here.

Kassa's own addition, for the dashboard's "recurring payment" without a card: ``charge_automatically_once_paid``
makes a ``send_invoice`` subscription ``charge_automatically`` with that card, once, so the payer pays the first
invoice on its page and the renewals are charged off-session from then on.

A card detached from its customer stops being the default of the subscriptions that named it
(``subscriptions_card_detached``), as it stops being the customer's: their renewals are charged with the
customer's default card.
"""

from webhooks.services.outbox import render

from ...invoices.models import Invoice, InvoicePayment
from ...payments.models import PaymentMethod
from ..models import Subscription
from .common import ENDED, emit_updated


def subscription_saves_card(*, invoice: Invoice) -> bool:
    """Invoicing's question (``hooks.card_kept``): is the payer's card that pays ``invoice`` to be saved?"""
    if invoice.subscription_id is None:
        return False
    return (
        Subscription.objects.filter(
            pk=invoice.subscription_id,
            save_default_payment_method=Subscription.SaveDefaultPaymentMethod.ON_SUBSCRIPTION,
        )
        .exclude(status__in=ENDED)
        .exists()
    )


def saves_card(subscription: Subscription) -> bool:
    return subscription.save_default_payment_method == Subscription.SaveDefaultPaymentMethod.ON_SUBSCRIPTION


def paying_card_keep(subscription: Subscription, invoice: Invoice) -> bool:
    """On the locked subscription whose ``invoice`` was just paid: the card that paid it becomes the default (and,
    once, collection becomes automatic). Answers whether anything changed; the caller saves and tells."""
    if not saves_card(subscription):
        return False
    payment = (
        InvoicePayment.objects.filter(invoice=invoice, status=InvoicePayment.Status.PAID, payment_intent__isnull=False)
        .select_related("payment_intent__payment_method")
        .order_by("-pk")
        .first()
    )
    card = payment.payment_intent.payment_method if payment is not None else None
    if card is None or card.customer_id != subscription.customer_id:
        return False  # paid outside Kassa, or with a card that was not saved: nothing to make the default
    changed = subscription.default_payment_method_id != card.pk
    subscription.default_payment_method = card
    if subscription.charge_automatically_once_paid:
        subscription.collection_method = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
        subscription.days_until_due = None
        subscription.charge_automatically_once_paid = False
        changed = True
    return changed


def subscriptions_card_detached(*, payment_method: PaymentMethod) -> None:
    """Payments' hook as a saved card is detached (``on_card_detached``), in its transaction after invoicing's: the
    subscriptions not ended that name it as their own default are locked, in id order and before the customer (as
    a renewal locks them), and stop naming it (``customer.subscription.updated``); an ended one keeps it, as its
    history. (One set to the card by an update racing the detach is still never charged with it:
    ``common._card_still_saved``.)"""
    naming = Subscription.objects.select_for_update().filter(default_payment_method=payment_method)
    for subscription in naming.exclude(status__in=ENDED).order_by("pk"):
        before = render(subscription)
        subscription.default_payment_method = None
        subscription.save()
        emit_updated(subscription, before)
