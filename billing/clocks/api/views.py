"""Test clock endpoints (``/v1/test_helpers/test_clocks``): thin, Stripe's paths and verbs, test mode only."""

from django.utils import timezone

from kassa.api import schema
from kassa.api.fields import DeletedOut
from kassa.api.views import paginate
from merchants.api.views import StripeView

from .. import selectors, services
from ..models import TestClock
from . import docs
from . import serializers as s

URL = "/v1/test_helpers/test_clocks"


class TestClockViewBase(StripeView):
    resource = "test_clocks"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        services.refuse_live_mode(livemode=self.livemode)


class TestClocksView(TestClockViewBase):
    @schema.listing(
        s.TestClockListParams,
        s.TestClockOut,
        "TestClock",
        doc=docs.TEST_CLOCKS_LIST,
        operation_id="test_helpers_test_clocks_list",
        url=URL,
        expand=False,
    )
    def get(self, request):
        params, expand = self.params(s.TestClockListParams)
        queryset = selectors.clock_list(merchant=self.merchant, livemode=self.livemode)
        return paginate(self, queryset, params, s.TestClockOut, URL, expand)

    @schema.create(
        s.TestClockCreateParams,
        s.TestClockOut,
        doc=docs.TEST_CLOCKS_CREATE,
        operation_id="test_helpers_test_clocks_create",
        expand=False,
    )
    def post(self, request):
        params, expand = self.params(s.TestClockCreateParams)
        clock = services.clock_create(merchant=self.merchant, livemode=self.livemode, now=timezone.now(), **params)
        return self.render(s.TestClockOut, clock, expand)


class TestClockView(TestClockViewBase):
    @schema.read(
        s.TestClockOut, doc=docs.TEST_CLOCKS_RETRIEVE, operation_id="test_helpers_test_clocks_retrieve", expand=False
    )
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.TestClockOut, self.lookup(TestClock, id), expand)

    @schema.read(DeletedOut, doc=docs.TEST_CLOCKS_DELETE, operation_id="test_helpers_test_clocks_delete", expand=False)
    def delete(self, request, id):
        clock = services.clock_delete(clock=self.lookup(TestClock, id))
        return self.render(DeletedOut, {"id": clock.public_id, "object": "test_helpers.test_clock", "deleted": True})


class TestClockAdvanceView(TestClockViewBase):
    @schema.create(
        s.TestClockAdvanceParams,
        s.TestClockOut,
        doc=docs.TEST_CLOCKS_ADVANCE,
        operation_id="test_helpers_test_clocks_advance",
        expand=False,
    )
    def post(self, request, id):
        clock = self.lookup(TestClock, id)
        params, expand = self.params(s.TestClockAdvanceParams)
        return self.render(s.TestClockOut, services.clock_advance(clock=clock, **params), expand)
