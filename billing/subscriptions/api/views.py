"""Subscription and subscription item endpoints: thin, Stripe's paths and verbs (POST to update, DELETE to
cancel, POST actions).

Every reference in a body (customer, prices, products, tax rates, card) is looked up among the merchant's
objects of the key's mode, a 400 naming the parameter otherwise; the services hold the rules.
"""

from django.utils import timezone

from kassa.api import schema
from kassa.api.fields import DeletedOut
from kassa.api.views import paginate

from ...catalogue.models import Price, Product
from ...invoices.api.views.invoices import InvoicingView
from .. import selectors, services
from ..models import Subscription, SubscriptionItem
from . import docs
from . import serializers as s

URL = "/v1/subscriptions"
ITEMS_URL = "/v1/subscription_items"


class SubscriptionsViewBase(InvoicingView):
    resource = "subscriptions"
    expandable = {
        "customer": "customers",
        "default_payment_method": "payment_methods",
        "latest_invoice": "invoices",
    }

    def get_subscription(self, id: str, param: str | None = None) -> Subscription:
        queryset = selectors.subscription_list(merchant=self.merchant, livemode=self.livemode, status="all")
        return self.lookup(Subscription, id, queryset=queryset, param=param)

    def item_entry(self, entry: dict, param: str) -> dict:
        entry = dict(entry)
        if entry.get("price"):
            entry["price"] = self.lookup(Price, entry["price"], param=f"{param}[price]")
        if entry.get("price_data"):
            data = dict(entry["price_data"])
            data["product"] = self.lookup(Product, data["product"], param=f"{param}[price_data][product]")
            entry["price_data"] = data
        if "tax_rates" in entry:
            entry["tax_rates"] = self.tax_rates(entry["tax_rates"], f"{param}[tax_rates]")
        entry.pop("clear_usage", None)
        return entry

    def subscription_params(self, serializer_class) -> tuple[dict, set[str]]:
        params, expand = self.params(serializer_class)
        if "customer" in params:
            params["customer"] = self.lookup_customer(params["customer"], param="customer")
        if "items" in params:
            params["items"] = [self.item_entry(entry, f"items[{n}]") for n, entry in enumerate(params["items"])]
        if "add_invoice_items" in params:
            params["add_invoice_items"] = [
                self.item_entry(entry, f"add_invoice_items[{n}]") for n, entry in enumerate(params["add_invoice_items"])
            ]
        if "default_tax_rates" in params:
            params["default_tax_rates"] = self.tax_rates(params["default_tax_rates"], "default_tax_rates")
        if "default_payment_method" in params:
            params["default_payment_method"] = self.card(params["default_payment_method"], "default_payment_method")
        for name in ("billing_cycle_anchor", "cancel_at"):
            if isinstance(params.get(name), int):  # Unix seconds (an update's anchor may be now or unchanged)
                params[name] = s.moment(params[name])
        config = params.pop("billing_cycle_anchor_config", None)
        if config:
            params["billing_cycle_anchor_day_of_month"] = config["day_of_month"]
        pause = params.get("pause_collection")
        if pause and pause.get("resumes_at") is not None:
            params["pause_collection"] = {**pause, "resumes_at": s.moment(pause["resumes_at"])}
        return params, expand


class SubscriptionsView(SubscriptionsViewBase):
    @schema.listing(
        s.SubscriptionListParams,
        s.SubscriptionOut,
        "Subscription",
        doc=docs.SUBSCRIPTIONS_LIST,
        operation_id="subscriptions_list",
        url=URL,
    )
    def get(self, request):
        params, expand = self.params(s.SubscriptionListParams)
        queryset = selectors.subscription_list(
            merchant=self.merchant,
            livemode=self.livemode,
            customer=params.get("customer"),
            price=params.get("price"),
            status=params.get("status"),
            collection_method=params.get("collection_method"),
            current_period_start=params.get("current_period_start"),
            current_period_end=params.get("current_period_end"),
        )
        return paginate(self, queryset, params, s.SubscriptionOut, URL, expand)

    @schema.create(
        s.SubscriptionCreateParams,
        s.SubscriptionOut,
        doc=docs.SUBSCRIPTIONS_CREATE,
        operation_id="subscriptions_create",
    )
    def post(self, request):
        params, expand = self.subscription_params(s.SubscriptionCreateParams)
        subscription = services.subscription_create(
            merchant=self.merchant, livemode=self.livemode, now=timezone.now(), **params
        )
        return self.render(s.SubscriptionOut, subscription, expand)


class SubscriptionView(SubscriptionsViewBase):
    @schema.read(s.SubscriptionOut, doc=docs.SUBSCRIPTIONS_RETRIEVE, operation_id="subscriptions_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.SubscriptionOut, self.get_subscription(id), expand)

    @schema.create(
        s.SubscriptionUpdateParams,
        s.SubscriptionOut,
        doc=docs.SUBSCRIPTIONS_UPDATE,
        operation_id="subscriptions_update",
    )
    def post(self, request, id):
        subscription = self.get_subscription(id)
        params, expand = self.subscription_params(s.SubscriptionUpdateParams)
        subscription = services.subscription_update(subscription=subscription, now=timezone.now(), **params)
        return self.render(s.SubscriptionOut, subscription, expand)

    @schema.delete(
        s.SubscriptionCancelParams,
        s.SubscriptionOut,
        doc=docs.SUBSCRIPTIONS_CANCEL,
        operation_id="subscriptions_cancel",
    )
    def delete(self, request, id):
        subscription = self.get_subscription(id)
        params, expand = self.params(s.SubscriptionCancelParams)
        subscription = services.subscription_cancel(subscription=subscription, now=timezone.now(), **params)
        return self.render(s.SubscriptionOut, subscription, expand)


class SubscriptionResumeView(SubscriptionsViewBase):
    @schema.create(
        s.SubscriptionResumeParams,
        s.SubscriptionOut,
        doc=docs.SUBSCRIPTIONS_RESUME,
        operation_id="subscriptions_resume",
    )
    def post(self, request, id):
        subscription = self.get_subscription(id)
        params, expand = self.params(s.SubscriptionResumeParams)
        params.pop("payment_behavior", None)
        subscription = services.subscription_resume(subscription=subscription, now=timezone.now(), **params)
        return self.render(s.SubscriptionOut, subscription, expand)


class SubscriptionPauseView(SubscriptionsViewBase):
    @schema.create(
        s.SubscriptionPauseParams, s.SubscriptionOut, doc=docs.SUBSCRIPTIONS_PAUSE, operation_id="subscriptions_pause"
    )
    def post(self, request, id):
        subscription = self.get_subscription(id)
        _, expand = self.params(s.SubscriptionPauseParams)
        subscription = services.subscription_pause(subscription=subscription, now=timezone.now())
        return self.render(s.SubscriptionOut, subscription, expand)


# --- subscription items -----------------------------------------------------------------------------


class SubscriptionItemsViewBase(SubscriptionsViewBase):
    expandable = {}

    def get_item(self, id: str) -> SubscriptionItem:
        queryset = selectors.subscription_item_list(merchant=self.merchant, livemode=self.livemode)
        return self.lookup(SubscriptionItem, id, queryset=queryset)


class SubscriptionItemsView(SubscriptionItemsViewBase):
    @schema.listing(
        s.SubscriptionItemListParams,
        s.SubscriptionItemOut,
        "SubscriptionItem",
        doc=docs.SUBSCRIPTION_ITEMS_LIST,
        operation_id="subscription_items_list",
        url=ITEMS_URL,
        expand=False,
    )
    def get(self, request):
        params, expand = self.params(s.SubscriptionItemListParams)
        subscription = self.get_subscription(params["subscription"], param="subscription")
        queryset = selectors.subscription_item_list(
            merchant=self.merchant, livemode=self.livemode, subscription=subscription.public_id
        )
        return paginate(self, queryset, params, s.SubscriptionItemOut, ITEMS_URL, expand)

    @schema.create(
        s.SubscriptionItemCreateParams,
        s.SubscriptionItemOut,
        doc=docs.SUBSCRIPTION_ITEMS_CREATE,
        operation_id="subscription_items_create",
        expand=False,
    )
    def post(self, request):
        params, expand = self.params(s.SubscriptionItemCreateParams)
        subscription = self.get_subscription(params.pop("subscription"), param="subscription")
        entry = self.item_entry(params, "")
        item = services.subscription_item_create(subscription=subscription, now=timezone.now(), **entry)
        return self.render(s.SubscriptionItemOut, item, expand)


class SubscriptionItemView(SubscriptionItemsViewBase):
    @schema.read(
        s.SubscriptionItemOut,
        doc=docs.SUBSCRIPTION_ITEMS_RETRIEVE,
        operation_id="subscription_items_retrieve",
        expand=False,
    )
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.SubscriptionItemOut, self.get_item(id), expand)

    @schema.create(
        s.SubscriptionItemUpdateParams,
        s.SubscriptionItemOut,
        doc=docs.SUBSCRIPTION_ITEMS_UPDATE,
        operation_id="subscription_items_update",
        expand=False,
    )
    def post(self, request, id):
        item = self.get_item(id)
        params, expand = self.params(s.SubscriptionItemUpdateParams)
        entry = self.item_entry(params, "")
        item = services.subscription_item_update(item=item, now=timezone.now(), **entry)
        return self.render(s.SubscriptionItemOut, item, expand)

    @schema.delete(
        s.SubscriptionItemDeleteParams,
        DeletedOut,
        doc=docs.SUBSCRIPTION_ITEMS_DELETE,
        operation_id="subscription_items_delete",
        expand=False,
    )
    def delete(self, request, id):
        item = self.get_item(id)
        params, _ = self.params(s.SubscriptionItemDeleteParams)
        params.pop("clear_usage", None)
        deleted_id = services.subscription_item_delete(item=item, now=timezone.now(), **params)
        return self.render(DeletedOut, {"id": deleted_id, "object": "subscription_item", "deleted": True})
