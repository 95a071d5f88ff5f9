from django.urls import path

from . import invoice_views, views

urlpatterns = [
    path("tax_rates", views.TaxRatesView.as_view()),
    path("tax_rates/<str:id>", views.TaxRateView.as_view()),
    path("invoiceitems", invoice_views.InvoiceItemsView.as_view()),
    path("invoiceitems/<str:id>", invoice_views.InvoiceItemView.as_view()),
    path("invoices", invoice_views.InvoicesView.as_view()),
    path("invoices/<str:id>", invoice_views.InvoiceView.as_view()),
    path("invoices/<str:id>/finalize", invoice_views.InvoiceFinalizeView.as_view()),
    path("invoices/<str:id>/send", invoice_views.InvoiceSendView.as_view()),
    path("invoices/<str:id>/pay", invoice_views.InvoicePayView.as_view()),
    path("invoices/<str:id>/void", invoice_views.InvoiceVoidView.as_view()),
    path("invoices/<str:id>/mark_uncollectible", invoice_views.InvoiceMarkUncollectibleView.as_view()),
    path("invoices/<str:id>/lines", invoice_views.InvoiceLinesView.as_view()),
]
