"""Celery entry points for checkout: thin and idempotent.

Task names stay ``billing.tasks.*`` (beat's schedule and queued messages know them by name).
"""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="billing.tasks.checkout_sessions_expire")
def checkout_sessions_expire() -> int:
    """Open checkout sessions past their ``expires_at`` become ``expired`` (safe to run twice)."""
    return services.checkout_sessions_expire_due(now=timezone.now())
