"""Celery entry points for merchants: thin and idempotent."""

from celery import shared_task
from django.utils import timezone

from .idempotency import idempotency_keys_purge as _purge


@shared_task(name="merchants.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return _purge(now=timezone.now())
