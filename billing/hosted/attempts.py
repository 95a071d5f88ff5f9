"""Card testing: how many cards the hosted pages let one payer try before they stop asking Stripe.

Someone holding a list of stolen card numbers looks for a page that tells them which ones still work, and a
hosted pay page does, one card at a time, at the merchant's cost (each try is a charge or a card check at
Stripe, and a merchant whose declines pile up is flagged by the card networks). So each request that hands
Stripe a card from a hosted page (paying or saving a card on a checkout session, paying an invoice, giving the
portal a new card) is counted before the card goes anywhere, twice:

- per page: the checkout session, invoice or portal session it is for (``KASSA_CARD_ATTEMPTS_PER_PAGE``, 10 an
  hour): a payer mistyping or trying a second and third card stays well under it;
- per address: the payer's IP address (``merchants.login.client_ip``, which trusts ``X-Forwarded-For`` only as far
  as ``KASSA_TRUSTED_PROXY_COUNT`` says; ``KASSA_CARD_ATTEMPTS_PER_ADDRESS``, 30 an hour), across every page of
  every merchant: a list of cards tried on many checkout sessions of one payment link meets it.

Over either limit the page answers 429 with a ``Retry-After`` and the payer reads, in their language, that
there were too many attempts and nothing was charged; Stripe is not called. The counters are the API's rate
limits' (``merchants.api.throttling``: sliding windows in Redis, shared by every process, or in each process's
memory without ``REDIS_URL``). Test mode is limited as live mode is, so that a merchant can see it work.

What this does not stop: many addresses each trying a few cards (a botnet). Stripe's own Radar, on the
merchant's Stripe account, sees every charge and is the next line; a per-merchant limit on declines is not done.
"""

import logging
import time

from django.conf import settings
from django.http import HttpRequest

from merchants.api.throttling import limiter, rate_item
from merchants.login import client_ip

logger = logging.getLogger(__name__)

_NAMESPACE = "kassa-card-attempts"


def card_attempt_wait(request: HttpRequest, obj) -> int | None:
    """Count a card attempt for ``obj`` (the checkout session, invoice or portal session the card is for) from
    ``request``'s address; None while both are within their limits, else the seconds until the limit that
    refused it lets another attempt through (the attempt is not counted then)."""
    counters = limiter()
    for kind, identity, rate in (
        ("page", obj.public_id, settings.KASSA_CARD_ATTEMPTS_PER_PAGE),
        ("address", client_ip(request), settings.KASSA_CARD_ATTEMPTS_PER_ADDRESS),
    ):
        item = rate_item(rate)
        if not counters.hit(item, _NAMESPACE, kind, identity):
            stats = counters.get_window_stats(item, _NAMESPACE, kind, identity)
            logger.warning("Card attempts refused: over %s per %s for %s", rate, kind, obj.public_id)
            return max(1, int(stats.reset_time - time.time()) + 1)
    return None


def refused(response, wait: int):
    """The page's own 429 answer, with when to try again."""
    response["Retry-After"] = str(wait)
    return response
