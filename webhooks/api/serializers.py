"""Parameters and shapes of ``/v1/webhook_endpoints`` and ``/v1/events``, as Stripe names them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kassa.api import fields as f
from kassa.api.views import CreatedListParams

from ..services.delivery import event_payload


class EndpointCreateParams(f.StrictSerializer):
    url = f.String(max_length=2048)
    enabled_events = f.List(child=f.String(max_length=100), max_length=100)
    description = f.OptionalString(max_length=5000)
    metadata = f.Metadata()
    api_version = f.OptionalString(max_length=40)
    # Stripe's Connect flag: there are no connected accounts here.
    connect = f.Boolean(required=False, default=False)


class EndpointUpdateParams(f.StrictSerializer):
    url = f.String(required=False, max_length=2048)
    enabled_events = f.List(child=f.String(max_length=100), required=False, max_length=100)
    description = f.OptionalString(max_length=5000)
    metadata = f.Metadata()
    disabled = f.Boolean(required=False)


class EndpointOut(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = f.Constant("webhook_endpoint")
    api_version = serializers.CharField(allow_null=True)
    application = serializers.SerializerMethodField()
    created = f.UnixTime()
    description = serializers.CharField(allow_null=True)
    enabled_events = serializers.ListField(child=serializers.CharField())
    livemode = serializers.BooleanField()
    metadata = serializers.DictField(child=serializers.CharField())
    status = serializers.CharField()
    url = serializers.CharField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_application(self, _) -> None:
        return None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        secret = self.context.get("secret")
        if secret:
            data["secret"] = secret  # at creation only, as at Stripe
        return data


class EventListParams(CreatedListParams):
    type = f.String(required=False, max_length=100)
    types = f.List(child=f.String(max_length=100), required=False, max_length=20)
    delivery_success = f.Boolean(required=False, allow_null=True, default=None)


class EventRetryParams(f.StrictSerializer):
    webhook_endpoint = f.String(max_length=64)


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["event"]},
            "api_version": {"type": "string"},
            "created": {"type": "integer"},
            "data": {
                "type": "object",
                "properties": {"object": {"type": "object"}, "previous_attributes": {"type": "object"}},
            },
            "livemode": {"type": "boolean"},
            "pending_webhooks": {"type": "integer"},
            "request": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "nullable": True},
                    "idempotency_key": {"type": "string", "nullable": True},
                },
            },
            "type": {"type": "string"},
        },
    }
)
class EventOut(serializers.Serializer):
    def to_representation(self, instance):
        return event_payload(instance, pending_webhooks=getattr(instance, "pending", None))
