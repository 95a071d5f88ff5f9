"""Idempotent POSTs, as Stripe does them (https://docs.stripe.com/api/idempotent_requests).

Same key + same parameters within 24 h replays the first response; same
key + other parameters is a 400 ``idempotency_error``; a request arriving
while the first is still running gets a 409 (the SDKs retry it, then see
the replay), never a second object.

Scope: a record belongs to the merchant, the mode and the *kind* of key that
made it (``key_scope``). Secret keys share one scope: they have the same
powers, and a rolled key's successor must replay its predecessor's answers.
Publishable keys share another: they are public and have the same few
powers. Each restricted key (with the keys rolled from it) has its own: two restricted keys may see
different things, so one never replays (nor learns of) the other's records.
Every authorization check runs before the lookup (merchants.api.views), so a key
only ever meets records of requests it may itself make.

Cost on the hot path: one INSERT before the request runs (the unique index
decides who is first, across processes and databases) and one UPDATE after.
Answers that changed nothing (validation, permission, not found, 409, 429)
release the key, so the corrected request may reuse it, as Stripe allows;
errors that may follow a write (402, 5xx) are stored and replayed.
"""

import hashlib
import json
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kassa.db import insert
from kassa.errors import IdempotencyConflict, IdempotencyMismatch, InvalidRequest

from .models import APIKey, IdempotencyKey

MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, params) -> str:
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Replay(Exception):
    def __init__(self, record: IdempotencyKey):
        self.record = record


@cache
def _update_statement(vendor: str) -> str:
    q = connection.ops.quote_name
    table = q(IdempotencyKey._meta.db_table)
    return f"UPDATE {table} SET {q('status_code')} = %s, {q('response_body')} = %s WHERE {q('id')} = %s"  # noqa: S608


def _insert(scope: dict, request_fingerprint: str) -> IdempotencyKey:
    """The hot path's INSERT, through a statement compiled once (kassa.db.insert)."""
    return insert(IdempotencyKey(**scope, fingerprint=request_fingerprint, response_body="", created=timezone.now()))


def key_scope(api_key: APIKey) -> str:
    """Whose idempotency records ``api_key`` sees (see the module's docstring)."""
    if api_key.kind == APIKey.Kind.RESTRICTED:
        # The first key of its roll chain: a rolled key's successor has the same powers and must
        # replay its predecessor's answers (a retry across a roll never runs twice).
        root_pk, previous = api_key.pk, api_key.rolled_from_id
        while previous is not None:
            root_pk, previous = previous, APIKey.objects.filter(pk=previous).values_list("rolled_from_id", flat=True)[0]
        return f"restricted:{root_pk}"
    return api_key.kind


def idempotency_begin(*, api_key, key: str, request_fingerprint: str) -> IdempotencyKey:
    """Claim ``key`` for this request, or raise Replay / IdempotencyMismatch / IdempotencyConflict."""
    if not key.isprintable():
        raise InvalidRequest("Idempotency-Key may hold printable characters only.", code="idempotency_key_invalid")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters.", code="idempotency_key_too_long"
        )
    scope = {
        "merchant_id": api_key.merchant_id,
        "livemode": api_key.livemode,
        "key_scope": key_scope(api_key),
        "key": key,
    }
    try:
        if connection.in_atomic_block:
            # A savepoint keeps an outer transaction usable after a duplicate.
            with transaction.atomic():
                return _insert(scope, request_fingerprint)
        # Autocommit: one statement, one round trip, visible to every other process at once.
        return _insert(scope, request_fingerprint)
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(**scope).first()
    if existing is None:  # purged between the insert and the read: take it.
        return idempotency_begin(api_key=api_key, key=key, request_fingerprint=request_fingerprint)
    expired = existing.created < timezone.now() - timedelta(hours=settings.KASSA_IDEMPOTENCY_TTL_HOURS)
    stale = existing.status_code is None and existing.created < timezone.now() - timedelta(
        seconds=settings.KASSA_IDEMPOTENCY_STALE_SECONDS
    )
    if expired or stale:
        # Take the record over, atomically: only one retry wins.
        claimed = IdempotencyKey.objects.filter(pk=existing.pk, created=existing.created).update(
            created=timezone.now(), fingerprint=request_fingerprint, status_code=None, response_body=""
        )
        if claimed:
            existing.refresh_from_db()
            return existing
        raise IdempotencyConflict("A request with this Idempotency-Key is already in progress.")
    if existing.fingerprint != request_fingerprint:
        raise IdempotencyMismatch(
            "Keys for idempotent requests can only be used with the same parameters they were first used "
            f"with. Try using a key other than '{key}' if you meant to execute a different request."
        )
    if existing.status_code is None:
        raise IdempotencyConflict(
            "There is currently another in-progress request using this Idempotency-Key. "
            "Retry after the first one has finished."
        )
    raise Replay(existing)


# Answers given before anything could have been written: the key is released so the
# corrected request may use it. Everything else (2xx, 402, 5xx) is stored and replayed,
# as Stripe does: a 500 may come after a commit, and replaying it is what keeps a
# retried key from running twice.
RELEASED_STATUSES = frozenset({400, 401, 403, 404, 409, 429})


def idempotency_finish(*, record: IdempotencyKey, status_code: int, body: bytes) -> None:
    """Store the response for replay, or release the key if the request changed nothing."""
    if status_code in RELEASED_STATUSES:
        IdempotencyKey.objects.filter(pk=record.pk).delete()
    else:
        with connection.cursor() as cursor:
            cursor.execute(_update_statement(connection.vendor), [status_code, body.decode(), record.pk])


def idempotency_keys_purge(*, now: datetime) -> int:
    cutoff = now - timedelta(hours=settings.KASSA_IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created__lt=cutoff).delete()
    return deleted
