from django.urls import path

from . import views

urlpatterns = [
    path("stripe/<str:merchant_id>/<str:mode>/", views.stripe_webhook, name="stripe_webhook"),
]
