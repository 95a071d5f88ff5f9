"""``/v1/invoices/create_preview``: included by kassa/urls.py before invoices' routes (``invoices/<id>`` would
take it otherwise)."""

from django.urls import path

from . import preview

urlpatterns = [
    path("invoices/create_preview", preview.InvoicePreviewView.as_view()),
]
