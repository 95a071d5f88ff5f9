"""The Stripe wire format's shared pieces for /v1/ views: rendering, ``expand[]``, lists, the one object lookup.

The keyed base view that every /v1/ view extends (authentication,
permissions, idempotency) is ``merchants.api.views.StripeView``: it needs
merchants' keys, and kassa/ imports no app.
"""

import datetime
import threading

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from kassa.errors import InvalidRequest, ResourceMissing

from .fields import Integer, StrictSerializer, String, Timestamp
from .params import as_list

_prototypes = threading.local()


def represent(serializer_class, instance, context: dict) -> dict:
    """``serializer_class(instance, context=context).data``, without rebuilding the fields each time.

    DRF deep-copies every declared field whenever a serializer is made, which
    costs more than rendering a customer (measured with bench/api_create.py).
    Output serializers keep no state between calls but their context, so each
    thread keeps one instance per class and hands it the current context.
    """
    serializer = _kept("rendering", serializer_class)
    serializer._context = context
    return serializer.to_representation(instance)


def _kept(use: str, serializer_class):
    """This thread's one instance of ``serializer_class`` for ``use`` (rendering or validating), made on first use."""
    by_class = _prototypes.__dict__.setdefault(use, {})
    serializer = by_class.get(serializer_class)
    if serializer is None:
        serializer = by_class[serializer_class] = serializer_class(context={})
    return serializer


def validated(serializer_class: type[StrictSerializer], data: dict, context: dict) -> dict:
    """``serializer_class(data=data, context=context)`` validated as ``is_valid(raise_exception=True)`` does (its
    ValidationError raised), its ``validated_data`` answered, without rebuilding the fields each time.

    As for output (``represent``): DRF deep-copies every declared field of a serializer as it is made, about a
    tenth of an API write's CPU (``POST /v1/customers``: 37 deep copies a request, measured in-process). Validating
    leaves nothing on the serializer but what ``is_valid`` sets anew each time (the data, the errors, the validated
    data; DRF's fields and Kassa's keep no state of their own while validating), so each thread keeps one instance
    per class, hands it the data and context, and forgets them as the call ends (a request's parameters are not
    kept by the thread until its next request). Not reentrant for one class on one thread: nothing validating
    parameters validates parameters of its own class."""
    serializer = _kept("validating", serializer_class)
    serializer.initial_data = data
    serializer._context = context
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    finally:
        for left in ("initial_data", "_validated_data", "_errors", "_data"):
            serializer.__dict__.pop(left, None)
        serializer._context = {}


def reference(serializer: serializers.Serializer, obj, name: str, out_class):
    """A reference: the object's id, or the object itself when ``expand[]`` names it."""
    if obj is None:
        return None
    if name in serializer.context.get("expand", ()):
        return represent(out_class, obj, {"expand": set(), "view": serializer.context.get("view")})
    return obj.public_id


def reference_field(what: str):
    return extend_schema_field(
        serializers.CharField(allow_null=True, help_text=f"The {what}'s id, or the {what} when expanded.")
    )


def parse_expand(value) -> set[str]:
    if value in (None, ""):
        return set()
    items = as_list(value)
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidRequest("Invalid expand: it must be an array of strings.", param="expand")
    return set(items)


# --- lists ------------------------------------------------------------------


class CreatedFilter(StrictSerializer):
    gt = Timestamp(required=False)
    gte = Timestamp(required=False)
    lt = Timestamp(required=False)
    lte = Timestamp(required=False)


class ListParams(StrictSerializer):
    """Cursor paging as at Stripe: ``limit`` 1 to 100 (default 10), ``starting_after``, ``ending_before``."""

    limit = Integer(required=False, min_value=1, max_value=100, default=10)
    starting_after = String(required=False, max_length=255)
    ending_before = String(required=False, max_length=255)

    def validate(self, attrs):
        if attrs.get("starting_after") and attrs.get("ending_before"):
            raise ValidationError(
                {"ending_before": ["starting_after and ending_before cannot be used together"]},
                code="parameters_exclusive",
            )
        return attrs


class CreatedOrTimestamp(Timestamp):
    """Stripe's ``created`` filter: ``created=ts`` or ``created[gte]=ts`` …"""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            serializer = CreatedFilter(data=data)
            serializer.is_valid(raise_exception=True)
            return dict(serializer.validated_data)
        value = super().to_internal_value(data)
        super().run_validators(value)  # the bounds, on the number itself
        return {"eq": value}

    def run_validators(self, value):
        """Checked in to_internal_value (a dict here has been validated field by field)."""


class CreatedListParams(ListParams):
    created = CreatedOrTimestamp(
        required=False,
        help_text="Only objects created at this time (Unix seconds), or in a range: `created[gte]`, `created[gt]`, "
        "`created[lte]`, `created[lt]`.",
    )


def apply_created(queryset, created: dict | None):
    if not created:
        return queryset
    lookups = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}
    for op, value in created.items():
        moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
        if op == "eq":
            queryset = queryset.filter(created__gte=moment, created__lt=moment + datetime.timedelta(seconds=1))
        else:
            queryset = queryset.filter(**{f"created{lookups[op]}": moment})
    return queryset


def paginate(view, queryset, params: dict, serializer_class, url: str, expand=frozenset()) -> Response:
    """Newest first, by the database id as the stable tie-break; cursors are public ids."""
    limit = params.get("limit", 10)
    queryset = apply_created(queryset, params.get("created"))
    cursor_id = params.get("starting_after") or params.get("ending_before")
    if cursor_id:
        cursor = (
            scoped(queryset.model, merchant=view.merchant, livemode=view.livemode)
            .filter(public_id=cursor_id)
            .values_list("pk", flat=True)
            .first()
        )
        if cursor is None:
            param = "starting_after" if params.get("starting_after") else "ending_before"
            raise ResourceMissing(f"No such object: '{cursor_id}'", param=param)
    if params.get("ending_before"):
        page = list(queryset.filter(pk__gt=cursor).order_by("pk")[: limit + 1])
        has_more = len(page) > limit
        page = list(reversed(page[:limit]))
    else:
        if params.get("starting_after"):
            queryset = queryset.filter(pk__lt=cursor)
        page = list(queryset.order_by("-pk")[: limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
    item_expand = {e.removeprefix("data.") for e in expand if e.startswith("data.")}
    context = {"expand": item_expand, "view": view}
    data = [represent(serializer_class, item, context) for item in page]
    return Response({"object": "list", "data": data, "has_more": has_more, "url": url})


# --- the one object lookup ------------------------------------------------------

# Another merchant's object is exactly as missing as one that never existed.
# Within one merchant, an id of the other mode gets Stripe's hint that a
# similar object exists in the other mode.


def scoped(model: type[Model], *, merchant, livemode: bool) -> QuerySet:
    """The merchant's objects in this mode. A model without merchant and mode of its own names the relation
    that has them (``SCOPED_THROUGH = "invoice"``: an invoice payment is its invoice's)."""
    through = getattr(model, "SCOPED_THROUGH", None)
    prefix = f"{through}__" if through else ""
    return model.objects.filter(**{f"{prefix}merchant": merchant, f"{prefix}livemode": livemode})


def object_get(model: type[Model], *, merchant, livemode: bool, public_id: str, param: str | None = None):
    """The merchant's object in this mode, or ResourceMissing (404; 400 naming ``param`` for a body reference)."""
    obj = scoped(model, merchant=merchant, livemode=livemode).filter(public_id=public_id).first()
    if obj is not None:
        return obj
    name = model._meta.verbose_name
    message = f"No such {name}: '{public_id}'"
    if scoped(model, merchant=merchant, livemode=not livemode).filter(public_id=public_id).exists():
        other, this = ("live", "test") if not livemode else ("test", "live")
        message += f"; a similar object exists in {other} mode, but a {this} mode key was used to make this request."
    if param:
        raise InvalidRequest(message, code="resource_missing", param=param)
    raise ResourceMissing(message)
