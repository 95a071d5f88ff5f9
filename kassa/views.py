"""The few pages that belong to no app: the front door and the health check."""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect


def home(request):
    return redirect("admin:index")


def healthz(request):
    """Liveness and database reachability, for load balancers and compose health checks."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return JsonResponse({"status": "ok"})
