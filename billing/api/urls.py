from django.urls import path

from . import checkout_views, payments_views, views

urlpatterns = [
    path("products", views.ProductsView.as_view()),
    path("products/<str:id>", views.ProductView.as_view()),
    path("prices", views.PricesView.as_view()),
    path("prices/<str:id>", views.PriceView.as_view()),
    path("customers", views.CustomersView.as_view()),
    path("customers/<str:id>", views.CustomerView.as_view()),
    path("customers/<str:id>/payment_methods", payments_views.CustomerPaymentMethodsView.as_view()),
    path("payment_methods", payments_views.PaymentMethodsView.as_view()),
    path("payment_methods/<str:id>", payments_views.PaymentMethodView.as_view()),
    path("payment_links", checkout_views.PaymentLinksView.as_view()),
    path("payment_links/<str:id>", checkout_views.PaymentLinkView.as_view()),
    path("payment_links/<str:id>/line_items", checkout_views.PaymentLinkLineItemsView.as_view()),
    path("checkout/sessions", checkout_views.CheckoutSessionsView.as_view()),
    path("checkout/sessions/<str:id>", checkout_views.CheckoutSessionView.as_view()),
    path("checkout/sessions/<str:id>/line_items", checkout_views.CheckoutSessionLineItemsView.as_view()),
    path("checkout/sessions/<str:id>/expire", checkout_views.CheckoutSessionExpireView.as_view()),
    path("payment_intents", payments_views.PaymentIntentsView.as_view()),
    path("payment_intents/<str:id>", payments_views.PaymentIntentView.as_view()),
    path("payment_intents/<str:id>/confirm", payments_views.PaymentIntentConfirmView.as_view()),
    path("payment_intents/<str:id>/cancel", payments_views.PaymentIntentCancelView.as_view()),
    path("refunds", payments_views.RefundsView.as_view()),
    path("refunds/<str:id>", payments_views.RefundView.as_view()),
]
