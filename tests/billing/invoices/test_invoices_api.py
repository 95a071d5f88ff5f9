"""Invoices through stripe-python, unmodified, against a live Kassa and localstripe: the whole lifecycle."""

import time

import pytest
import stripe

from billing.invoices import numbering
from billing.models import Invoice, InvoiceItem
from tests.conftest import processor_payment_intents
from webhooks.models import Event


def _types(prefix: str = "invoice.") -> list[str]:
    return list(Event.objects.filter(type__startswith=prefix).order_by("pk").values_list("type", flat=True))


def test_items_invoice_finalize_pay(api, paying_shop, customer, save_card, vat, price, stripe_backend, settings):
    card = save_card()
    settings.KASSA_PUBLIC_URL = "https://kassa.example"
    prefix = numbering.invoice_settings_for(paying_shop.merchant).prefix
    first = api.v1.invoice_items.create(
        params={"customer": customer.id, "pricing": {"price": price.id}, "quantity": 2, "tax_rates": [vat.id]}
    )
    assert isinstance(first, stripe.InvoiceItem)
    assert (first.amount, first.currency, first.invoice, first.pricing.price_details.price) == (
        2500,
        "eur",
        None,
        price.id,
    )
    second = api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 999, "currency": "eur", "description": "Delivery"}
    )
    assert [i.id for i in api.v1.invoice_items.list(params={"pending": True}).data] == [second.id, first.id]

    invoice = api.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include", "metadata": {"order": "1"}}
    )
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.number, invoice.auto_advance, invoice.hosted_invoice_url) == (
        "draft",
        None,
        False,
        None,
    )
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (3499, 3999, 3999)
    assert [t.to_dict() for t in invoice.total_taxes] == [
        {
            "amount": 500,
            "tax_behavior": "exclusive",
            "tax_rate_details": {"tax_rate": vat.id},
            "taxability_reason": "standard_rated",
            "taxable_amount": 2500,
            "type": "tax_rate_details",
        }
    ]
    assert [line.parent.invoice_item_details.invoice_item for line in invoice.lines.data] == [first.id, second.id]
    lines = api.v1.invoices.line_items.list(invoice.id, params={"limit": 1})
    assert (len(lines.data), lines.has_more, lines.data[0].amount) == (1, True, 2500)

    final = api.v1.invoices.finalize_invoice(invoice.id)
    assert (final.status, final.number) == ("open", f"{prefix}-0001")
    token = Invoice.objects.get(public_id=invoice.id).token
    assert final.hosted_invoice_url == f"https://kassa.example/invoices/{token}"
    assert final.invoice_pdf == f"https://kassa.example/invoices/{token}/pdf"
    assert (final.customer_email, final.customer_name) == ("payer@example.com", "Ada")
    assert Invoice.objects.get(public_id=invoice.id).language == "fr"

    paid = api.v1.invoices.pay(invoice.id, params={"expand": ["payments.data.payment.payment_intent"]})
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 3999, 0)
    stored = api.v1.invoices.retrieve(invoice.id)  # what was written, not only what the answer showed
    shown = ("status", "amount_paid", "amount_remaining", "auto_advance", "next_payment_attempt", "status_transitions")
    assert {name: stored[name] for name in shown} == {name: paid[name] for name in shown}
    assert stored.status_transitions.paid_at is not None
    [payment] = paid.payments.data
    assert payment.id.startswith("inpay_")
    assert (payment.status, payment.amount_paid, payment.payment.type) == ("paid", 3999, "payment_intent")
    assert payment.payment.payment_intent.status == "succeeded"
    assert payment.payment.payment_intent.payment_method == card.id
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [3999]
    assert _types() == ["invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded"]

    # Finalized: amounts fixed, paying again refused, each a 400 naming the parameter.
    for call, param in (
        (lambda: api.v1.invoices.update(invoice.id, params={"collection_method": "send_invoice"}), "collection_method"),
        (lambda: api.v1.invoices.finalize_invoice(invoice.id), "invoice"),
        (lambda: api.v1.invoices.pay(invoice.id), "invoice"),
        (lambda: api.v1.invoices.void_invoice(invoice.id), "invoice"),
        (lambda: api.v1.invoice_items.update(first.id, params={"quantity": 5}), "invoice"),
        (lambda: api.v1.invoice_items.delete(first.id), "invoice"),
        (lambda: api.v1.invoices.delete(invoice.id), "invoice"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            call()
        assert (exc.value.http_status, exc.value.param) == (400, param)
    assert api.v1.invoices.update(invoice.id, params={"metadata": {"order": "2"}}).metadata.order == "2"
    assert len(processor_payment_intents(stripe_backend)) == 1


def test_expand_and_lists(api, customer, save_card):
    card = save_card()
    invoice = api.v1.invoices.create(
        params={"customer": customer.id, "currency": "eur", "default_payment_method": card.id}
    )
    expanded = api.v1.invoices.retrieve(invoice.id, params={"expand": ["customer", "default_payment_method"]})
    assert isinstance(expanded.customer, stripe.Customer)
    assert expanded.default_payment_method.id == card.id
    other = api.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 10}
    )
    assert [i.id for i in api.v1.invoices.list(params={"collection_method": "send_invoice"}).data] == [other.id]
    assert [i.id for i in api.v1.invoices.list(params={"customer": customer.id}).data] == [other.id, invoice.id]
    assert api.v1.invoices.list(params={"status": "open"}).data == []
    listed = api.v1.invoices.list(params={"expand": ["data.customer"]})
    assert all(isinstance(i.customer, stripe.Customer) for i in listed.data)


def test_delete_a_draft_returns_its_items(api, customer):
    item = api.v1.invoice_items.create(params={"customer": customer.id, "amount": 500, "currency": "eur"})
    invoice = api.v1.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include"})
    assert api.v1.invoice_items.retrieve(item.id).invoice == invoice.id
    deleted = api.v1.invoices.delete(invoice.id)
    assert (deleted.id, deleted.deleted) == (invoice.id, True)
    assert api.v1.invoice_items.retrieve(item.id).invoice is None
    assert "invoice.deleted" in _types()
    gone = api.v1.invoice_items.delete(item.id)
    assert (gone.id, gone.object, gone.deleted) == (item.id, "invoiceitem", True)
    assert not InvoiceItem.objects.filter(public_id=item.id).exists()


def test_void_uncollectible_and_paying_an_uncollectible(api, customer, save_card, stripe_backend):
    save_card()
    inv = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 700, "currency": "eur", "invoice": inv.id})
    api.v1.invoices.finalize_invoice(inv.id)
    voided = api.v1.invoices.void_invoice(inv.id)
    assert (voided.status, voided.status_transitions.voided_at is not None) == ("void", True)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.invoices.pay(inv.id)
    assert (exc.value.param, exc.value.http_status) == ("invoice", 400)
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})

    other = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 800, "currency": "eur", "invoice": other.id})
    api.v1.invoices.finalize_invoice(other.id)
    written_off = api.v1.invoices.mark_uncollectible(other.id)
    assert written_off.status == "uncollectible"
    paid = api.v1.invoices.pay(other.id)
    assert (paid.status, paid.amount_paid) == ("paid", 800)
    assert [p["amount"] for p in processor_payment_intents(stripe_backend)] == [800]
    assert "invoice.voided" in _types()
    assert "invoice.marked_uncollectible" in _types()


def test_paid_out_of_band_charges_nothing(api, customer, stripe_backend):
    inv = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 800, "currency": "eur", "invoice": inv.id})
    api.v1.invoices.finalize_invoice(inv.id)
    paid = api.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})
    assert (paid.status, paid.amount_paid, paid.amount_paid_off_stripe, paid.payments.data) == ("paid", 800, 800, [])
    assert processor_payment_intents(stripe_backend) == []


def test_send_invoice_due_date_and_send(api, customer):
    inv = api.v1.invoices.create(
        params={"customer": customer.id, "currency": "eur", "collection_method": "send_invoice", "days_until_due": 14}
    )
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 800, "currency": "eur", "invoice": inv.id})
    final = api.v1.invoices.finalize_invoice(inv.id)
    assert final.due_date == final.status_transitions.finalized_at + 14 * 86400
    sent = api.v1.invoices.send_invoice(inv.id)
    assert sent.status == "open"
    assert "invoice.sent" in _types()
    defaulted = api.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice"})
    assert Invoice.objects.get(public_id=defaulted.id).days_until_due == 30


def test_zero_total_is_paid_at_finalization(api, customer):
    inv = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    final = api.v1.invoices.finalize_invoice(inv.id)
    assert (final.status, final.amount_due, final.number is not None) == ("paid", 0, True)
    # Paid as it is finalized, with both events a paid invoice sends at Stripe (invoice.payment_succeeded
    # "occurs whenever an invoice payment attempt succeeds", a $0 invoice's included).
    assert _types()[-3:] == ["invoice.finalized", "invoice.paid", "invoice.payment_succeeded"]


def test_declined_and_3ds_cards(api, customer, save_card):
    save_card("4000000000000341")
    inv = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur"})
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 800, "currency": "eur", "invoice": inv.id})
    api.v1.invoices.finalize_invoice(inv.id)
    with pytest.raises(stripe.CardError) as exc:
        api.v1.invoices.pay(inv.id)
    assert exc.value.http_status == 402
    after = api.v1.invoices.retrieve(inv.id)
    assert (after.status, after.attempted, after.attempt_count) == ("open", True, 1)
    assert "invoice.payment_failed" in _types()

    three_ds = save_card("4000002500003155", default=False)
    with pytest.raises(stripe.CardError) as exc:
        api.v1.invoices.pay(inv.id, params={"payment_method": three_ds.id})
    assert exc.value.code == "invoice_payment_intent_requires_action"
    assert "invoice.payment_action_required" in _types()
    assert api.v1.invoices.retrieve(inv.id).status == "open"


def test_tax_totals_inclusive_and_exclusive(api, customer):
    incl = api.v1.tax_rates.create(params={"display_name": "TVA", "percentage": "5.5", "inclusive": True})
    excl = api.v1.tax_rates.create(params={"display_name": "VAT", "percentage": "19.6", "inclusive": False})
    inv = api.v1.invoices.create(params={"customer": customer.id, "currency": "eur", "default_tax_rates": [excl.id]})
    for amount in (1055, 333):
        api.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "amount": amount,
                "currency": "eur",
                "invoice": inv.id,
                "tax_rates": [incl.id],
            }
        )
    api.v1.invoice_items.create(params={"customer": customer.id, "amount": 1001, "currency": "eur", "invoice": inv.id})
    inv = api.v1.invoices.retrieve(inv.id)
    # 1055 incl. 5.5 %: 55 (net 1000); 333: 17.36 → 17 (net 316); 1001 + 19.6 %: 196.196 → 196.
    assert [[t.amount for t in line.taxes] for line in inv.lines.data] == [[55], [17], [196]]
    assert (inv.subtotal, inv.subtotal_excluding_tax, inv.total, inv.total_excluding_tax) == (2389, 2317, 2585, 2317)
    assert {t.tax_rate_details.tax_rate: (t.amount, t.taxable_amount, t.tax_behavior) for t in inv.total_taxes} == {
        incl.id: (72, 1316, "inclusive"),
        excl.id: (196, 1001, "exclusive"),
    }
    assert time.time() > 0


def test_sending_to_a_customer_without_an_email_is_refused(api, mailoutbox):
    customer = api.v1.customers.create(params={"name": "No Mail"})
    invoice = api.v1.invoices.create(
        params={"customer": customer.id, "currency": "eur", "collection_method": "send_invoice", "days_until_due": 5}
    )
    api.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 900, "currency": "eur", "invoice": invoice.id}
    )
    # Finalizing with automatic collection would send it: refused, still a numberless draft.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.invoices.finalize_invoice(invoice.id, params={"auto_advance": True})
    assert (exc.value.http_status, exc.value.param, exc.value.code) == (400, "customer", "customer_email_missing")
    draft = api.v1.invoices.retrieve(invoice.id)
    assert (draft.status, draft.number) == ("draft", None)
    # Finalized without sending, then sent: refused, nothing recorded.
    api.v1.invoices.finalize_invoice(invoice.id, params={"auto_advance": False})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        api.v1.invoices.send_invoice(invoice.id)
    assert (exc.value.param, exc.value.code) == ("customer", "customer_email_missing")
    assert Invoice.objects.get(public_id=invoice.id).sent_at is None
    assert not Event.objects.filter(type="invoice.sent").exists()
    assert mailoutbox == []
