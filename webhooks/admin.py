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
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kassa import metadata
from kassa.errors import KassaError
from merchants.admin_base import LedgerAdmin, ScopedAdmin, secret_once_page, when
from merchants.widgets import MetadataField

from . import selectors
from .event_types import EVENT_TYPES
from .models import Delivery, DeliveryAttempt, Event, EventPending, ProcessorEvent, WebhookEndpoint
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


#: Delivery statuses as the dashboard words them.
DELIVERY_STATUS = {
    Delivery.Status.PENDING: _("Pending"),
    Delivery.Status.SUCCEEDED: _("Delivered"),
    Delivery.Status.FAILED: _("Failed"),
}
#: Seconds between two refreshes of a deliveries panel while one of its deliveries is pending, and otherwise.
POLL_SECONDS = (3, 15)


def _attempt_outcome(attempt: DeliveryAttempt) -> str:
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}"
    return attempt.error or gettext("no answer")


def _attempt_rows(delivery: Delivery) -> tuple[list[dict], int]:
    attempts = list(delivery.attempts.all())  # prefetched, newest first
    rows = [
        {
            "attempt": attempt,
            "outcome": _attempt_outcome(attempt),
            "body": Truncator(attempt.response_body).chars(BODY_SHOWN),
        }
        for attempt in attempts[:ATTEMPTS_SHOWN]
    ]
    return rows, max(0, len(attempts) - ATTEMPTS_SHOWN)


def deliveries_panel(deliveries, *, first_column: str, poll_url: str) -> str:
    """Deliveries with their attempts; ``first_column`` is "event" (endpoint page) or "endpoint" (event page).

    The same HTML is the page's panel and what static/kassa/webhooks.js fetches from ``poll_url`` to
    refresh it, so a pending delivery turns into its result without a reload.
    """
    rows = []
    for delivery in deliveries:
        attempts, earlier = _attempt_rows(delivery)
        pending = delivery.status == Delivery.Status.PENDING
        rows.append(
            {
                "delivery": delivery,
                "pending": pending,
                "key": f"{delivery.event.public_id}:{delivery.endpoint.public_id}",
                "status": DELIVERY_STATUS.get(delivery.status, delivery.status),
                "when": when(delivery.next_attempt_at if pending else delivery.delivered_at),
                "attempts": attempts,
                "earlier": earlier,
            }
        )
    return render_to_string(
        "admin/webhooks/_deliveries.html",
        {
            "rows": rows,
            "first_column": first_column,
            "poll_url": poll_url,
            "poll_seconds": POLL_SECONDS[0 if any(r["pending"] for r in rows) else 1],
            "refreshed": timezone.now(),
        },
    )


def _with_attempts(queryset):
    return queryset.prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("-started_at")))


def _fragment(html: str) -> HttpResponse:
    response = HttpResponse(html)
    response["Cache-Control"] = "no-store"
    return response


# --- endpoints ---------------------------------------------------------------------


#: The resources events are about, as the event type list groups them (the part before the last dot).
EVENT_GROUPS = {
    "payment_intent": _("Payments"),
    "checkout.session": _("Checkout sessions"),
    "charge": _("Charges"),
    "refund": _("Refunds"),
    "payment_link": _("Payment links"),
    "customer": _("Customers"),
    "payment_method": _("Payment methods"),
    "product": _("Products"),
    "price": _("Prices"),
    "tax_rate": _("Tax rates"),
}


def _event_type_choices():
    groups: dict[str, list] = {prefix: [] for prefix in EVENT_GROUPS}
    for event_type in EVENT_TYPES:
        groups.setdefault(event_type.rsplit(".", 1)[0], []).append((event_type, event_type))
    return [
        ("*", _("All events (*), including types Kassa adds later")),
        *((prefix, types) for prefix, types in groups.items() if types),
    ]


class EventTypesWidget(forms.CheckboxSelectMultiple):
    """The event types grouped by resource, with a filter box and "select all" per group.

    Plain checkboxes in the HTML; static/kassa/webhooks.js adds the filter and the group buttons
    (no inline script, so the page works under a strict CSP, and without JavaScript).
    """

    template_name = "admin/webhooks/widgets/event_types.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        everything, groups = None, []
        for prefix, options, _index in context["widget"]["optgroups"]:
            if prefix is None:  # the ungrouped "*"
                everything = options[0]
            else:
                groups.append({"prefix": prefix, "label": EVENT_GROUPS.get(prefix, prefix), "options": options})
        context["widget"].update(everything=everything, groups=groups)
        return context

    def _render(self, template_name, context, renderer=None):
        # The project's template engine (templates/admin/webhooks/), not the form renderer's app-only one.
        return render_to_string(template_name, context)


class EndpointAddForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2048,
        assume_scheme="https",
        label=_("URL"),
        help_text=_("Where Kassa POSTs the events. Live mode: https and a public address only."),
        widget=forms.URLInput(attrs={"class": "kassa-wide", "placeholder": "https://example.com/webhooks/kassa"}),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "kassa-wide"}),
    )
    enabled_events = forms.MultipleChoiceField(
        choices=_event_type_choices(),
        widget=EventTypesWidget,
        label=_("Events to send"),
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
        choices=[(0, _("Now")), (3600, _("In 1 hour")), (86400, _("In 24 hours"))],
        initial=86400,
        label=_("The old secret stops signing"),
        help_text=_(
            "Until then every delivery carries a signature made with each secret, so receivers "
            "still holding the old one keep accepting them while you deploy the new one."
        ),
    )


def _secret_page(request, model_admin, *, title: str, secret: str, endpoint: WebhookEndpoint, note: str = ""):
    """The signing secret, this once; it is stored encrypted and shown again only as its hint."""
    return secret_once_page(
        request,
        model_admin,
        title=title,
        secrets=[(gettext("Signing secret"), secret)],
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

    # The deliveries are not a field: the page shows them above the form (change_form.html).
    change_fieldsets = [
        (None, {"fields": ["public_id", "status_display", "created", "url", "description"]}),
        (_("Events to send"), {"fields": ["enabled_events"], "classes": ["kassa-events-fieldset"]}),
        (_("Signing secret"), {"fields": ["secret_hint", "previous_secret"]}),
        (_("More"), {"fields": ["metadata", "api_version", "livemode", "updated"], "classes": ["collapse"]}),
    ]
    change_readonly = [
        "public_id",
        "status_display",
        "created",
        "secret_hint",
        "previous_secret",
        "api_version",
        "livemode",
        "updated",
    ]

    class Media:
        css = {"all": ["kassa/webhooks.css"]}
        js = ["kassa/webhooks.js"]

    # --- columns and read-only fields -------------------------------------------
    @admin.display(description=_("Events"))
    def events_summary(self, endpoint):
        events = endpoint.enabled_events or []
        if "*" in events:
            return gettext("All events")
        shown = ", ".join(events[:3])
        if len(events) > 3:
            return gettext("%(shown)s and %(more)d more") % {"shown": shown, "more": len(events) - 3}
        return shown

    @admin.display(description=_("Description"))
    def description_short(self, endpoint):
        return Truncator(endpoint.description or "").chars(60) or "—"

    @admin.display(description=_("Status"))
    def status_display(self, endpoint):
        if endpoint.status == WebhookEndpoint.Status.DISABLED:
            return format_html(
                '<strong id="kassa-endpoint-status">{}</strong>: {}',
                gettext("disabled"),
                endpoint.disabled_reason or "—",
            )
        return format_html('<span id="kassa-endpoint-status">{}</span>', gettext("enabled"))

    @admin.display(description=_("Previous secret"))
    def previous_secret(self, endpoint):
        expires_at = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret_ciphertext or expires_at is None:
            return "—"
        if expires_at > timezone.now():
            return gettext("Still signs too, until %(when)s") % {"when": when(expires_at)}
        return gettext("Stopped signing at %(when)s") % {"when": when(expires_at)}

    def deliveries_panel(self, endpoint) -> str:
        deliveries = _with_attempts(endpoint.deliveries.select_related("event", "endpoint").order_by("-id"))
        return deliveries_panel(
            deliveries[:RECENT_DELIVERIES],
            first_column="event",
            poll_url=reverse("admin:webhooks_webhookendpoint_deliveries", args=[endpoint.pk]),
        )

    # --- forms -------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["url", "description"]}),
                (_("Events to send"), {"fields": ["enabled_events"], "classes": ["kassa-events-fieldset"]}),
            ]
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
            request,
            self,
            title=gettext("Webhook endpoint %(url)s created") % {"url": obj.url},
            secret=request._kassa_secret,
            endpoint=obj,
        )

    def delete_model(self, request, obj):
        endpoints.webhook_endpoint_delete(endpoint=obj)

    def get_deleted_objects(self, objs, request):
        """The endpoint and a count of its delivery records, rather than one line per delivery."""
        endpoints_ = list(objs)
        deliveries = Delivery.objects.filter(endpoint__in=endpoints_).count()
        described = [str(e) for e in endpoints_]
        if deliveries:
            described.append(
                ngettext(
                    "%(count)d delivery record and its attempts (the events themselves stay)",
                    "%(count)d delivery record(s) and their attempts (the events themselves stay)",
                    deliveries,
                )
                % {"count": deliveries}
            )
        return described, {"webhook endpoints": len(endpoints_), "deliveries": deliveries}, set(), []

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["deliveries_panel"] = self.deliveries_panel(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def deliveries_view(self, request, pk):
        """The deliveries panel alone, for the page to refresh itself (GET; anyone who may see the endpoint)."""
        endpoint = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return _fragment(self.deliveries_panel(endpoint))

    # --- buttons: roll secret, disable/enable, send test event -------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/deliveries/",
                self.admin_site.admin_view(self.deliveries_view),
                name="webhooks_webhookendpoint_deliveries",
            ),
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
                    gettext("The old secret keeps signing too until %(when)s.")
                    % {"when": when(endpoint.previous_secret_expires_at)}
                    if expire_old_in
                    else gettext("The old secret stopped signing now.")
                )
                return _secret_page(
                    request,
                    self,
                    title=gettext("Signing secret of %(url)s rolled") % {"url": endpoint.url},
                    secret=secret,
                    endpoint=endpoint,
                    note=note,
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Roll the signing secret of %(url)s") % {"url": endpoint.url},
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
            if disabled:
                return gettext(
                    "Webhook endpoint %(url)s is disabled: Kassa sends it nothing, "
                    "and its pending deliveries were given up."
                ) % {"url": endpoint.url}
            return gettext(
                "Webhook endpoint %(url)s is enabled: new events will be sent to it "
                "(resend missed ones from their event's page)."
            ) % {"url": endpoint.url}

        return self.button_view(request, pk, act)

    def test_view(self, request, pk):
        def act(endpoint):
            event = endpoints.webhook_endpoint_send_test(endpoint=endpoint)
            return gettext(
                "Test event %(event)s queued for %(url)s; "
                "it appears under Recent deliveries, which refresh by themselves."
            ) % {"event": event.public_id, "url": endpoint.url}

        return self.button_view(request, pk, act)


# --- events (outbound) --------------------------------------------------------------


@admin.register(Event)
class EventAdmin(LedgerAdmin):
    # Type and id in one column: the Deliveries column fits beside the filters at 1280 px.
    list_display = ["event_display", "created", "deliveries_summary"]
    list_display_links = ["event_display"]
    list_filter = ["type"]
    search_fields = ["=public_id"]
    date_hierarchy = "created"
    ordering = ["-id"]
    fieldsets = [
        (None, {"fields": ["public_id", "type", "created", "livemode", "api_version", "api_request"]}),
        (_("Deliveries"), {"fields": ["deliveries_table"], "classes": ["kassa-deliveries-fieldset"]}),
        (_("Event as sent"), {"fields": ["payload"]}),
    ]

    class Media:
        css = {"all": ["kassa/webhooks.css"]}
        js = ["kassa/webhooks.js"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_succeeded=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SUCCEEDED)),
                n_pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
                n_failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
                waiting=Exists(EventPending.objects.filter(event=OuterRef("pk"))),
            )
        )

    @admin.display(description=_("Event"), ordering="-id")
    def event_display(self, event):
        return format_html('{}<br><small class="kassa-quiet">{}</small>', event.type, event.public_id)

    @admin.display(description=_("Deliveries"))
    def deliveries_summary(self, event):
        counts = (
            (event.n_succeeded, Delivery.Status.SUCCEEDED, gettext("%(count)d succeeded")),
            (event.n_pending, Delivery.Status.PENDING, gettext("%(count)d pending")),
            (event.n_failed, Delivery.Status.FAILED, gettext("%(count)d failed")),
        )
        parts = [(status, label % {"count": count}) for count, status, label in counts if count]
        if parts:
            return format_html_join(
                " ",
                '<span class="kassa-status kassa-status-{}">{}</span>',
                ((status, label) for status, label in parts),
            )
        if not event.waiting and event.deliveries_planned:  # not queued, nor left unplanned by the release before
            return gettext("none (no endpoint listened)")
        return gettext("not planned yet (waiting for a worker)")

    @admin.display(description=_("Request"))
    def api_request(self, event):
        if not event.request_id:
            return gettext("— (not made by an API request)")
        if event.idempotency_key:
            return gettext("%(request)s, idempotency key %(key)s") % {
                "request": event.request_id,
                "key": event.idempotency_key,
            }
        return event.request_id

    @admin.display(description=_("Deliveries"))
    def deliveries_table(self, event):
        return deliveries_panel(
            _with_attempts(event.deliveries.select_related("event", "endpoint").order_by("id")),
            first_column="endpoint",
            poll_url=reverse("admin:webhooks_event_deliveries", args=[event.pk]),
        )

    def deliveries_view(self, request, pk):
        """The deliveries panel alone, for the page to refresh itself (GET; anyone who may see the event)."""
        event = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return _fragment(self.deliveries_table(event))

    @admin.display(description=_("JSON"))
    def payload(self, event):
        return _pretty_json(event_payload(event))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._can_write(request):
            deliveries = {d.endpoint_id: d for d in obj.deliveries.all()}
            context["resend_endpoints"] = [
                {
                    "endpoint": endpoint,
                    "delivery": deliveries.get(endpoint.pk),
                    "status": DELIVERY_STATUS.get(getattr(deliveries.get(endpoint.pk), "status", None), ""),
                    "listens": endpoint.listens_for(obj.type),
                }
                for endpoint in selectors.endpoint_list(merchant=obj.merchant, livemode=obj.livemode)
                .filter(status=WebhookEndpoint.Status.ENABLED)
                .order_by("-id")
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path("<int:pk>/resend/", self.admin_site.admin_view(self.resend_view), name="webhooks_event_resend"),
            path(
                "<int:pk>/deliveries/",
                self.admin_site.admin_view(self.deliveries_view),
                name="webhooks_event_deliveries",
            ),
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
            return gettext("Event %(event)s is being sent to %(url)s again.") % {
                "event": event.public_id,
                "url": endpoint.url,
            }

        return self.button_view(request, pk, act)


# --- Stripe's events (inbound) ---------------------------------------------------------


@admin.register(ProcessorEvent)
class ProcessorEventAdmin(LedgerAdmin):
    list_display = ["stripe_event_id", "type", "status", "attempts", "received_at", "error_short"]
    list_filter = ["status", "type"]
    search_fields = ["=stripe_event_id", "=object_id"]
    date_hierarchy = "received_at"
    actions = ["rerun_selected"]

    class Media:
        css = {"all": ["kassa/webhooks.css"]}

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
        (_("Outcome"), {"fields": ["result", "error", "traceback_display"]}),
        (_("As Stripe sent it"), {"fields": ["body_display"]}),
    ]

    @admin.display(description=_("Error"))
    def error_short(self, event):
        first_line = (event.error or "").strip().splitlines()[:1]
        return Truncator(first_line[0]).chars(80) if first_line else "—"

    @admin.display(description=_("Traceback"))
    def traceback_display(self, event):
        return format_html('<pre class="kassa-json">{}</pre>', event.traceback) if event.traceback else "—"

    @admin.display(description=_("Body"))
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
            self.message_user(
                request,
                gettext("Stripe event %(event)s: %(error)s") % {"event": event.stripe_event_id, "error": exc.message},
                messages.ERROR,
            )
            return False
        return True

    @admin.action(description=_("Re-run selected Stripe events"), permissions=["rerun"])
    def rerun_selected(self, request, queryset):
        done = sum(self._rerun(request, event) for event in queryset)
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d Stripe event queued to be applied again.",
                    "%(count)d Stripe event(s) queued to be applied again.",
                    done,
                )
                % {"count": done},
            )

    def get_urls(self):
        return [
            path("<int:pk>/rerun/", self.admin_site.admin_view(self.rerun_view), name="webhooks_processorevent_rerun"),
            *super().get_urls(),
        ]

    def rerun_view(self, request, pk):
        def act(event):
            if self._rerun(request, event):
                return gettext("Stripe event %(event)s is queued to be applied again.") % {
                    "event": event.stripe_event_id
                }
            return None

        return self.button_view(request, pk, act)
