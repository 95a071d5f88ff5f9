from django.urls import path

from . import dashboard

urlpatterns = [
    path("switch/mode/", dashboard.switch_mode, name="dashboard-switch-mode"),
    path("switch/merchant/", dashboard.switch_merchant, name="dashboard-switch-merchant"),
]
