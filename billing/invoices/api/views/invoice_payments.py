"""Invoice payment endpoints: list and retrieve, as Stripe serves them at /v1/invoice_payments (read only).

An invoice payment has no merchant or mode of its own: they are its invoice's (``InvoicePayment.SCOPED_THROUGH``),
so the one lookup and the list's cursors find only the key's merchant's, in the key's mode. Reading them needs
the invoices permission, as the invoice that lists them does; expanding the PaymentIntent also needs
payment_intents.
"""

from kassa.api import schema
from kassa.api.views import paginate
from merchants.api.views import StripeView

from ... import selectors
from ...models import InvoicePayment
from .. import docs
from .. import serializers as s


class InvoicePaymentViewBase(StripeView):
    resource = "invoices"
    expandable = {"payment.payment_intent": "payment_intents"}


class InvoicePaymentsView(InvoicePaymentViewBase):
    @schema.listing(
        s.InvoicePaymentListParams,
        s.InvoicePaymentOut,
        "InvoicePayment",
        doc=docs.INVOICE_PAYMENTS_LIST,
        operation_id="invoice_payments_list",
        url="/v1/invoice_payments",
    )
    def get(self, request):
        params, expand = self.params(s.InvoicePaymentListParams)
        payment = params.get("payment") or {}
        queryset = selectors.invoice_payment_list(
            merchant=self.merchant,
            livemode=self.livemode,
            invoice=params.get("invoice"),
            status=params.get("status"),
            payment_type=payment.get("type"),
            payment_intent=payment.get("payment_intent"),
        )
        return paginate(self, queryset, params, s.InvoicePaymentOut, "/v1/invoice_payments", expand)


class InvoicePaymentView(InvoicePaymentViewBase):
    @schema.read(s.InvoicePaymentOut, doc=docs.INVOICE_PAYMENTS_RETRIEVE, operation_id="invoice_payments_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        queryset = selectors.invoice_payment_list(merchant=self.merchant, livemode=self.livemode)
        return self.render(s.InvoicePaymentOut, self.lookup(InvoicePayment, id, queryset=queryset), expand)
