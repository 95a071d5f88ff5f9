"""``/v1/webhook_endpoints`` and ``/v1/events``: thin, Stripe's paths and verbs.

``POST /v1/events/<id>/retry`` with ``webhook_endpoint`` resends one event to
one endpoint; it is the call the Stripe CLI's ``events resend`` makes (no
typed method in stripe-python: ``client.raw_request("post", ...)``).
"""

from kassa.api import schema
from kassa.api.fields import DeletedOut, StrictSerializer
from kassa.api.views import ListParams, paginate
from merchants.api.views import StripeView

from .. import selectors
from ..models import Event, WebhookEndpoint
from ..services import endpoints as services
from . import docs
from . import serializers as s


class WebhookEndpointsView(StripeView):
    resource = "webhook_endpoints"

    @schema.listing(
        ListParams,
        s.EndpointOut,
        "WebhookEndpoint",
        doc=docs.WEBHOOK_ENDPOINTS_LIST,
        operation_id="webhook_endpoints_list",
        url="/v1/webhook_endpoints",
        expand=False,
    )
    def get(self, request):
        params, _ = self.params(ListParams)
        queryset = selectors.endpoint_list(merchant=self.merchant, livemode=self.livemode)
        return paginate(self, queryset, params, s.EndpointOut, "/v1/webhook_endpoints")

    @schema.create(
        s.EndpointCreateParams,
        s.EndpointCreatedOut,
        doc=docs.WEBHOOK_ENDPOINTS_CREATE,
        operation_id="webhook_endpoints_create",
        expand=False,
    )
    def post(self, request):
        params, _ = self.params(s.EndpointCreateParams)
        params.pop("connect", None)
        endpoint, secret = services.webhook_endpoint_create(merchant=self.merchant, livemode=self.livemode, **params)
        return self.render(s.EndpointCreatedOut, endpoint, secret=secret)


class WebhookEndpointView(StripeView):
    resource = "webhook_endpoints"

    def get_endpoint(self, id: str) -> WebhookEndpoint:
        return self.lookup(WebhookEndpoint, id)

    @schema.read(
        s.EndpointOut, doc=docs.WEBHOOK_ENDPOINTS_RETRIEVE, operation_id="webhook_endpoints_retrieve", expand=False
    )
    def get(self, request, id):
        self.params(StrictSerializer)
        return self.render(s.EndpointOut, self.get_endpoint(id))

    @schema.create(
        s.EndpointUpdateParams,
        s.EndpointOut,
        doc=docs.WEBHOOK_ENDPOINTS_UPDATE,
        operation_id="webhook_endpoints_update",
        expand=False,
    )
    def post(self, request, id):
        endpoint = self.get_endpoint(id)
        params, _ = self.params(s.EndpointUpdateParams)
        return self.render(s.EndpointOut, services.webhook_endpoint_update(endpoint=endpoint, **params))

    @schema.read(DeletedOut, doc=docs.WEBHOOK_ENDPOINTS_DELETE, operation_id="webhook_endpoints_delete", expand=False)
    def delete(self, request, id):
        deleted_id = services.webhook_endpoint_delete(endpoint=self.get_endpoint(id))
        return self.render(DeletedOut, {"id": deleted_id, "object": "webhook_endpoint", "deleted": True})


class EventsView(StripeView):
    resource = "events"

    @schema.listing(
        s.EventListParams,
        s.EventDoc,
        "Event",
        doc=docs.EVENTS_LIST,
        operation_id="events_list",
        url="/v1/events",
        expand=False,
    )
    def get(self, request):
        params, _ = self.params(s.EventListParams)
        queryset = selectors.event_list(
            merchant=self.merchant,
            livemode=self.livemode,
            type=params.get("type"),
            types=params.get("types"),
            delivery_success=params.get("delivery_success"),
        )
        return paginate(self, queryset, params, s.EventOut, "/v1/events")


class EventView(StripeView):
    resource = "events"

    @schema.read(s.EventDoc, doc=docs.EVENTS_RETRIEVE, operation_id="events_retrieve", expand=False)
    def get(self, request, id):
        self.params(StrictSerializer)
        event = self.lookup(Event, id)
        return self.render(s.EventOut, event)


class EventRetryView(StripeView):
    # Resending changes nothing but the endpoint's inbox: write access to endpoints, and read
    # access to events, whose content it sends and answers with.
    resource = "webhook_endpoints"
    also_reads = ("events",)

    @schema.create(s.EventRetryParams, s.EventDoc, doc=docs.EVENTS_RETRY, operation_id="events_retry", expand=False)
    def post(self, request, id):
        # The event first, as every view looks up its object: a foreign id is a 404 whatever the body.
        event = self.lookup(Event, id)
        params, _ = self.params(s.EventRetryParams)
        endpoint = self.lookup(WebhookEndpoint, params["webhook_endpoint"], param="webhook_endpoint")
        services.event_resend(event=event, endpoint=endpoint)
        return self.render(s.EventOut, event)
