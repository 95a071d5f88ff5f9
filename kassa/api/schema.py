"""Helpers that let drf-spectacular describe Stripe-shaped endpoints.

Request bodies are documented as JSON only: the API also takes Stripe's
form encoding with bracket notation (what Stripe's SDKs send), but OpenAPI's
form encoding cannot describe brackets, and generated clients that follow
it send nested values wrongly. Every operation documents Stripe's error
shape for the statuses the API answers with.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

BODY_NOTE = "Also accepted as application/x-www-form-urlencoded with Stripe's bracket notation (metadata[key]=value)."

ERROR = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "type": serializers.ChoiceField(
                    choices=[
                        "invalid_request_error",
                        "authentication_error",
                        "permission_error",
                        "card_error",
                        "idempotency_error",
                        "rate_limit_error",
                        "api_error",
                    ]
                ),
                "message": serializers.CharField(),
                "code": serializers.CharField(required=False),
                "param": serializers.CharField(required=False),
                "decline_code": serializers.CharField(required=False),
            },
        )
    },
)
ERRORS = {
    status: OpenApiResponse(ERROR, description=description)
    for status, description in {
        400: "Invalid request",
        401: "No valid API key",
        402: "The card was refused",
        403: "The key may not do this",
        404: "No such object (or another merchant's)",
        409: "A request with this Idempotency-Key is still running",
        429: "Too many requests",
        500: "Something went wrong on Kassa's or the processor's side",
    }.items()
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Same key and parameters within 24 h replay the first response.",
)


def list_of(item_serializer, name: str):
    return inline_serializer(
        name=f"{name}List",
        fields={
            "object": serializers.CharField(default="list"),
            "data": item_serializer(many=True),
            "has_more": serializers.BooleanField(),
            "url": serializers.CharField(),
        },
    )


EXPAND = OpenApiParameter("expand[]", str, many=True, description="References to expand, e.g. `product`.")


def _operation(schema_decorator, operation_id: str | None):
    """The schema, and the operation's id on the method: StripeView.params names Stripe's parameters by it."""

    def decorate(method):
        method = schema_decorator(method)
        method.operation_id = operation_id
        return method

    return decorate


def create(params, out, **kwargs):
    kwargs.setdefault("description", BODY_NOTE)
    return _operation(
        extend_schema(
            request={"application/json": params},
            parameters=[IDEMPOTENCY_KEY],
            responses={200: out, **ERRORS},
            **kwargs,
        ),
        kwargs.get("operation_id"),
    )


def read(out, **kwargs):
    return _operation(
        extend_schema(parameters=[EXPAND], responses={200: out, **ERRORS}, **kwargs), kwargs.get("operation_id")
    )


def listing(params, out, name, **kwargs):
    return _operation(
        extend_schema(parameters=[params, EXPAND], responses={200: list_of(out, name), **ERRORS}, **kwargs),
        kwargs.get("operation_id"),
    )
