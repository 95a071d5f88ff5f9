"""The base of every /v1/ view: key auth, scoping, strict parameters, idempotency, lists.

Views stay thin (STYLE.md): parse parameters with a strict serializer, call
one service or selector, render with an output serializer.
"""

import datetime
import threading

from django.http import HttpResponse, QueryDict
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from kassa.errors import InvalidRequest, ResourceMissing
from merchants import idempotency
from merchants.models import APIKey

from .fields import Integer, StrictSerializer, String, Timestamp
from .params import as_list, unflatten

_prototypes = threading.local()


def represent(serializer_class, instance, context: dict) -> dict:
    """``serializer_class(instance, context=context).data``, without rebuilding the fields each time.

    DRF deep-copies every declared field whenever a serializer is made, which
    costs more than rendering a customer (measured with bench/api_create.py).
    Output serializers keep no state between calls but their context, so each
    thread keeps one instance per class and hands it the current context.
    """
    by_class = _prototypes.__dict__.setdefault("by_class", {})
    serializer = by_class.get(serializer_class)
    if serializer is None:
        serializer = by_class[serializer_class] = serializer_class(context={})
    serializer._context = context
    return serializer.to_representation(instance)


class _Replayed(Exception):
    def __init__(self, response):
        self.response = response


class StripeView(APIView):
    """Authorization (the key, its permissions, every ``expand[]``) all runs in ``initial``,
    before the idempotency lookup: a replay never shows a key more than it may see."""

    #: the restricted-key permission this view needs (``customers``, ``products`` …)
    resource = ""
    #: methods a publishable key may call, each with the exact parameters it may send
    publishable_methods: dict[str, frozenset[str]] = {}
    #: references ``expand[]`` may name (``data.``-prefixed on lists), each with the
    #: resource an expansion reveals: a restricted key needs read permission on it
    expandable: dict[str, str] = {}

    # --- request context -------------------------------------------------
    @property
    def api_key(self) -> APIKey:
        return self.request.auth

    @property
    def merchant(self):
        return self.request.auth.merchant

    @property
    def livemode(self) -> bool:
        return self.request.auth.livemode

    def raw_params(self) -> dict:
        """Body parameters for POST, query parameters otherwise, as nested dicts."""
        if self.request.method in ("GET", "HEAD", "DELETE"):
            return unflatten((key, value) for key, values in self.request.query_params.lists() for value in values)
        data = self.request.data
        return dict(data.items()) if isinstance(data, QueryDict) else dict(data)

    def expansions(self) -> set[str]:
        """The request's ``expand[]`` values, as sent (``data.customer`` on a list)."""
        if not hasattr(self, "_expansions"):
            self._expansions = parse_expand(self.raw_params().get("expand"))
        return self._expansions

    def expanded_resources(self) -> set[str]:
        """The resources the requested expansions would reveal (unknown ones are refused later, as 400s)."""
        return {
            self.expandable[name]
            for name in (e.removeprefix("data.") for e in self.expansions())
            if name in self.expandable
        }

    def params(self, serializer_class: type[StrictSerializer]) -> tuple[dict, set[str]]:
        """Validated parameters and the ``expand[]`` set."""
        raw = self.raw_params()
        raw.pop("expand", None)
        expand = self.expansions()
        is_list = issubclass(serializer_class, ListParams)
        allowed = {f"data.{e}" if is_list else e for e in self.expandable}
        unknown = sorted(expand - allowed)
        if unknown:
            raise InvalidRequest(f"This property cannot be expanded ({unknown[0]}).", param="expand")
        serializer = serializer_class(data=raw)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data, expand

    def render(self, serializer_class, instance, expand=frozenset(), status=200, **context) -> Response:
        context = {"expand": set(expand), "view": self, **context}
        return Response(represent(serializer_class, instance, context), status=status)

    # --- idempotency -----------------------------------------------------
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key:
            fingerprint = idempotency.fingerprint(request.method, request.path, self.raw_params())
            try:
                self._idempotency_record = idempotency.idempotency_begin(
                    api_key=request.auth, key=key, request_fingerprint=fingerprint
                )
            except idempotency.Replay as replay:
                # The stored bytes are the first response's body, as it was sent.
                response = HttpResponse(
                    replay.record.response_body, status=replay.record.status_code, content_type="application/json"
                )
                response["Idempotent-Replayed"] = "true"
                if replay.record.status_code >= 500:
                    response["Stripe-Should-Retry"] = "false"
                response["Idempotency-Key"] = key
                raise _Replayed(response) from None

    def handle_exception(self, exc):
        if isinstance(exc, _Replayed):
            return exc.response
        response = super().handle_exception(exc)
        if response.status_code == 409:
            response["Stripe-Should-Retry"] = "true"
        elif response.status_code >= 500 and self.request.headers.get("Idempotency-Key"):
            # Stored for replay: a retry with the same key would get this same answer.
            response["Stripe-Should-Retry"] = "false"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            self._idempotency_record = None
            # Render once: the bytes stored for replay are the bytes sent now.
            response.render()
            idempotency.idempotency_finish(record=record, status_code=response.status_code, body=response.content)
            response["Idempotency-Key"] = record.key
        return response


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
    created = CreatedOrTimestamp(required=False)


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


def paginate(view: StripeView, queryset, params: dict, serializer_class, url: str, expand=frozenset()) -> Response:
    """Newest first, by the database id as the stable tie-break; cursors are public ids."""
    limit = params.get("limit", 10)
    queryset = apply_created(queryset, params.get("created"))
    cursor_id = params.get("starting_after") or params.get("ending_before")
    if cursor_id:
        cursor = (
            queryset.model.objects.filter(merchant=view.merchant, livemode=view.livemode, public_id=cursor_id)
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
