from django.urls import path

from . import views

urlpatterns = [
    path("webhook_endpoints", views.WebhookEndpointsView.as_view()),
    path("webhook_endpoints/<str:id>", views.WebhookEndpointView.as_view()),
    path("events", views.EventsView.as_view()),
    path("events/<str:id>", views.EventView.as_view()),
    path("events/<str:id>/retry", views.EventRetryView.as_view()),
]
