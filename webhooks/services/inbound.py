"""Stripe's events coming in: verify, store once, answer at once, apply in a task.

Receiving does nothing but verify and store, so Stripe gets its 2xx within
milliseconds and a slow processor call never makes Stripe retry. The row is
inserted with "insert, or do nothing if this Stripe event id is already
stored for this merchant" (``ON CONFLICT DO NOTHING`` / ``INSERT OR
IGNORE``), so fifty concurrent copies make one row and no integrity error,
and only the request that made the row queues the task.

Applying (``processor_event_process``) claims the row with one conditional
UPDATE (received/failed → processing), so two workers never apply it at
once; it hands the event to the handler that the app owning that kind of
object registered (``handle``, as dj-stripe's ``@webhooks.handler``; billing
registers its ``*_sync`` services, which re-read the object from Stripe), and
records succeeded with what it did, or failed with the error and traceback
and a retry time (backoff), which beat's sweeper honours. Webhooks imports
none of the apps whose objects the events are about.
"""

import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from kassa import crypto, gateway
from kassa.celery import enqueue_swept
from kassa.errors import InvalidRequest, ResourceMissing
from kassa.logging import redact
from merchants.models import Merchant, ProcessorCredential

from ..models import ProcessorEvent

logger = logging.getLogger(__name__)

#: Automatic tries of a failing event; then it waits for someone to re-run it from the dashboard.
MAX_ATTEMPTS = 8
#: A worker that died while applying leaves the row "processing"; after this it is taken up again.
PROCESSING_STALE = timedelta(minutes=15)


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1, 2, 4, 8, 16, 32 min: about an hour of automatic retries."""
    return timedelta(seconds=30 * 2 ** (attempts - 1))


def _queue(event_pk: int, countdown: float | None = None) -> None:
    enqueue_swept("webhooks.tasks.processor_event_process", event_pk, countdown=countdown)


def processor_event_receive(*, merchant_id: str, mode: str, body: bytes, signature: str) -> tuple[ProcessorEvent, bool]:
    """Verify and store one delivery from Stripe; ``(event, stored_now)``.

    Unknown merchant or mode, or no signing secret saved for it: 404. A
    signature that does not verify, or a live event at the test endpoint
    (or the reverse): 400, and nothing is stored.
    """
    if mode not in ("test", "live"):
        raise ResourceMissing("No such webhook endpoint.")
    livemode = mode == "live"
    # One query for the merchant and its credential for this mode.
    credential = (
        ProcessorCredential.objects.select_related("merchant")
        .filter(merchant__public_id=merchant_id, livemode=livemode)
        .first()
    )
    if credential is None:
        if not Merchant.objects.filter(public_id=merchant_id).exists():
            raise ResourceMissing("No such webhook endpoint.")
        raise ResourceMissing("No such webhook endpoint: no Stripe signing secret is saved for this mode.")
    if not credential.webhook_secret_ciphertext:
        raise ResourceMissing("No such webhook endpoint: no Stripe signing secret is saved for this mode.")
    merchant = credential.merchant
    secret = _signing_secret(credential)
    payload = gateway.processor_event_verify(body, signature, secret, tolerance=settings.KASSA_STRIPE_WEBHOOK_TOLERANCE)
    if bool(payload.get("livemode")) != livemode:
        raise InvalidRequest(
            f"A {'live' if payload.get('livemode') else 'test'}-mode event was sent to the {mode}-mode endpoint.",
            code="livemode_mismatch",
        )
    data_object = payload["data"]["object"]
    event = ProcessorEvent(
        merchant=merchant,
        livemode=livemode,
        stripe_event_id=payload["id"][:255],
        type=payload["type"][:100],
        object_id=str(data_object.get("id") or "")[:255],
        body=body.decode("utf-8"),
        received_at=timezone.now(),
    )
    with transaction.atomic():
        event.pk = _insert_or_ignore(event)
        if event.pk is None:  # a copy of an event already stored (Stripe retries, or sent it twice at once)
            return ProcessorEvent.objects.get(merchant=merchant, stripe_event_id=event.stripe_event_id), False
        transaction.on_commit(lambda: _queue(event.pk))
    return event, True


@lru_cache(maxsize=1024)
def _decrypted(ciphertext: str) -> str:
    return crypto.decrypt(ciphertext)


def _signing_secret(credential: ProcessorCredential) -> str:
    """The merchant's signing secret, decrypted once per process: keyed by its ciphertext, so a changed secret
    (a new ciphertext) is decrypted afresh and the old one simply ages out."""
    return _decrypted(credential.webhook_secret_ciphertext)


@lru_cache
def _insert_statement(vendor: str) -> str:
    q = connection.ops.quote_name
    table = q(ProcessorEvent._meta.db_table)
    names = ("merchant_id", "livemode", "stripe_event_id", "type", "object_id", "body", "status", "attempts")
    names += ("result", "error", "traceback", "received_at")
    columns = ", ".join(q(name) for name in names)
    conflict = f"{q('merchant_id')}, {q('stripe_event_id')}"
    placeholders = ", ".join(["%s"] * len(names))
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608 - names from model metadata
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {q('id')}"
    )


def _insert_or_ignore(event: ProcessorEvent) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id (PostgreSQL and SQLite alike): the new row's id, or None
    when this merchant already has the event. One statement: the unique index decides, across processes."""
    values = [
        event.merchant_id,
        event.livemode,
        event.stripe_event_id,
        event.type,
        event.object_id,
        event.body,
        ProcessorEvent.Status.RECEIVED,
        0,
        "",
        "",
        "",
        connection.ops.adapt_datetimefield_value(event.received_at),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_statement(connection.vendor), values)
        row = cursor.fetchone()
    return row[0] if row else None


def processor_event_process(*, event_pk: int) -> ProcessorEvent | None:
    """Apply a stored event, once at a time; None if another worker has it or it is done."""
    now = timezone.now()
    # A failed event waits for its retry time (a duplicate task does not skip the backoff).
    retry_due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    claimable = (
        Q(status=ProcessorEvent.Status.RECEIVED)
        | (Q(status=ProcessorEvent.Status.FAILED) & retry_due)
        | Q(status=ProcessorEvent.Status.PROCESSING, processed_at__lt=now - PROCESSING_STALE)
    )
    claimed = (
        ProcessorEvent.objects.filter(claimable, pk=event_pk)
        # While processing, processed_at is when the work began (so a dead worker's claim goes stale).
        .update(
            status=ProcessorEvent.Status.PROCESSING, attempts=F("attempts") + 1, processed_at=now, next_retry_at=None
        )
    )
    if not claimed:
        return None
    event = ProcessorEvent.objects.select_related("merchant").get(pk=event_pk)
    try:
        result = _dispatch(event)
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried, shown in the dashboard
        retry_at = timezone.now() + retry_delay(event.attempts) if event.attempts < MAX_ATTEMPTS else None
        ProcessorEvent.objects.filter(pk=event_pk).update(
            status=ProcessorEvent.Status.FAILED,
            error=redact(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}")[:2000],
            traceback=redact(traceback.format_exc())[:20000],
            processed_at=timezone.now(),
            next_retry_at=retry_at,
        )
        logger.warning(
            "Stripe event %s (%s) failed, try %d: %s", event.stripe_event_id, event.type, event.attempts, exc
        )
        if retry_at is not None and retry_delay(event.attempts).total_seconds() <= 300:
            _queue(event_pk, countdown=retry_delay(event.attempts).total_seconds())
    else:
        ProcessorEvent.objects.filter(pk=event_pk).update(
            status=ProcessorEvent.Status.SUCCEEDED,
            result=result[:300],
            error="",
            traceback="",
            processed_at=timezone.now(),
        )
    event.refresh_from_db()
    return event


#: (event types, by prefix) -> fn(*, merchant, livemode, object_id) -> what it did; see ``handle``
_HANDLERS: list[tuple[tuple[str, ...], Callable[..., str]]] = []


def handle(*type_prefixes: str, handler: Callable[..., str]) -> None:
    """Called from an app's ``ready()``: events whose type starts with one of ``type_prefixes`` go to ``handler``.

    The handler gets the event's merchant, mode and object id (``data.object.id``),
    must be idempotent (events come twice, late and out of order) and returns a
    short text for the dashboard.
    """
    _HANDLERS.append((type_prefixes, handler))


def _dispatch(event: ProcessorEvent) -> str:
    for prefixes, handler in _HANDLERS:
        if event.type.startswith(prefixes) and event.object_id:
            return handler(merchant=event.merchant, livemode=event.livemode, object_id=event.object_id)
    return f"Kassa does not act on {event.type}; stored only."


def processor_event_retry(*, event: ProcessorEvent) -> ProcessorEvent:
    """Re-run an event now (the dashboard's button), whatever its status but processing."""
    with transaction.atomic():
        event = ProcessorEvent.objects.select_for_update().get(pk=event.pk)
        if event.status == ProcessorEvent.Status.PROCESSING:
            raise InvalidRequest("This event is being applied right now.")
        event.status = ProcessorEvent.Status.RECEIVED
        event.next_retry_at = None
        event.save(update_fields=["status", "next_retry_at"])
        transaction.on_commit(lambda: _queue(event.pk))
    return event


def processor_events_sweep(*, now: datetime) -> int:
    """Queue events no task took (received a minute ago), failed ones whose retry is due, and stale claims."""
    due = ProcessorEvent.objects.filter(
        Q(status=ProcessorEvent.Status.RECEIVED, received_at__lt=now - timedelta(minutes=1))
        | Q(status=ProcessorEvent.Status.FAILED, next_retry_at__lte=now)
        | Q(status=ProcessorEvent.Status.PROCESSING, processed_at__lt=now - PROCESSING_STALE)
    ).values_list("pk", flat=True)
    count = 0
    for pk in due[:1000]:
        _queue(pk)
        count += 1
    return count
