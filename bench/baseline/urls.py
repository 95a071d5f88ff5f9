from django.urls import path

from baseline.rows.views import RowsView

urlpatterns = [path("rows", RowsView.as_view())]
