"""Webhooks both ways: Stripe's events coming in, Kassa's events going out.

Inbound (``ProcessorEvent``): the raw body Stripe signed is stored before
anything else, once per Stripe event id and merchant (a unique constraint,
so fifty concurrent copies make one row and no error). Applying it is a
Celery task that re-reads the object from Stripe, so copies, late and
out-of-order events converge.

Outbound: an ``Event`` is written in the same transaction as the change it
describes (the outbox), with one ``Delivery`` per enabled endpoint that
listens for its type. Delivering is at least once, one request at a time
per endpoint: a worker leases the endpoint (``delivering_until``) before
sending, so two workers never send to it at once (nor the same delivery
twice), and a worker killed mid-request leaves a lease that runs out and is
swept up. Every HTTP try is a ``DeliveryAttempt`` row.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, MerchantScoped


class ProcessorEvent(models.Model):
    """An event Stripe sent to ``/webhooks/stripe/<merchant>/<mode>/``, verified, as received."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey(  # indexed by processor_event_unique_per_merchant
        Merchant, on_delete=models.PROTECT, related_name="+", verbose_name=_("merchant"), db_index=False
    )
    livemode = models.BooleanField(verbose_name=_("live mode"))
    stripe_event_id = models.CharField(_("Stripe event"), max_length=255)
    type = models.CharField(max_length=100, verbose_name=_("type"))
    # The Stripe object the event is about (pi_…); applying re-reads it from Stripe.
    object_id = models.CharField(max_length=255, blank=True, verbose_name=_("object ID"))
    # Exactly the bytes Stripe signed.
    body = models.TextField(verbose_name=_("body"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    result = models.CharField(max_length=300, blank=True, verbose_name=_("result"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    traceback = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("received at"))
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))
    next_retry_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next retry at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "stripe_event_id"], name="processor_event_unique_per_merchant")
        ]
        indexes = [models.Index(fields=["status", "next_retry_at"], name="processor_event_due")]
        ordering = ["-received_at", "-id"]
        verbose_name = _("Stripe event (inbound)")
        verbose_name_plural = _("Stripe events (inbound)")

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_event_id}"


class WebhookEndpoint(MerchantScoped):
    """Where a merchant wants Kassa's events, and the secret that signs them (encrypted at rest)."""

    PREFIX = "we"

    class Status(models.TextChoices):
        ENABLED = "enabled", _("Enabled")
        DISABLED = "disabled", _("Disabled")

    url = models.URLField(_("URL"), max_length=2048)
    description = models.CharField(max_length=5000, blank=True, null=True, verbose_name=_("description"))
    enabled_events = models.JSONField(default=list, verbose_name=_("enabled events"))
    api_version = models.CharField(max_length=40, blank=True, null=True, verbose_name=_("API version"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED, verbose_name=_("status"))
    disabled_reason = models.CharField(max_length=300, blank=True, verbose_name=_("disabled reason"))
    secret_ciphertext = models.TextField(editable=False)
    secret_hint = models.CharField(max_length=40, editable=False, verbose_name=_("secret hint"))
    # After a roll the previous secret keeps signing (as a second signature) until this moment.
    previous_secret_ciphertext = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("previous secret expires at")
    )
    # The lease of the one worker sending to this endpoint now (see webhooks/services/delivery.py).
    delivering_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("delivering until"))
    # After a failed attempt nothing is sent to the endpoint before this (its retry time), whatever is queued.
    paused_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("paused until"))
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="webhook_endpoint_list")]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def listens_for(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


class Event(MerchantScoped):
    """Something that happened to a merchant's object, as Stripe's ``event`` object."""

    PREFIX = "evt"

    type = models.CharField(max_length=100, verbose_name=_("type"))
    # {"object": <the object as the API showed it at that moment>, "previous_attributes"?: {...}}
    data = models.JSONField(verbose_name=_("data"))
    api_version = models.CharField(max_length=40, verbose_name=_("API version"))
    request_id = models.CharField(max_length=64, blank=True, null=True, verbose_name=_("request ID"))
    idempotency_key = models.CharField(max_length=255, blank=True, null=True, verbose_name=_("idempotency key"))
    # An event waits for the dispatcher in a row of its own (``EventPending``), written with it; this row is never
    # rewritten. False: an event written by the release before that queue (it waited here, planned by setting this
    # to True), during a rolling deploy: the dispatcher still plans those (webhooks/services/outbox.py). Kassa writes
    # True; the database's own default (True) is for rows written by code from before the dispatcher, which planned
    # its deliveries itself. The column goes once no release that writes False can still be running.
    deliveries_planned = models.BooleanField(
        default=True, db_default=True, editable=False, verbose_name=_("deliveries planned")
    )

    class Meta:
        indexes = [
            models.Index(fields=["merchant", "livemode", "-id"], name="event_list"),
            models.Index(fields=["merchant", "livemode", "type", "-id"], name="event_list_by_type"),
            models.Index(fields=["id"], condition=models.Q(deliveries_planned=False), name="event_unplanned"),
        ]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class EventPending(models.Model):
    """An event whose deliveries the dispatcher has not planned yet: its queue (webhooks/services/outbox.py).

    Written with the event, in the same statement on PostgreSQL (``kassa.db.insert_many_queued``), and deleted as
    the event's deliveries are planned. Marking the event's own row planned instead rewrote that whole row (its
    ``data``, a few KiB) and every one of its indexes: half the write-ahead log a renewal wrote, and a search of a
    partial index over the events' table that walked the entries such updates left behind until a vacuum."""

    event = models.OneToOneField(
        Event, on_delete=models.CASCADE, primary_key=True, related_name="+", verbose_name=_("event")
    )

    class Meta:
        verbose_name = _("event waiting for its deliveries' planning")
        verbose_name_plural = _("events waiting for their deliveries' planning")

    def __str__(self) -> str:
        return f"{self.event_id}"


class Delivery(models.Model):
    """One event for one endpoint, until it is delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")  # the schedule ended, or the endpoint was disabled or deleted

    event = models.ForeignKey(  # indexed by delivery_one_per_event_endpoint
        Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"), db_index=False
    )
    endpoint = models.ForeignKey(  # indexed by delivery_due_per_endpoint
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint"), db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    attempt_count = models.PositiveIntegerField(default=0, verbose_name=_("attempt count"))
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, default=timezone.now, verbose_name=_("next attempt at")
    )
    # Someone asked to send it again (dashboard or API): the next attempt is marked manual.
    resend_requested = models.BooleanField(default=False, verbose_name=_("resend requested"))
    created = models.DateTimeField(default=timezone.now, verbose_name=_("created"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_one_per_event_endpoint")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["endpoint", "status", "next_attempt_at"], name="delivery_due_per_endpoint"),
        ]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}"


class DeliveryAttempt(models.Model):
    """One HTTP request to an endpoint, as it went."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("delivery")
    )
    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration (ms)"))
    # None when no HTTP answer came (timeout, refused connection, refused address).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("HTTP status"))
    succeeded = models.BooleanField(default=False, verbose_name=_("succeeded"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))
    response_body = models.TextField(
        blank=True, verbose_name=_("response body")
    )  # the first KASSA_WEBHOOK_BODY_PREFIX characters
    manual = models.BooleanField(default=False, verbose_name=_("manual"))

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.started_at:%Y-%m-%d %H:%M:%S}"
