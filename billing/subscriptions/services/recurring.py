"""``subscription_recurring_create``: the dashboard's "recurring payment" — "every 30 days from 1 February,
50.00 EUR for John Doe" — as one call.

The customer (unless an existing one is given), a product and its price (``interval=day``,
``interval_count=N``) and the subscription are written in one transaction: a refusal of any of them
(a bad email, an amount over the maximum) leaves nothing behind. Only then, after the commit, is a card
charged (``subscription_first_invoice_collect``), so no lock is held across the processor's call.

How it is collected (the choice a merchant sees):

- a customer with a default card: ``charge_automatically`` with that card, as any subscription;
- anyone else (a new subscriber has no card yet): ``send_invoice`` — each period's invoice is emailed with
  its hosted page's link, due after the merchant's usual days (Settings → Invoice settings). With
  ``charge_automatically_once_paid`` (the form's box, ticked by default) the subscription saves the card that
  pays (``save_default_payment_method=on_subscription``): once the payer pays an invoice on its page, that card
  is its default and it becomes ``charge_automatically``, so the next renewals are charged off-session
  (services/cards.py).

A start date in the future is the billing cycle anchor with ``proration_behavior=none``: the subscription
exists from now, nothing is billed before the start, and the first full period is invoiced at the start,
as Stripe does for a ``billing_cycle_anchor`` without prorations. A start that has come (today's midnight,
or none) bills the first period at once.
"""

from datetime import datetime, timedelta

from django.db import transaction

from kassa import money
from kassa.errors import InvalidRequest, KassaError

from ...catalogue import services as catalogue
from ...catalogue.models import Customer
from ...catalogue.selectors import customer_now
from ...invoices.models import Invoice
from ..models import Subscription
from .create import subscription_create_records, subscription_first_invoice_collect

#: a price's interval in days goes up to a year (Stripe's limit for ``interval=day``)
INTERVAL_DAYS_MAX = 365


def subscription_recurring_create(
    *,
    merchant,
    livemode: bool,
    now: datetime,
    amount: int,
    currency: str,
    interval_days: int,
    product_name: str,
    start: datetime | None = None,
    customer: Customer | None = None,
    name: str | None = None,
    email: str | None = None,
    charge_automatically_once_paid: bool = False,
) -> Subscription:
    """``amount`` (minor units) in ``currency`` every ``interval_days`` days from ``start`` (None: now), for
    ``customer`` or a new customer ``name`` <``email``>."""
    currency = (currency or "").lower()
    money.check(amount, currency, param="amount", minimum=1)
    if isinstance(interval_days, bool) or not isinstance(interval_days, int):
        raise InvalidRequest("The interval is a whole number of days.", param="interval_days")
    if not 1 <= interval_days <= INTERVAL_DAYS_MAX:
        raise InvalidRequest(f"The interval is from 1 to {INTERVAL_DAYS_MAX} days.", param="interval_days")
    if not (product_name or "").strip():
        raise InvalidRequest("Say what the payments are for.", code="parameter_missing", param="product_name")
    if customer is None and not (email or "").strip():
        raise InvalidRequest(
            "The subscriber's email is needed: their invoices are emailed to them.",
            code="parameter_missing",
            param="email",
        )
    if customer is not None and (customer.merchant_id != merchant.pk or customer.livemode != livemode):
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    with transaction.atomic():
        if customer is None:
            customer = catalogue.customer_create(
                merchant=merchant, livemode=livemode, name=(name or "").strip() or None, email=email.strip()
            )
        at = customer_now(customer=customer, now=now)
        # A start date is a day's midnight in the merchant's time zone: today's may have passed already.
        if start is not None and start < at - timedelta(days=1):
            raise InvalidRequest("The start date cannot be in the past.", param="start")
        later = start is not None and start > at
        card = customer.default_payment_method
        switch = card is None and charge_automatically_once_paid  # a card on file is charged from the start
        product = catalogue.product_create(merchant=merchant, livemode=livemode, name=product_name.strip())
        price = catalogue.price_create(
            merchant=merchant,
            livemode=livemode,
            currency=currency,
            unit_amount=amount,
            product=product,
            recurring={"interval": "day", "interval_count": interval_days},
        )
        subscription, invoice = subscription_create_records(
            merchant=merchant,
            livemode=livemode,
            customer=customer,
            items=[{"price": price, "quantity": 1}],
            now=now,
            collection_method=Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
            if card is not None
            else Invoice.CollectionMethod.SEND_INVOICE,
            default_payment_method=card,
            payment_settings={"save_default_payment_method": "on_subscription"} if switch else None,
            charge_automatically_once_paid=switch,
            billing_cycle_anchor=start if later else None,
            proration_behavior="none" if later else "create_prorations",
        )
    try:
        return subscription_first_invoice_collect(subscription=subscription, invoice=invoice, now=now)
    except KassaError:
        # Everything is written and committed; a charge the processor refused leaves the subscription
        # incomplete with its first invoice open, as the subscription's page shows: no error for rows
        # that exist.
        return Subscription.objects.get(pk=subscription.pk)
