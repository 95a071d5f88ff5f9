"""Every response carries ``Request-Id: req_…`` (and the API version), as Stripe's do."""

from django.conf import settings

from kassa.ids import public_id


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = public_id("req", 14)
        response = self.get_response(request)
        response["Request-Id"] = request.request_id
        if request.path.startswith("/v1/"):
            response["Stripe-Version"] = settings.KASSA_API_VERSION
        return response
