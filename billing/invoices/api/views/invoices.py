"""Invoice item and invoice endpoints: thin, Stripe's paths and verbs (POST to update, POST actions).

Every reference in a body (customer, price, tax rates, invoice, card) is looked up among the
merchant's objects of the key's mode, a 400 naming the parameter otherwise; the services hold the rules.
"""

import datetime

from django.utils import timezone
from rest_framework.response import Response

from kassa.api import schema
from kassa.api.fields import DeletedOut
from kassa.api.views import paginate, represent
from kassa.errors import ResourceMissing

from ....catalogue.api.views import CatalogueView
from ....catalogue.models import Price
from ....payments.models import PaymentMethod
from ... import selectors, services
from ...models import Invoice, InvoiceItem, TaxRate
from .. import docs
from .. import serializers as s


class InvoicingView(CatalogueView):
    def tax_rates(self, ids: list[str], param: str) -> list[TaxRate]:
        return [self.lookup(TaxRate, rate_id, param=param) for rate_id in ids]

    def card(self, card_id: str | None, param: str) -> PaymentMethod | None:
        return self.lookup(PaymentMethod, card_id, param=param) if card_id else None


# --- invoice items ----------------------------------------------------------------------------------


class InvoiceItemViewBase(InvoicingView):
    resource = "invoiceitems"
    expandable = {"customer": "customers", "test_clock": "test_clocks"}

    def item_params(self, serializer_class) -> tuple[dict, set[str]]:
        params, expand = self.params(serializer_class)
        if "customer" in params:
            params["customer"] = self.lookup_customer(params["customer"], param="customer")
        pricing = params.pop("pricing", None)
        if pricing is not None:
            params["price"] = self.lookup(Price, pricing["price"], param="pricing[price]")
        if "tax_rates" in params:
            params["tax_rates"] = self.tax_rates(params["tax_rates"], "tax_rates")
        if "invoice" in params:
            params["invoice"] = self.lookup(Invoice, params["invoice"], param="invoice")
        if "period" in params:
            params["period"] = {
                key: datetime.datetime.fromtimestamp(value, tz=datetime.UTC) for key, value in params["period"].items()
            }
        return params, expand

    def get_item(self, id: str) -> InvoiceItem:
        queryset = selectors.invoice_item_list(merchant=self.merchant, livemode=self.livemode)
        return self.lookup(InvoiceItem, id, queryset=queryset)


class InvoiceItemsView(InvoiceItemViewBase):
    @schema.listing(
        s.InvoiceItemListParams,
        s.InvoiceItemOut,
        "InvoiceItem",
        doc=docs.INVOICEITEMS_LIST,
        operation_id="invoiceitems_list",
        url="/v1/invoiceitems",
    )
    def get(self, request):
        params, expand = self.params(s.InvoiceItemListParams)
        queryset = selectors.invoice_item_list(
            merchant=self.merchant,
            livemode=self.livemode,
            customer=params.get("customer"),
            invoice=params.get("invoice"),
            pending=params.get("pending"),
        )
        return paginate(self, queryset, params, s.InvoiceItemOut, "/v1/invoiceitems", expand)

    @schema.create(
        s.InvoiceItemCreateParams, s.InvoiceItemOut, doc=docs.INVOICEITEMS_CREATE, operation_id="invoiceitems_create"
    )
    def post(self, request):
        params, expand = self.item_params(s.InvoiceItemCreateParams)
        item = services.invoice_item_create(
            merchant=self.merchant, livemode=self.livemode, now=timezone.now(), **params
        )
        return self.render(s.InvoiceItemOut, item, expand)


class InvoiceItemView(InvoiceItemViewBase):
    @schema.read(s.InvoiceItemOut, doc=docs.INVOICEITEMS_RETRIEVE, operation_id="invoiceitems_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.InvoiceItemOut, self.get_item(id), expand)

    @schema.create(
        s.InvoiceItemUpdateParams, s.InvoiceItemOut, doc=docs.INVOICEITEMS_UPDATE, operation_id="invoiceitems_update"
    )
    def post(self, request, id):
        item = self.get_item(id)
        params, expand = self.item_params(s.InvoiceItemUpdateParams)
        item = services.invoice_item_update(item=item, now=timezone.now(), **params)
        return self.render(s.InvoiceItemOut, item, expand)

    @schema.read(DeletedOut, doc=docs.INVOICEITEMS_DELETE, operation_id="invoiceitems_delete", expand=False)
    def delete(self, request, id):
        deleted_id = services.invoice_item_delete(item=self.get_item(id))
        return self.render(DeletedOut, {"id": deleted_id, "object": "invoiceitem", "deleted": True})


# --- invoices ---------------------------------------------------------------------------------------


class InvoiceViewBase(InvoicingView):
    resource = "invoices"
    expandable = {
        "customer": "customers",
        "default_payment_method": "payment_methods",
        "payments": "invoices",
        "payments.data.payment.payment_intent": "payment_intents",
        "test_clock": "test_clocks",
    }

    def get_invoice(self, id: str) -> Invoice:
        queryset = selectors.invoice_list(merchant=self.merchant, livemode=self.livemode)
        return self.lookup(Invoice, id, queryset=queryset)

    def invoice_params(self, serializer_class) -> tuple[dict, set[str]]:
        params, expand = self.params(serializer_class)
        if "customer" in params:
            params["customer"] = self.lookup_customer(params["customer"], param="customer")
        if "default_tax_rates" in params:
            params["default_tax_rates"] = self.tax_rates(params["default_tax_rates"], "default_tax_rates")
        if "default_payment_method" in params:
            params["default_payment_method"] = self.card(params["default_payment_method"], "default_payment_method")
        if params.get("due_date") is not None:
            params["due_date"] = datetime.datetime.fromtimestamp(params["due_date"], tz=datetime.UTC)
        return params, expand


class InvoicesView(InvoiceViewBase):
    @schema.listing(
        s.InvoiceListParams,
        s.InvoiceOut,
        "Invoice",
        doc=docs.INVOICES_LIST,
        operation_id="invoices_list",
        url="/v1/invoices",
    )
    def get(self, request):
        params, expand = self.params(s.InvoiceListParams)
        queryset = selectors.invoice_list(
            merchant=self.merchant,
            livemode=self.livemode,
            customer=params.get("customer"),
            status=params.get("status"),
            collection_method=params.get("collection_method"),
            due_date=params.get("due_date"),
        )
        return paginate(self, queryset, params, s.InvoiceOut, "/v1/invoices", expand)

    @schema.create(s.InvoiceCreateParams, s.InvoiceOut, doc=docs.INVOICES_CREATE, operation_id="invoices_create")
    def post(self, request):
        params, expand = self.invoice_params(s.InvoiceCreateParams)
        invoice = services.invoice_create(merchant=self.merchant, livemode=self.livemode, now=timezone.now(), **params)
        return self.render(s.InvoiceOut, invoice, expand)


class InvoiceView(InvoiceViewBase):
    @schema.read(s.InvoiceOut, doc=docs.INVOICES_RETRIEVE, operation_id="invoices_retrieve")
    def get(self, request, id):
        _, expand = self.params(s.f.StrictSerializer)
        return self.render(s.InvoiceOut, self.get_invoice(id), expand)

    @schema.create(s.InvoiceUpdateParams, s.InvoiceOut, doc=docs.INVOICES_UPDATE, operation_id="invoices_update")
    def post(self, request, id):
        invoice = self.get_invoice(id)
        params, expand = self.invoice_params(s.InvoiceUpdateParams)
        return self.render(s.InvoiceOut, services.invoice_update(invoice=invoice, now=timezone.now(), **params), expand)

    @schema.read(DeletedOut, doc=docs.INVOICES_DELETE, operation_id="invoices_delete", expand=False)
    def delete(self, request, id):
        deleted_id = services.invoice_delete(invoice=self.get_invoice(id))
        return self.render(DeletedOut, {"id": deleted_id, "object": "invoice", "deleted": True})


class InvoiceFinalizeView(InvoiceViewBase):
    @schema.create(s.InvoiceFinalizeParams, s.InvoiceOut, doc=docs.INVOICES_FINALIZE, operation_id="invoices_finalize")
    def post(self, request, id):
        invoice = self.get_invoice(id)
        params, expand = self.params(s.InvoiceFinalizeParams)
        invoice = services.invoice_finalize(invoice=invoice, now=timezone.now(), **params)
        return self.render(s.InvoiceOut, invoice, expand)


class InvoiceSendView(InvoiceViewBase):
    @schema.create(s.InvoiceActionParams, s.InvoiceOut, doc=docs.INVOICES_SEND, operation_id="invoices_send")
    def post(self, request, id):
        invoice = self.get_invoice(id)
        _, expand = self.params(s.InvoiceActionParams)
        return self.render(s.InvoiceOut, services.invoice_send(invoice=invoice, now=timezone.now()), expand)


class InvoicePayView(InvoiceViewBase):
    @schema.create(s.InvoicePayParams, s.InvoiceOut, doc=docs.INVOICES_PAY, operation_id="invoices_pay")
    def post(self, request, id):
        invoice = self.get_invoice(id)
        params, expand = self.params(s.InvoicePayParams)
        params["payment_method"] = self.card(params.get("payment_method"), "payment_method")
        invoice = services.invoice_pay(invoice=invoice, now=timezone.now(), **params)
        return self.render(s.InvoiceOut, invoice, expand)


class InvoiceVoidView(InvoiceViewBase):
    @schema.create(s.InvoiceActionParams, s.InvoiceOut, doc=docs.INVOICES_VOID, operation_id="invoices_void")
    def post(self, request, id):
        invoice = self.get_invoice(id)
        _, expand = self.params(s.InvoiceActionParams)
        return self.render(s.InvoiceOut, services.invoice_void(invoice=invoice, now=timezone.now()), expand)


class InvoiceMarkUncollectibleView(InvoiceViewBase):
    @schema.create(
        s.InvoiceActionParams,
        s.InvoiceOut,
        doc=docs.INVOICES_MARK_UNCOLLECTIBLE,
        operation_id="invoices_mark_uncollectible",
    )
    def post(self, request, id):
        invoice = self.get_invoice(id)
        _, expand = self.params(s.InvoiceActionParams)
        invoice = services.invoice_mark_uncollectible(invoice=invoice, now=timezone.now())
        return self.render(s.InvoiceOut, invoice, expand)


class InvoiceLinesView(InvoicingView):
    resource = "invoices"

    @schema.listing(
        s.InvoiceLinesListParams,
        s.InvoiceLineItemOut,
        "InvoiceLineItem",
        doc=docs.INVOICES_LINES,
        operation_id="invoices_line_items",
        url="/v1/invoices/{id}/lines",
        expand=False,
    )
    def get(self, request, id):
        params, _expand = self.params(s.InvoiceLinesListParams)
        invoice = self.lookup(Invoice, id)
        return lines_page(self, invoice, params)


def lines_page(view, invoice: Invoice, params: dict) -> Response:
    """An invoice's lines, paged by line id (``il_…``) in the order they were added, as Stripe lists them."""
    limit = params.get("limit", 10)
    lines = selectors.invoice_lines(invoice)
    cursor_id = params.get("starting_after") or params.get("ending_before")
    if cursor_id:
        cursor = lines.filter(line_id=cursor_id).values_list("pk", flat=True).first()
        if cursor is None:
            param = "starting_after" if params.get("starting_after") else "ending_before"
            raise ResourceMissing(f"No such line item: '{cursor_id}'", param=param)
        if params.get("ending_before"):
            page = list(lines.filter(pk__lt=cursor).order_by("-pk")[: limit + 1])
            has_more = len(page) > limit
            page = list(reversed(page[:limit]))
        else:
            page = list(lines.filter(pk__gt=cursor)[: limit + 1])
            has_more = len(page) > limit
            page = page[:limit]
    else:
        page = list(lines[: limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
    context = {"expand": set(), "view": view}
    return Response(
        {
            "object": "list",
            "data": [represent(s.InvoiceLineItemOut, line, context) for line in page],
            "has_more": has_more,
            "url": f"/v1/invoices/{invoice.public_id}/lines",
        }
    )
