"""The demo merchant's shop under ``make run``: a small catalogue, a payment link and a few test payments.

Everything is made through the same services as the API and the pay page, so
what the dashboard shows on first login is real: the payments are paid
through the link's checkout sessions with test cards, at localstripe.

Two steps, because localstripe starts after ``demo_setup``: the catalogue
and the link are made by ``demo_setup`` at once; the payments by a task
(``billing.tasks.demo_payments_make``) that ``demo_setup`` queues and that
the worker retries until localstripe answers. Both are idempotent (the
objects are found again by their ``kassa_demo`` metadata; payments are made
up to ``DEMO_PAYMENTS`` in all), test mode only, and refused unless Kassa
runs in development against localstripe (``DEBUG`` and ``STRIPE_API_BASE``).
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction

from kassa import gateway
from kassa.errors import CardError, InvalidRequest
from merchants.selectors import processor_credential_for

from .catalogue import services as catalogue
from .catalogue.models import Product
from .checkout import selectors as checkout_selectors
from .checkout import services as checkout
from .checkout.models import CheckoutSession, PaymentLink
from .payments import selectors as payments_selectors
from .payments.models import PaymentIntent

MARK = {"kassa_demo": "shop"}
CATALOGUE = [  # name, unit amount in cents (EUR), quantity on the link
    ("Green tea, 100 g", 850, 1),
    ("Ceramic teapot", 3200, 1),
]
# The payers and the cards they pay with (both succeed at localstripe).
DEMO_PAYMENTS = [
    ("ann@example.com", "Ann Lee", "4242424242424242"),
    ("bob@example.com", "Bob Martin", "5555555555554444"),
    ("chloe@example.com", "Chloé Dubois", "4242424242424242"),
]
# One payer whose card is refused, so the home page and the payments list show a failure from the start.
DEMO_DECLINED = ("dan@example.com", "Dan Smith", "4000000000000002")


def _development_only() -> None:
    if not (settings.DEBUG and settings.STRIPE_API_BASE):
        raise InvalidRequest("The demo shop is made only in development, against localstripe.")


def demo_link(*, merchant) -> PaymentLink | None:
    return (
        checkout_selectors.payment_link_list(merchant=merchant, livemode=False)
        .filter(metadata__kassa_demo=MARK["kassa_demo"])
        .first()
    )


@transaction.atomic
def demo_shop_stock(*, merchant) -> PaymentLink:
    """The demo's products, prices and payment link, made once (test mode)."""
    _development_only()
    link = demo_link(merchant=merchant)
    if link is not None:
        return link
    line_items = []
    for name, amount, quantity in CATALOGUE:
        product = Product.objects.filter(
            merchant=merchant, livemode=False, name=name, metadata__kassa_demo="shop"
        ).first() or catalogue.product_create(
            merchant=merchant,
            livemode=False,
            name=name,
            metadata=MARK,
            default_price_data={"currency": "eur", "unit_amount": amount},
        )
        line_items.append({"price": product.default_price, "quantity": quantity})
    return checkout.payment_link_create(
        merchant=merchant,
        livemode=False,
        line_items=line_items,
        after_completion={"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Thank you!"}},
        # The payers' cards are kept, so the demo's customers show a saved card to charge again.
        setup_future_usage="off_session",
        metadata=MARK,
    )


def demo_payments_make(*, merchant, now: datetime) -> int:
    """Pay the demo link with test cards until it has ``DEMO_PAYMENTS`` completed sessions and one declined payment
    (``DEMO_DECLINED``); answer how many attempts were made.

    Not under one transaction: each payment calls localstripe (no lock is held across
    a network call), so two runs at the very same moment could both pay; ``make run``
    queues one run per start.
    """
    _development_only()
    link = demo_link(merchant=merchant)
    if link is None:
        return 0
    credential = processor_credential_for(merchant, False)
    paid = CheckoutSession.objects.filter(payment_link=link, status=CheckoutSession.Status.COMPLETE).count()
    made = 0
    for email, name, number in DEMO_PAYMENTS[paid:]:
        token = gateway.card_token_for_testing(
            credential, number=number
        )  # first: fails before a session if localstripe is down
        session = checkout.checkout_session_from_link(payment_link=link, now=now)
        checkout.checkout_session_pay(session=session, token=token, email=email, name=name, now=now)
        made += 1
    declined = PaymentIntent.objects.filter(checkout_session__payment_link=link)
    if not payments_selectors.payments_filter_display_status(declined, "failed").exists():
        email, name, number = DEMO_DECLINED
        token = gateway.card_token_for_testing(credential, number=number)
        session = checkout.checkout_session_from_link(payment_link=link, now=now)
        try:
            checkout.checkout_session_pay(session=session, token=token, email=email, name=name, now=now)
        except CardError:
            made += 1  # refused, as this card always is: the payment shows as Failed
    return made
