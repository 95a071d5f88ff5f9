"""Celery entry points for billing: thin and idempotent."""

from celery import shared_task

from .services import checkout


@shared_task(name="billing.tasks.checkout_sessions_expire")
def checkout_sessions_expire() -> int:
    """Open checkout sessions past their ``expires_at`` become ``expired`` (safe to run twice)."""
    return checkout.checkout_sessions_expire_due()
