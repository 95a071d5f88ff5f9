from django.urls import path

from . import views

urlpatterns = [
    path("tax_rates", views.TaxRatesView.as_view()),
    path("tax_rates/<str:id>", views.TaxRateView.as_view()),
]
