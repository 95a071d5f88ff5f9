"""The payer's hosted invoice pages under /invoices/ (see pages.py): the address part is the invoice's token."""

from django.urls import path

from . import pages

app_name = "invoices"

urlpatterns = [
    path("<str:token>", pages.invoice_page, name="page"),
    path("<str:token>/pay", pages.invoice_pay, name="pay"),
    path("<str:token>/sync", pages.invoice_sync, name="sync"),
    path("<str:token>/receipt", pages.receipt_page, name="receipt"),
    path("<str:token>/pdf", pages.invoice_pdf, name="pdf"),
    path("<str:token>/receipt.pdf", pages.receipt_pdf, name="receipt_pdf"),
]
