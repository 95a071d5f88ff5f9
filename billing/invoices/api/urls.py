from django.urls import path

from .views import invoice_payments, invoices, tax_rates

urlpatterns = [
    path("tax_rates", tax_rates.TaxRatesView.as_view()),
    path("tax_rates/<str:id>", tax_rates.TaxRateView.as_view()),
    path("invoiceitems", invoices.InvoiceItemsView.as_view()),
    path("invoiceitems/<str:id>", invoices.InvoiceItemView.as_view()),
    path("invoices", invoices.InvoicesView.as_view()),
    path("invoices/<str:id>", invoices.InvoiceView.as_view()),
    path("invoices/<str:id>/finalize", invoices.InvoiceFinalizeView.as_view()),
    path("invoices/<str:id>/send", invoices.InvoiceSendView.as_view()),
    path("invoices/<str:id>/pay", invoices.InvoicePayView.as_view()),
    path("invoices/<str:id>/void", invoices.InvoiceVoidView.as_view()),
    path("invoices/<str:id>/mark_uncollectible", invoices.InvoiceMarkUncollectibleView.as_view()),
    path("invoices/<str:id>/lines", invoices.InvoiceLinesView.as_view()),
    path("invoice_payments", invoice_payments.InvoicePaymentsView.as_view()),
    path("invoice_payments/<str:id>", invoice_payments.InvoicePaymentView.as_view()),
]
