from django.contrib import admin
from django.urls import path

from . import dashboard, email_settings, two_factor_pages

urlpatterns = [
    path("switch/mode/", dashboard.switch_mode, name="dashboard-switch-mode"),
    path("switch/merchant/", dashboard.switch_merchant, name="dashboard-switch-merchant"),
    path(
        "email-settings/",
        admin.site.admin_view(email_settings.email_settings_page),
        name="dashboard-email-settings",
    ),
    path("two-factor/", admin.site.admin_view(two_factor_pages.two_factor_page), name="dashboard-two-factor"),
]
