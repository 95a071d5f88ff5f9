"""The home page's own URLs, added to the dashboard's site (merchants/admin_site.py) behind its login."""

from django.contrib import admin

from . import views

admin.site.add_page("home/volume.svg", views.volume_chart, name="home_volume_chart")
