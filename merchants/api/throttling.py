"""Rate limiting per API key: a sliding window, checked before any database work.

- **Before authentication.** The limit is keyed by the SHA-256 of the key the
  request presents (the hash the key lookup uses) and its mode comes from the
  key's prefix, so a rejected request costs one round trip to the counter and
  no SQL, and a flood of made-up keys is limited like any other.
- **Sliding window** (``limits``' sliding-window counter): the previous
  window's count weighs in, so a client cannot send twice its limit across a
  window boundary as fixed one-second windows allowed.
- **Counted, not logged one by one.** Django's log line per 429 is dropped
  (``kassa.logging.DropRateLimited``); the first refusal of a key in a minute writes one
  line, and the count of refusals is kept per minute in the cache.

The counters live in Redis when ``REDIS_URL`` is set (shared by every
process), else in each process's memory (one developer's machine). Limits
come from ``KASSA_RATE_LIMITS``.
"""

import contextlib
import logging
import time
from functools import cache

from django.conf import settings
from django.core.cache import cache as django_cache
from limits import parse, storage, strategies
from rest_framework.exceptions import Throttled

from ..selectors import presented_key
from ..services import hash_key

logger = logging.getLogger(__name__)


_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@cache
def _item(rate: str):
    """``"25/s"`` (Kassa's settings: N per s, m, h or d) as a limits rate."""
    count, _, unit = rate.partition("/")
    return parse(f"{int(count)}/{_UNITS[unit.strip()[0]]}")


@cache
def _limiter(location: str) -> strategies.SlidingWindowCounterRateLimiter:
    return strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(location))


def _limiter_now() -> strategies.SlidingWindowCounterRateLimiter:
    return _limiter(settings.REDIS_URL or "memory://")


def api_rate_limit(authorization: str) -> None:
    """Raise Throttled (a 429 rate_limit_error with Retry-After) when the presented key is over its limit.

    Otherwise the request is counted against the key's limit.
    """
    raw = presented_key(authorization)
    if raw is None:
        return  # no key at all: authentication answers 401 without touching the database
    mode = "live" if "_live_" in raw[:8] else "test"
    item = _item(settings.KASSA_RATE_LIMITS[mode])
    identity = hash_key(raw)
    limiter = _limiter_now()
    if limiter.hit(item, "kassa-api", identity):
        return
    minute = int(time.time() // 60)
    refused_key = f"kassa:rl:refused:{identity}:{minute}"
    if django_cache.add(refused_key, 1, timeout=120):
        shown = raw[:8] + "…" + raw[-4:]
        logger.warning("Rate limiting key %s (%s); further refusals this minute are counted, not logged", shown, item)
    else:
        with contextlib.suppress(ValueError):  # expired meanwhile: the next refusal starts a new count
            django_cache.incr(refused_key)
    reset = limiter.get_window_stats(item, "kassa-api", identity).reset_time
    raise Throttled(wait=max(1.0, reset - time.time()))
