"""Duplicate renewal runs at once (two beats, two workers, a retried task): one invoice and one charge per period.

Run on PostgreSQL (row locks with skip_locked, the unique constraint racing); on SQLite the runs serialize.
"""

import threading
from datetime import UTC, datetime

from django.db import connection

from billing.catalogue import services as catalogue
from billing.invoices.models import Invoice
from billing.subscriptions import services
from tests import factories
from tests.conftest import processor_payment_intents


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_four_concurrent_renewal_runs_invoice_and_charge_each_period_once(
    paying_shop, card_token, stripe_backend, transactional_db
):
    merchant = paying_shop.merchant
    subscriptions = []
    for n in range(6):
        customer = factories.customer(merchant, email=f"payer{n}@example.com")
        card = factories.saved_card(customer, card_token)
        catalogue.customer_update(customer=customer, default_payment_method=card)
        customer.refresh_from_db()
        subscriptions.append(factories.subscription(merchant, customer=customer, now=d(2027, 1, 1)))
    barrier, errors, renewed = threading.Barrier(4), [], []

    def run():
        try:
            barrier.wait()
            renewed.append(services.subscriptions_renew_due(now=d(2027, 2, 1, 12)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(renewed) == 6
    for subscription in subscriptions:
        invoices = Invoice.objects.filter(subscription=subscription).order_by("pk")
        assert [(i.billing_reason, i.status) for i in invoices] == [
            ("subscription_create", "paid"),
            ("subscription_cycle", "paid"),
        ]
    # Twelve PaymentIntents at the processor: one per subscription and period.
    assert len(processor_payment_intents(stripe_backend)) == 12
    # And again, sequentially: nothing is due any more.
    assert services.subscriptions_renew_due(now=d(2027, 2, 1, 12)) == 0
