"""Celery entry points of test clocks: thin and idempotent (the service resumes from the last step done)."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name=services.ADVANCE_TASK)
def clock_advance(clock_pk: int) -> bool:
    """Run one advance of a test clock to its target time (queued when the advance commits)."""
    return services.clock_advance_run(clock_pk=clock_pk)


@shared_task(name="billing.tasks.test_clocks_sweep")
def clocks_advance_sweep() -> int:
    """Beat, every minute: advances whose run was lost (a worker killed) queued again, to resume where they were."""
    return services.clocks_advance_sweep(now=timezone.now())


@shared_task(name="billing.tasks.test_clocks_delete_expired")
def clocks_delete_expired() -> int:
    """Beat, every hour: clocks past ``deletes_after`` deleted, where clock_delete's rules allow it."""
    return services.clocks_delete_expired(now=timezone.now())
