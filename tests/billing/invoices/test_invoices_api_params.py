"""The invoice parameters, filters and fields the issue names, each seen through stripe-python as a client sees it."""

import time

import pytest
import stripe

from webhooks.models import Event


def _types(prefix: str = "invoice.") -> list[str]:
    return list(Event.objects.filter(type__startswith=prefix).order_by("pk").values_list("type", flat=True))


def test_create_and_update_a_draft(api, paying_shop, customer):
    pending = api.v1.invoice_items.create(params={"customer": customer.id, "amount": 700, "currency": "eur"})
    due = int(time.time()) + 10 * 86400
    invoice = api.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "due_date": due,
            "description": "March's deliveries",
            "footer": "Paiement à 10 jours.",
            "currency": "eur",
        }
    )
    assert (invoice.description, invoice.footer, invoice.due_date) == (
        "March's deliveries",
        "Paiement à 10 jours.",
        due,
    )
    # Stripe's default pending_invoice_items_behavior is exclude: the item stays pending, the draft is empty.
    assert (invoice.lines.data, invoice.total) == ([], 0)
    assert api.v1.invoice_items.retrieve(pending.id).invoice is None
    # The invoice's period is when it was made (no subscription); the seller's name is the merchant's.
    assert invoice.period_start == invoice.period_end == invoice.created
    assert invoice.account_name == paying_shop.merchant.name

    changed = api.v1.invoices.update(
        invoice.id,
        params={"description": "April's deliveries", "footer": "", "days_until_due": 30, "metadata": {"po": "7"}},
    )
    assert (changed.description, changed.footer, changed.due_date, changed.metadata.po) == (
        "April's deliveries",
        None,
        None,
        "7",
    )
    # An item added to the draft afterwards joins it.
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 300, "currency": "eur", "invoice": invoice.id}
    )
    assert api.v1.invoices.retrieve(invoice.id).total == 300
    assert _types() == ["invoice.created", "invoice.updated", "invoice.updated"]


def test_list_filters(api, customer):
    other = api.v1.customers.create(params={"email": "other@example.com"})
    now = int(time.time())
    soon = api.v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "due_date": now + 5 * 86400,
            "currency": "eur",
        }
    )
    later = api.v1.invoices.create(
        params={"customer": other.id, "collection_method": "send_invoice", "due_date": now + 40 * 86400}
    )
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 500, "currency": "eur", "invoice": soon.id})
    api.v1.invoices.finalize_invoice(soon.id)
    automatic = api.v1.invoices.create(params={"customer": customer.id})

    def ids(**params) -> list[str]:
        return [i.id for i in api.v1.invoices.list(params=params).data]

    assert ids() == [automatic.id, later.id, soon.id]
    assert ids(status="open") == [soon.id]
    assert ids(status="draft") == [automatic.id, later.id]
    assert ids(customer=other.id) == [later.id]
    assert ids(collection_method="charge_automatically") == [automatic.id]
    assert ids(due_date={"lt": now + 10 * 86400}) == [soon.id]
    assert ids(due_date={"gte": now + 10 * 86400}) == [later.id]
    created = api.v1.invoices.retrieve(later.id).created
    assert set(ids(created={"gte": created})) >= {later.id, automatic.id}
    assert ids(created={"lt": created - 3600}) == []
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.invoices.list(params={"status": "pending"})
    assert (refused.value.http_status, refused.value.param) == (400, "status")
