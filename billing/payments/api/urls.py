from django.urls import path

from . import views

urlpatterns = [
    path("customers/<str:id>/payment_methods", views.CustomerPaymentMethodsView.as_view()),
    path("payment_methods", views.PaymentMethodsView.as_view()),
    path("payment_methods/<str:id>", views.PaymentMethodView.as_view()),
    path("payment_methods/<str:id>/attach", views.PaymentMethodAttachView.as_view()),
    path("payment_methods/<str:id>/detach", views.PaymentMethodDetachView.as_view()),
    path("payment_intents", views.PaymentIntentsView.as_view()),
    path("payment_intents/<str:id>", views.PaymentIntentView.as_view()),
    path("payment_intents/<str:id>/confirm", views.PaymentIntentConfirmView.as_view()),
    path("payment_intents/<str:id>/cancel", views.PaymentIntentCancelView.as_view()),
    path("refunds", views.RefundsView.as_view()),
    path("refunds/<str:id>", views.RefundView.as_view()),
]
