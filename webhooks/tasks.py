"""Celery entry points for webhooks: thin, idempotent, keyed by a row."""

from celery import shared_task
from django.utils import timezone

from .services import delivery, inbound, outbox


@shared_task(name="webhooks.tasks.endpoint_deliver")
def endpoint_deliver(endpoint_pk: int) -> int:
    """Send an endpoint's due deliveries (a no-op while another worker holds the endpoint)."""
    return delivery.endpoint_deliver(endpoint_pk=endpoint_pk)


@shared_task(name="webhooks.tasks.events_dispatch")
def events_dispatch() -> int:
    """Plan the deliveries of new events (any number of these may run at once)."""
    return outbox.events_dispatch()


@shared_task(name="webhooks.tasks.deliveries_sweep")
def deliveries_sweep() -> int:
    return delivery.deliveries_sweep(now=timezone.now())


@shared_task(name="webhooks.tasks.processor_event_process")
def processor_event_process(event_pk: int) -> None:
    inbound.processor_event_process(event_pk=event_pk)


@shared_task(name="webhooks.tasks.processor_events_sweep")
def processor_events_sweep() -> int:
    return inbound.processor_events_sweep(now=timezone.now())
