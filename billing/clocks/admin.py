"""Dashboard pages for test clocks (Developers): a read-only list and page, and "Advance time" calling the service.

Clocks are made through the API (``/v1/test_helpers/test_clocks``); test mode only, as the API.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kassa.errors import KassaError
from merchants.admin_base import ScopedAdmin, admin_link, when

from ..catalogue.admin import CustomerAdmin
from . import services
from .models import TestClock

FIELDS = ["public_id", "name", "frozen_time", "status", "target_frozen_time", "deletes_after", "livemode", "created"]


class AdvanceForm(forms.Form):
    frozen_time = forms.DateTimeField(
        label=_("New frozen time"),
        help_text=_(
            "Later than the clock's current time (UTC): at most two intervals of its shortest subscription later, "
            "or two years without one."
        ),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


@admin.register(TestClock)
class TestClockAdmin(ScopedAdmin):
    list_display = ["name", "frozen_time", "status", "public_id", "created"]
    list_filter = ["status"]
    search_fields = ["name", "public_id"]
    fields = FIELDS
    readonly_fields = FIELDS

    def has_add_permission(self, request):
        return False  # made through the API

    def has_change_permission(self, request, obj=None):
        return False  # its page is read-only; time moves by "Advance time"

    def has_delete_permission(self, request, obj=None):
        return False

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self._can_write(request) and obj.status == TestClock.Status.READY:
            context["advance_url"] = reverse("admin:billing_testclock_advance", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path("<int:pk>/advance/", self.admin_site.admin_view(self.advance_view), name="billing_testclock_advance"),
            *super().get_urls(),
        ]

    def advance_view(self, request, pk):
        clock = self.object_for_write(request, pk)
        initial = {"frozen_time": clock.frozen_time + timedelta(days=1)}
        form = AdvanceForm(request.POST if request.method == "POST" else None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.clock_advance(clock=clock, frozen_time=form.cleaned_data["frozen_time"])
            except KassaError as exc:
                form.add_error("frozen_time" if exc.param == "frozen_time" else None, exc.message)
            else:
                self.message_user(request, gettext("The test clock is advancing; its page shows when it is ready."))
                return HttpResponseRedirect(reverse("admin:billing_testclock_change", args=[clock.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Advance test clock %(clock)s") % {"clock": clock},
            "opts": self.model._meta,
            "clock": clock,
            "form": form,
        }
        return TemplateResponse(request, "admin/billing/test_clock_advance.html", context)


def _customer_clock(customer, *, advance: bool = False) -> str:
    """The customer's test clock on their page: its time and status, and "Advance time" for those who may write."""
    clock = customer.test_clock
    text = format_html(
        '<p id="kassa-customer-clock">{} · {} · {}</p>',
        admin_link(clock, str(clock)),
        when(clock.frozen_time),
        clock.get_status_display(),
    )
    if not advance or clock.status != TestClock.Status.READY:
        return text
    return format_html(
        '{}<p><a href="{}" class="button" id="kassa-customer-clock-advance">{}</a></p>',
        text,
        reverse("admin:billing_testclock_advance", args=[clock.pk]),
        gettext("Advance time"),
    )


CustomerAdmin.add_history(
    "test_clock_section",
    _("Test clock"),
    _customer_clock,
    lambda customer: _customer_clock(customer, advance=True),
    shown=lambda customer: customer.test_clock_id is not None,
)
