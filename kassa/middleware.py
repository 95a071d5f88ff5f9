"""Cross-cutting request handling: request ids and the health check."""

import contextvars

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse

from kassa.ids import public_id

#: ``(request id, Idempotency-Key)`` of the API request being served, for the events it causes
#: (an event's ``request``); ``None`` outside API requests (pages, tasks, the dashboard).
api_request: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar("api_request", default=None)


class RequestIdMiddleware:
    """Every response carries ``Request-Id: req_…`` (and the API version), as Stripe's do."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = public_id("req", 14)
        token = None
        if request.path.startswith("/v1/"):
            token = api_request.set((request.request_id, request.headers.get("Idempotency-Key")))
        try:
            response = self.get_response(request)
        finally:
            if token is not None:
                api_request.reset(token)
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
