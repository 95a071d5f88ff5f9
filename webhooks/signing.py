"""Signing outbound deliveries so both Stripe's SDKs and Standard Webhooks libraries verify them.

One secret, ``whsec_`` + base64 of 24 random bytes, serves both schemes:

- ``Stripe-Signature: t=<unix>,v1=<hex>``: HMAC-SHA256 keyed with the whole
  secret string over ``"<t>.<body>"``, which ``stripe.Webhook.construct_event``
  checks (https://docs.stripe.com/webhooks#verify-manually).
- ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature: v1,<base64>``:
  HMAC-SHA256 keyed with the base64-decoded part after ``whsec_`` over
  ``"<id>.<timestamp>.<body>"`` (https://www.standardwebhooks.com/).

During a secret roll each header carries one signature per secret, which
both verifiers accept.
"""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _stripe(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _standard(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    message = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def headers(*, body: bytes, message_id: str, timestamp: int, secrets: list[str]) -> dict[str, str]:
    """The signature headers for one delivery, signed with every secret in ``secrets``."""
    stripe_signatures = ",".join(f"v1={_stripe(s, timestamp, body)}" for s in secrets)
    standard_signatures = " ".join(f"v1,{_standard(s, message_id, timestamp, body)}" for s in secrets)
    return {
        "Stripe-Signature": f"t={timestamp},{stripe_signatures}",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signatures,
    }
