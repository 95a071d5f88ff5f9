"""The hosted customer portal under /portal/ (see pages.py): the address part is the session's token."""

from django.urls import path

from . import pages

app_name = "portal"

urlpatterns = [
    path("link/<str:signed>", pages.portal_link_open, name="link"),
    path("<str:token>", pages.portal_page, name="page"),
    path("<str:token>/card", pages.portal_card, name="card"),
    path("<str:token>/<slug:section_key>/<slug:action>", pages.portal_action, name="action"),
]
