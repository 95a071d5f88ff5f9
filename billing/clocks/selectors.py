"""Reads, always scoped by merchant and mode (kassa.api.views.scoped)."""

from django.db.models import QuerySet

from kassa.api.views import scoped

from .models import TestClock


def clock_list(*, merchant, livemode: bool) -> QuerySet:
    return scoped(TestClock, merchant=merchant, livemode=livemode)
