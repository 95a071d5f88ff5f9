"""Where Kassa's invoices answer as Stripe's do (each checked against Stripe's docs or stripe-python 16.1)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.invoices import services
from billing.models import Invoice
from kassa.errors import InvalidRequest
from webhooks.models import Event


def _types(invoice_id: str) -> list[str]:
    return [
        e.type
        for e in Event.objects.filter(type__startswith="invoice.").order_by("pk")
        if e.data["object"]["id"] == invoice_id
    ]


def test_a_draft_shows_its_customers_details_until_it_is_finalized(api, customer):
    """stripe-python: customer_email "Until the invoice is finalized, this field will equal customer.email.
    Once the invoice is finalized, this field will no longer be updated." (and name, phone, address)."""
    api.v1.customers.update(
        customer.id, params={"phone": "+33 1 23 45 67 89", "address": {"city": "Paris", "country": "FR"}}
    )
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "eur", "invoice": invoice.id}
    )
    draft = api.v1.invoices.retrieve(invoice.id)
    assert (draft.customer_email, draft.customer_name, draft.customer_phone) == (
        "payer@example.com",
        "Ada",
        "+33 1 23 45 67 89",
    )
    assert draft.customer_address.city == "Paris"
    api.v1.customers.update(customer.id, params={"email": "new@example.com"})
    assert api.v1.invoices.retrieve(invoice.id).customer_email == "new@example.com"
    api.v1.invoices.finalize_invoice(invoice.id)
    api.v1.customers.update(customer.id, params={"email": "later@example.com", "name": "Later"})
    issued = api.v1.invoices.retrieve(invoice.id)
    assert (issued.customer_email, issued.customer_name) == ("new@example.com", "Ada")


def test_unit_amount_decimal_has_at_most_12_decimal_places(api, customer):
    item = api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "eur", "quantity": 3}
    )
    raw = item.pricing.unit_amount_decimal
    assert str(raw) == "33.333333333333"
    # stripe-python's own fields of an invoice item (16.1): present, as Stripe answers without the feature.
    assert item.frozen_fields is None
    assert item.invoicing_rules is None


def test_a_due_date_passed_by_finalization_is_refused(api, customer):
    invoice = api.v1.invoices.create(
        params={
            "customer": customer.id,
            "currency": "eur",
            "collection_method": "send_invoice",
            "due_date": int((timezone.now() + timedelta(minutes=5)).timestamp()),
        }
    )
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "eur", "invoice": invoice.id}
    )
    row = Invoice.objects.get(public_id=invoice.id)
    with pytest.raises(InvalidRequest) as exc:
        services.invoice_finalize(invoice=row, now=timezone.now() + timedelta(minutes=10))
    assert exc.value.param == "due_date"
    row.refresh_from_db()
    assert (row.status, row.number) == ("draft", None)


def test_switching_on_automatic_collection_of_an_open_invoice_schedules_an_attempt(api, customer):
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 100, "currency": "eur", "invoice": invoice.id}
    )
    api.v1.invoices.finalize_invoice(invoice.id, params={"auto_advance": False})
    assert api.v1.invoices.retrieve(invoice.id).next_payment_attempt is None
    before = int(timezone.now().timestamp())
    on = api.v1.invoices.update(invoice.id, params={"auto_advance": True})
    assert on.next_payment_attempt is not None
    assert on.next_payment_attempt >= before
    off = api.v1.invoices.update(invoice.id, params={"auto_advance": False})
    assert off.next_payment_attempt is None


def test_the_payments_list_names_stripes_route(api, customer):
    """Stripe's list of an invoice's payments is GET /v1/invoice_payments?invoice=in_… (stripe-python's
    InvoicePaymentService.list): the nested list names that route, as Stripe's does."""
    invoice = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    assert api.v1.invoices.retrieve(invoice.id, params={"expand": ["payments"]}).payments.url == "/v1/invoice_payments"
