"""The hosted invoice page, its receipt view and PDFs through Django's test client (Chromium pays it in tests/browser)."""

import html as htmllib

import pytest

from tests.billing.invoices.hosted import open_invoice, seller_settings


def text_of(response) -> str:
    return htmllib.unescape(response.content.decode())


def test_smoke(client, paying_shop):
    seller_settings(paying_shop.merchant)
    invoice = open_invoice(paying_shop.merchant)
    response = client.get(f"/invoices/{invoice.token}")
    print(text_of(response))
    assert response.status_code == 200
    response = client.get(f"/invoices/{invoice.token}/pdf")
    assert response["Content-Type"] == "application/pdf"
