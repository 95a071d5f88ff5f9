"""The outbox: an ``Event`` written in the transaction of the change, its deliveries planned by the workers.

Services call ``event_emit`` inside their own ``transaction.atomic`` block,
right after the change; the event commits with the change or not at all.
That is all the request does: one INSERT, of the event and of its row in
the dispatcher's queue (``EventPending``; one statement on PostgreSQL:
``kassa.db.insert_many_queued``). Which endpoints hear of the event is
decided on the delivery side (``events_dispatch``, a Celery task): it takes
the queued events, in batches, finds the enabled endpoints of their
merchants and modes that listen for them (and existed when the event
happened), writes the deliveries and deletes the events' queue rows in one
transaction, then queues each endpoint once per batch. The event's own row
is never written again: marking it planned rewrote the whole row and its
indexes (half a renewal's write-ahead log, docs/performance-history.md).

The request only nudges the dispatcher, after its commit (``events_kick``):
at once for the first event in a 100 ms window, and once more at the end of a
window that had more, so a burst costs a few tasks, not one per event, and a
quiet event is planned at once. A worker's batch of renewals nudges at most
once a second and once at its end (``_batch_kicks``: a ``kassa.batch.Gathered``). If a nudge is lost
(the broker is down, the process dies after the commit), beat's sweeper runs
the dispatcher (``deliveries_sweep``); nothing is lost because the queued events are
rows, not messages. ``data.object`` is the object as the API shows it at
that moment, rendered by the same serializer the API uses (registered by
each app: ``register``).

A transaction that writes several events may gather them (``events_gathered``): they are written together,
in one INSERT, as its block ends, still inside the transaction. A renewal writes seven events in two
transactions, and one INSERT a transaction instead of one an event saves five statements a renewal (README,
Performance). An event emitted inside a savepoint that is rolled back is not written, as it would not have
been (its ``transaction.on_commit`` marker is dropped with the savepoint: Django's own rule for callbacks).
"""

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction

from kassa import batch
from kassa.celery import enqueue_swept
from kassa.db import insert_many, insert_many_queued, new, rows
from kassa.ids import public_id
from kassa.middleware import api_request

from ..models import Delivery, Event, EventPending, WebhookEndpoint

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
    """Record that ``type`` happened to ``obj`` (in the caller's transaction); the dispatcher plans its deliveries.

    ``before``: the object's rendering before an update, for
    ``data.previous_attributes``; an update that changed nothing the API
    shows records no event (None), as at Stripe. ``data_object``: a rendering
    to use instead of ``obj``'s own (a charge described from its
    PaymentIntent). ``deliver=False``: the caller plans the deliveries itself
    (``deliveries_plan``, the dashboard's test event to one endpoint).

    An event the dispatcher plans for is written with what follows in its transaction (``kassa.db.with_next``: the
    COMMIT of an API request's write, one round trip for both): its key is set once that is answered.
    """
    connection = transaction.get_connection()  # asked once: each asking is Django's connection lookup (asgiref's Local)
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit must run inside the transaction of the change it records")
    current = data_object if data_object is not None else render(obj)
    data = {"object": current}
    if before is not None:
        data["previous_attributes"] = _previous_attributes(before, current)
        if not set(data["previous_attributes"]) - {"updated"}:
            return None
    request = api_request.get()
    event = new(
        Event,
        public_id=public_id(Event.PREFIX),
        merchant_id=obj.merchant_id,
        livemode=obj.livemode,
        type=type,
        data=data,
        api_version=settings.KASSA_API_VERSION,
        request_id=request[0] if request else None,
        idempotency_key=request[1] if request else None,
    )
    gathered = _gathered.get()
    if gathered is None:
        _write([event], deliver, with_next=deliver)  # sent with what follows: the COMMIT of an API request's write
    else:  # written as the gathering block ends (without a primary key until then), which nudges the dispatcher
        marker = _Marker()
        connection.on_commit(marker)  # transaction.on_commit's own call, on the connection found above
        gathered.append((event, marker, deliver))
    return event


def _kick_on_commit() -> None:
    """Once the transaction that wrote events for the dispatcher commits, nudge it (inside a batch, the batch's
    nudges: ``_batch_kicks``)."""
    kicks = batch.state("webhooks.events_kick", _batch_kicks)
    if kicks is None:
        transaction.on_commit(events_kick)
    else:
        kicks.add(None)


def _write(events: list[Event], deliver: bool, *, with_next: bool = False) -> None:
    """The events, each queued for the dispatcher (``EventPending``), which is nudged once they commit, unless their
    caller plans their deliveries itself. ``with_next``: sent with the transaction's next statement or its COMMIT
    (``kassa.db.with_next``: their keys set then)."""
    if deliver:
        insert_many_queued(events, EventPending, match="public_id", with_next=with_next)
        _kick_on_commit()
    else:
        insert_many(events)


class _Marker:
    """A gathered event's ``on_commit`` callback, doing nothing: Django drops it if the savepoint the event was
    emitted in is rolled back, which tells ``events_gathered`` to leave the event out."""

    __slots__ = ()

    def __call__(self) -> None:
        pass


#: The events gathered by the innermost ``events_gathered`` block of this thread, with their markers and whether the
#: dispatcher plans their deliveries.
_gathered: ContextVar[list[tuple[Event, _Marker, bool]] | None] = ContextVar("kassa_events_gathered", default=None)


@contextmanager
def events_gathered() -> Iterator[None]:
    """Inside ``transaction.atomic()``: the events emitted in this block are written in one INSERT as it ends (in
    the same transaction), those of savepoints rolled back in it left out; none if it ends by an exception (the
    transaction's rollback takes the change with it). A block inside another adds to the outer block's events.

    The events have no primary key until the block ends, nor those the dispatcher plans for until what follows the
    block is answered (``kassa.db.with_next``): ``event_emit``'s callers inside it must not need one."""
    if _gathered.get() is not None:
        yield
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("events_gathered must run inside the transaction whose events it gathers")
    gathered: list[tuple[Event, _Marker, bool]] = []
    token = _gathered.set(gathered)
    try:
        yield
    finally:
        _gathered.reset(token)
    if gathered and not connection.needs_rollback:  # a transaction marked for rollback writes nothing more
        kept = {id(callback) for _savepoints, callback, _robust in connection.run_on_commit}
        for deliver in (True, False):
            written = [event for event, marker, its in gathered if its is deliver and id(marker) in kept]
            if written:
                # One nudge for the block's events, not one an event; those the dispatcher plans for sent with what
                # follows the block: its transaction's COMMIT, where the block ends the transaction (a renewal's).
                _write(written, deliver, with_next=deliver)


# --- the dispatcher: planning deliveries, on the workers' side ---------------------------

#: Events planned per transaction.
_DISPATCH_BATCH = 500
#: How far apart two machines' clocks may be when comparing an endpoint's and an event's ``created``.
_CLOCK_MARGIN = timedelta(seconds=2)
#: A process nudges the dispatcher at most at the start and at the end of each window this long.
_KICK_WINDOW = 0.1


class _Kicks:
    """This process's nudges: a leading one per window, and one trailing one if the window had more events."""

    def __init__(self):
        self.lock = threading.Lock()
        self.window_end = 0.0
        self.trailing = False

    def countdown(self) -> float | None:
        """Seconds until the nudge this event needs (0 for at once), or None if one already covers it.

        A nudge queued with a countdown runs no earlier than the window's end, which is after this
        event's commit (this runs on commit), so the dispatcher it starts will see the event.
        """
        now = time.monotonic()
        with self.lock:
            if now >= self.window_end:
                self.window_end = now + _KICK_WINDOW
                self.trailing = False
                return 0
            if not self.trailing:
                self.trailing = True
                return self.window_end - now
            return None


_kicks = _Kicks()


#: Inside a batch (``kassa.batch``), events nudge the dispatcher at most this often (seconds).
_BATCH_NUDGE_EVERY = 1.0


def _batch_kicks() -> batch.Gathered:
    """Inside a batch of work (``kassa.batch.batch()``: a worker's batch of renewals), the events written nudge the
    dispatcher at most once a second, and once at the batch's end, not after each commit.

    For billing's ``subscriptions_renew_due``: each renewal commits several times and writes seven events, and a
    nudge every 100 ms was a dispatcher task for every two or three events, a measurable share of a worker's CPU
    per renewal (docs/performance-history.md). The batch's events are planned together, up to a second later than one by
    one. A worker dying inside the batch loses that nudge, not the events: beat's sweeper plans them."""
    return batch.Gathered(lambda _events: events_kick(), every=_BATCH_NUDGE_EVERY)


def events_kick() -> None:
    """After a commit that wrote events: make sure a dispatcher runs after it."""
    countdown = _kicks.countdown()
    if countdown is None:
        return
    enqueue_swept("webhooks.tasks.events_dispatch", countdown=countdown or None)


def events_dispatch() -> int:
    """Plan the deliveries of every event not planned yet; returns how many events it planned.

    Safe to run in several processes at once: on PostgreSQL each takes other
    rows (``SKIP LOCKED``); elsewhere writes are serialized and a delivery
    planned twice is refused by its unique constraint.
    """
    planned = 0
    while True:
        with transaction.atomic():
            # Plain rows, not model instances: a deferred-field instance each was most of the dispatcher's CPU in a
            # renewal run (bench/renewals_profile.py --tasks).
            events, queued = _queued_take(_DISPATCH_BATCH)
            # Those the release before the queue wrote during a rolling deploy (Event.deliveries_planned): none
            # once it is replaced, found through an index of them alone.
            legacy = []
            if len(events) < _DISPATCH_BATCH:
                legacy = list(
                    Event.objects.filter(deliveries_planned=False)
                    .order_by("id")
                    .select_for_update(skip_locked=True)
                    .values_list("id", flat=True)[: _DISPATCH_BATCH - len(events)]
                )
            if legacy:
                events = sorted([*events, *_events_read(legacy)])
            if not events:
                return planned
            listeners = defaultdict(list)
            # Locked until the deliveries are written: an endpoint disabled meanwhile waits, then gives
            # these up with the rest of its pending deliveries (delivery.endpoint_disable).
            for endpoint in (
                WebhookEndpoint.objects.filter(
                    merchant_id__in={merchant_pk for _pk, merchant_pk, *_rest in events},
                    status=WebhookEndpoint.Status.ENABLED,
                )
                .select_for_update()
                .only("id", "merchant_id", "livemode", "enabled_events", "created")
            ):
                listeners[(endpoint.merchant_id, endpoint.livemode)].append(endpoint)
            deliveries = [
                Delivery(event_id=event_pk, endpoint=endpoint)
                for event_pk, merchant_pk, livemode, type, created in events
                for endpoint in listeners[(merchant_pk, livemode)]
                # The endpoints the event could have gone to when it happened (with a margin for the
                # clocks of the machines that stamped the two).
                if endpoint.created <= created + _CLOCK_MARGIN and endpoint.listens_for(type)
            ]
            Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
            if queued:
                EventPending.objects.filter(event_id__in=queued).delete()
            if legacy:
                Event.objects.filter(pk__in=legacy).update(deliveries_planned=True)
            for endpoint_pk in {delivery.endpoint_id for delivery in deliveries}:
                transaction.on_commit(lambda pk=endpoint_pk: endpoint_kick(pk))
        if len(events) < _DISPATCH_BATCH:
            return planned + len(events)
        planned += len(events)


#: What the dispatcher reads of an event (``_queued_take``, ``_events_read``).
_EVENT_READ = ("id", "merchant_id", "livemode", "type", "created")


def _queued_take(limit: int) -> tuple[list[tuple], list[int]]:
    """The first ``limit`` queued events no other dispatcher holds, as rows (``_EVENT_READ``) in order, and the
    queue rows still to delete once their deliveries are written. On PostgreSQL one statement takes them: their
    queue rows deleted (locked until this transaction ends, so another dispatcher skips them, and back in the queue
    if it fails) and the events read, none left to delete. A read of the queue, a read of its events and a delete
    naming each of them were three statements with two values an event, about half of the dispatcher's CPU in a
    renewal run (docs/performance-history.md). Elsewhere (SQLite: one writer at a time) the queue is read, and deleted
    after."""
    if connection.vendor == "postgresql":
        return rows(_take_statement(), [limit]), []
    queued = list(
        EventPending.objects.order_by("event_id")
        .select_for_update(skip_locked=True)
        .values_list("event_id", flat=True)[:limit]
    )
    return _events_read(queued), queued


@cache
def _take_statement() -> str:
    quote = connection.ops.quote_name
    queue, events = quote(EventPending._meta.db_table), quote(Event._meta.db_table)
    columns = ", ".join(f"{events}.{quote(Event._meta.get_field(name).column)}" for name in _EVENT_READ)
    return (
        f"WITH taken AS (DELETE FROM {queue} WHERE event_id IN (SELECT event_id FROM {queue} ORDER BY event_id"  # noqa: S608 (names from the models)
        f" LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING event_id)"
        f" SELECT {columns} FROM {events} JOIN taken ON taken.event_id = {events}.id ORDER BY {events}.id"
    )


def _events_read(pks: list[int]) -> list[tuple]:
    if not pks:
        return []
    return list(Event.objects.filter(pk__in=pks).order_by("id").values_list(*_EVENT_READ))


def deliveries_plan(*, event: Event, endpoints: list[WebhookEndpoint]) -> None:
    """One pending delivery per endpoint, each endpoint's task queued when the transaction commits."""
    if not endpoints:
        return
    Delivery.objects.bulk_create([Delivery(event=event, endpoint=endpoint) for endpoint in endpoints])
    for endpoint in endpoints:
        transaction.on_commit(lambda pk=endpoint.pk: endpoint_kick(pk))


def endpoint_kick(endpoint_pk: int, *, countdown: float | None = None) -> None:
    """Queue the endpoint's delivery task; if the broker cannot take it, the sweeper will."""
    enqueue_swept("webhooks.tasks.endpoint_deliver", endpoint_pk, countdown=countdown)
