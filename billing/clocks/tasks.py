"""Celery entry points of test clocks: thin and idempotent (the service resumes from the last step done)."""

from celery import shared_task

from . import services


@shared_task(name=services.ADVANCE_TASK)
def clock_advance(clock_pk: int) -> bool:
    """Run one advance of a test clock to its target time (queued when the advance commits)."""
    return services.clock_advance_run(clock_pk=clock_pk)
