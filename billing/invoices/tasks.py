"""Celery entry points for invoicing: thin and idempotent (beat passes the real time; the services re-check
every status under its row lock, so a run repeated or overlapping changes nothing twice)."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="billing.tasks.invoices_advance")
def invoices_advance() -> int:
    """Finalize the auto_advance drafts whose hour has passed, and charge the invoices due an attempt."""
    return services.invoices_advance(now=timezone.now())


@shared_task(name="billing.tasks.invoices_mark_overdue")
def invoices_mark_overdue() -> int:
    """``invoice.overdue`` once for each open send_invoice invoice past its due date."""
    return services.invoices_mark_overdue(now=timezone.now())
