"""Test clocks (Stripe's ``test_helpers.test_clock``): a frozen time for a set of test-mode customers.

A customer made with ``test_clock`` lives on the clock's time, not the wall clock's: beat's time-driven
services leave it alone, and advancing the clock runs them for the clock's customers only, with the
clock's time as ``now`` (services.py). Test mode only.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScoped


class TestClock(MerchantScoped):
    PREFIX = "clock"

    class Status(models.TextChoices):
        READY = "ready", _("Ready")
        ADVANCING = "advancing", _("Advancing")
        INTERNAL_FAILURE = "internal_failure", _("Internal failure")

    name = models.CharField(max_length=300, blank=True, null=True, verbose_name=_("name"))
    frozen_time = models.DateTimeField(verbose_name=_("frozen time"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.READY, verbose_name=_("status"))
    # status_details.advancing.target_frozen_time, while advancing.
    target_frozen_time = models.DateTimeField(null=True, blank=True, verbose_name=_("target frozen time"))
    deletes_after = models.DateTimeField(verbose_name=_("deletes after"))
    # While advancing: when (real time) its run last moved it; beat queues the advance again when this is old
    # (services.clocks_advance_sweep). Not Stripe's: the machinery's, never in the API.
    advance_moved_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("advance last moved"))

    __test__ = False  # not a pytest test class, whatever its name

    class Meta:
        verbose_name = _("test clock")
        verbose_name_plural = _("test clocks")
        indexes = [models.Index(fields=["merchant", "livemode", "-id"], name="test_clock_list")]

    def __str__(self) -> str:
        return self.name or self.public_id
