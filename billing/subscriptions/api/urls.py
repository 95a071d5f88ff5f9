from django.urls import path

from . import views

urlpatterns = [
    path("subscriptions", views.SubscriptionsView.as_view()),
    path("subscriptions/<str:id>", views.SubscriptionView.as_view()),
    path("subscriptions/<str:id>/resume", views.SubscriptionResumeView.as_view()),
    path("subscriptions/<str:id>/pause", views.SubscriptionPauseView.as_view()),
    path("subscription_items", views.SubscriptionItemsView.as_view()),
    path("subscription_items/<str:id>", views.SubscriptionItemView.as_view()),
]
