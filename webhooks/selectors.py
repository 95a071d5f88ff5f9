"""Reads of the webhooks app, always scoped by merchant and mode."""

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

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
    if delivery_success is not None:
        # Subqueries, not joins: a join would multiply the ``pending`` count above.
        succeeded = Exists(Delivery.objects.filter(event=OuterRef("pk"), status=Delivery.Status.SUCCEEDED))
        if delivery_success:
            queryset = queryset.filter(succeeded)
        else:
            queryset = queryset.filter(~succeeded, Exists(Delivery.objects.filter(event=OuterRef("pk"))))
    return queryset
