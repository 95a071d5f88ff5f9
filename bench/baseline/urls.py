from django.http import HttpResponse
from django.urls import path

from baseline.rows.views import RowsView


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz),
    path("rows", RowsView.as_view()),
]
