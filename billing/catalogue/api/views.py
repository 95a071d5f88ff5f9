"""Catalogue and customer endpoints: thin, Stripe's paths and verbs (POST to update)."""

from drf_spectacular.utils import PolymorphicProxySerializer

from kassa.api import schema
from kassa.api.fields import DeletedOut
from kassa.api.views import paginate
from kassa.errors import InvalidRequest, ResourceMissing
from merchants.api.views import StripeView

from .. import selectors, services
from ..models import Customer, Price, Product
from . import docs
from . import serializers as s


class CatalogueView(StripeView):
    # A StripeView that knows customers are tombstoned: a deleted one is missing when referred to.
    # (A comment, not a docstring: drf-spectacular would show a docstring in the API docs.)

    def lookup_customer(self, public_id: str, *, param: str | None = None, allow_deleted: bool = False) -> Customer:
        customer = self.lookup(Customer, public_id, param=param)
        if customer.deleted and not allow_deleted:
            message = f"No such customer: '{public_id}'"
            if param:
                raise InvalidRequest(message, code="resource_missing", param=param)
            raise ResourceMissing(message)
        return customer


class ProductsView(StripeView):
    resource = "products"
    expandable = {"default_price": "prices"}

    @schema.listing(
        s.ProductListParams,
        s.ProductOut,
        "Product",
        doc=docs.PRODUCTS_LIST,
        operation_id="products_list",
        url="/v1/products",
    )
    def get(self, request):
        params, expand = self.params(s.ProductListParams)
        queryset = selectors.product_list(
            merchant=self.merchant, livemode=self.livemode, active=params.get("active"), ids=params.get("ids")
        )
        return paginate(self, queryset, params, s.ProductOut, "/v1/products", expand)

    @schema.create(s.ProductCreateParams, s.ProductOut, doc=docs.PRODUCTS_CREATE, operation_id="products_create")
    def post(self, request):
        params, expand = self.params(s.ProductCreateParams)
        product = services.product_create(merchant=self.merchant, livemode=self.livemode, **params)
        return self.render(s.ProductOut, product, expand)


class ProductView(StripeView):
    resource = "products"
    expandable = {"default_price": "prices"}

    def get_product(self, id: str) -> Product:
        return self.lookup(Product, id, queryset=self.scoped(Product).select_related("default_price"))

    @schema.read(s.ProductOut, doc=docs.PRODUCTS_RETRIEVE, operation_id="products_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.ProductOut, self.get_product(id), expand)

    @schema.create(s.ProductUpdateParams, s.ProductOut, doc=docs.PRODUCTS_UPDATE, operation_id="products_update")
    def post(self, request, id):
        product = self.get_product(id)
        params, expand = self.params(s.ProductUpdateParams)
        if "default_price" in params:
            params["default_price"] = self.lookup(Price, params["default_price"], param="default_price")
        return self.render(s.ProductOut, services.product_update(product=product, **params), expand)

    @schema.read(DeletedOut, doc=docs.PRODUCTS_DELETE, operation_id="products_delete", expand=False)
    def delete(self, request, id):
        deleted_id = services.product_delete(product=self.get_product(id))
        return self.render(DeletedOut, {"id": deleted_id, "object": "product", "deleted": True})


class PricesView(StripeView):
    resource = "prices"
    expandable = {"product": "products"}

    @schema.listing(
        s.PriceListParams, s.PriceOut, "Price", doc=docs.PRICES_LIST, operation_id="prices_list", url="/v1/prices"
    )
    def get(self, request):
        params, expand = self.params(s.PriceListParams)
        recurring = params.get("recurring") or {}
        queryset = selectors.price_list(
            merchant=self.merchant,
            livemode=self.livemode,
            active=params.get("active"),
            product=params.get("product"),
            currency=params.get("currency"),
            type=params.get("type"),
            lookup_keys=params.get("lookup_keys"),
            recurring_interval=recurring.get("interval"),
        )
        return paginate(self, queryset, params, s.PriceOut, "/v1/prices", expand)

    @schema.create(s.PriceCreateParams, s.PriceOut, doc=docs.PRICES_CREATE, operation_id="prices_create")
    def post(self, request):
        params, expand = self.params(s.PriceCreateParams)
        if "product" in params:
            params["product"] = self.lookup(Product, params["product"], param="product")
        price = services.price_create(merchant=self.merchant, livemode=self.livemode, **params)
        return self.render(s.PriceOut, price, expand)


class PriceView(StripeView):
    resource = "prices"
    expandable = {"product": "products"}

    def get_price(self, id: str) -> Price:
        return self.lookup(Price, id)

    @schema.read(s.PriceOut, doc=docs.PRICES_RETRIEVE, operation_id="prices_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.PriceOut, self.get_price(id), expand)

    @schema.create(s.PriceUpdateParams, s.PriceOut, doc=docs.PRICES_UPDATE, operation_id="prices_update")
    def post(self, request, id):
        price = self.get_price(id)
        params, expand = self.params(s.PriceUpdateParams)
        return self.render(s.PriceOut, services.price_update(price=price, **params), expand)


class CustomerViewBase(CatalogueView):
    resource = "customers"
    expandable = {"invoice_settings.default_payment_method": "payment_methods", "test_clock": "test_clocks"}

    def customer_params(self, serializer=s.CustomerParams) -> tuple[dict, set[str]]:
        """The parameters, with ``invoice_settings[default_payment_method]`` as the merchant's card (None: clear)
        and ``test_clock`` as the merchant's clock."""
        params, expand = self.params(serializer)
        if "test_clock" in params:
            # The clock's model by the field that names it: the catalogue does not import billing.clocks.
            clock_model = Customer._meta.get_field("test_clock").related_model
            params["test_clock"] = self.lookup(clock_model, params["test_clock"], param="test_clock")
        settings = params.pop("invoice_settings", {})
        if "default_payment_method" in settings:
            card_id = settings["default_payment_method"]
            # The card's model by the field that names it: the catalogue does not import payments.
            card_model = Customer._meta.get_field("default_payment_method").related_model
            params["default_payment_method"] = (
                self.lookup(card_model, card_id, param=services.DEFAULT_PAYMENT_METHOD_PARAM) if card_id else None
            )
        return params, expand


class CustomersView(CustomerViewBase):
    @schema.listing(
        s.CustomerListParams,
        s.CustomerOut,
        "Customer",
        doc=docs.CUSTOMERS_LIST,
        operation_id="customers_list",
        url="/v1/customers",
    )
    def get(self, request):
        params, expand = self.params(s.CustomerListParams)
        queryset = selectors.customer_list(merchant=self.merchant, livemode=self.livemode, email=params.get("email"))
        return paginate(self, queryset, params, s.CustomerOut, "/v1/customers", expand)

    @schema.create(s.CustomerCreateParams, s.CustomerOut, doc=docs.CUSTOMERS_CREATE, operation_id="customers_create")
    def post(self, request):
        params, expand = self.customer_params(s.CustomerCreateParams)
        customer = services.customer_create(merchant=self.merchant, livemode=self.livemode, **params)
        return self.render(s.CustomerOut, customer, expand)


class CustomerView(CustomerViewBase):
    @schema.read(
        PolymorphicProxySerializer(
            component_name="CustomerOrDeleted", serializers=[s.CustomerOut, DeletedOut], resource_type_field_name=None
        ),
        doc=docs.CUSTOMERS_RETRIEVE,
        operation_id="customers_retrieve",
    )
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.CustomerOut, self.lookup_customer(id, allow_deleted=True), expand)

    @schema.create(s.CustomerParams, s.CustomerOut, doc=docs.CUSTOMERS_UPDATE, operation_id="customers_update")
    def post(self, request, id):
        customer = self.lookup_customer(id)
        params, expand = self.customer_params()
        return self.render(s.CustomerOut, services.customer_update(customer=customer, **params), expand)

    @schema.read(DeletedOut, doc=docs.CUSTOMERS_DELETE, operation_id="customers_delete", expand=False)
    def delete(self, request, id):
        customer = services.customer_delete(customer=self.lookup_customer(id))
        return self.render(s.CustomerOut, customer)
