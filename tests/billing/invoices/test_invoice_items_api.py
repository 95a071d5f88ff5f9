"""Invoice items through stripe-python, and every bad input of the issue: a 400 naming the parameter."""

import time

import pytest
import stripe

from billing.models import Invoice, InvoiceItem
from kassa import money
from tests import factories
from webhooks.models import Event


def test_item_lifecycle(api, customer, price, vat):
    item = api.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "pricing": {"price": price.id},
            "quantity": 3,
            "description": "Tea",
            "period": {"start": 1_700_000_000, "end": 1_700_086_400},
            "metadata": {"sku": "T-1"},
            "discountable": False,
        }
    )
    assert item.to_dict()["object"] == "invoiceitem"
    assert (item.amount, item.quantity, str(item.pricing.unit_amount_decimal), item.discountable) == (
        3750,
        3,
        "1250",
        False,
    )
    assert (item.period.start, item.period.end, item.proration, item.parent) == (
        1_700_000_000,
        1_700_086_400,
        False,
        None,
    )
    updated = api.v1.invoice_items.update(item.id, params={"quantity": 1, "tax_rates": [vat.id], "description": ""})
    assert (updated.amount, updated.description, [r.id for r in updated.tax_rates]) == (1250, None, [vat.id])
    free = api.v1.invoice_items.update(item.id, params={"amount": 700})
    assert (free.amount, free.pricing.price_details) == (700, None)
    assert api.v1.invoice_items.retrieve(item.id).amount == 700
    assert [i.id for i in api.v1.invoice_items.list(params={"customer": customer.id}).data] == [item.id]
    assert api.v1.invoice_items.list(params={"pending": False}).data == []
    deleted = api.v1.invoice_items.delete(item.id)
    assert deleted.deleted is True
    types = list(Event.objects.filter(type__startswith="invoiceitem.").order_by("pk").values_list("type", flat=True))
    assert types == ["invoiceitem.created", "invoiceitem.updated", "invoiceitem.updated", "invoiceitem.deleted"]


def test_an_item_joins_a_draft_and_its_totals_follow(api, customer, vat):
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    item = api.v1.invoice_items.create(
        params={
            "customer": customer.id,
            "amount": 1000,
            "currency": "eur",
            "invoice": invoice.id,
            "tax_rates": [vat.id],
        }
    )
    assert api.v1.invoices.retrieve(invoice.id).total == 1200
    api.v1.invoice_items.update(item.id, params={"amount": 2000})
    assert api.v1.invoices.retrieve(invoice.id).total == 2400
    api.v1.invoice_items.delete(item.id)
    assert api.v1.invoices.retrieve(invoice.id).total == 0


def _refused(call, param: str, *, status: int = 400):
    counts = (InvoiceItem.objects.count(), Invoice.objects.count(), Event.objects.count())
    with pytest.raises(stripe.InvalidRequestError) as exc:
        call()
    assert (exc.value.http_status, exc.value.param) == (status, param), exc.value.user_message
    assert (InvoiceItem.objects.count(), Invoice.objects.count(), Event.objects.count()) == counts


def test_bad_input_is_refused_naming_the_parameter(api, customer, paying_shop, other_shop, vat, price):
    eur_draft = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    other_customer = api.v1.customers.create(params={"email": "b@example.com"})
    other_merchants_rate = factories.invoices.tax_rate_create(
        merchant=other_shop.merchant, livemode=False, display_name="X", percentage=5, inclusive=False
    )
    live_rate = factories.invoices.tax_rate_create(
        merchant=paying_shop.merchant, livemode=True, display_name="X", percentage=5, inclusive=False
    )
    base = {"customer": customer.id, "currency": "eur"}
    create = api.v1.invoice_items.create
    _refused(lambda: create(params={**base, "amount": 100, "currency": "usd", "invoice": eur_draft.id}), "currency")
    _refused(lambda: create(params={**base, "amount": 100, "tax_rates": [other_merchants_rate.public_id]}), "tax_rates")
    _refused(lambda: create(params={**base, "amount": 100, "tax_rates": [live_rate.public_id]}), "tax_rates")
    _refused(lambda: create(params={**base, "amount": 100, "quantity": -1}), "quantity")
    _refused(lambda: create(params={**base, "amount": -100}), "amount")
    _refused(lambda: create(params={**base, "amount": money.MAX_AMOUNT + 1}), "amount")
    _refused(
        lambda: create(params={"customer": customer.id, "pricing": {"price": price.id}, "quantity": 100_000}),
        "quantity",
    )
    _refused(lambda: create(params={**base}), "amount")
    _refused(
        lambda: create(params={**base, "amount": 1, "invoice": eur_draft.id, "customer": other_customer.id}), "invoice"
    )
    _refused(lambda: create(params={**base, "amount": 1, "period": {"start": 10, "end": 5}}), "period[end]")
    _refused(
        lambda: api.v1.invoices.create(
            params={**base, "collection_method": "send_invoice", "due_date": int(time.time()) - 60}
        ),
        "due_date",
    )
    _refused(lambda: api.v1.invoices.create(params={**base, "days_until_due": 3}), "days_until_due")
    _refused(
        lambda: api.v1.invoices.create(params={**base, "default_tax_rates": [live_rate.public_id]}), "default_tax_rates"
    )
    _refused(lambda: api.v1.invoices.create(params={"customer": "cus_missing"}), "customer")
    # A finalized invoice: editing it, finalizing it twice, adding to it.
    api.v1.invoice_items.create(params={**base, "amount": 100, "invoice": eur_draft.id})
    api.v1.invoices.finalize_invoice(eur_draft.id)
    _refused(lambda: api.v1.invoices.update(eur_draft.id, params={"default_tax_rates": [vat.id]}), "default_tax_rates")
    _refused(lambda: api.v1.invoices.finalize_invoice(eur_draft.id), "invoice")
    _refused(lambda: create(params={**base, "amount": 100, "invoice": eur_draft.id}), "invoice")
    api.v1.invoices.void_invoice(eur_draft.id)
    _refused(lambda: api.v1.invoices.pay(eur_draft.id), "invoice")
    _refused(lambda: api.v1.invoices.mark_uncollectible(eur_draft.id), "invoice")
