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


def test_a_forty_line_invoice_finalizes_in_as_many_statements_as_a_two_line_one(client, paying_shop):
    """Finalizing totals the lines, freezes their tax rates, and shows them in its answer and in
    ``invoice.finalized``: the lines are read once for all of that and written back in one statement, so a long
    invoice costs no more round trips than a short one; the totals and frozen taxes are every line's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from billing.invoices import services
    from tests import factories
    from webhooks.models import Event

    m = paying_shop.merchant
    vat = services.tax_rate_create(merchant=m, livemode=False, display_name="TVA", percentage="20", inclusive=False)
    reduced = services.tax_rate_create(
        merchant=m, livemode=False, display_name="TVA réduite", percentage="5.5", inclusive=False
    )
    customer = factories.customer(m)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {paying_shop.secret_key.secret}"}

    def finalized(lines: int) -> tuple[int, dict]:
        now = timezone.now()
        draft = services.invoice_create(
            merchant=m, livemode=False, customer=customer, now=now, currency="eur", default_tax_rates=[vat]
        )
        for n in range(lines):
            services.invoice_item_create(
                merchant=m,
                livemode=False,
                customer=customer,
                now=now,
                amount=1000,
                currency="eur",
                invoice=draft,
                tax_rates=[reduced] if n % 2 else None,
            )
        with CaptureQueriesContext(connection) as queries:
            answer = client.post(
                f"/v1/invoices/{draft.public_id}/finalize",
                "",
                content_type="application/x-www-form-urlencoded",
                **headers,
            )
        assert answer.status_code == 200, answer.json()
        return len(queries), answer.json()

    finalized(2)  # the key's first use reads more (later ones find it cached)
    two, _ = finalized(2)
    forty, shown = finalized(40)
    assert forty == two
    assert (shown["status"], shown["subtotal"], shown["total"]) == ("open", 40_000, 40_000 + 20 * 200 + 20 * 55)
    assert shown["lines"]["total_count"] == 40
    assert {tax["amount"] for line in shown["lines"]["data"] for tax in line["taxes"]} == {200, 55}
    event = Event.objects.filter(type="invoice.finalized").order_by("pk").last().data["object"]
    assert (event["id"], event["total"], event["lines"]["data"]) == (
        shown["id"],
        shown["total"],
        shown["lines"]["data"],
    )
    frozen = InvoiceItem.objects.filter(invoice__public_id=shown["id"]).order_by("pk")
    assert [item.taxes[0]["rate"]["percentage"] for item in frozen[:2]] == ["20", "5.5"]
