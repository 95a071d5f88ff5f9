"""Rate limiting per API key: a sliding window, checked before any database work.

- **Before everything else.** ``APIRateLimitMiddleware`` answers a /v1/
  request over its limit before sessions, CSRF, authentication or DRF run.
  The limit is keyed by the SHA-256 of the key the request presents (the hash
  the key lookup uses) and its mode comes from the key's prefix, so a
  rejected request costs one round trip to the counter and no SQL, and a
  flood of made-up keys is limited like any other.
- **Sliding window** (``limits``' sliding-window counter): the previous
  window's count weighs in, so a client cannot send twice its limit across a
  window boundary as fixed one-second windows allowed.
- **A refused key is refused locally for a moment.** For the time one slot
  of its limit takes to free up (1/25 s at 25/s), the process that refused
  a key refuses it again without asking the counter: a flood costs the
  shared counter one round trip per process per slot, not one per request.
  A key over its limit can lose at most that moment per process; one under
  its limit never meets it.
- **Counted, not logged one by one.** Django's log line per 429 is dropped
  (``kassa.logging.DropRateLimited``); each process writes one line per key
  per minute, with the number it refused in the key's previous minute of
  refusals. A refusal costs no more than the counter's own round trip.

The counters live in Redis when ``REDIS_URL`` is set (shared by every
process), else in each process's memory (one developer's machine). Limits
come from ``KASSA_RATE_LIMITS``.
"""

import logging
import time
from functools import cache

from django.conf import settings
from django.http import JsonResponse
from limits import parse, storage, strategies

from kassa.errors import RateLimited

from ..selectors import presented_key
from ..services import hash_key

logger = logging.getLogger(__name__)


_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@cache
def rate_item(rate: str):
    """``"25/s"`` (Kassa's settings: N per s, m, h or d) as a limits rate."""
    count, _, unit = rate.partition("/")
    return parse(f"{int(count)}/{_UNITS[unit.strip()[0]]}")


@cache
def _limiter(location: str) -> strategies.SlidingWindowCounterRateLimiter:
    return strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(location))


def limiter() -> strategies.SlidingWindowCounterRateLimiter:
    """The sliding-window counters every process shares (Redis), or this process's own without ``REDIS_URL``."""
    return _limiter(settings.REDIS_URL or "memory://")


def api_rate_limit(authorization: str) -> float | None:
    """Seconds to wait when the presented key is over its limit; else None, and the request is counted."""
    raw = presented_key(authorization)
    if raw is None:
        return None  # no key at all: authentication answers 401 without touching the database
    mode = "live" if "_live_" in raw[:8] else "test"
    item = rate_item(settings.KASSA_RATE_LIMITS[mode])
    identity = hash_key(raw)
    now = time.monotonic()
    refusing_until = _refusing.get(identity)
    if refusing_until is None or now >= refusing_until:
        if limiter().hit(item, "kassa-api", identity):
            return None
        # Over its limit: until one slot can have freed up, this process refuses the key without asking.
        if len(_refusing) > 10_000:  # a flood of made-up keys must not grow this without end
            _refusing.clear()
        _refusing[identity] = now + item.get_expiry() / item.amount
    _count_refusal(identity, raw, item)
    # Within one window's length a slot frees up again (the sliding window forgets the old requests as it moves).
    return float(item.get_expiry())


#: identity -> monotonic time until which this process refuses the key without asking the counter
_refusing: dict[str, float] = {}


#: identity -> [minute, refusals counted in that minute], in this process
_refusals: dict[str, list[int]] = {}


def _count_refusal(identity: str, raw: str, item) -> None:
    """Count a refusal in this process; one log line per key per minute, with the previous minute's count."""
    minute = int(time.time() // 60)
    entry = _refusals.get(identity)
    if entry is not None and entry[0] == minute:
        entry[1] += 1
        return
    if len(_refusals) > 10_000:  # a flood of made-up keys must not grow this without end
        _refusals.clear()
    before = f"; {entry[1]} refused in its previous minute of refusals" if entry is not None else ""
    _refusals[identity] = [minute, 1]
    shown = raw[:8] + "…" + raw[-4:]
    logger.warning("Rate limiting key %s (%s)%s; refusals are counted, not logged each", shown, item, before)


class APIRateLimitMiddleware:
    """A /v1/ request over its key's limit gets its 429 here, in the API's error shape, and nothing else runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/v1/"):
            wait = api_rate_limit(request.META.get("HTTP_AUTHORIZATION", ""))
            if wait is not None:
                error = RateLimited(
                    "Too many requests hit the API too quickly. Slow down and retry with exponential backoff."
                )
                response = JsonResponse({"error": error.as_dict()}, status=429)
                response["Retry-After"] = str(int(wait + 0.999))
                # Browsers calling with a publishable key (the pay button) may read why they were refused.
                response["Access-Control-Allow-Origin"] = "*"
                # Counted above (``_count_refusal``): Django need not format a log record per refusal.
                response._has_been_logged = True
                return response
        return self.get_response(request)
