"""Rate limiting per API key, a fixed one-second (or minute…) window.

The counter lives in the default cache: Redis when ``REDIS_URL`` is set
(shared by every process, atomic INCR), else a per-process memory cache
(fine for one developer's machine). Limits come from ``KASSA_RATE_LIMITS``.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period[0]]


class APIKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        key = request.auth
        limit, period = parse_rate(settings.KASSA_RATE_LIMITS["live" if key.livemode else "test"])
        now = time.time()
        window = int(now // period)
        self._wait = period - (now % period)
        cache_key = f"kassa:rl:{key.pk}:{period}:{window}"
        try:
            count = cache.incr(cache_key)
        except ValueError:
            # First request in this window (add is atomic; a racing add loses and increments).
            count = 1 if cache.add(cache_key, 1, timeout=period * 2) else cache.incr(cache_key)
        return count <= limit

    def wait(self):
        return self._wait
