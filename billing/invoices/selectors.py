"""Reads, always scoped by merchant and mode (kassa.api.views.scoped)."""

from django.db.models import QuerySet

from kassa.api.views import scoped

from .models import TaxRate


def tax_rate_list(*, merchant, livemode: bool, active: bool | None = None, inclusive: bool | None = None) -> QuerySet:
    queryset = scoped(TaxRate, merchant=merchant, livemode=livemode)
    if active is not None:
        queryset = queryset.filter(active=active)
    if inclusive is not None:
        queryset = queryset.filter(inclusive=inclusive)
    return queryset
