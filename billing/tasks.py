"""Celery entry points for billing: thin and idempotent."""

from celery import shared_task

from .services import checkout, payments


@shared_task(name="billing.tasks.checkout_sessions_expire")
def checkout_sessions_expire() -> int:
    """Open checkout sessions past their ``expires_at`` become ``expired`` (safe to run twice)."""
    return checkout.checkout_sessions_expire_due()


@shared_task(name="billing.tasks.payments_reconcile")
def payments_reconcile() -> int:
    """Catch up with the processor for payments no page settled (safe to run twice)."""
    return payments.payments_reconcile()
