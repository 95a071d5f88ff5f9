"""The outbox: an ``Event`` and its deliveries, written in the transaction of the change.

Services call ``event_emit`` inside their own ``transaction.atomic`` block,
right after the change; the event commits with the change or not at all.
The delivery tasks are queued on commit; if that queueing is lost (the
broker is down, the process dies after the commit), beat's sweeper finds the
pending deliveries in the database. ``data.object`` is the object as the API
shows it at that moment, rendered by the same serializer the API uses
(registered by each app: ``register``).
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from kassa.celery import enqueue
from kassa.ids import public_id
from kassa.middleware import api_request

from ..models import Delivery, Event, WebhookEndpoint

logger = logging.getLogger(__name__)

#: model class → function rendering an instance as the API shows it
_renderers: dict[type, Callable[[object], dict]] = {}


def register(model: type | str, render: Callable[[object], dict]) -> None:
    """How the API shows ``model``'s instances; a name (``"charge"``) for a shape derived from another object."""
    _renderers[model] = render


def render(obj, *, shape: str | None = None) -> dict:
    key = shape or type(obj)
    try:
        renderer = _renderers[key]
    except KeyError:
        raise LookupError(f"No API rendering registered for {key}") from None
    return renderer(obj)


def _previous_attributes(before: dict, after: dict) -> dict:
    return {key: value for key, value in before.items() if after.get(key) != value}


def event_emit(
    *, type: str, obj, before: dict | None = None, data_object: dict | None = None, deliver: bool = True
) -> Event | None:
    """Record that ``type`` happened to ``obj`` (in the caller's transaction), and plan its deliveries.

    ``before``: the object's rendering before an update, for
    ``data.previous_attributes``; an update that changed nothing the API
    shows records no event (None), as at Stripe. ``data_object``: a rendering
    to use instead of ``obj``'s own (a charge described from its
    PaymentIntent).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_emit must run inside the transaction of the change it records")
    current = data_object if data_object is not None else render(obj)
    data = {"object": current}
    if before is not None:
        data["previous_attributes"] = _previous_attributes(before, current)
        if not set(data["previous_attributes"]) - {"updated"}:
            return None
    request = api_request.get()
    event = Event.objects.create(
        public_id=public_id(Event.PREFIX),
        merchant_id=obj.merchant_id,
        livemode=obj.livemode,
        type=type,
        data=data,
        api_version=settings.KASSA_API_VERSION,
        request_id=request[0] if request else None,
        idempotency_key=request[1] if request else None,
    )
    if not deliver:
        return event
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            merchant_id=obj.merchant_id, livemode=obj.livemode, status=WebhookEndpoint.Status.ENABLED
        )
        if endpoint.listens_for(type)
    ]
    deliveries_plan(event=event, endpoints=endpoints)
    return event


def deliveries_plan(*, event: Event, endpoints: list[WebhookEndpoint]) -> None:
    """One pending delivery per endpoint, each endpoint's task queued when the transaction commits."""
    if not endpoints:
        return
    Delivery.objects.bulk_create([Delivery(event=event, endpoint=endpoint) for endpoint in endpoints])
    for endpoint in endpoints:
        transaction.on_commit(lambda pk=endpoint.pk: endpoint_kick(pk))


def endpoint_kick(endpoint_pk: int, *, countdown: float | None = None) -> None:
    """Queue the endpoint's delivery task; if the broker cannot take it, the sweeper will."""
    try:
        enqueue("webhooks.tasks.endpoint_deliver", endpoint_pk, countdown=countdown)
    except Exception:
        logger.warning("Could not queue deliveries for endpoint %s; the sweeper will", endpoint_pk, exc_info=True)
