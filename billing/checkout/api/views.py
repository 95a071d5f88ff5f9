"""Payment links and checkout sessions: thin, Stripe's paths and verbs.

Creating a checkout session is the one call a publishable key can make, and
only as ``payment_link=plink_…`` alone: a browser on the client app's own
origin starts a checkout for a link the merchant published, and nothing
more. That endpoint, and only that one, answers CORS (no cookies are
involved: the key travels in the Authorization header).
"""

from datetime import UTC, datetime

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.response import Response

from kassa.api import schema
from kassa.api.views import ListParams, paginate, represent
from kassa.errors import ResourceMissing
from merchants.models import APIKey

from ...catalogue.api.views import CatalogueView
from ...catalogue.models import Price
from ...invoices.models import TaxRate
from .. import selectors
from .. import services as checkout
from ..models import CheckoutSession, PaymentLink
from . import docs
from . import serializers as s

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Request-Id, Idempotency-Key, Idempotent-Replayed",
}
CORS_PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Stripe-Version",
    "Access-Control-Max-Age": "86400",
}


def paginate_line_items(view, items: list, params: dict, serializer_class, url: str, expand) -> Response:
    """Stripe's paging over a basket's line items, in the basket's order (a basket has at most 20)."""
    limit = params.get("limit", 10)
    ids = [item.public_id for item in items]
    cursor = params.get("starting_after") or params.get("ending_before")
    if cursor and cursor not in ids:
        param = "starting_after" if params.get("starting_after") else "ending_before"
        raise ResourceMissing(f"No such line item: '{cursor}'", param=param)
    if params.get("ending_before"):
        end = ids.index(cursor)
        start = max(0, end - limit)
        page, has_more = items[start:end], start > 0
    else:
        start = ids.index(cursor) + 1 if cursor else 0
        page, has_more = items[start : start + limit], start + limit < len(items)
    context = {"expand": {e.removeprefix("data.") for e in expand}, "view": view}
    data = [represent(serializer_class, item, context) for item in page]
    return Response({"object": "list", "data": data, "has_more": has_more, "url": url})


class LineItemsMixin:
    def resolve_prices(self, line_items: list[dict]) -> list[dict]:
        """``price`` ids to the merchant's Price objects; a missing one is a 400 naming its parameter."""
        resolved = [dict(item) for item in line_items]
        for index, item in enumerate(resolved):
            if "price" in item:
                item["price"] = self.lookup(Price, item["price"], param=f"line_items[{index}][price]")
        return resolved


# --- payment links ------------------------------------------------------------------


class PaymentLinksView(LineItemsMixin, CatalogueView):
    resource = "payment_links"

    @schema.listing(
        s.PaymentLinkListParams,
        s.PaymentLinkOut,
        "PaymentLink",
        doc=docs.PAYMENT_LINKS_LIST,
        operation_id="payment_links_list",
        url="/v1/payment_links",
        expand=False,
    )
    def get(self, request):
        params, expand = self.params(s.PaymentLinkListParams)
        queryset = selectors.payment_link_list(
            merchant=self.merchant, livemode=self.livemode, active=params.get("active")
        )
        return paginate(self, queryset, params, s.PaymentLinkOut, "/v1/payment_links", expand)

    @schema.create(
        s.PaymentLinkCreateParams,
        s.PaymentLinkOut,
        doc=docs.PAYMENT_LINKS_CREATE,
        operation_id="payment_links_create",
        expand=False,
    )
    def post(self, request):
        params, expand = self.params(s.PaymentLinkCreateParams)
        params["line_items"] = self.resolve_prices(params["line_items"])
        link = checkout.payment_link_create(merchant=self.merchant, livemode=self.livemode, **params)
        return self.render(s.PaymentLinkOut, link, expand)


class PaymentLinkView(CatalogueView):
    resource = "payment_links"

    @schema.read(s.PaymentLinkOut, doc=docs.PAYMENT_LINKS_RETRIEVE, operation_id="payment_links_retrieve", expand=False)
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.PaymentLinkOut, self.lookup(PaymentLink, id), expand)

    @schema.create(
        s.PaymentLinkUpdateParams,
        s.PaymentLinkOut,
        doc=docs.PAYMENT_LINKS_UPDATE,
        operation_id="payment_links_update",
        expand=False,
    )
    def post(self, request, id):
        link = self.lookup(PaymentLink, id)
        params, expand = self.params(s.PaymentLinkUpdateParams)
        return self.render(s.PaymentLinkOut, checkout.payment_link_update(payment_link=link, **params), expand)


class PaymentLinkLineItemsView(CatalogueView):
    resource = "payment_links"
    expandable = {"price.product": "products"}

    @schema.listing(
        ListParams,
        s.PaymentLinkLineItemOut,
        "PaymentLinkLineItem",
        doc=docs.PAYMENT_LINKS_LINE_ITEMS,
        operation_id="payment_links_line_items",
        url="/v1/payment_links/{id}/line_items",
    )
    def get(self, request, id):
        params, expand = self.params(ListParams)
        link = self.lookup(PaymentLink, id)
        items = list(link.line_items.select_related("price__product"))
        url = f"/v1/payment_links/{id}/line_items"
        return paginate_line_items(self, items, params, s.PaymentLinkLineItemOut, url, expand)


# --- checkout sessions --------------------------------------------------------------


class CheckoutSessionQueries:
    expandable = {
        "customer": "customers",
        "payment_intent": "payment_intents",
        "payment_link": "payment_links",
        "subscription": "subscriptions",
        "invoice": "invoices",
    }

    def get_session(self, id: str) -> CheckoutSession:
        queryset = selectors.checkout_session_list(merchant=self.merchant, livemode=self.livemode)
        return self.lookup(CheckoutSession, id, queryset=queryset)


class CheckoutSessionsView(LineItemsMixin, CheckoutSessionQueries, CatalogueView):
    resource = "checkout_sessions"
    # A browser starts a checkout for a link the merchant published, and nothing more.
    publishable_methods = {"POST": frozenset({"payment_link"})}

    def dispatch(self, request, *args, **kwargs):
        if request.method == "OPTIONS":
            # The browser's CORS preflight carries no key: answer it before authentication.
            response = HttpResponse(status=204)
            for name, value in CORS_PREFLIGHT_HEADERS.items():
                response[name] = value
            return response
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "POST":
            # Errors too: a browser page must be able to read why it was refused.
            for name, value in CORS_HEADERS.items():
                response[name] = value
        return response

    @schema.listing(
        s.CheckoutSessionListParams,
        s.CheckoutSessionOut,
        "CheckoutSession",
        doc=docs.CHECKOUT_SESSIONS_LIST,
        operation_id="checkout_sessions_list",
        url="/v1/checkout/sessions",
    )
    def get(self, request):
        params, expand = self.params(s.CheckoutSessionListParams)
        filters = {name: params.get(name) for name in ("customer", "payment_intent", "payment_link", "status")}
        queryset = selectors.checkout_session_list(merchant=self.merchant, livemode=self.livemode, **filters)
        return paginate(self, queryset, params, s.CheckoutSessionOut, "/v1/checkout/sessions", expand)

    @schema.create(
        s.CheckoutSessionCreateParams,
        s.CheckoutSessionOut,
        doc=docs.CHECKOUT_SESSIONS_CREATE,
        operation_id="checkout_sessions_create",
    )
    def post(self, request):
        params, expand = self.params(s.CheckoutSessionCreateParams)
        if "payment_link" in params:
            link = self.lookup(PaymentLink, params["payment_link"], param="payment_link")
            session = checkout.checkout_session_from_link(payment_link=link, now=timezone.now())
        else:
            params["line_items"] = self.resolve_prices(params.get("line_items") or [])
            if "customer" in params:
                params["customer"] = self.lookup_customer(params["customer"], param="customer")
            if params.get("subscription_data"):
                params["subscription_data"] = self.subscription_data(params["subscription_data"])
            session = checkout.checkout_session_create(
                merchant=self.merchant, livemode=self.livemode, now=timezone.now(), **params
            )
        response = self.render(s.CheckoutSessionOut, session, expand)
        if self.api_key.kind == APIKey.Kind.PUBLISHABLE:
            # A browser gets what it needs to open the page, not the merchant's metadata or customer.
            response.data = {key: response.data[key] for key in PUBLIC_SESSION_FIELDS if key in response.data}
        return response

    def subscription_data(self, data: dict) -> dict:
        """Timestamps as datetimes, tax rate ids as the merchant's tax rates (a 400 naming the parameter)."""
        data = dict(data)
        for name in ("trial_end", "billing_cycle_anchor"):
            if data.get(name) is not None:
                data[name] = datetime.fromtimestamp(data[name], tz=UTC)
        if "default_tax_rates" in data:
            param = "subscription_data[default_tax_rates]"
            data["default_tax_rates"] = [self.lookup(TaxRate, rate, param=param) for rate in data["default_tax_rates"]]
        return data


PUBLIC_SESSION_FIELDS = (
    "id",
    "object",
    "amount_subtotal",
    "amount_total",
    "currency",
    "expires_at",
    "livemode",
    "mode",
    "payment_link",
    "payment_status",
    "status",
    "url",
)


class CheckoutSessionView(CheckoutSessionQueries, CatalogueView):
    resource = "checkout_sessions"

    @schema.read(s.CheckoutSessionOut, doc=docs.CHECKOUT_SESSIONS_RETRIEVE, operation_id="checkout_sessions_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.CheckoutSessionOut, self.get_session(id), expand)


class CheckoutSessionExpireView(CheckoutSessionQueries, CatalogueView):
    resource = "checkout_sessions"

    @schema.create(
        s.CheckoutSessionExpireParams,
        s.CheckoutSessionOut,
        doc=docs.CHECKOUT_SESSIONS_EXPIRE,
        operation_id="checkout_sessions_expire",
    )
    def post(self, request, id):
        session = self.get_session(id)
        _, expand = self.params(s.CheckoutSessionExpireParams)
        checkout.checkout_session_expire(session=session)
        return self.render(s.CheckoutSessionOut, self.get_session(id), expand)


class CheckoutSessionLineItemsView(CatalogueView):
    resource = "checkout_sessions"
    expandable = {"price.product": "products"}

    @schema.listing(
        ListParams,
        s.LineItemOut,
        "CheckoutSessionLineItem",
        doc=docs.CHECKOUT_SESSIONS_LINE_ITEMS,
        operation_id="checkout_sessions_line_items",
        url="/v1/checkout/sessions/{id}/line_items",
    )
    def get(self, request, id):
        params, expand = self.params(ListParams)
        session = self.lookup(CheckoutSession, id)
        items = list(session.line_items.select_related("price__product"))
        url = f"/v1/checkout/sessions/{id}/line_items"
        return paginate_line_items(self, items, params, s.LineItemOut, url, expand)
