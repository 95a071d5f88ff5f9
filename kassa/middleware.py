"""Cross-cutting request handling: request ids and the health check."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from kassa.ids import public_id


class RequestIdMiddleware:
    """Every response carries ``Request-Id: req_…`` (and the API version), as Stripe's do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = public_id("req", 14)
        response = self.get_response(request)
        response["Request-Id"] = request.request_id
        if request.path.startswith("/v1/"):
            response["Stripe-Version"] = settings.KASSA_API_VERSION
        return response


class HealthCheckMiddleware:
    """``/healthz`` answers before host validation and the HTTPS redirect.

    Load balancers and container health checks call it by IP over plain
    HTTP; it reveals nothing but whether the database answers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != "/healthz":
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            return HttpResponse("database unavailable", status=503, content_type="text/plain")
        return JsonResponse({"status": "ok"})
