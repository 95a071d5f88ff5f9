"""Parameters and shapes of ``/v1/webhook_endpoints`` and ``/v1/events``, as Stripe names them."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.views import CreatedListParams

from ..services.delivery import event_payload

URL_HELP = "Your server's URL that receives the events (https in live mode; no private addresses)."
DESCRIPTION_HELP = "What the endpoint is for, for you."
STATUS_HELP = "`enabled` (events are sent) or `disabled` (paused)."


class EndpointCreateParams(f.StrictSerializer):
    url = f.String(max_length=2048, help_text=URL_HELP)
    enabled_events = f.List(child=f.String(max_length=100), max_length=100)
    description = f.OptionalString(max_length=5000, help_text=DESCRIPTION_HELP)
    metadata = f.Metadata()
    api_version = f.OptionalString(max_length=40)
    # Stripe's Connect flag: there are no connected accounts here.
    connect = f.Boolean(required=False, default=False)


class EndpointUpdateParams(f.StrictSerializer):
    url = f.String(required=False, max_length=2048, help_text=URL_HELP)
    enabled_events = f.List(child=f.String(max_length=100), required=False, max_length=100)
    description = f.OptionalString(max_length=5000, help_text=DESCRIPTION_HELP)
    metadata = f.Metadata()
    disabled = f.Boolean(required=False)


class EndpointOut(f.Out):
    id = serializers.CharField(source="public_id")
    object = f.Constant("webhook_endpoint")
    api_version = serializers.CharField(allow_null=True)
    application = serializers.SerializerMethodField()
    created = f.UnixTime()
    description = serializers.CharField(allow_null=True, help_text=DESCRIPTION_HELP)
    enabled_events = serializers.ListField(child=serializers.CharField())
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    status = serializers.CharField(help_text=STATUS_HELP)
    url = serializers.CharField(help_text=URL_HELP)

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Always null in Kassa (no Connect)."))
    def get_application(self, _) -> None:
        return None


class EndpointCreatedOut(EndpointOut):
    """The answer to a create: the endpoint and its signing secret, answered this once, as at Stripe."""

    secret = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.CharField(
            help_text="The signing secret (`whsec_…`) that verifies each delivery's signature. "
            "Only this answer shows it: keep it."
        )
    )
    def get_secret(self, _) -> str:
        return self.context["secret"]


class EventListParams(CreatedListParams):
    type = f.String(
        required=False,
        max_length=100,
        help_text="Only events of this type (`payment_intent.succeeded`), or of a family (`payment_intent.*`).",
    )
    types = f.List(child=f.String(max_length=100), required=False, max_length=20)
    delivery_success = f.Boolean(required=False, allow_null=True, default=None)


class EventRetryParams(f.StrictSerializer):
    webhook_endpoint = f.String(max_length=64)


@extend_schema_serializer(component_name="EventRequest")
class EventRequestDoc(serializers.Serializer):
    id = serializers.CharField(allow_null=True, allow_blank=True, help_text="The API request's id (`req_…`).")
    idempotency_key = serializers.CharField(allow_null=True, allow_blank=True)


@extend_schema_serializer(component_name="EventData")
class EventDataDoc(serializers.Serializer):
    object = serializers.DictField(
        help_text="The object the event is about, as it was then (a PaymentIntent for `payment_intent.*`, …)."
    )
    previous_attributes = serializers.DictField(required=False)


@extend_schema_serializer(component_name="Event")
class EventDoc(serializers.Serializer):
    """The schema of what EventOut renders (event_payload builds the dict, so EventOut declares no fields)."""

    id = serializers.CharField()
    object = f.Constant("event")
    api_version = serializers.CharField(allow_null=True, help_text="The API version the event is rendered in.")
    created = f.UnixTime()
    data = EventDataDoc()
    livemode = serializers.BooleanField()
    pending_webhooks = serializers.IntegerField()
    request = EventRequestDoc()
    type = serializers.CharField(help_text="What happened, e.g. `payment_intent.succeeded`.")


class EventOut(f.Out):
    def to_representation(self, instance):
        return event_payload(instance, pending_webhooks=getattr(instance, "pending", None))
