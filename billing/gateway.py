"""The only module that imports ``stripe``.

One ``StripeClient`` per merchant and mode, built from that merchant's own
encrypted credentials; never the global ``stripe.api_key``. In development
and tests ``STRIPE_API_BASE`` points the client at localstripe. Stripe's
errors are translated here, once, into messages that never carry a key.
"""

import logging

import stripe
from django.conf import settings

from kassa import crypto
from kassa.errors import InvalidRequest
from kassa.logging import redact

logger = logging.getLogger(__name__)


def client_for(credential) -> stripe.StripeClient:
    """A client speaking for ``credential``'s merchant, in ``credential``'s mode only."""
    secret_key = crypto.decrypt(credential.secret_key_ciphertext)
    expected = "sk_live_" if credential.livemode else "sk_test_"
    if not (secret_key.startswith((expected, "r" + expected[1:]))):
        # Saved credentials are checked on the way in; this guards the way out.
        raise InvalidRequest("These Stripe credentials do not belong to this mode.")
    options = {"max_network_retries": settings.STRIPE_MAX_NETWORK_RETRIES}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(secret_key, **options)


def describe_error(exc: stripe.StripeError) -> str:
    """A message for people and logs: the error class and Stripe's message, no secrets."""
    return redact(f"{type(exc).__name__}: {exc.user_message or ''}".strip())


def check_connection(credential) -> tuple[bool, str]:
    """Whether Stripe accepts the saved secret key (one cheap read)."""
    try:
        client = client_for(credential)
        client.v1.customers.list(params={"limit": 1})
    except stripe.AuthenticationError as exc:
        logger.info("Stripe rejected the key of merchant %s: %s", credential.merchant_id, describe_error(exc))
        return False, "Stripe rejected this secret key."
    except stripe.PermissionError:
        return False, "The key works but may not read customers; Kassa needs a key that can."
    except stripe.StripeError as exc:
        logger.warning(
            "Stripe connection check failed for merchant %s: %s", credential.merchant_id, describe_error(exc)
        )
        return False, f"Could not reach Stripe ({type(exc).__name__})."
    except InvalidRequest as exc:
        return False, exc.message
    return True, "Connected to Stripe."
