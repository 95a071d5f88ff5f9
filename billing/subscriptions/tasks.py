"""Celery entry points of subscriptions: thin and idempotent (beat passes the real time; each renewal re-checks
its subscription under the row lock, and the database allows one invoice per period)."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="billing.tasks.subscriptions_tick")
def subscriptions_tick() -> int:
    """Beat, every minute: one renewal batch per merchant and mode with due work (renewal.py says how merchants
    take turns), and the notices before renewals and trial ends."""
    now = timezone.now()
    services.subscriptions_notify(now=now)
    return services.subscriptions_renew_fan_out(now=now)


@shared_task(name="billing.tasks.subscriptions_renew_batch")
def subscriptions_renew_batch(merchant_pk: int, livemode: bool, chain: int = 0) -> int:
    """One merchant's turn on one of its chains: a bounded batch of renewals; queues itself again while more
    are due."""
    return services.subscriptions_renew_batch(
        merchant_pk=merchant_pk, livemode=livemode, chain=chain, now=timezone.now()
    )
