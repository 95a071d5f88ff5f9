"""An invoice is never worth more than one payment can take; a quantity fits its column. 400s naming the parameter."""

import pytest
import stripe

from billing.models import Invoice, InvoiceItem, TaxRate
from kassa import money


def _draft(api, customer, **params):
    return api.v1.invoices.create(params={"customer": customer.id, "currency": "eur", **params})


def _refused(call) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        call()
    assert exc.value.http_status == 400
    return exc.value


def test_tax_on_top_cannot_push_a_total_over_the_maximum(api, customer, vat):
    invoice = _draft(api, customer)
    item = api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 90_000_000, "currency": "eur", "invoice": invoice.id}
    )
    error = _refused(lambda: api.v1.invoices.update(invoice.id, params={"default_tax_rates": [vat.id]}))
    assert (error.param, error.code) == ("default_tax_rates", "amount_too_large")
    draft = api.v1.invoices.retrieve(invoice.id)
    assert (draft.total, [r.id for r in draft.default_tax_rates]) == (90_000_000, [])
    error = _refused(lambda: api.v1.invoice_items.update(item.id, params={"tax_rates": [vat.id]}))
    assert error.param == "tax_rates"
    assert api.v1.invoices.retrieve(invoice.id).total == 90_000_000


def test_lines_adding_up_over_the_maximum_are_refused(api, customer, price):
    invoice = _draft(api, customer)
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 60_000_000, "currency": "eur", "invoice": invoice.id}
    )
    error = _refused(
        lambda: api.v1.invoice_items.create(
            params={"customer": customer.id, "amount": 60_000_000, "currency": "eur", "invoice": invoice.id}
        )
    )
    assert error.param == "amount"
    error = _refused(
        lambda: api.v1.invoice_items.create(
            params={"customer": customer.id, "pricing": {"price": price.id}, "quantity": 40_000, "invoice": invoice.id}
        )
    )
    assert error.param == "quantity"
    draft = api.v1.invoices.retrieve(invoice.id)
    assert (draft.total, len(draft.lines.data)) == (60_000_000, 1)
    assert InvoiceItem.objects.count() == 1


def test_pending_items_over_the_maximum_are_not_taken(api, customer):
    for _ in range(2):
        api.v1.invoice_items.create(params={"customer": customer.id, "amount": 60_000_000, "currency": "eur"})
    error = _refused(lambda: _draft(api, customer, pending_invoice_items_behavior="include"))
    assert error.param == "pending_invoice_items_behavior"
    assert Invoice.objects.count() == 0
    assert InvoiceItem.objects.filter(invoice__isnull=True).count() == 2


def test_an_invoice_over_the_maximum_is_not_finalized(api, customer, vat):
    """However it got there (here: written before the limit existed), it is refused before it takes a number."""
    invoice = _draft(api, customer)
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 90_000_000, "currency": "eur", "invoice": invoice.id}
    )
    row = Invoice.objects.get(public_id=invoice.id)
    row.default_tax_rates.set([TaxRate.objects.get(public_id=vat.id)])
    error = _refused(lambda: api.v1.invoices.finalize_invoice(invoice.id))
    assert (error.param, error.code) == ("invoice", "amount_too_large")
    draft = api.v1.invoices.retrieve(invoice.id)
    assert (draft.status, draft.number) == ("draft", None)
    assert money.MAX_AMOUNT < 108_000_000


@pytest.mark.parametrize("quantity", [10**19, 3_000_000_000, 2_147_483_648])
def test_a_quantity_larger_than_its_column_is_a_400(api, customer, price, quantity):
    for params in (
        {"amount": 0, "currency": "eur"},
        {"pricing": {"price": price.id}},
    ):
        error = _refused(
            lambda params=params: api.v1.invoice_items.create(
                params={"customer": customer.id, "quantity": quantity, **params}
            )
        )
        assert error.param == "quantity"
    item = api.v1.invoice_items.create(params={"customer": customer.id, "amount": 500, "currency": "eur"})
    error = _refused(lambda: api.v1.invoice_items.update(item.id, params={"quantity": quantity}))
    assert error.param == "quantity"
    assert InvoiceItem.objects.get().quantity == 1


def test_the_largest_quantity_is_stored(api, customer, price):
    item = api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 500, "currency": "eur", "quantity": 2_147_483_647}
    )
    assert (item.quantity, InvoiceItem.objects.get().quantity) == (2_147_483_647, 2_147_483_647)
    # Priced by a price, the amount (unit amount times quantity) is bounded by the currency's maximum.
    error = _refused(
        lambda: api.v1.invoice_items.create(
            params={"customer": customer.id, "pricing": {"price": price.id}, "quantity": 2_147_483_647}
        )
    )
    assert (error.param, error.code) == ("quantity", "amount_too_large")
