"""Reads, always scoped by merchant and mode.

Another merchant's object is exactly as missing as one that never existed.
Within one merchant, an id of the other mode gets Stripe's hint that a
similar object exists in the other mode.
"""

from django.db.models import Model, QuerySet

from kassa.errors import InvalidRequest, ResourceMissing

from .models import Customer, Price, Product


def scoped(model: type[Model], *, merchant, livemode: bool) -> QuerySet:
    return model.objects.filter(merchant=merchant, livemode=livemode)


def object_get(model: type[Model], *, merchant, livemode: bool, public_id: str, param: str | None = None):
    """The merchant's object in this mode, or ResourceMissing (404; 400 naming ``param`` for a body reference)."""
    obj = scoped(model, merchant=merchant, livemode=livemode).filter(public_id=public_id).first()
    if obj is not None:
        return obj
    name = model._meta.verbose_name
    message = f"No such {name}: '{public_id}'"
    if model.objects.filter(merchant=merchant, livemode=not livemode, public_id=public_id).exists():
        other, this = ("live", "test") if not livemode else ("test", "live")
        message += f"; a similar object exists in {other} mode, but a {this} mode key was used to make this request."
    if param:
        raise InvalidRequest(message, code="resource_missing", param=param)
    raise ResourceMissing(message)


def product_list(*, merchant, livemode: bool, active: bool | None = None, ids: list[str] | None = None) -> QuerySet:
    queryset = scoped(Product, merchant=merchant, livemode=livemode)
    if active is not None:
        queryset = queryset.filter(active=active)
    if ids:
        queryset = queryset.filter(public_id__in=ids)
    return queryset


def price_list(
    *,
    merchant,
    livemode: bool,
    active: bool | None = None,
    product: str | None = None,
    currency: str | None = None,
    type: str | None = None,
    lookup_keys: list[str] | None = None,
    recurring_interval: str | None = None,
) -> QuerySet:
    queryset = scoped(Price, merchant=merchant, livemode=livemode).select_related("product")
    if active is not None:
        queryset = queryset.filter(active=active)
    if product:
        queryset = queryset.filter(product__public_id=product)
    if currency:
        queryset = queryset.filter(currency=currency)
    if type:
        queryset = queryset.filter(type=type)
    if lookup_keys:
        queryset = queryset.filter(lookup_key__in=lookup_keys)
    if recurring_interval:
        queryset = queryset.filter(recurring_interval=recurring_interval)
    return queryset


def customer_list(*, merchant, livemode: bool, email: str | None = None) -> QuerySet:
    queryset = scoped(Customer, merchant=merchant, livemode=livemode).filter(deleted=False)
    if email:
        queryset = queryset.filter(email__iexact=email)
    return queryset
