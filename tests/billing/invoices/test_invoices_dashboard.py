"""Invoices in the dashboard, through Django's test client: made with their lines and taxes in one form,
finalized, paid outside Kassa, voided; bad input writes nothing; viewers read; another merchant and the
other mode see nothing."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.catalogue import services as catalogue
from billing.invoices import services
from billing.models import Invoice, InvoiceItem
from merchants import services as merchant_services
from merchants.models import Membership
from tests import factories
from webhooks.models import Event

INVOICES = "/admin/billing/invoice/"
ITEMS = "/admin/billing/invoiceitem/"


def _errors(response) -> list[str]:
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S)


def _page(invoice) -> str:
    return f"{INVOICES}{invoice.pk}/change/"


def _button(invoice, name: str) -> str:
    return f"{INVOICES}{invoice.pk}/{name}/"


@pytest.fixture
def eur_shop(db):
    return factories.merchant("Teahouse", default_currency="eur")


@pytest.fixture
def made(eur_shop):
    m = eur_shop.merchant
    return {
        "customer": factories.customer(m, email="ada@example.com", name="Ada Lovelace"),
        "tea": factories.price(m, unit_amount=1250, currency="eur", product=factories.product(m, name="Green tea")),
        "dollar_tea": factories.price(m, unit_amount=900, currency="usd", product=factories.product(m, name="Usd tea")),
        "vat": services.tax_rate_create(
            merchant=m, livemode=False, display_name="TVA", percentage="20", inclusive=False
        ),
        "reduced": services.tax_rate_create(
            merchant=m, livemode=False, display_name="TVA réduite", percentage="5.5", inclusive=False
        ),
    }


def _lines(*rows) -> dict:
    data = {
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
    }
    for i, row in enumerate(rows):
        data.update({f"lines-{i}-{name}": value for name, value in row.items()})
    return data


def _form(made, *rows, **fields) -> dict:
    return {
        "customer": str(made["customer"].pk),
        "currency": "eur",
        "collection_method": "send_invoice",
        "days_until_due": "30",
        "description": "Thank you for your order.",
        "footer": "",
        **fields,
        **_lines(*rows),
    }


def _create(client, made, *rows, **fields):
    return client.post(f"{INVOICES}add/", _form(made, *rows, **fields))


def _two_lines(made) -> tuple:
    return (
        {"price": str(made["tea"].pk), "quantity": "2", "tax_rates": [str(made["reduced"].pk)]},
        {"description": "Tasting workshop", "unit_amount": "100", "quantity": "1"},
    )


def _draft(eur_shop, made, **fields) -> Invoice:
    m = eur_shop.merchant
    now = timezone.now()
    invoice = services.invoice_create(
        merchant=m,
        livemode=False,
        customer=made["customer"],
        now=now,
        currency="eur",
        collection_method=fields.pop("collection_method", "send_invoice"),
        days_until_due=fields.pop("days_until_due", 30),
        **fields,
    )
    services.invoice_item_create(
        merchant=m, livemode=False, customer=made["customer"], invoice=invoice, now=now, price=made["tea"], quantity=2
    )
    return Invoice.objects.get(pk=invoice.pk)


def _open(eur_shop, made, **fields) -> Invoice:
    return services.invoice_finalize(invoice=_draft(eur_shop, made, **fields), now=timezone.now())


def test_an_invoice_made_with_lines_and_taxes_shows_its_totals_in_major_units(client, eur_shop, made):
    client.force_login(eur_shop.owner)
    add = client.get(f"{INVOICES}add/")
    assert add.status_code == 200
    assert 'name="lines-0-price"' in add.text
    assert 'name="lines-2-unit_amount"' in add.text
    assert "Green tea — 12.50 EUR" in add.text
    assert 'value="30"' in add.text  # days until due: the merchant's default
    assert "kassa/invoice-lines.js" in add.text

    response = _create(client, made, *_two_lines(made), default_tax_rates=[str(made["vat"].pk)])
    assert response.status_code == 302, response.text[:3000]
    invoice = Invoice.objects.get()
    assert response["Location"] == _page(invoice)
    assert (invoice.status, invoice.currency, invoice.collection_method) == ("draft", "eur", "send_invoice")
    assert invoice.description == "Thank you for your order."
    # 2 x 12.50 at 5.5 % (its own rate) + 100.00 at the invoice's default 20 %.
    assert (invoice.subtotal, invoice.total) == (12500, 12500 + 138 + 2000)
    items = list(InvoiceItem.objects.filter(invoice=invoice).order_by("pk"))
    assert [(i.amount, i.quantity, i.description) for i in items] == [
        (2500, 2, None),
        (10000, 1, "Tasting workshop"),
    ]
    assert Event.objects.filter(merchant=eur_shop.merchant, type="invoice.created").count() == 1

    page = client.get(_page(invoice)).text
    assert "Draft" in page
    assert "Subtotal" in page
    assert "125.00 EUR" in page
    assert "TVA 20 % on 100.00 EUR" in page
    assert "20.00 EUR" in page
    assert "TVA réduite 5.5 % on 25.00 EUR" in page
    assert "1.38 EUR" in page
    assert "146.38 EUR" in page
    assert 'id="kassa-invoice-finalize"' in page
    # Its lines are on the form, to change while it is a draft.
    assert 'name="lines-1-unit_amount" value="100.00"' in page

    listing = client.get(INVOICES).text
    assert invoice.public_id in listing
    assert "146.38 EUR" in listing
    assert "ada@example.com" in listing


def test_finalize_gives_the_number_and_the_page_shows_it(client, eur_shop, made):
    invoice = _draft(eur_shop, made)
    client.force_login(eur_shop.owner)
    response = client.post(_button(invoice, "finalize"), follow=True)
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert invoice.number
    assert f"Invoice {invoice.number} finalized: it is open." in response.text
    page = client.get(_page(invoice)).text
    assert invoice.number in page
    assert "Open" in page
    assert f"/invoices/{invoice.token}" in page  # the hosted page, copyable, and its PDF
    assert f"/invoices/{invoice.token}/pdf" in page
    assert 'id="kassa-invoice-finalize"' not in page
    assert 'id="kassa-invoice-send"' in page
    assert 'id="kassa-invoice-void"' in page
    assert 'name="lines-0-price"' not in page  # a record now: no form
    assert "Teahouse" in page  # the seller as issued (its legal name is the merchant's until set)
    # Finalizing twice: the service says no, the page says why.
    again = client.post(_button(invoice, "finalize"), follow=True)
    assert "already finalized" in again.text
    listing = client.get(INVOICES).text
    assert invoice.number in listing


def test_mark_paid_out_of_band_with_a_note(client, eur_shop, made):
    invoice = _open(eur_shop, made)
    client.force_login(eur_shop.owner)
    page = client.get(_page(invoice)).text
    assert f"{INVOICES}{invoice.pk}/mark-paid/" in page
    form = client.get(_button(invoice, "mark-paid"))
    assert form.status_code == 200
    assert "25.00 EUR" in form.text
    response = client.post(_button(invoice, "mark-paid"), {"note": "Bank transfer VIR-42"}, follow=True)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_out_of_band, invoice.out_of_band_note) == (
        "paid",
        True,
        "Bank transfer VIR-42",
    )
    assert (invoice.amount_paid, invoice.amount_remaining) == (2500, 0)
    assert f"Invoice {invoice.number} marked paid outside Kassa." in response.text
    page = client.get(_page(invoice)).text
    assert "Paid outside Kassa" in page
    assert "Bank transfer VIR-42" in page
    assert f"{INVOICES}{invoice.pk}/mark-paid/" not in page
    assert 'id="kassa-invoice-void"' not in page
    # Paid once: the form says so instead of marking it again.
    assert "Only an open or uncollectible invoice" in client.get(_button(invoice, "mark-paid")).text


def test_void_and_uncollectible(client, eur_shop, made):
    invoice = _open(eur_shop, made)
    client.force_login(eur_shop.owner)
    response = client.post(_button(invoice, "uncollectible"), follow=True)
    assert f"Invoice {invoice.number} marked uncollectible; it can still be paid." in response.text
    invoice.refresh_from_db()
    assert invoice.status == "uncollectible"
    page = client.get(_page(invoice)).text
    assert 'id="kassa-invoice-uncollectible"' not in page
    assert 'id="kassa-invoice-void"' in page
    response = client.post(_button(invoice, "void"), follow=True)
    assert f"Invoice {invoice.number} voided." in response.text
    invoice.refresh_from_db()
    assert invoice.status == "void"
    page = client.get(_page(invoice)).text
    assert "Void" in page
    assert "Voided" in page
    for button in ("finalize", "send", "pay", "void", "uncollectible"):
        assert f'id="kassa-invoice-{button}"' not in page
    # A void invoice refuses what its page no longer offers.
    refused = client.post(_button(invoice, "uncollectible"), follow=True)
    assert "cannot be marked uncollectible" in refused.text
    assert Invoice.objects.get(pk=invoice.pk).status == "void"


def test_send_records_it(client, eur_shop, made):
    invoice = _open(eur_shop, made)
    client.force_login(eur_shop.owner)
    response = client.post(_button(invoice, "send"), follow=True)
    assert f"Invoice {invoice.number} sent to ada@example.com." in response.text
    invoice.refresh_from_db()
    assert invoice.sent_at is not None
    assert "Send again" in client.get(_page(invoice)).text


def test_pay_now_charges_the_default_card(client, eur_shop, made, card_token, stripe_backend):
    merchant_services.processor_credential_set(
        merchant=eur_shop.merchant, livemode=False, secret_key="sk_test_teahouse", publishable_key="pk_test_teahouse"
    )
    customer = made["customer"]
    card = factories.saved_card(customer, card_token)
    catalogue.customer_update(customer=customer, default_payment_method=card)
    invoice = _open(eur_shop, made, collection_method="charge_automatically", days_until_due=None)
    client.force_login(eur_shop.owner)
    page = client.get(_page(invoice)).text
    assert 'id="kassa-invoice-pay"' in page
    assert 'id="kassa-invoice-send"' not in page
    response = client.post(_button(invoice, "pay"), follow=True)
    assert f"Invoice {invoice.number} paid with the customer&#x27;s card." in response.text
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert invoice.amount_paid == 2500
    payment = invoice.payments.get().payment_intent
    page = client.get(_page(invoice)).text
    assert f"/admin/billing/paymentintent/{payment.pk}/change/" in page  # the payment, linked
    # …and the payment's page links back to its invoice.
    assert _page(invoice) in client.get(f"/admin/billing/paymentintent/{payment.pk}/change/").text


def test_bad_input_shows_the_error_and_writes_nothing(client, eur_shop, made):
    client.force_login(eur_shop.owner)
    events = Event.objects.count()
    # The form's own check: EUR has two decimals.
    response = _create(client, made, {"description": "Workshop", "unit_amount": "12.345", "quantity": "1"})
    assert response.status_code == 200
    assert "EUR has at most 2 decimals" in response.text
    assert 'value="12.345"' in response.text  # what was typed stays
    # A line with nothing to price it.
    response = _create(client, made, {"description": "Workshop", "quantity": "1"})
    assert "Pick a price, or type a description and a unit price." in response.text
    # The services' check, on the second line: the first line was written, then undone with the invoice.
    response = _create(
        client,
        made,
        {"price": str(made["tea"].pk), "quantity": "1"},
        {"price": str(made["dollar_tea"].pk), "quantity": "1"},
    )
    assert response.status_code == 200
    assert "Line 2:" in response.text
    assert "USD" in response.text
    assert Invoice.objects.count() == 0
    assert InvoiceItem.objects.count() == 0
    assert Event.objects.count() == events


def test_a_draft_is_edited_with_its_lines_and_deleted(client, eur_shop, made):
    client.force_login(eur_shop.owner)
    _create(client, made, *_two_lines(made))
    invoice = Invoice.objects.get()
    first, second = InvoiceItem.objects.filter(invoice=invoice).order_by("pk")
    data = {
        "collection_method": "send_invoice",
        "days_until_due": "14",
        "description": "Changed memo",
        "footer": "",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "2",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
        "lines-0-item": first.public_id,
        "lines-0-price": str(made["tea"].pk),
        "lines-0-quantity": "3",
        "lines-0-tax_rates": [str(made["reduced"].pk)],
        "lines-1-item": second.public_id,
        "lines-1-description": "Tasting workshop",
        "lines-1-unit_amount": "100.00",
        "lines-1-quantity": "1",
        "lines-1-DELETE": "on",
        "lines-2-description": "Delivery",
        "lines-2-unit_amount": "4.90",
        "lines-2-quantity": "2",
        "_save": "Save",
    }
    response = client.post(_page(invoice), data)
    assert response.status_code == 302, _errors(response)
    invoice.refresh_from_db()
    assert (invoice.description, invoice.days_until_due) == ("Changed memo", 14)
    lines = list(InvoiceItem.objects.filter(invoice=invoice).order_by("pk"))
    assert [(i.description, i.amount, i.quantity) for i in lines] == [(None, 3750, 3), ("Delivery", 980, 2)]
    # 37.50 + 5.5 % (2.06) + 9.80 without tax.
    assert invoice.total == 3750 + 206 + 980
    assert not InvoiceItem.objects.filter(pk=second.pk).exists()
    assert "49.36 EUR" in client.get(_page(invoice)).text

    confirm = client.get(f"{INVOICES}{invoice.pk}/delete/")
    assert confirm.status_code == 200
    client.post(f"{INVOICES}{invoice.pk}/delete/", {"post": "yes"})
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
    assert Event.objects.filter(merchant=eur_shop.merchant, type="invoice.deleted").count() == 1


def test_an_open_invoice_cannot_be_edited_or_deleted(client, eur_shop, made):
    invoice = _open(eur_shop, made)
    client.force_login(eur_shop.owner)
    assert client.post(_page(invoice), {"description": "changed", "_save": "Save"}).status_code == 403
    assert client.post(f"{INVOICES}{invoice.pk}/delete/", {"post": "yes"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "open"
    assert invoice.description is None


def test_viewers_read_and_cannot_act(client, eur_shop, made):
    draft = _draft(eur_shop, made)
    open_ = _open(eur_shop, made)
    viewer = factories.staff(eur_shop.merchant, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(INVOICES).status_code == 200
    page = client.get(_page(draft)).text
    assert "25.00 EUR" in page
    assert 'name="lines-0-price"' not in page
    assert 'id="kassa-invoice-finalize"' not in page
    page = client.get(_page(open_)).text
    assert 'id="kassa-invoice-void"' not in page
    assert "mark-paid" not in page
    assert client.get(f"{INVOICES}add/").status_code == 403
    assert client.post(f"{INVOICES}add/", _form(made, *_two_lines(made))).status_code == 403
    for invoice, button in ((draft, "finalize"), (open_, "void"), (open_, "send"), (open_, "uncollectible")):
        assert client.post(_button(invoice, button)).status_code == 403
    assert client.get(_button(open_, "mark-paid")).status_code == 403
    assert client.post(_button(open_, "mark-paid"), {"note": "x"}).status_code == 403
    assert client.post(f"{INVOICES}{draft.pk}/delete/", {"post": "yes"}).status_code == 403
    assert {i.status for i in Invoice.objects.all()} == {"draft", "open"}


def test_another_merchant_and_the_other_mode_see_nothing(client, eur_shop, made, other_shop):
    draft = _draft(eur_shop, made)
    open_ = _open(eur_shop, made)
    client.force_login(other_shop.owner)
    listing = client.get(INVOICES).text
    assert draft.public_id not in listing
    assert open_.number not in listing
    for invoice in (draft, open_):
        assert client.get(_page(invoice), follow=True).redirect_chain == [("/admin/", 302)]
    for button in ("finalize", "send", "void", "uncollectible", "pay", "mark-paid"):
        assert client.post(_button(open_, button), {"note": "x"}).status_code == 404
    assert client.post(_button(draft, "finalize")).status_code == 404
    assert {i.status for i in Invoice.objects.all()} == {"draft", "open"}
    # A's customer is not B's to invoice.
    response = client.post(f"{INVOICES}add/", _form(made))
    assert response.status_code == 200
    assert Invoice.objects.filter(merchant=other_shop.merchant).count() == 0

    client.force_login(eur_shop.owner)
    client.post("/admin/switch/mode/", {"livemode": "1"})
    assert open_.number not in client.get(INVOICES).text
    assert client.get(_page(open_), follow=True).redirect_chain == [("/admin/", 302)]
    assert client.post(_button(open_, "void")).status_code == 404
    assert Invoice.objects.get(pk=open_.pk).status == "open"


def test_the_list_filters_searches_and_exports(client, eur_shop, made):
    draft = _draft(eur_shop, made)
    scheduled = _draft(eur_shop, made, auto_advance=True)
    open_ = _open(eur_shop, made)
    overdue = _open(eur_shop, made, days_until_due=0)
    Invoice.objects.filter(pk=overdue.pk).update(due_date=timezone.now() - timedelta(days=2))
    client.force_login(eur_shop.owner)

    listing = client.get(INVOICES).text
    assert "Scheduled" in listing
    assert "finalizes" in listing
    assert "Overdue" in listing

    def shown(**query):
        text = client.get(INVOICES, query).text
        return {i.pk for i in (draft, scheduled, open_, overdue) if f"{INVOICES}{i.pk}/change/" in text}

    assert shown(status="draft") == {draft.pk, scheduled.pk}
    assert shown(status="scheduled") == {scheduled.pk}
    assert shown(status="open") == {open_.pk, overdue.pk}
    assert shown(status="overdue") == {overdue.pk}
    assert shown(q=open_.number) == {open_.pk}
    assert shown(q="25.00") == {draft.pk, scheduled.pk, open_.pk, overdue.pk}
    assert shown(q="ada@example.com") == {draft.pk, scheduled.pk, open_.pk, overdue.pk}
    assert shown(collection_method__exact="charge_automatically") == set()

    export = client.get(f"{INVOICES}export/", {"status": "overdue"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["number"], r["status"], r["total"], r["currency"]) for r in rows] == [
        (overdue.number, "Overdue", "25.00", "EUR")
    ]


def test_invoice_items_pending_and_invoiced(client, eur_shop, made):
    client.force_login(eur_shop.owner)
    assert client.get(f"{ITEMS}add/").status_code == 200
    response = client.post(
        f"{ITEMS}add/",
        {
            "customer": str(made["customer"].pk),
            "unit_amount_currency": "eur",
            "unit_amount": "7.50",
            "quantity": "2",
            "description": "Extra cups",
            "tax_rates": [str(made["vat"].pk)],
        },
    )
    assert response.status_code == 302, response.text[:3000]
    item = InvoiceItem.objects.get()
    assert (item.invoice, item.amount, item.currency, item.quantity) == (None, 1500, "eur", 2)
    assert list(item.tax_rates.all()) == [made["vat"]]
    listing = client.get(ITEMS, {"pending": "1"}).text
    assert "Extra cups" in listing
    assert "15.00 EUR" in listing
    assert "Pending" in listing
    # Neither a price nor an amount: said on the form, nothing written.
    response = client.post(f"{ITEMS}add/", {"customer": str(made["customer"].pk), "quantity": "1"})
    assert "Pick a price, or type a description and a unit price." in response.text
    assert InvoiceItem.objects.count() == 1

    # A new invoice that asks for them takes the customer's pending items.
    response = _create(client, made, include_pending="on")
    invoice = Invoice.objects.get()
    item.refresh_from_db()
    assert item.invoice == invoice
    assert invoice.total == 1800
    assert invoice.public_id in client.get(ITEMS, {"pending": "0"}).text

    pending = services.invoice_item_create(
        merchant=eur_shop.merchant,
        livemode=False,
        customer=made["customer"],
        now=timezone.now(),
        amount=300,
        currency="eur",
        description="Spoon",
    )
    assert client.get(f"{ITEMS}{pending.pk}/delete/").status_code == 200
    client.post(f"{ITEMS}{pending.pk}/delete/", {"post": "yes"})
    assert not InvoiceItem.objects.filter(pk=pending.pk).exists()


def test_the_customers_page_lists_their_invoices_and_cards(client, eur_shop, made):
    open_ = _open(eur_shop, made)
    client.force_login(eur_shop.owner)
    page = client.get(f"/admin/billing/customer/{made['customer'].pk}/change/").text
    assert 'id="kassa-customer-invoices"' in page
    assert open_.number in page
    assert "25.00 EUR" in page
    assert 'id="kassa-customer-cards"' not in page or "None yet" in page
    assert f"{INVOICES}add/?customer={made['customer'].pk}" in page
    add = client.get(f"{INVOICES}add/", {"customer": made["customer"].pk}).text
    assert f'<option value="{made["customer"].pk}" selected>' in add


def test_the_invoice_pages_in_french(client, eur_shop, made):
    invoice = _open(eur_shop, made)
    client.force_login(eur_shop.owner)
    client.post(_button(invoice, "mark-paid"), {"note": "Virement"})
    page = client.get(_page(invoice), HTTP_ACCEPT_LANGUAGE="fr").text
    for words in ("Payée", "Sous-total", "Reste à payer", "Payée hors de Kassa", "Facturé à", "Chronologie"):
        assert words in page, words
    listing = client.get(INVOICES, HTTP_ACCEPT_LANGUAGE="fr").text
    assert "Payée" in listing
    assert "Programmée" in listing  # the status filter's choices
    add = client.get(f"{INVOICES}add/", HTTP_ACCEPT_LANGUAGE="fr").text
    assert "Ajouter une ligne" in add
    assert "Envoyer la facture par e-mail avec un lien pour la payer" in add
