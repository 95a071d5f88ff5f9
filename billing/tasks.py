"""Celery entry points of billing as a whole (the parts keep their own tasks.py): thin and idempotent."""

from celery import shared_task
from django.utils import timezone

from kassa.errors import ProcessorError
from merchants.models import Merchant

from . import demo


@shared_task(name="billing.tasks.demo_payments_make", bind=True, max_retries=60)
def demo_payments_make(self, merchant_id: str) -> int:
    """The demo's test payments (billing/demo.py), retried every 2 s until localstripe answers."""
    merchant = Merchant.objects.get(public_id=merchant_id)
    try:
        return demo.demo_payments_make(merchant=merchant, now=timezone.now())
    except ProcessorError as exc:  # localstripe is not up yet (make run starts it with the worker)
        raise self.retry(countdown=2, exc=exc) from exc
