"""Reads of the webhooks app, always scoped by merchant and mode."""

from django.db.models import Count, Q, QuerySet

from .models import Delivery, Event, WebhookEndpoint


def endpoint_list(*, merchant, livemode: bool) -> QuerySet:
    return WebhookEndpoint.objects.filter(merchant=merchant, livemode=livemode)


def event_list(
    *,
    merchant,
    livemode: bool,
    type: str | None = None,
    types: list[str] | None = None,
    delivery_success: bool | None = None,
) -> QuerySet:
    """Newest first, each with ``pending`` (its deliveries still to go) counted in the same query."""
    queryset = Event.objects.filter(merchant=merchant, livemode=livemode).annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING))
    )
    if type:
        # Stripe's filter: an exact type, or a prefix with a wildcard ("payment_intent.*").
        queryset = queryset.filter(type__startswith=type[:-1]) if type.endswith(".*") else queryset.filter(type=type)
    if types:
        queryset = queryset.filter(type__in=types)
    if delivery_success is True:
        queryset = queryset.filter(deliveries__status=Delivery.Status.SUCCEEDED).distinct()
    elif delivery_success is False:
        queryset = queryset.exclude(deliveries__status=Delivery.Status.SUCCEEDED).filter(deliveries__isnull=False)
    return queryset
