"""Helpers that let drf-spectacular describe Stripe-shaped endpoints."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

FORM_AND_JSON = ("application/x-www-form-urlencoded", "application/json")


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


def create(params, out, **kwargs):
    return extend_schema(request=dict.fromkeys(FORM_AND_JSON, params), responses={200: out}, **kwargs)


def read(out, **kwargs):
    return extend_schema(parameters=[EXPAND], responses={200: out}, **kwargs)


def listing(params, out, name, **kwargs):
    return extend_schema(parameters=[params, EXPAND], responses={200: list_of(out, name)}, **kwargs)
