from django.urls import path

from . import views

urlpatterns = [
    path("test_helpers/test_clocks", views.TestClocksView.as_view()),
    path("test_helpers/test_clocks/<str:id>", views.TestClockView.as_view()),
    path("test_helpers/test_clocks/<str:id>/advance", views.TestClockAdvanceView.as_view()),
]
