from django.urls import path

from . import views

urlpatterns = [
    path("products", views.ProductsView.as_view()),
    path("products/<str:id>", views.ProductView.as_view()),
    path("prices", views.PricesView.as_view()),
    path("prices/<str:id>", views.PriceView.as_view()),
    path("customers", views.CustomersView.as_view()),
    path("customers/<str:id>", views.CustomerView.as_view()),
]
