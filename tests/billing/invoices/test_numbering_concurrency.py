"""Twenty invoices finalized at once get twenty consecutive numbers (run on PostgreSQL in CI's second run)."""

import threading

from django.db import connection
from django.utils import timezone

from billing.invoices import numbering, services
from billing.models import Invoice
from tests import factories


def test_twenty_concurrent_finalizations_get_twenty_consecutive_numbers(shop, transactional_db):
    merchant = shop.merchant
    numbering.invoice_prefix_set(merchant=merchant, prefix="RUSH")
    customer = factories.customer(merchant)
    now = timezone.now()
    drafts = []
    for n in range(20):
        invoice = services.invoice_create(merchant=merchant, livemode=False, customer=customer, now=now, currency="eur")
        services.invoice_item_create(
            merchant=merchant,
            livemode=False,
            customer=customer,
            now=now,
            amount=100 + n,
            currency="eur",
            invoice=invoice,
        )
        drafts.append(invoice)
    barrier, errors = threading.Barrier(20), []

    def finalize(invoice):
        try:
            barrier.wait()
            services.invoice_finalize(invoice=invoice, now=timezone.now())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=finalize, args=(d,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Invoice.objects.filter(merchant=merchant).values_list("number", flat=True))
    assert numbers == [f"RUSH-{n:04d}" for n in range(1, 21)]
    assert numbering.next_number(merchant=merchant, livemode=False) == 21
