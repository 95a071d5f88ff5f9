"""Invoices as a merchant makes them (the invoice services the API and dashboard call), for the hosted page's tests."""

import json

from django.utils import timezone

from billing.hosted import framing
from billing.invoices import numbering
from billing.invoices import services as invoices
from tests import factories


def seller_settings(merchant, **fields):
    """The merchant's invoice settings with a French seller's legal fields."""
    settings = numbering.invoice_settings_for(merchant)
    values = {
        "legal_name": "Shop SARL",
        "address_line1": "12 rue de la Paix",
        "postal_code": "75002",
        "city": "Paris",
        "country": "FR",
        "vat_number": "FR40303265045",
        "support_email": "billing@shop.test",
        "footer": "Pénalités de retard : 3 fois le taux d'intérêt légal.",
    } | fields
    for name, value in values.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def open_invoice(
    merchant,
    *,
    customer=None,
    lines=((2, 1250, "Green tea"), (1, 990, "Teapot")),
    currency="eur",
    tax=("TVA", "20", False),
    collection_method="send_invoice",
    finalize=True,
    livemode=False,
    **options,
):
    """An invoice of ``lines`` (quantity, unit amount, description) taxed at one rate; finalized unless told not."""
    now = timezone.now()
    customer = customer or factories.customer(
        merchant,
        email="buyer@example.com",
        name="Ada Lovelace",
        address={"line1": "1 Analytical Row", "city": "London", "postal_code": "N1 9GU", "country": "GB"},
        livemode=livemode,
    )
    rates = []
    if tax:
        name, percentage, inclusive = tax
        rates = [
            invoices.tax_rate_create(
                merchant=merchant, livemode=livemode, display_name=name, percentage=percentage, inclusive=inclusive
            )
        ]
    invoice = invoices.invoice_create(
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        now=now,
        collection_method=collection_method,
        currency=currency,
        default_tax_rates=rates,
        **options,
    )
    for quantity, unit_amount, description in lines:
        price = factories.price(
            merchant,
            unit_amount=unit_amount,
            currency=currency,
            livemode=livemode,
            product=factories.product(merchant, name=description, livemode=livemode),
        )
        invoices.invoice_item_create(
            merchant=merchant,
            livemode=livemode,
            customer=customer,
            now=now,
            price=price,
            quantity=quantity,
            description=description,
            invoice=invoice,
        )
    if finalize:
        invoice = invoices.invoice_finalize(invoice=invoice, now=now)
    invoice.refresh_from_db()
    return invoice


def pay_call(client, invoice, token, *, suffix="/pay", name="Ada Lovelace", **headers):
    """The page's pay (or sync) call, as checkout.js makes it on the invoice page."""
    headers.setdefault("HTTP_X_KASSA_PAGE_TOKEN", framing.page_token(invoice))
    headers.setdefault("HTTP_ORIGIN", "http://testserver")
    body = {"token": token, "name": name} if suffix == "/pay" else {}
    return client.post(
        f"/invoices/{invoice.token}{suffix}", json.dumps(body), content_type="application/json", **headers
    )
