"""PaymentIntents, refunds and saved payment methods: thin, Stripe's paths and verbs.

Every write goes through billing.payments.services (two-phase confirms, refunds
that never exceed what was captured); these views turn ids into the merchant's
own objects, call the service and render. Checkout is in billing/checkout/api/views.py.
"""

import logging
from contextlib import contextmanager

from django.utils import timezone

from kassa.api import schema
from kassa.api.views import paginate, represent
from kassa.errors import CardError

from ...catalogue.api.views import CatalogueView
from .. import selectors
from .. import services as payments
from ..models import PaymentIntent, PaymentMethod, Refund
from . import docs
from . import serializers as s

logger = logging.getLogger(__name__)


# --- PaymentIntents -----------------------------------------------------------------


class PaymentIntentViewBase(CatalogueView):
    resource = "payment_intents"
    expandable = {"customer": "customers", "payment_method": "payment_methods"}

    def get_payment_intent(self, id: str) -> PaymentIntent:
        queryset = selectors.payment_intent_list(merchant=self.merchant, livemode=self.livemode)
        return self.lookup(PaymentIntent, id, queryset=queryset)

    def render(self, serializer_class, instance, expand=frozenset(), status=200, **context):
        if isinstance(instance, PaymentIntent):
            context["processor_client_secret"] = payments.processor_client_secret(instance)
        return super().render(serializer_class, instance, expand, status, **context)

    @contextmanager
    def card_errors_carry_the_payment_intent(self):
        """As at Stripe, a card error carries the PaymentIntent as it now stands (last_payment_error …)."""
        try:
            yield
        except CardError as exc:
            payment_intent = self.scoped(PaymentIntent).filter(public_id=exc.extra.get("payment_intent")).first()
            if payment_intent is not None:
                exc.extra["payment_intent"] = represent(
                    s.PaymentIntentOut, payment_intent, {"expand": set(), "view": self}
                )
            raise


class PaymentIntentsView(PaymentIntentViewBase):
    @schema.listing(
        s.PaymentIntentListParams,
        s.PaymentIntentOut,
        "PaymentIntent",
        doc=docs.PAYMENT_INTENTS_LIST,
        operation_id="payment_intents_list",
        url="/v1/payment_intents",
    )
    def get(self, request):
        params, expand = self.params(s.PaymentIntentListParams)
        queryset = selectors.payment_intent_list(
            merchant=self.merchant, livemode=self.livemode, customer=params.get("customer")
        )
        return paginate(self, queryset, params, s.PaymentIntentOut, "/v1/payment_intents", expand)

    @schema.create(
        s.PaymentIntentCreateParams,
        s.PaymentIntentOut,
        doc=docs.PAYMENT_INTENTS_CREATE,
        operation_id="payment_intents_create",
    )
    def post(self, request):
        params, expand = self.params(s.PaymentIntentCreateParams)
        confirm = params.pop("confirm")
        off_session = params.pop("off_session")
        if "customer" in params:
            params["customer"] = self.lookup_customer(params["customer"], param="customer")
        if "payment_method" in params:
            params["payment_method"] = self.lookup(PaymentMethod, params["payment_method"], param="payment_method")
        if not confirm:
            payment_intent = payments.payment_intent_create(
                merchant=self.merchant, livemode=self.livemode, now=timezone.now(), **params
            )
            return self.render(s.PaymentIntentOut, payment_intent, expand)
        with self.card_errors_carry_the_payment_intent():
            payment_intent = payments.payment_intent_create_and_confirm(
                merchant=self.merchant, livemode=self.livemode, off_session=off_session, now=timezone.now(), **params
            )
        return self.render(s.PaymentIntentOut, payment_intent, expand)


class PaymentIntentView(PaymentIntentViewBase):
    @schema.read(s.PaymentIntentOut, doc=docs.PAYMENT_INTENTS_RETRIEVE, operation_id="payment_intents_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        payment_intent = payments.payment_intent_current(payment_intent=self.get_payment_intent(id))
        return self.render(s.PaymentIntentOut, payment_intent, expand)

    @schema.create(
        s.PaymentIntentUpdateParams,
        s.PaymentIntentOut,
        doc=docs.PAYMENT_INTENTS_UPDATE,
        operation_id="payment_intents_update",
    )
    def post(self, request, id):
        payment_intent = self.get_payment_intent(id)
        params, expand = self.params(s.PaymentIntentUpdateParams)
        payment_intent = payments.payment_intent_update(payment_intent=payment_intent, **params)
        return self.render(s.PaymentIntentOut, payment_intent, expand)


class PaymentIntentConfirmView(PaymentIntentViewBase):
    @schema.create(
        s.PaymentIntentConfirmParams,
        s.PaymentIntentOut,
        doc=docs.PAYMENT_INTENTS_CONFIRM,
        operation_id="payment_intents_confirm",
    )
    def post(self, request, id):
        payment_intent = self.get_payment_intent(id)
        params, expand = self.params(s.PaymentIntentConfirmParams)
        payment_method = None
        if "payment_method" in params:
            payment_method = self.lookup(PaymentMethod, params["payment_method"], param="payment_method")
        with self.card_errors_carry_the_payment_intent():
            payment_intent = payments.payment_intent_confirm(
                payment_intent=payment_intent, payment_method=payment_method
            )
        return self.render(s.PaymentIntentOut, payment_intent, expand)


class PaymentIntentCancelView(PaymentIntentViewBase):
    @schema.create(
        s.PaymentIntentCancelParams,
        s.PaymentIntentOut,
        doc=docs.PAYMENT_INTENTS_CANCEL,
        operation_id="payment_intents_cancel",
    )
    def post(self, request, id):
        payment_intent = self.get_payment_intent(id)
        params, expand = self.params(s.PaymentIntentCancelParams)
        payment_intent = payments.payment_intent_cancel(payment_intent=payment_intent, **params)
        return self.render(s.PaymentIntentOut, payment_intent, expand)


# --- refunds ------------------------------------------------------------------------


class RefundsView(CatalogueView):
    resource = "refunds"
    expandable = {"payment_intent": "payment_intents"}

    @schema.listing(
        s.RefundListParams, s.RefundOut, "Refund", doc=docs.REFUNDS_LIST, operation_id="refunds_list", url="/v1/refunds"
    )
    def get(self, request):
        params, expand = self.params(s.RefundListParams)
        queryset = selectors.refund_list(
            merchant=self.merchant, livemode=self.livemode, payment_intent=params.get("payment_intent")
        )
        return paginate(self, queryset, params, s.RefundOut, "/v1/refunds", expand)

    @schema.create(s.RefundCreateParams, s.RefundOut, doc=docs.REFUNDS_CREATE, operation_id="refunds_create")
    def post(self, request):
        params, expand = self.params(s.RefundCreateParams)
        params["payment_intent"] = self.lookup(PaymentIntent, params["payment_intent"], param="payment_intent")
        return self.render(s.RefundOut, payments.refund_create(**params), expand)


class RefundView(CatalogueView):
    resource = "refunds"
    expandable = {"payment_intent": "payment_intents"}

    @schema.read(s.RefundOut, doc=docs.REFUNDS_RETRIEVE, operation_id="refunds_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        refund = self.lookup(Refund, id, queryset=selectors.refund_list(merchant=self.merchant, livemode=self.livemode))
        return self.render(s.RefundOut, refund, expand)

    @schema.create(s.RefundUpdateParams, s.RefundOut, doc=docs.REFUNDS_UPDATE, operation_id="refunds_update")
    def post(self, request, id):
        refund = self.lookup(Refund, id)
        params, expand = self.params(s.RefundUpdateParams)
        return self.render(s.RefundOut, payments.refund_update(refund=refund, **params), expand)


# --- payment methods ----------------------------------------------------------------


class PaymentMethodsView(CatalogueView):
    resource = "payment_methods"
    expandable = {"customer": "customers"}

    @schema.listing(
        s.PaymentMethodListParams,
        s.PaymentMethodOut,
        "PaymentMethod",
        doc=docs.PAYMENT_METHODS_LIST,
        operation_id="payment_methods_list",
        url="/v1/payment_methods",
    )
    def get(self, request):
        params, expand = self.params(s.PaymentMethodListParams)
        customer = self.lookup_customer(params["customer"], param="customer")
        queryset = selectors.payment_method_list(merchant=self.merchant, livemode=self.livemode, customer=customer)
        return paginate(self, queryset, params, s.PaymentMethodOut, "/v1/payment_methods", expand)

    @schema.create(
        s.PaymentMethodCreateParams,
        s.PaymentMethodOut,
        doc=docs.PAYMENT_METHODS_CREATE,
        operation_id="payment_methods_create",
    )
    def post(self, request):
        params, expand = self.params(s.PaymentMethodCreateParams)
        customer = self.lookup_customer(params["customer"], param="customer")
        payment_method = payments.payment_method_create_from_token(
            customer=customer, token=params["card"]["token"], billing_details=params.get("billing_details")
        )
        return self.render(s.PaymentMethodOut, payment_method, expand)


class PaymentMethodView(CatalogueView):
    resource = "payment_methods"
    expandable = {"customer": "customers"}

    @schema.read(s.PaymentMethodOut, doc=docs.PAYMENT_METHODS_RETRIEVE, operation_id="payment_methods_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        queryset = selectors.payment_method_list(merchant=self.merchant, livemode=self.livemode)
        return self.render(s.PaymentMethodOut, self.lookup(PaymentMethod, id, queryset=queryset), expand)


class PaymentMethodAttachView(CatalogueView):
    resource = "payment_methods"
    expandable = {"customer": "customers"}

    @schema.create(
        s.PaymentMethodAttachParams,
        s.PaymentMethodOut,
        doc=docs.PAYMENT_METHODS_ATTACH,
        operation_id="payment_methods_attach",
    )
    def post(self, request, id):
        payment_method = self.lookup(PaymentMethod, id)
        params, expand = self.params(s.PaymentMethodAttachParams)
        customer = self.lookup_customer(params["customer"], param="customer")
        payment_method = payments.payment_method_attach(payment_method=payment_method, customer=customer)
        return self.render(s.PaymentMethodOut, payment_method, expand)


class PaymentMethodDetachView(CatalogueView):
    resource = "payment_methods"
    expandable = {"customer": "customers"}

    @schema.create(
        s.PaymentMethodDetachParams,
        s.PaymentMethodOut,
        doc=docs.PAYMENT_METHODS_DETACH,
        operation_id="payment_methods_detach",
    )
    def post(self, request, id):
        payment_method = self.lookup(PaymentMethod, id)
        _, expand = self.params(s.PaymentMethodDetachParams)
        payment_method = payments.payment_method_detach(payment_method=payment_method)
        return self.render(s.PaymentMethodOut, payment_method, expand)


class CustomerPaymentMethodsView(CatalogueView):
    resource = "payment_methods"
    expandable = {"customer": "customers"}

    @schema.listing(
        s.CustomerPaymentMethodListParams,
        s.PaymentMethodOut,
        "CustomerPaymentMethod",
        doc=docs.CUSTOMERS_PAYMENT_METHODS_LIST,
        operation_id="customers_payment_methods_list",
        url="/v1/customers/{id}/payment_methods",
    )
    def get(self, request, id):
        params, expand = self.params(s.CustomerPaymentMethodListParams)
        customer = self.lookup_customer(id)
        queryset = selectors.payment_method_list(merchant=self.merchant, livemode=self.livemode, customer=customer)
        return paginate(self, queryset, params, s.PaymentMethodOut, f"/v1/customers/{id}/payment_methods", expand)
