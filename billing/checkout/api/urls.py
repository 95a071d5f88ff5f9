from django.urls import path

from . import views

urlpatterns = [
    path("payment_links", views.PaymentLinksView.as_view()),
    path("payment_links/<str:id>", views.PaymentLinkView.as_view()),
    path("payment_links/<str:id>/line_items", views.PaymentLinkLineItemsView.as_view()),
    path("checkout/sessions", views.CheckoutSessionsView.as_view()),
    path("checkout/sessions/<str:id>", views.CheckoutSessionView.as_view()),
    path("checkout/sessions/<str:id>/line_items", views.CheckoutSessionLineItemsView.as_view()),
    path("checkout/sessions/<str:id>/expire", views.CheckoutSessionExpireView.as_view()),
]
