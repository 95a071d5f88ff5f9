"""Webhook endpoints: create, update, delete, roll the secret, send a test event, resend an event.

The API and the dashboard both write through these. A URL is checked
against SSRF rules when saved (and again at every delivery).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kassa import crypto
from kassa import metadata as md
from kassa.errors import InvalidRequest
from kassa.ids import public_id

from .. import signing, ssrf
from ..event_types import EVENT_TYPES, TEST_EVENT_TYPE
from ..models import Delivery, Event, WebhookEndpoint
from .outbox import deliveries_plan, endpoint_kick, event_emit

#: The longest the old secret may keep signing after a roll (Stripe allows up to 24 hours).
ROLL_MAX = timedelta(hours=24)


def _hint(secret: str) -> str:
    return f"whsec_…{secret[-4:]}"


def _enabled_events(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidRequest("enabled_events must list at least one event type, or '*'.", param="enabled_events")
    unknown = [v for v in value if v != "*" and v not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            f"Invalid enabled_events: {unknown[0]!r} is not an event type Kassa sends.",
            code="parameter_invalid",
            param="enabled_events",
        )
    return list(dict.fromkeys(value))


def _url(value, *, livemode: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("Missing required param: url.", code="parameter_missing", param="url")
    if len(value) > 2048:
        raise InvalidRequest("url is at most 2048 characters.", code="parameter_invalid", param="url")
    ssrf.url_check(value.strip(), livemode=livemode)
    return value.strip()


def _description(value) -> str | None:
    if value is not None and len(value) > 5000:
        raise InvalidRequest("description is at most 5000 characters.", param="description")
    return value or None


def webhook_endpoint_create(
    *,
    merchant,
    livemode: bool,
    url: str,
    enabled_events: list[str],
    description: str | None = None,
    metadata: dict | None = None,
    api_version: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret (shown this once; stored encrypted).

    The URL's DNS lookup happens before the transaction: a slow resolver never holds a lock.
    """
    url = _url(url, livemode=livemode)
    secret = signing.new_secret()
    with transaction.atomic():
        return _create(merchant, livemode, url, enabled_events, description, metadata, api_version, secret), secret


def _create(merchant, livemode, url, enabled_events, description, metadata, api_version, secret) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        public_id=public_id(WebhookEndpoint.PREFIX),
        merchant=merchant,
        livemode=livemode,
        url=url,
        enabled_events=_enabled_events(enabled_events),
        description=_description(description),
        metadata=md.merge({}, metadata),
        api_version=api_version,
        secret_ciphertext=crypto.encrypt(secret),
        secret_hint=_hint(secret),
    )


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """``url``, ``enabled_events``, ``description``, ``metadata``, ``disabled`` (Stripe's update parameters)."""
    url = _url(changes["url"], livemode=endpoint.livemode) if "url" in changes else None  # DNS: before the lock
    with transaction.atomic():
        return _update(endpoint, url, changes)


def _update(endpoint: WebhookEndpoint, url: str | None, changes: dict) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not None:
        endpoint.url = url
    if "enabled_events" in changes:
        endpoint.enabled_events = _enabled_events(changes["enabled_events"])
    if "description" in changes:
        endpoint.description = _description(changes["description"])
    if "metadata" in changes:
        endpoint.metadata = md.merge(endpoint.metadata, changes["metadata"])
    if "disabled" in changes:
        if changes["disabled"] and endpoint.status == WebhookEndpoint.Status.ENABLED:
            endpoint.status = WebhookEndpoint.Status.DISABLED
            endpoint.disabled_reason = "Disabled by the merchant."
            endpoint.deliveries.filter(status=Delivery.Status.PENDING).update(
                status=Delivery.Status.FAILED, next_attempt_at=None
            )
        elif not changes["disabled"] and endpoint.status == WebhookEndpoint.Status.DISABLED:
            endpoint.status = WebhookEndpoint.Status.ENABLED
            endpoint.disabled_reason = ""
            endpoint.delivering_until = None
            endpoint.paused_until = None
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> str:
    endpoint_id = endpoint.public_id
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    return endpoint_id


@transaction.atomic
def webhook_endpoint_roll_secret(*, endpoint: WebhookEndpoint, expire_old_in: timedelta = ROLL_MAX) -> str:
    """A new secret, returned this once; the old one keeps signing too until ``expire_old_in`` has passed.

    One previous secret is kept, as at Stripe: rolling again ends the earlier previous secret at once.
    """
    if expire_old_in < timedelta(0) or expire_old_in > ROLL_MAX:
        raise InvalidRequest("The old secret may keep working for 0 to 24 hours.", param="expires_in")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = signing.new_secret()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = timezone.now() + expire_old_in
    endpoint.secret_ciphertext = crypto.encrypt(secret)
    endpoint.secret_hint = _hint(secret)
    endpoint.save()
    return secret


def _enabled(endpoint: WebhookEndpoint) -> None:
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        raise InvalidRequest(
            f"Webhook endpoint {endpoint.public_id} is disabled; enable it first.", param="webhook_endpoint"
        )


@transaction.atomic
def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint) -> Event:
    """A ``webhook_endpoint.test`` event for this endpoint alone (the endpoint, secret left out, as its object)."""
    _enabled(endpoint)
    event = event_emit(type=TEST_EVENT_TYPE, obj=endpoint, deliver=False)
    deliveries_plan(event=event, endpoints=[endpoint])
    return event


@transaction.atomic
def event_resend(*, event: Event, endpoint: WebhookEndpoint) -> Delivery:
    """Send ``event`` to ``endpoint`` again now (or for the first time), whatever happened before."""
    if (event.merchant_id, event.livemode) != (endpoint.merchant_id, endpoint.livemode):
        raise InvalidRequest("The event and the endpoint belong to different accounts or modes.")
    _enabled(endpoint)
    delivery, _ = Delivery.objects.select_for_update().get_or_create(event=event, endpoint=endpoint)
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.resend_requested = True
    delivery.save()
    # Asked for now: the endpoint's rest after a failure does not hold a resend back.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=None)
    transaction.on_commit(lambda: endpoint_kick(endpoint.pk))
    return delivery
