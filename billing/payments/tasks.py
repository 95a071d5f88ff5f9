"""Celery entry points for payments: thin and idempotent.

Task names stay ``billing.tasks.*`` (beat's schedule and queued messages know them by name).
"""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="billing.tasks.payments_reconcile")
def payments_reconcile() -> int:
    """Catch up with the processor for payments no page settled (safe to run twice)."""
    return services.payments_reconcile(now=timezone.now())
