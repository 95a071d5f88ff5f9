"""Celery entry points for the dashboard part: thin and idempotent.

Task names stay ``billing.tasks.*`` (beat's schedule and queued messages know them by name).
"""

from celery import shared_task
from django.utils import timezone

from . import summaries


@shared_task(name="billing.tasks.daily_summaries_send", bind=True, max_retries=5)
def daily_summaries_send(self) -> int:
    """The members' daily summaries of yesterday (UTC); a retry sends only those not sent yet."""
    try:
        return summaries.daily_summaries_send(now=timezone.now())
    except Exception as exc:  # the mail server's error, whatever its type
        raise self.retry(countdown=300, exc=exc) from exc
