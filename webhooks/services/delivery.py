"""Sending events to merchants' endpoints: at least once, one request at a time per endpoint.

- **Lease per endpoint.** ``endpoint_deliver`` takes the endpoint's lease
  (``delivering_until``, one conditional UPDATE) and sends its due
  deliveries oldest first, one at a time, read in batches of 50 and sent
  over one kept-alive connection (reused only for the same vetted address).
  A second task for the same endpoint finds the lease taken and returns at
  once: it holds no worker slot. So one endpoint, however slow or dead,
  occupies at most one worker slot at a time, for at most one attempt's
  timeout per try.
- **Paused after a failure.** A failed attempt pauses the endpoint until its
  retry time (``paused_until``): the endpoint's other queued tasks find it
  paused and return at once. A dead endpoint is therefore tried once per
  retry, not once per queued event, and with even one worker process another
  merchant's delivery waits at most one attempt's timeout (measured: README,
  ``bench/webhook_isolation.py``, which first showed that without the pause a
  single-process worker spent one timeout per queued event).
- **Written down a batch at a time.** Successes are recorded together (one
  transaction: the attempts inserted, the deliveries settled in one UPDATE)
  when the batch ends or a failure comes; a failure is recorded at once with
  its retry plan. Each event's ``pending_webhooks`` is counted once per batch.
- **No lost deliveries.** The lease outlives one attempt by a margin; it is
  renewed every ten sends and whenever less than one attempt's time is left
  (a disabled endpoint stops the run at the next renewal). The run's time
  budget (60 s) is checked before every send. A
  worker killed mid-batch leaves a lease that runs out and deliveries still
  pending, and beat's sweeper (``deliveries_sweep``) queues every endpoint
  with due deliveries. The receiver may then see the batch's events again
  (at least once, as at Stripe: receivers dedupe on the event id), never
  zero times.
- **What counts.** 2xx is success; anything else fails, 3xx included
  (redirects are not followed). ``Retry-After`` (seconds or an HTTP date) on
  a failure postpones the retry to at least then (capped at a day). 410
  Gone disables the endpoint. When a delivery's schedule ends and the
  endpoint has had no success since that delivery began, the endpoint is
  disabled and the merchant's owners are emailed.
- **SSRF.** The address is resolved and vetted at least every two seconds
  of a run (``Connections.vetted``), and the connection goes to that vetted
  address, never to a second look-up's (webhooks/ssrf.py).
"""

import errno
import http.client
import json
import logging
import socket
import ssl
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from kassa import crypto
from merchants.models import Membership

from .. import signing, ssrf
from ..models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from .outbox import endpoint_kick, events_dispatch

logger = logging.getLogger(__name__)

#: Retries scheduled further out than this are left to the sweeper, not held by the broker.
_COUNTDOWN_LIMIT = 300
_MAX_RETRY_AFTER = 24 * 3600
_USER_AGENT = "Kassa-Webhooks/1.0 (+Stripe-compatible)"
#: Due deliveries read per query, sent in a row and written down together (``_send_batch``).
_BATCH = 50
#: Sends between two lease renewals (each renewal also stops a run whose endpoint was disabled).
_RENEW_EVERY = 10
#: Seconds one DNS look-up and its SSRF vetting serve a run's attempts to one URL (``Connections.vetted``).
_VETTED_FOR = 2.0


# --- what is sent ----------------------------------------------------------------


def event_payload(event: Event, *, pending_webhooks: int | None = None) -> dict:
    """The event as Stripe shapes it (also the API's rendering)."""
    if pending_webhooks is None:
        pending_webhooks = event.deliveries.filter(status=Delivery.Status.PENDING).count()
    return {
        "id": event.public_id,
        "object": "event",
        "api_version": event.api_version,
        "created": int(event.created.timestamp()),
        "data": event.data,
        "livemode": event.livemode,
        "pending_webhooks": pending_webhooks,
        "request": {"id": event.request_id, "idempotency_key": event.idempotency_key},
        "type": event.type,
    }


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one while its roll period lasts."""
    secrets = [crypto.decrypt(endpoint.secret_ciphertext)]
    expires_at = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext and expires_at and expires_at > timezone.now():
        secrets.append(crypto.decrypt(endpoint.previous_secret_ciphertext))
    return secrets


# --- one HTTP request --------------------------------------------------------------


class _Answer:
    def __init__(self, *, status=None, body="", retry_after=None, error=""):
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.error = error

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class Connections:
    """The kept-alive connections of one endpoint's run (``endpoint_deliver``), one per vetted address.

    Every attempt still resolves and vets the address (webhooks/ssrf.py); a
    connection is reused only for the very address vetted for this attempt.
    """

    def __init__(self):
        self._pools: dict[tuple, urllib3.HTTPConnectionPool] = {}
        #: addresses whose connection has carried a request: it may since have been closed by the receiver
        self.used: set[tuple] = set()
        self._vetted: dict[tuple, tuple[float, tuple]] = {}

    def vetted(self, url: str, *, livemode: bool) -> tuple:
        """``ssrf.addresses_for(url)``, looked up again when the last look-up is ``_VETTED_FOR`` old.

        Safe against DNS rebinding as before: the connection goes to the
        address that was vetted, never to a second look-up's. A refusal or a
        failed look-up is not kept.
        """
        now = time.monotonic()
        kept = self._vetted.get((url, livemode))
        if kept is not None and now - kept[0] < _VETTED_FOR:
            return kept[1]
        found = ssrf.addresses_for(url, livemode=livemode)
        self._vetted[(url, livemode)] = (now, found)
        return found

    def pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        if key not in self._pools:
            timeout = settings.KASSA_WEBHOOK_TIMEOUT
            options = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
            if scheme == "https":
                self._pools[key] = urllib3.HTTPSConnectionPool(
                    address, port, server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED", **options
                )
            else:
                self._pools[key] = urllib3.HTTPConnectionPool(address, port, **options)
        return self._pools[key]

    def discard(self, scheme: str, address: str, port: int, host: str) -> None:
        """After a failed request: the next one starts on a fresh connection."""
        pool = self._pools.pop((scheme, address, port, host), None)
        self.used.discard((scheme, address, port, host))
        self._vetted.clear()
        if pool is not None:
            pool.close()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _post(url: str, body: bytes, headers: dict, *, livemode: bool, connections: Connections | None = None) -> _Answer:
    """POST to a vetted address of ``url``; never follows redirects, never raises for the network."""
    own = connections is None
    connections = Connections() if own else connections
    timeout = settings.KASSA_WEBHOOK_TIMEOUT
    try:
        parts, port, addresses = connections.vetted(url, livemode=livemode)
    except ssrf.Refused as exc:
        return _Answer(error=f"Blocked: {exc.message}"[:300])
    except OSError as exc:  # socket.gaierror: the name has no address (or the resolver did not answer)
        return _Answer(error=_dns_failure(urlsplit(url).hostname or url, exc)[:300])
    scheme, host = parts.scheme, parts.hostname
    host_header = parts.netloc.rsplit("@", 1)[-1]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_headers = {
        **headers,
        "Host": host_header,
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": _USER_AGENT,
    }
    where = (scheme, addresses[0], port, host)
    limit = settings.KASSA_WEBHOOK_BODY_PREFIX
    complete = False

    def send():
        return connections.pool(*where).urlopen(
            "POST",
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )

    try:
        try:
            response = send()
        except urllib3.exceptions.ProtocolError:
            if where not in connections.used:
                raise
            # The receiver closed the kept-alive connection while it idled: once more, on a new one.
            connections.discard(*where)
            response = send()
        connections.used.add(where)
        # The answer's first part only, and not past the attempt's deadline (a receiver dripping
        # bytes would otherwise hold the worker one read timeout per byte).
        deadline = time.monotonic() + timeout
        prefix = b""
        try:
            while len(prefix) < limit * 4 and time.monotonic() < deadline:
                chunk = response.read(512, decode_content=True)
                if not chunk:
                    complete = True
                    break
                prefix += chunk
        finally:
            # An answer read to its end leaves the connection ready for the next delivery; else it is dropped.
            if not complete:
                response.close()
            response.release_conn()
        return _Answer(
            status=response.status,
            body=prefix.decode("utf-8", "replace")[:limit],
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    except urllib3.exceptions.HTTPError as exc:
        connections.discard(*where)
        return _Answer(error=failure_message(exc, host=host, port=port, timeout=timeout)[:300])
    finally:
        if own:
            connections.close()


# --- why an attempt got no answer ------------------------------------------------------
#
# Stored on the attempt as the record of what happened, in English (like a log line), and shown as is.


def _dns_failure(host: str, exc: OSError) -> str:
    if isinstance(exc, socket.gaierror) and exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return f"DNS lookup failed: {host} has no address (is the name spelled right?)"
    return f"DNS lookup failed for {host}: {getattr(exc, 'strerror', None) or exc}"


def _tls_detail(exc: urllib3.exceptions.SSLError) -> str:
    cause = exc.args[0] if exc.args else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"the certificate is not trusted ({cause.verify_message})"
    if isinstance(cause, ssl.SSLError) and cause.reason:
        return cause.reason.replace("_", " ").lower()
    return str(cause)


def _not_connected(cause: BaseException | None, where: str) -> str:
    """A ``NewConnectionError``: the operating system's reason the connection was not made."""
    code = getattr(cause, "errno", None)
    if isinstance(cause, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return f"Connection refused: nothing accepts connections on {where}"
    if code == errno.ETIMEDOUT:
        return f"Connect timeout: {where} did not accept the connection in time"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"Unreachable: no route to {where}"
    return f"Could not connect to {where}: {getattr(cause, 'strerror', None) or cause}"


def _broken(cause: BaseException | None, where: str) -> str:
    """A ``ProtocolError``: connected, then the connection ended before a whole answer."""
    if isinstance(cause, ConnectionResetError):
        return f"Connection reset by {where} before it answered"
    if isinstance(cause, http.client.RemoteDisconnected):
        return f"{where} closed the connection without answering"
    if isinstance(cause, urllib3.exceptions.IncompleteRead | http.client.IncompleteRead):
        return f"{where} closed the connection in the middle of its answer"
    return f"Connection to {where} broken: {cause}"


def failure_message(exc: urllib3.exceptions.HTTPError, *, host: str, port: int, timeout: float) -> str:
    """Why an attempt got no answer, in words a merchant can act on.

    The order matters: urllib3 makes a refused connection (``NewConnectionError``) and a failed name
    look-up subclasses of its ``ConnectTimeoutError``, so they are told apart before any timeout.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    errors = urllib3.exceptions
    if isinstance(exc, errors.NameResolutionError):  # not expected: the connection goes to a vetted address
        return _dns_failure(host, exc.__cause__ or OSError(str(exc)))
    if isinstance(exc, errors.NewConnectionError):
        return _not_connected(exc.__cause__ or exc, where)
    if isinstance(exc, errors.ConnectTimeoutError):
        return f"Connect timeout: {where} did not accept the connection within {timeout:g} s"
    if isinstance(exc, errors.ReadTimeoutError):
        return f"Read timeout: connected to {where}, but no answer within {timeout:g} s"
    if isinstance(exc, errors.SSLError):
        detail = _tls_detail(exc)
        if detail in ("wrong version number", "record layer failure", "packet length too long"):
            detail += " (is it serving plain http on that port?)"
        return f"TLS error with {where}: {detail}"
    if isinstance(exc, errors.ProtocolError):
        return _broken(exc.args[1] if len(exc.args) > 1 else exc, where)
    return f"Connection to {where} failed: {type(exc).__name__}"


# --- the lease -----------------------------------------------------------------------


def _lease_length() -> timedelta:
    # Connect + one read, each up to the timeout, and a margin for writing down the result.
    return timedelta(seconds=2 * settings.KASSA_WEBHOOK_TIMEOUT + 5)


def _attempt_span() -> timedelta:
    """The most one attempt can take (connect, then one read): the lease must have that much left before it."""
    return timedelta(seconds=2 * settings.KASSA_WEBHOOK_TIMEOUT + 1)


def _lease_take(endpoint_pk: int):
    now = timezone.now()
    until = now + _lease_length()
    taken = (
        WebhookEndpoint.objects.filter(pk=endpoint_pk, status=WebhookEndpoint.Status.ENABLED)
        .filter(Q(delivering_until__isnull=True) | Q(delivering_until__lt=now))
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
        .update(delivering_until=until)
    )
    return until if taken else None


def _lease_renew(endpoint_pk: int, lease):
    until = timezone.now() + _lease_length()
    renewed = WebhookEndpoint.objects.filter(
        pk=endpoint_pk, delivering_until=lease, status=WebhookEndpoint.Status.ENABLED
    ).update(delivering_until=until)
    return until if renewed else None


def _lease_release(endpoint_pk: int, lease) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_pk, delivering_until=lease).update(delivering_until=None)


def _due(endpoint_pk: int):
    return Delivery.objects.filter(
        endpoint_id=endpoint_pk, status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at", "id")


# --- delivering --------------------------------------------------------------------


def endpoint_deliver(*, endpoint_pk: int, budget_seconds: float = 60.0) -> int:
    """Send the endpoint's due deliveries, one at a time; returns the number of attempts made."""
    started = time.monotonic()
    attempts = 0
    connections = Connections()  # one kept-alive connection for the whole run, not one per delivery
    try:
        while True:
            lease = _lease_take(endpoint_pk)
            if lease is None:
                return attempts  # another worker is sending to it, or it is disabled
            failed = False
            retry_in = None
            try:
                while batch := list(_due(endpoint_pk).select_related("event", "endpoint")[:_BATCH]):
                    sent, failed, lease, out_of_time, retry_in = _send_batch(
                        batch, lease=lease, connections=connections, deadline=started + budget_seconds
                    )
                    attempts += sent
                    if out_of_time and lease is not None:
                        # Let other endpoints have this slot and carry on in a new task (lease released
                        # first, or the new task would find it taken and leave the rest to the sweeper).
                        _lease_release(endpoint_pk, lease)
                        lease = None
                        endpoint_kick(endpoint_pk)
                        return attempts
                    if failed or lease is None:
                        break
            finally:
                if lease is not None:
                    _lease_release(endpoint_pk, lease)
            if retry_in is not None:
                # Queued once the lease is released, never before: a retry task that ran while this one still held
                # it would find it taken and leave the retry to the sweeper, up to a sweep later (CI saw a worker
                # slow enough for a one-second retry to come before the release).
                endpoint_kick(endpoint_pk, countdown=retry_in)
            # A delivery that committed while the lease was held had its own task turned away: look again.
            if failed or lease is None or not _due(endpoint_pk).exists():
                return attempts
    finally:
        connections.close()


def _send_batch(
    batch: list[Delivery], *, lease, connections: Connections, deadline: float
) -> tuple[int, bool, datetime | None, bool, float | None]:
    """Send ``batch`` in order until one fails or the run's time is up.

    Returns (attempts, whether one failed, the lease now (None: lost, or the
    endpoint was disabled), whether the run's time is up, and in how many
    seconds the failed delivery's retry task is to run: None when the
    sweeper is to take it, or nothing failed; the caller queues it once it
    has released the lease). The lease is
    renewed before the first send, every ``_RENEW_EVERY`` sends and whenever
    less than one attempt's time is left, so a disabled endpoint stops within
    a few sends; the run's budget is checked before every send, so a slow
    endpoint holds a worker slot for at most the budget and one attempt.

    Successes are written down together, in one transaction, when the batch
    ends or before a failure is (a worker killed in between sends those
    again: at least once). A failure is written down at once, with its
    retry plan, and ends the batch.
    """
    endpoint = batch[0].endpoint
    pending = dict(
        Delivery.objects.filter(event_id__in=[d.event_id for d in batch], status=Delivery.Status.PENDING)
        .values_list("event_id")
        .annotate(n=Count("id"))
    )
    secrets = signing_secrets(endpoint)
    succeeded: list[tuple[Delivery, _Answer, datetime, int]] = []
    attempts = 0
    failed = out_of_time = False
    kick_in = None
    try:
        for delivery in batch:
            if time.monotonic() > deadline:
                out_of_time = True
                break
            if attempts % _RENEW_EVERY == 0 or lease - timezone.now() < _attempt_span():
                lease = _lease_renew(endpoint.pk, lease)
                if lease is None:
                    break
            attempts += 1
            event = delivery.event
            body = json.dumps(
                event_payload(event, pending_webhooks=pending.get(event.pk, 1)), separators=(",", ":")
            ).encode()
            headers = signing.headers(
                body=body, message_id=event.public_id, timestamp=int(time.time()), secrets=secrets
            )
            started_at = timezone.now()
            clock = time.monotonic()
            answer = _post(endpoint.url, body, headers, livemode=endpoint.livemode, connections=connections)
            duration_ms = int((time.monotonic() - clock) * 1000)
            if answer.ok:
                succeeded.append((delivery, answer, started_at, duration_ms))
                continue
            _record_successes(endpoint, succeeded)
            succeeded = []
            failed = True
            retry_in = _record(delivery, answer, started_at=started_at, duration_ms=duration_ms)
            if retry_in is not None and retry_in <= _COUNTDOWN_LIMIT:
                kick_in = retry_in
            logger.warning(
                "Webhook %s %s to %s: %s in %d ms",
                event.public_id,
                event.type,
                endpoint.public_id,
                answer.status or answer.error,
                duration_ms,
            )
            break
    finally:
        _record_successes(endpoint, succeeded)
    return attempts, failed, lease, out_of_time, kick_in


@transaction.atomic
def _record_successes(endpoint: WebhookEndpoint, succeeded: list[tuple[Delivery, "_Answer", datetime, int]]) -> None:
    """The batch's successful attempts, and their deliveries settled, in one transaction."""
    # A delivery gone meanwhile (its endpoint deleted) has nothing left to write its attempt on.
    existing = set(Delivery.objects.filter(pk__in=[item[0].pk for item in succeeded]).values_list("pk", flat=True))
    succeeded = [item for item in succeeded if item[0].pk in existing]
    if not succeeded:
        return
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                delivery=delivery,
                started_at=started_at,
                duration_ms=duration_ms,
                status_code=answer.status,
                succeeded=True,
                response_body=answer.body,
                manual=delivery.resend_requested,
            )
            for delivery, answer, started_at, duration_ms in succeeded
        ]
    )
    # Only deliveries still pending change: one settled meanwhile (a worker whose lease ran out while
    # this one was still waiting) keeps its outcome; the attempt is written down all the same.
    Delivery.objects.filter(pk__in=[item[0].pk for item in succeeded], status=Delivery.Status.PENDING).update(
        status=Delivery.Status.SUCCEEDED,
        delivered_at=timezone.now(),
        next_attempt_at=None,
        resend_requested=False,
        attempt_count=F("attempt_count") + 1,
    )
    if endpoint.paused_until is not None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=None)
        endpoint.paused_until = None
    first, last = succeeded[0][0].event, succeeded[-1][0].event
    logger.info(
        "Webhooks to %s: %d delivered (%s%s)",
        endpoint.public_id,
        len(succeeded),
        first.public_id,
        f" … {last.public_id}" if len(succeeded) > 1 else "",
    )


@transaction.atomic
def _record(delivery: Delivery, answer: _Answer, *, started_at, duration_ms: int) -> float | None:
    """Write down a failed attempt and what follows from it; returns seconds until the retry, if one is planned.

    (Successes are written down a batch at a time: ``_record_successes``.)
    """
    delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    endpoint = delivery.endpoint
    settled = delivery.status != Delivery.Status.PENDING
    manual = delivery.resend_requested and not settled
    DeliveryAttempt.objects.create(
        delivery=delivery,
        started_at=started_at,
        duration_ms=duration_ms,
        status_code=answer.status,
        succeeded=answer.ok,
        error=answer.error,
        response_body=answer.body,
        manual=manual,
    )
    if settled:
        # Settled meanwhile (a worker whose lease ran out while this one was still waiting): the attempt
        # is written down, the outcome is not changed.
        return None
    delivery.attempt_count += 1
    delivery.resend_requested = False
    if answer.status == 410:
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
        delivery.save()
        endpoint_disable(endpoint=endpoint, reason="The endpoint answered 410 Gone.", notify=True)
        return None
    schedule = settings.KASSA_WEBHOOK_RETRY_SCHEDULE["live" if endpoint.livemode else "test"]
    failures = delivery.attempts.filter(manual=False, succeeded=False).count()
    retry_in = schedule[min(max(failures, 1), len(schedule)) - 1]
    if answer.retry_after is not None:
        retry_in = max(retry_in, min(answer.retry_after, _MAX_RETRY_AFTER))
    # The endpoint rests until then: its other queued deliveries do not each spend a timeout on it.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=timezone.now() + timedelta(seconds=retry_in))
    if failures > len(schedule) or (manual and failures >= len(schedule)):
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
        delivery.save()
        if not manual and not _succeeded_since(endpoint, delivery.created):
            endpoint_disable(
                endpoint=endpoint,
                reason=f"No delivery succeeded for {_describe(timezone.now() - delivery.created)}.",
                notify=True,
            )
        return None
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
    delivery.save()
    return retry_in


def _succeeded_since(endpoint: WebhookEndpoint, moment) -> bool:
    return DeliveryAttempt.objects.filter(delivery__endpoint=endpoint, succeeded=True, started_at__gte=moment).exists()


def _describe(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{span.total_seconds() / 60:.0f} minutes"


@transaction.atomic
def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, notify: bool = False) -> WebhookEndpoint:
    """Stop delivering to an endpoint; its pending deliveries are given up (they stay resendable)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.status == WebhookEndpoint.Status.DISABLED:
        return endpoint
    endpoint.status = WebhookEndpoint.Status.DISABLED
    endpoint.disabled_reason = reason[:300]
    endpoint.delivering_until = None
    endpoint.save(update_fields=["status", "disabled_reason", "delivering_until", "updated"])
    endpoint.deliveries.filter(status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, next_attempt_at=None
    )
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.public_id, reason)
    if notify:
        transaction.on_commit(lambda: _email_owners(endpoint, reason))
    return endpoint


def _email_owners(endpoint: WebhookEndpoint, reason: str) -> None:
    recipients = list(
        Membership.objects.filter(merchant_id=endpoint.merchant_id, role=Membership.Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return
    mode = "live" if endpoint.livemode else "test"
    try:
        send_mail(
            subject=f"Kassa disabled your {mode}-mode webhook endpoint {endpoint.url}",
            message=(
                f"Kassa stopped sending events to {endpoint.url} ({endpoint.public_id}, {mode} mode).\n\n"
                f"Why: {reason}\n\n"
                "Events are kept. When the endpoint works again, enable it in the dashboard "
                f"({settings.KASSA_PUBLIC_URL}/admin/webhooks/webhookendpoint/) and resend the events you missed."
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("Could not email the owners of merchant %s", endpoint.merchant_id)


# --- the sweeper ---------------------------------------------------------------------


def deliveries_sweep(*, now: datetime) -> int:
    """Plan what no dispatcher planned (a lost nudge), then queue every endpoint that has due deliveries
    and no live lease (lost tasks, long retries)."""
    events_dispatch()
    endpoint_pks = (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(endpoint__status=WebhookEndpoint.Status.ENABLED)
        .filter(Q(endpoint__delivering_until__isnull=True) | Q(endpoint__delivering_until__lt=now))
        .filter(Q(endpoint__paused_until__isnull=True) | Q(endpoint__paused_until__lte=now))
        .values_list("endpoint_id", flat=True)
        .distinct()
    )
    count = 0
    for pk in endpoint_pks:
        endpoint_kick(pk)
        count += 1
    return count
