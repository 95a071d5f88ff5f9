"""One merchant's big renewal day does not starve another merchant's single renewal (issue 15: "say how, and
measure it"; billing/subscriptions/services/renewal.py says how).

Merchant A has 1,500 subscriptions due (thirty batches: enough that A's day outlasts the 20 s before B falls
due, and the two batches queued ahead of B are never the whole day; the test checks that more than those are
still due when B falls due, else it would prove nothing. With 500, once renewals got faster, one run had renewed
them all in those 20 s); a real worker (as bin/worker runs it: two processes) and a real beat
(ticking every two seconds) are working them off when merchant B's single subscription falls due. B's
renewal must be invoiced and paid while A's backlog is still being worked: B's batch waits behind the
batches already queued (A's two chains, one batch each), not behind A's whole day.

PostgreSQL and Redis only: a merchant's chains are tracked in the cache the worker's processes share.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from billing.invoices.models import Invoice
from billing.subscriptions.models import Subscription
from billing.subscriptions.services import renewal
from merchants import services as merchants
from tests.billing.subscriptions.processes import Beat, Worker, due_subscriptions, postgres_and_redis, wait_for
from tests.conftest import queue_purge

pytestmark = [postgres_and_redis, pytest.mark.timeout(600)]

BACKLOG = 1500


def test_a_merchants_single_renewal_is_done_while_another_merchants_backlog_is_still_worked(
    paying_shop, other_shop, card_token, stripe_backend, transactional_db, monkeypatch
):
    from merchants.services import processor_credential_set

    processor_credential_set(merchant=other_shop.merchant, livemode=False, secret_key="sk_test_other_shop")
    a = merchants.merchant_update(merchant=paying_shop.merchant, receipts_enabled=False)
    b = merchants.merchant_update(merchant=other_shop.merchant, receipts_enabled=False)
    due_subscriptions(a, card_token, count=BACKLOG, customers=20, now=timezone.now())
    # B's one subscription, billed daily since yesterday, falls due 20 seconds from now, when A's day is under way.
    b_due_at = timezone.now() + timedelta(seconds=20)
    (b_subscription,) = due_subscriptions(
        b, card_token, count=1, customers=1, now=b_due_at, ago=timedelta(days=1), interval="day"
    )
    b_due = b_subscription.next_renewal_at
    assert b_due == b_due_at

    cycle = Invoice.BillingReason.SUBSCRIPTION_CYCLE
    a_done = Invoice.objects.filter(merchant=a, billing_reason=cycle, status=Invoice.Status.PAID)
    b_done = Invoice.objects.filter(merchant=b, billing_reason=cycle, status=Invoice.Status.PAID)
    a_left = Subscription.objects.filter(merchant=a, next_renewal_at__lte=b_due)
    monkeypatch.setenv("KASSA_BILLING_TICK_SECONDS", "2")
    queue_purge()
    processes = [Beat("fair")]
    try:
        worker = Worker(concurrency=2)
        processes.append(worker)
        wait_for(a_done.exists, timeout=120, what="A's first renewal", workers=[worker])
        wait_for(lambda: timezone.now() >= b_due, timeout=60, what="B's renewal to fall due")
        # More than the batches that may be queued ahead of B's (A's two chains, one batch each): else B's renewal
        # could only wait for the end of A's day, and the test would prove nothing.
        ahead = settings.KASSA_RENEWAL_CHAINS * renewal.BATCH
        assert a_left.count() > ahead, "A's backlog is nearly done before B is due: the test proves nothing"
        wait_for(b_done.exists, timeout=240, what="B's renewal", workers=[worker], poll=0.1)
        b_waited = (timezone.now() - b_due).total_seconds()
        a_left_then, a_done_then = a_left.count(), a_done.count()
        wait_for(lambda: not a_left.exists() and a_done.count() == BACKLOG, timeout=400, what="A's backlog")
        a_seconds = (timezone.now() - b_due).total_seconds()
    finally:
        for process in processes:
            process.stop()
    print(
        f"\nB's renewal paid {b_waited:.1f} s after it fell due, with {a_left_then} of A's {BACKLOG} renewals still "
        f"due ({a_done_then} paid); A's backlog took another {a_seconds - b_waited:.1f} s"
    )
    # B was not put behind A's whole backlog: A still had work when B's renewal was paid.
    assert a_left_then > 0
    assert b_done.get().subscription_id == b_subscription.pk
