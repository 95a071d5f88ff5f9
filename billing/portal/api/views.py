"""Customer portal sessions (``/v1/billing_portal/sessions``): create only, as at Stripe; secret or restricted keys."""

from django.utils import timezone

from kassa.api import schema
from merchants.api.views import StripeView

from ...catalogue.models import Customer
from .. import services
from . import docs
from . import serializers as s


class PortalSessionsView(StripeView):
    resource = "billing_portal"

    @schema.create(
        s.PortalSessionCreateParams,
        s.PortalSessionOut,
        doc=docs.PORTAL_SESSIONS_CREATE,
        operation_id="billing_portal_sessions_create",
        expand=False,
    )
    def post(self, request):
        params, _expand = self.params(s.PortalSessionCreateParams)
        customer = self.lookup(Customer, params.pop("customer"), param="customer")
        session = services.portal_session_create(
            merchant=self.merchant, livemode=self.livemode, customer=customer, now=timezone.now(), **params
        )
        return self.render(s.PortalSessionOut, session)
