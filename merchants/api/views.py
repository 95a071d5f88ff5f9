"""The base of every /v1/ view: key auth, permissions, strict parameters, idempotency, the one lookup.

Views stay thin (STYLE.md): parse parameters with a strict serializer, call
one service or selector, render with an output serializer. The wire format's
shared pieces (lists, ``expand[]``, rendering) are in kassa/api/views.py.
"""

from django.http import HttpResponse, QueryDict
from rest_framework.response import Response
from rest_framework.views import APIView

from kassa.api.fields import StrictSerializer
from kassa.api.params import unflatten
from kassa.api.stripe_params import stripe_param_names
from kassa.api.views import ListParams, object_get, parse_expand, represent, validated
from kassa.api.views import scoped as scoped_queryset
from kassa.errors import InvalidRequest

from .. import idempotency
from ..models import APIKey


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
    #: False for a POST that writes nothing (a preview): there is no work a retry could repeat, so no key is kept
    records_idempotency = True

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
        # The operation's id is on its method (kassa/api/schema.py): the parameters Stripe has for it
        # are refused as "not supported yet" rather than as unknown.
        method = getattr(self, self.request.method.lower(), None)
        stripe_names = stripe_param_names(getattr(method, "operation_id", None))
        return validated(serializer_class, raw, {"stripe_params": stripe_names}), expand

    def render(self, serializer_class, instance, expand=frozenset(), status=200, **context) -> Response:
        context = {"expand": set(expand), "view": self, **context}
        return Response(represent(serializer_class, instance, context), status=status)

    # --- idempotency -----------------------------------------------------
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key and self.records_idempotency:
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

    # --- the request's merchant's objects, in the key's mode only ----------

    def scoped(self, model):
        return scoped_queryset(model, merchant=self.merchant, livemode=self.livemode)

    def lookup(self, model, public_id: str, *, param: str | None = None, queryset=None):
        """The object, or 404 (400 ``resource_missing`` naming ``param`` when it is a reference in the body).

        ``queryset`` (already scoped) lets the caller add ``select_related`` to the one query.
        """
        if queryset is not None:
            found = queryset.filter(public_id=public_id).first()
            if found is not None:
                return found
        # Missing: raises, with Stripe's hint when the id exists in the other mode.
        return object_get(model, merchant=self.merchant, livemode=self.livemode, public_id=public_id, param=param)
