from django.urls import path

from . import views

urlpatterns = [
    path("billing_portal/sessions", views.PortalSessionsView.as_view()),
]
