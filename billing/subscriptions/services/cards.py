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
"""

from ...invoices.models import Invoice, InvoicePayment
from ..models import Subscription
from .common import ENDED


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
