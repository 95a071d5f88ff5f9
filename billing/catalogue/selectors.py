"""Reads, always scoped by merchant and mode (kassa.api.views.scoped); and the time a customer lives on."""

from datetime import datetime

from django.db.models import QuerySet

from kassa.api.views import scoped

from .models import Customer, Price, Product


def product_list(*, merchant, livemode: bool, active: bool | None = None, ids: list[str] | None = None) -> QuerySet:
    queryset = scoped(Product, merchant=merchant, livemode=livemode).select_related("default_price")
    if active is not None:
        queryset = queryset.filter(active=active)
    if ids:
        queryset = queryset.filter(public_id__in=ids)
    return queryset


def price_list(
    *,
    merchant,
    livemode: bool,
    active: bool | None = None,
    product: str | None = None,
    currency: str | None = None,
    type: str | None = None,
    lookup_keys: list[str] | None = None,
    recurring_interval: str | None = None,
) -> QuerySet:
    queryset = scoped(Price, merchant=merchant, livemode=livemode).select_related("product")
    if active is not None:
        queryset = queryset.filter(active=active)
    if product:
        queryset = queryset.filter(product__public_id=product)
    if currency:
        queryset = queryset.filter(currency=currency)
    if type:
        queryset = queryset.filter(type=type)
    if lookup_keys:
        queryset = queryset.filter(lookup_key__in=lookup_keys)
    if recurring_interval:
        queryset = queryset.filter(recurring_interval=recurring_interval)
    return queryset


def customer_list(*, merchant, livemode: bool, email: str | None = None) -> QuerySet:
    queryset = (
        scoped(Customer, merchant=merchant, livemode=livemode)
        .filter(deleted=False)
        .select_related("default_payment_method", "test_clock")
    )
    if email:
        queryset = queryset.filter(email__iexact=email)
    return queryset


def customer_now(*, customer: Customer, now: datetime) -> datetime:
    """The time ``customer`` lives on: their test clock's frozen time if they are on one, else ``now``.

    As at Stripe, what a clock's customer does (an invoice made, finalized, paid or voided, a subscription
    started or changed) is dated on the clock, whoever asks (the API, the dashboard, a payer's page) and
    whatever the wall clock says. The one place that says so: invoices', subscriptions' and payments' services
    (a PaymentIntent's ``created``) call it on the ``now`` they are given. Checkout sessions and refunds stay
    on the wall clock. Read from the database, not from a ``customer.test_clock`` loaded earlier,
    because an advancing clock moves under a long-lived object (billing/clocks/services.py moves the clock
    to each step's time before its services run, so for them this is their own ``now``). The clock is
    reached through the customer's foreign key: the catalogue sits below billing.clocks and imports nothing
    of it.
    """
    if customer.test_clock_id is None:
        return now
    frozen = Customer.objects.filter(pk=customer.pk).values_list("test_clock__frozen_time", flat=True).first()
    return frozen or now
