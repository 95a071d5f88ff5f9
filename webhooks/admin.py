"""Dashboard pages for webhooks: the merchant's endpoints, the events Kassa sent them, Stripe's events received.

- Endpoints are made, changed and deleted only through
  ``webhooks.services.endpoints`` (``save_via_service``, as ScopedAdmin runs
  it). Their signing secret is shown once, when it is made (at creation and
  at each roll), on a page that is never cached; afterwards only its hint.
- Events, deliveries, attempts and Stripe's inbound events are records of
  what happened: read-only pages (dj-stripe's rule). The writes are buttons,
  POST only, for the roles that may write (as for API keys): roll the secret,
  disable/enable, send a test event, resend an event to one endpoint, re-run
  a Stripe event.
- Deliveries and their attempts have no pages of their own: they are shown on
  their endpoint's and their event's pages. Not registering them also keeps
  Django's delete page from walking every delivery of an endpoint.
"""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from kassa import metadata
from kassa.errors import KassaError
from merchants.admin_base import LedgerAdmin, ScopedAdmin, secret_once_page, when
from merchants.widgets import MetadataField

from . import selectors
from .event_types import EVENT_TYPES
from .models import Delivery, DeliveryAttempt, Event, ProcessorEvent, WebhookEndpoint
from .services import endpoints, inbound
from .services.delivery import event_payload

#: How many of an endpoint's latest deliveries its page shows, and how many attempts per delivery.
RECENT_DELIVERIES = 50
ATTEMPTS_SHOWN = 10
#: Characters of a receiver's answer shown in the tables (the row keeps KASSA_WEBHOOK_BODY_PREFIX).
BODY_SHOWN = 200


# --- rendering helpers ---------------------------------------------------------------


def _pretty_json(value) -> str:
    return format_html('<pre class="kassa-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


def _endpoint_link(endpoint: WebhookEndpoint) -> str:
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    return format_html('<a href="{}">{}</a>', url, endpoint.url)


def _event_link(event: Event) -> str:
    url = reverse("admin:webhooks_event_change", args=[event.pk])
    return format_html('<a href="{}">{}</a><br><small>{}</small>', url, event.type, event.public_id)


def _attempt_outcome(attempt: DeliveryAttempt) -> str:
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}"
    return attempt.error or "no answer"


def _attempts_table(delivery: Delivery) -> str:
    attempts = list(delivery.attempts.all())  # prefetched, newest first
    if not attempts:
        return "None yet"
    rows = format_html_join(
        "",
        '<tr class="{}"><td>{}</td><td>{}</td><td>{} ms</td><td><code>{}</code></td><td>{}</td></tr>',
        (
            (
                "kassa-ok" if attempt.succeeded else "kassa-failed",
                when(attempt.started_at),
                _attempt_outcome(attempt),
                attempt.duration_ms,
                Truncator(attempt.response_body).chars(BODY_SHOWN),
                "manual" if attempt.manual else "",
            )
            for attempt in attempts[:ATTEMPTS_SHOWN]
        ),
    )
    more = len(attempts) - ATTEMPTS_SHOWN
    return format_html(
        '<table class="kassa-table kassa-attempts"><thead><tr><th>When</th><th>Answer</th><th>Took</th>'
        "<th>Response body (start)</th><th></th></tr></thead><tbody>{}</tbody></table>{}",
        rows,
        format_html("<small>and {} earlier</small>", more) if more > 0 else "",
    )


def _deliveries_table(deliveries, *, first_column: str, table_id: str) -> str:
    """Deliveries with their attempts; ``first_column`` is "event" (endpoint page) or "endpoint" (event page)."""
    if not deliveries:
        return "None"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                _event_link(d.event) if first_column == "event" else _endpoint_link(d.endpoint),
                d.status + (" (resend asked)" if d.resend_requested else ""),
                d.attempt_count,
                when(d.next_attempt_at) if d.status == Delivery.Status.PENDING else when(d.delivered_at),
                _attempts_table(d),
            )
            for d in deliveries
        ),
    )
    return format_html(
        '<table class="kassa-table" id="{}"><thead><tr><th>{}</th><th>Status</th><th>Attempts</th>'
        "<th>Next attempt / delivered</th><th>Attempt log</th></tr></thead><tbody>{}</tbody></table>",
        table_id,
        "Event" if first_column == "event" else "Endpoint",
        rows,
    )


def _with_attempts(queryset):
    return queryset.prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("-started_at")))


class RecordAdmin(LedgerAdmin):
    """Records of what happened: look, never touch. The buttons on these pages call services."""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_write"] = self._can_write(request)
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- endpoints ---------------------------------------------------------------------


def _event_type_choices():
    groups: dict[str, list] = {}
    for event_type in EVENT_TYPES:
        groups.setdefault(event_type.rsplit(".", 1)[0], []).append((event_type, event_type))
    return [("*", "All events (*), including types Kassa adds later"), *groups.items()]


class EndpointAddForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2048,
        assume_scheme="https",
        label="URL",
        help_text="Where Kassa POSTs the events. Live mode: https and a public address only.",
    )
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    enabled_events = forms.MultipleChoiceField(
        choices=_event_type_choices(),
        widget=forms.CheckboxSelectMultiple,
        label="Events to send",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "enabled_events"]

    def clean_enabled_events(self):
        chosen = self.cleaned_data["enabled_events"]
        return ["*"] if "*" in chosen else chosen


class EndpointChangeForm(EndpointAddForm):
    metadata = MetadataField()

    class Meta(EndpointAddForm.Meta):
        fields = [*EndpointAddForm.Meta.fields, "metadata"]


class RollSecretForm(forms.Form):
    expire_old_in = forms.TypedChoiceField(
        coerce=int,
        choices=[(0, "Now"), (3600, "In 1 hour"), (86400, "In 24 hours")],
        initial=86400,
        label="The old secret stops signing",
        help_text="Until then every delivery carries a signature made with each secret, so receivers "
        "still holding the old one keep accepting them while you deploy the new one.",
    )


def _secret_page(request, model_admin, *, title: str, secret: str, endpoint: WebhookEndpoint, note: str = ""):
    """The signing secret, this once; it is stored encrypted and shown again only as its hint."""
    return secret_once_page(
        request,
        model_admin,
        title=title,
        secrets=[("Signing secret", secret)],
        next_url=reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        template="admin/webhooks/secret_once.html",
        hint=endpoint.secret_hint,
        note=note,
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedAdmin):
    form = EndpointChangeForm
    list_display = ["url", "status", "events_summary", "description_short", "created"]
    list_filter = ["status"]
    search_fields = ["url", "=public_id", "description"]
    ordering = ["-id"]

    change_fieldsets = [
        (None, {"fields": ["public_id", "url", "description", "enabled_events", "status_display", "created"]}),
        ("Signing secret", {"fields": ["secret_hint", "previous_secret"]}),
        ("Recent deliveries", {"fields": ["deliveries_table"]}),
        ("More", {"fields": ["metadata", "api_version", "livemode", "updated"], "classes": ["collapse"]}),
    ]
    change_readonly = [
        "public_id",
        "status_display",
        "created",
        "secret_hint",
        "previous_secret",
        "deliveries_table",
        "api_version",
        "livemode",
        "updated",
    ]

    # --- columns and read-only fields -------------------------------------------
    @admin.display(description="Events")
    def events_summary(self, endpoint):
        events = endpoint.enabled_events or []
        if "*" in events:
            return "All events"
        shown = ", ".join(events[:3])
        return f"{shown} and {len(events) - 3} more" if len(events) > 3 else shown

    @admin.display(description="Description")
    def description_short(self, endpoint):
        return Truncator(endpoint.description or "").chars(60) or "—"

    @admin.display(description="Status")
    def status_display(self, endpoint):
        if endpoint.status == WebhookEndpoint.Status.DISABLED:
            return format_html(
                '<strong id="kassa-endpoint-status">disabled</strong>: {}', endpoint.disabled_reason or "—"
            )
        return format_html('<span id="kassa-endpoint-status">{}</span>', endpoint.status)

    @admin.display(description="Previous secret")
    def previous_secret(self, endpoint):
        expires_at = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret_ciphertext or expires_at is None:
            return "—"
        if expires_at > timezone.now():
            return f"Still signs too, until {when(expires_at)}"
        return f"Stopped signing at {when(expires_at)}"

    @admin.display(description="Deliveries")
    def deliveries_table(self, endpoint):
        deliveries = list(
            _with_attempts(endpoint.deliveries.select_related("event").order_by("-id"))[:RECENT_DELIVERIES]
        )
        return _deliveries_table(deliveries, first_column="event", table_id="kassa-deliveries")

    # --- forms -------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": EndpointAddForm.Meta.fields})]
        return self.change_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.change_readonly if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EndpointAddForm
        return super().get_form(request, obj, change, **kwargs)

    def save_via_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            changes = {f: data[f] for f in ("url", "description", "enabled_events") if f in form.changed_data}
            if "metadata" in form.changed_data:
                changes["metadata"] = metadata.replace(form.instance.metadata, data.get("metadata") or {})
            if not changes:
                return form.instance
            return endpoints.webhook_endpoint_update(endpoint=form.instance, **changes)
        merchant, livemode = self.current(request)
        endpoint, secret = endpoints.webhook_endpoint_create(
            merchant=merchant,
            livemode=livemode,
            url=data["url"],
            enabled_events=data["enabled_events"],
            description=data.get("description") or None,
        )
        request._kassa_secret = secret
        return endpoint

    def response_add(self, request, obj, post_url_continue=None):
        return _secret_page(
            request, self, title=f"Webhook endpoint {obj.url} created", secret=request._kassa_secret, endpoint=obj
        )

    def delete_model(self, request, obj):
        endpoints.webhook_endpoint_delete(endpoint=obj)

    def get_deleted_objects(self, objs, request):
        """The endpoint and a count of its delivery records, rather than one line per delivery."""
        endpoints_ = list(objs)
        deliveries = Delivery.objects.filter(endpoint__in=endpoints_).count()
        described = [str(e) for e in endpoints_]
        if deliveries:
            described.append(f"{deliveries} delivery record(s) and their attempts (the events themselves stay)")
        return described, {"webhook endpoints": len(endpoints_), "deliveries": deliveries}, set(), []

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_write"] = self._can_write(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- buttons: roll secret, disable/enable, send test event -------------------------
    def get_urls(self):
        return [
            path("<int:pk>/roll/", self.admin_site.admin_view(self.roll_view), name="webhooks_webhookendpoint_roll"),
            path(
                "<int:pk>/status/", self.admin_site.admin_view(self.status_view), name="webhooks_webhookendpoint_status"
            ),
            path("<int:pk>/test/", self.admin_site.admin_view(self.test_view), name="webhooks_webhookendpoint_test"),
            *super().get_urls(),
        ]

    def roll_view(self, request, pk):
        """GET asks how long the old secret keeps signing; POST rolls and shows the new secret once."""
        endpoint = self.object_for_write(request, pk)
        form = RollSecretForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            expire_old_in = timedelta(seconds=form.cleaned_data["expire_old_in"])
            try:
                secret = endpoints.webhook_endpoint_roll_secret(endpoint=endpoint, expire_old_in=expire_old_in)
            except KassaError as exc:
                form.add_error(None, exc.message)
            else:
                endpoint.refresh_from_db()
                note = (
                    f"The old secret keeps signing too until {when(endpoint.previous_secret_expires_at)}."
                    if expire_old_in
                    else "The old secret stopped signing now."
                )
                return _secret_page(
                    request,
                    self,
                    title=f"Signing secret of {endpoint.url} rolled",
                    secret=secret,
                    endpoint=endpoint,
                    note=note,
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll the signing secret of {endpoint.url}",
            "form": form,
            "endpoint": endpoint,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/webhooks/roll_secret.html", context)

    def status_view(self, request, pk):
        """POST ``disabled=1|0``: an explicit target state, so a repeated click changes nothing more."""
        disabled = request.POST.get("disabled") == "1"

        def act(endpoint):
            endpoints.webhook_endpoint_update(endpoint=endpoint, disabled=disabled)
            state = (
                "disabled: Kassa sends it nothing, and its pending deliveries were given up"
                if disabled
                else "enabled: new events will be sent to it (resend missed ones from their event's page)"
            )
            return f"Webhook endpoint {endpoint.url} is {state}."

        return self.button_view(request, pk, act)

    def test_view(self, request, pk):
        def act(endpoint):
            event = endpoints.webhook_endpoint_send_test(endpoint=endpoint)
            return (
                f"Test event {event.public_id} queued for {endpoint.url}; its attempts appear under Recent deliveries."
            )

        return self.button_view(request, pk, act)


# --- events (outbound) --------------------------------------------------------------


@admin.register(Event)
class EventAdmin(RecordAdmin):
    list_display = ["public_id", "type", "created", "deliveries_summary"]
    list_filter = ["type"]
    search_fields = ["=public_id"]
    date_hierarchy = "created"
    ordering = ["-id"]
    fieldsets = [
        (None, {"fields": ["public_id", "type", "created", "livemode", "api_version", "api_request"]}),
        ("Deliveries", {"fields": ["deliveries_table"]}),
        ("Event as sent", {"fields": ["payload"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_succeeded=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SUCCEEDED)),
                n_pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
                n_failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
            )
        )

    @admin.display(description="Deliveries")
    def deliveries_summary(self, event):
        parts = [
            f"{count} {label}"
            for count, label in (
                (event.n_succeeded, "succeeded"),
                (event.n_pending, "pending"),
                (event.n_failed, "failed"),
            )
            if count
        ]
        if parts:
            return " · ".join(parts)
        return "none (no endpoint listened)" if event.deliveries_planned else "not planned yet (waiting for a worker)"

    @admin.display(description="Request")
    def api_request(self, event):
        if not event.request_id:
            return "— (not made by an API request)"
        key = f", idempotency key {event.idempotency_key}" if event.idempotency_key else ""
        return f"{event.request_id}{key}"

    @admin.display(description="Deliveries")
    def deliveries_table(self, event):
        deliveries = list(_with_attempts(event.deliveries.select_related("endpoint").order_by("id")))
        return _deliveries_table(deliveries, first_column="endpoint", table_id="kassa-deliveries")

    @admin.display(description="JSON")
    def payload(self, event):
        return _pretty_json(event_payload(event))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._can_write(request):
            deliveries = {d.endpoint_id: d for d in obj.deliveries.all()}
            context["resend_endpoints"] = [
                (endpoint, deliveries.get(endpoint.pk), endpoint.listens_for(obj.type))
                for endpoint in selectors.endpoint_list(merchant=obj.merchant, livemode=obj.livemode)
                .filter(status=WebhookEndpoint.Status.ENABLED)
                .order_by("-id")
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path("<int:pk>/resend/", self.admin_site.admin_view(self.resend_view), name="webhooks_event_resend"),
            *super().get_urls(),
        ]

    def resend_view(self, request, pk):
        """POST ``endpoint=<we_…>``: send the event now to that one endpoint (any enabled one in its scope)."""

        def act(event):
            endpoint = get_object_or_404(
                selectors.endpoint_list(merchant=event.merchant, livemode=event.livemode),
                public_id=request.POST.get("endpoint", ""),
            )
            endpoints.event_resend(event=event, endpoint=endpoint)
            return f"Event {event.public_id} is being sent to {endpoint.url} again."

        return self.button_view(request, pk, act)


# --- Stripe's events (inbound) ---------------------------------------------------------


@admin.register(ProcessorEvent)
class ProcessorEventAdmin(RecordAdmin):
    list_display = ["stripe_event_id", "type", "status", "attempts", "received_at", "error_short"]
    list_filter = ["status", "type"]
    search_fields = ["=stripe_event_id", "=object_id"]
    date_hierarchy = "received_at"
    actions = ["rerun_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "stripe_event_id",
                    "type",
                    "object_id",
                    "status",
                    "attempts",
                    "received_at",
                    "processed_at",
                    "next_retry_at",
                    "livemode",
                ]
            },
        ),
        ("Outcome", {"fields": ["result", "error", "traceback_display"]}),
        ("As Stripe sent it", {"fields": ["body_display"]}),
    ]

    @admin.display(description="Error")
    def error_short(self, event):
        first_line = (event.error or "").strip().splitlines()[:1]
        return Truncator(first_line[0]).chars(80) if first_line else "—"

    @admin.display(description="Traceback")
    def traceback_display(self, event):
        return format_html('<pre class="kassa-json">{}</pre>', event.traceback) if event.traceback else "—"

    @admin.display(description="Body")
    def body_display(self, event):
        try:
            return _pretty_json(json.loads(event.body))
        except ValueError:
            return format_html('<pre class="kassa-json">{}</pre>', event.body)

    def has_rerun_permission(self, request):
        return self._can_write(request)

    def _rerun(self, request, event) -> bool:
        try:
            inbound.processor_event_retry(event=event)
        except KassaError as exc:
            self.message_user(request, f"Stripe event {event.stripe_event_id}: {exc.message}", messages.ERROR)
            return False
        return True

    @admin.action(description="Re-run selected Stripe events", permissions=["rerun"])
    def rerun_selected(self, request, queryset):
        done = sum(self._rerun(request, event) for event in queryset)
        if done:
            self.message_user(request, f"{done} Stripe event(s) queued to be applied again.")

    def get_urls(self):
        return [
            path("<int:pk>/rerun/", self.admin_site.admin_view(self.rerun_view), name="webhooks_processorevent_rerun"),
            *super().get_urls(),
        ]

    def rerun_view(self, request, pk):
        def act(event):
            if self._rerun(request, event):
                return f"Stripe event {event.stripe_event_id} is queued to be applied again."
            return None

        return self.button_view(request, pk, act)
