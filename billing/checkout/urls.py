"""The payer's hosted pages under /pay/ (see pages.py)."""

from django.urls import path

from . import pages

app_name = "pay"

urlpatterns = [
    path("session/<str:session_id>", pages.session_page, name="session"),
    path("session/<str:session_id>/pay", pages.session_pay, name="session_pay"),
    path("session/<str:session_id>/sync", pages.session_sync, name="session_sync"),
    path("session/<str:session_id>/complete", pages.session_complete, name="session_complete"),
    path("<str:slug>", pages.payment_link_open, name="link"),
]
