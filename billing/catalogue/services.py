"""Writes for the catalogue and customers. The API and the dashboard both call these.

Every rule about what may be stored is checked here (metadata, URLs, names),
not only in the API's parameter parsing, so the dashboard cannot store what
the API would refuse or fail to render.
"""

import re

from django.db import transaction

from kassa import metadata, money, validators
from kassa.db import insert
from kassa.errors import InvalidRequest
from kassa.ids import public_id
from merchants.models import Merchant
from webhooks.services.outbox import event_emit, render

from .models import Customer, Price, Product


def _assign(obj, changes: dict, allowed: tuple[str, ...]) -> list[str]:
    fields = []
    for name in allowed:
        if name in changes:
            setattr(obj, name, changes[name])
            fields.append(name)
    if "metadata" in changes:
        obj.metadata = metadata.merge(obj.metadata, changes["metadata"])
        fields.append("metadata")
    return fields


def _name(value, *, param: str = "name", max_length: int = 250) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"Missing required param: {param}.", code="parameter_missing", param=param)
    if len(value) > max_length:
        raise InvalidRequest(f"{param} is at most {max_length} characters.", code="parameter_invalid", param=param)
    return value


# --- products ---------------------------------------------------------------

PRODUCT_FIELDS = (
    "name",
    "description",
    "active",
    "images",
    "url",
    "unit_label",
    "shippable",
    "statement_descriptor",
    "tax_code",
    "marketing_features",
    "package_dimensions",
)
_DIMENSIONS = ("height", "length", "weight", "width")


def _statement_descriptor(value: str | None) -> str | None:
    """Stripe's rules: 5 to 22 characters, at least one letter, none of < > \\ ' " *."""
    if not value:
        return None
    if not 5 <= len(value) <= 22 or not any(c.isalpha() for c in value) or set(value) & set("<>\\'\"*"):
        raise InvalidRequest(
            "The statement descriptor must be 5 to 22 characters with at least one letter, "
            "and may not contain <, >, \\, ', \" or *.",
            param="statement_descriptor",
        )
    return value


def _marketing_features(value) -> list[dict]:
    value = value or []
    if not isinstance(value, list) or len(value) > 15:
        raise InvalidRequest("At most 15 marketing features.", param="marketing_features")
    features = []
    for index, feature in enumerate(value):
        name = feature.get("name") if isinstance(feature, dict) else None
        features.append({"name": _name(name, param=f"marketing_features[{index}][name]", max_length=80)})
    return features


def _package_dimensions(value) -> dict | None:
    """Inches and ounces, as Stripe's; each given, positive, kept as the number sent (not money)."""
    if not value:
        return None
    if not isinstance(value, dict) or set(value) != set(_DIMENSIONS):
        raise InvalidRequest(
            "package_dimensions needs height, length, weight and width.",
            code="parameter_missing",
            param="package_dimensions",
        )
    for name in _DIMENSIONS:
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number <= 1_000_000:
            raise InvalidRequest(
                f"package_dimensions[{name}] must be a positive number.", param=f"package_dimensions[{name}]"
            )
    return {name: value[name] for name in _DIMENSIONS}


def _product_fields(changes: dict) -> dict:
    if "name" in changes:
        changes["name"] = _name(changes["name"])
    if "images" in changes:
        changes["images"] = validators.image_urls(changes["images"])
    if "url" in changes:
        changes["url"] = validators.http_url(changes["url"], param="url")
    for optional in ("description", "unit_label", "tax_code"):
        if optional in changes:
            changes[optional] = changes[optional] or None
    if changes.get("unit_label") and len(changes["unit_label"]) > 12:
        raise InvalidRequest("unit_label is at most 12 characters.", param="unit_label")
    if "statement_descriptor" in changes:
        changes["statement_descriptor"] = _statement_descriptor(changes["statement_descriptor"])
    if "marketing_features" in changes:
        changes["marketing_features"] = _marketing_features(changes["marketing_features"])
    if "package_dimensions" in changes:
        changes["package_dimensions"] = _package_dimensions(changes["package_dimensions"])
    return changes


@transaction.atomic
def product_create(
    *,
    merchant,
    livemode: bool,
    name: str,
    active: bool = True,
    metadata=None,
    default_price_data: dict | None = None,
    **fields,
) -> Product:
    """A product; ``default_price_data`` also makes its first price and makes it the default, as at Stripe."""
    unknown = set(fields) - set(PRODUCT_FIELDS)
    if unknown:
        raise TypeError(f"product_create() got unexpected fields {sorted(unknown)}")
    fields = _product_fields({"name": name, **fields})
    product = Product.objects.create(
        public_id=public_id(Product.PREFIX),
        merchant=merchant,
        livemode=livemode,
        active=active,
        metadata=_metadata(metadata),
        **fields,
    )
    if default_price_data is not None:
        product.default_price = price_create(
            merchant=merchant, livemode=livemode, product=product, **_default_price_data(default_price_data)
        )
        product.save(update_fields=["default_price"])
    event_emit(type="product.created", obj=product)
    return product


def _default_price_data(data: dict) -> dict:
    allowed = {"currency", "unit_amount", "recurring", "metadata"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(
            f"Received unknown parameter: default_price_data[{unknown[0]}]", param="default_price_data"
        )
    return {
        "currency": data.get("currency", ""),
        "unit_amount": data.get("unit_amount", -1),
        "recurring": data.get("recurring"),
        "metadata": data.get("metadata"),
    }


def _metadata(change) -> dict:
    return metadata.merge({}, change)


@transaction.atomic
def product_update(*, product: Product, default_price: "Price | None" = None, **changes) -> Product:
    """Change a product; ``default_price`` must be one of its own active prices."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    before = render(product)
    fields = _assign(product, _product_fields(changes), PRODUCT_FIELDS)
    if default_price is not None:
        # Locked, as price_update locks it: archiving it and making it the default cannot both win.
        default_price = Price.objects.select_for_update().get(pk=default_price.pk)
        if default_price.product_id != product.pk:
            raise InvalidRequest(
                f"The price {default_price.public_id} is not a price of this product.", param="default_price"
            )
        if not default_price.active:
            raise InvalidRequest(
                f"The price {default_price.public_id} is archived: it cannot be the default price.",
                param="default_price",
            )
        product.default_price = default_price
        fields.append("default_price")
    product.save(update_fields=[*fields, "updated"])
    event_emit(type="product.updated", obj=product, before=before)
    return product


@transaction.atomic
def product_delete(*, product: Product) -> str:
    """Delete a product no price uses; one that a price uses can only be archived."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.prices.exists():
        raise InvalidRequest(
            "This product cannot be deleted because it has one or more prices. Archive it instead (active=false).",
            code="product_has_prices",
        )
    deleted_id = product.public_id
    last = render(product)
    product.delete()
    event_emit(type="product.deleted", obj=product, data_object=last)
    return deleted_id


# --- prices -----------------------------------------------------------------


def _lookup_key_take(*, merchant, livemode: bool, lookup_key: str, transfer: bool, keep: Price | None) -> None:
    """Give ``lookup_key`` to a price, moving it from its holder when ``transfer`` is set.

    Lookup-key changes of one merchant are serialised on the merchant's row,
    so concurrent transfers each succeed in turn and concurrent claims get a
    clean 400, never an integrity error.
    """
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
    holder = (
        Price.objects.select_for_update()
        .filter(merchant=merchant, livemode=livemode, lookup_key=lookup_key)
        .exclude(pk=keep.pk if keep else None)
        .first()
    )
    if holder is None:
        return
    if not transfer:
        raise InvalidRequest(
            f"A price ({holder.public_id}) already uses that lookup key. "
            "Pass transfer_lookup_key=true to move it to this price.",
            code="lookup_key_in_use",
            param="lookup_key",
        )
    before = render(holder)
    holder.lookup_key = None
    holder.save(update_fields=["lookup_key"])
    event_emit(type="price.updated", obj=holder, before=before)


@transaction.atomic
def price_create(
    *,
    merchant,
    livemode: bool,
    currency: str,
    unit_amount: int,
    product: Product | None = None,
    product_data: dict | None = None,
    recurring: dict | None = None,
    active: bool = True,
    nickname: str | None = None,
    lookup_key: str | None = None,
    transfer_lookup_key: bool = False,
    metadata=None,
) -> Price:
    currency = currency.lower()
    money.check(unit_amount, currency, param="unit_amount")
    if (product is None) == (product_data is None):
        raise InvalidRequest(
            "Pass exactly one of product and product_data.",
            code="parameter_missing" if product is None else "parameters_exclusive",
            param="product",
        )
    if product_data is not None:
        product = product_create(merchant=merchant, livemode=livemode, **product_data)
    if product.merchant_id != merchant.pk or product.livemode != livemode:
        raise InvalidRequest(f"No such product: '{product.public_id}'", code="resource_missing", param="product")
    if lookup_key:
        _lookup_key_take(
            merchant=merchant, livemode=livemode, lookup_key=lookup_key, transfer=transfer_lookup_key, keep=None
        )
    interval, interval_count = _recurring_check(recurring)
    price = Price.objects.create(
        public_id=public_id(Price.PREFIX),
        merchant=merchant,
        livemode=livemode,
        product=product,
        currency=currency,
        unit_amount=unit_amount,
        type=Price.Type.RECURRING if recurring is not None else Price.Type.ONE_TIME,
        recurring_interval=interval,
        recurring_interval_count=interval_count,
        active=active,
        nickname=nickname,
        lookup_key=lookup_key or None,
        metadata=_metadata(metadata),
    )
    event_emit(type="price.created", obj=price)
    return price


def price_build(
    *, merchant, livemode: bool, currency: str, unit_amount: int, product: Product, recurring: dict
) -> Price:
    """An unsaved recurring price (an item's ``price_data`` in ``invoices.create_preview``), every rule of
    ``price_create`` checked: shown, never written."""
    currency = (currency or "").lower()
    money.check(unit_amount, currency, param="unit_amount")
    if product.merchant_id != merchant.pk or product.livemode != livemode:
        raise InvalidRequest(f"No such product: '{product.public_id}'", code="resource_missing", param="product")
    interval, interval_count = _recurring_check(recurring)
    return Price(
        public_id=public_id(Price.PREFIX),
        merchant=merchant,
        livemode=livemode,
        product=product,
        currency=currency,
        unit_amount=unit_amount,
        type=Price.Type.RECURRING,
        recurring_interval=interval,
        recurring_interval_count=interval_count,
        active=False,
    )


def _recurring_check(recurring: dict | None) -> tuple[str, int | None]:
    """``recurring[interval]`` and ``[interval_count]`` as Stripe allows them ("", None: a one-time price)."""
    interval, interval_count = "", None
    if recurring is not None:
        interval = recurring.get("interval")
        if interval not in Price.Interval.values:
            raise InvalidRequest(
                "recurring[interval] must be one of day, week, month or year.",
                code="parameter_invalid",
                param="recurring[interval]",
            )
        interval_count = recurring.get("interval_count") or 1
        # https://docs.stripe.com/api/prices/create#create_price-recurring-interval_count: at most a year.
        limits = {"day": 365, "week": 52, "month": 12, "year": 1}
        if not 1 <= interval_count <= limits[interval]:
            raise InvalidRequest(
                f"The maximum billing interval is one year ({limits[interval]} {interval}s).",
                code="parameter_invalid_integer",
                param="recurring[interval_count]",
            )
    return interval, interval_count


@transaction.atomic
def price_update(*, price: Price, transfer_lookup_key: bool = False, **changes) -> Price:
    """Only active, nickname, lookup_key and metadata change; amount, currency and product never do."""
    price = Price.objects.select_for_update().get(pk=price.pk)
    before = render(price)
    if changes.get("lookup_key"):
        _lookup_key_take(
            merchant=price.merchant,
            livemode=price.livemode,
            lookup_key=changes["lookup_key"],
            transfer=transfer_lookup_key,
            keep=price,
        )
    if changes.get("active") is False and Product.objects.filter(default_price=price).exists():
        raise InvalidRequest(
            "This price cannot be archived because it is the default price of its product.", param="active"
        )
    fields = _assign(price, changes, ("active", "nickname", "lookup_key"))
    if fields:
        price.save(update_fields=fields)
        event_emit(type="price.updated", obj=price, before=before)
    return price


# --- customers --------------------------------------------------------------

CUSTOMER_FIELDS = ("email", "name", "phone", "description", "address", "preferred_locales")
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def normalise_address(address: dict) -> dict:
    """Stripe's address shape, every key present; unknown keys refused."""
    if not isinstance(address, dict) or set(address) - set(ADDRESS_FIELDS):
        raise InvalidRequest("Invalid address.", code="parameter_invalid", param="address")
    return {key: (address.get(key) or None) for key in ADDRESS_FIELDS}


def _customer_fields(fields: dict) -> dict:
    unknown = set(fields) - {*CUSTOMER_FIELDS, "metadata"}
    if unknown:
        raise InvalidRequest(f"Received unknown parameter: {sorted(unknown)[0]}", code="parameter_unknown")
    email = fields.get("email")
    if email and ("@" not in email or len(email) > 512):
        raise InvalidRequest(f"Invalid email address: {email}", code="email_invalid", param="email")
    if fields.get("address") is not None:
        fields["address"] = normalise_address(fields["address"])
    if "preferred_locales" in fields:
        fields["preferred_locales"] = _preferred_locales(fields["preferred_locales"])
    return fields


def _preferred_locales(locales) -> list[str]:
    """Stripe's ``preferred_locales``: language tags (``fr``, ``fr-FR``, ``en-GB``), in order, at most 10.

    Any tag of that shape is kept as given; the invoice, its page and its emails use the first one Kassa
    speaks (en or fr), else the merchant's default language.
    """
    if locales is None:
        return []
    if not isinstance(locales, list) or len(locales) > 10:
        raise InvalidRequest("preferred_locales is a list of at most 10 language tags.", param="preferred_locales")
    for locale in locales:
        if not isinstance(locale, str) or not LOCALE_PATTERN.match(locale):
            raise InvalidRequest(
                f"Invalid locale: {str(locale)[:20]}. Use a language tag such as fr or fr-FR.",
                param="preferred_locales",
            )
    return list(locales)


DEFAULT_PAYMENT_METHOD_PARAM = "invoice_settings[default_payment_method]"

#: fn(*, customer), called in the transaction that gives a customer a new default card (invoices retries the
#: customer's past-due invoices once it commits; registered in billing/apps.py)
_DEFAULT_PAYMENT_METHOD_HOOKS: list = []


def on_default_payment_method_changed(hook) -> None:
    """Register ``hook(*, customer)``: a customer's ``invoice_settings.default_payment_method`` became another card."""
    _DEFAULT_PAYMENT_METHOD_HOOKS.append(hook)


def _default_payment_method(customer: Customer | None, payment_method):
    """``payment_method`` if it is one of ``customer``'s own saved cards now (read under a row lock), else 400.

    As at Stripe (https://docs.stripe.com/api/customers/update#update_customer-invoice_settings-default_payment_method):
    the default must already be attached to this customer; a new customer has no card yet. None clears it.
    """
    if payment_method is None:
        return None
    owner = (
        type(payment_method).objects.select_for_update().filter(pk=payment_method.pk).values_list("customer_id")
    ).first()
    if customer is None or owner is None or owner[0] != customer.pk:
        raise InvalidRequest(
            f"The customer does not have a payment method with the ID {payment_method.public_id}. "
            "The payment method must be attached to the customer.",
            code="resource_missing",
            param=DEFAULT_PAYMENT_METHOD_PARAM,
        )
    return payment_method


@transaction.atomic
def customer_create(
    *, merchant, livemode: bool, metadata=None, default_payment_method=None, test_clock=None, **fields
) -> Customer:
    """``test_clock``: a test clock of the merchant's, in test mode (the customer lives on its time); set here
    only, never changed."""
    fields = _customer_fields(fields)
    _default_payment_method(None, default_payment_method)
    if test_clock is not None and (livemode or test_clock.livemode or test_clock.merchant_id != merchant.pk):
        raise InvalidRequest(
            "Test clocks can only be used in test mode, with the merchant's own clock.", param="test_clock"
        )
    customer = insert(
        Customer(
            public_id=public_id(Customer.PREFIX),
            merchant=merchant,
            livemode=livemode,
            metadata=_metadata(metadata),
            test_clock=test_clock,
            **fields,
        )
    )
    event_emit(type="customer.created", obj=customer)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, **changes) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing")
    before = render(customer)
    default_changed = "default_payment_method" in changes
    default = _default_payment_method(customer, changes.pop("default_payment_method", None))
    fields = _assign(customer, _customer_fields(changes), CUSTOMER_FIELDS)
    new_default = default_changed and default is not None and default.pk != customer.default_payment_method_id
    if default_changed:
        customer.default_payment_method = default
        fields.append("default_payment_method")
    if fields:
        customer.save(update_fields=fields)
        event_emit(type="customer.updated", obj=customer, before=before)
    if new_default:
        for hook in _DEFAULT_PAYMENT_METHOD_HOOKS:
            hook(customer=customer)
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer) -> Customer:
    """Stripe's delete: the customer disappears from lists; a tombstone answers retrieves."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing")
    last = render(customer)
    customer.deleted = True
    customer.save(update_fields=["deleted"])
    event_emit(type="customer.deleted", obj=customer, data_object=last)
    return customer
