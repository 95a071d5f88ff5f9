"""One place turns every failure into Stripe's error shape and status code.

``{"error": {"type", "code", "message", "param"}}`` with 400/401/402/403/404/
409/429/500, so that Stripe's SDKs raise the matching exception class. An
unexpected exception is logged (without secrets, see kassa/logging.py) and
answered as ``api_error`` without internals.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response

from kassa import errors

logger = logging.getLogger("kassa.api")


def error_response(error: errors.KassaError, headers: dict | None = None) -> Response:
    response = Response({"error": error.as_dict()}, status=error.status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _first_error(detail, path=()):
    """The first leaf of DRF's nested error structure, with its parameter path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            return _first_error(value, (*path, str(key)))
    if isinstance(detail, list) and detail:
        # A list of errors for one field, or a list of per-item errors.
        if all(isinstance(item, (dict, list)) for item in detail):
            for index, item in enumerate(detail):
                if item:
                    return _first_error(item, (*path, str(index)))
        return _first_error(detail[0], path)
    return detail, path


def param_name(path: tuple[str, ...]) -> str:
    path = tuple(p for p in path if p != "non_field_errors")
    if not path:
        return ""
    return path[0] + "".join(f"[{segment}]" for segment in path[1:])


_DRF_CODES = {
    "required": "parameter_missing",
    "null": "parameter_missing",
    "blank": "parameter_invalid_string_blank",
    "invalid_choice": "parameter_invalid",
    "not_a_list": "parameter_invalid_array",
    "not_a_dict": "parameter_invalid",
    "empty": "parameter_invalid_empty",
    "max_length": "parameter_invalid_string_too_long",
    "invalid": "parameter_invalid",
    "max_value": "parameter_invalid_integer",
    "min_value": "parameter_invalid_integer",
    "max_string_length": "parameter_invalid_integer",
}


def validation_error(exc: drf.ValidationError) -> errors.InvalidRequest:
    detail, path = _first_error(exc.detail)
    param = param_name(path)
    code = getattr(detail, "code", "invalid")
    code = _DRF_CODES.get(code, code)
    text = str(detail)
    if code == "parameter_missing":
        message = f"Missing required param: {param}."
    elif code == "parameter_unknown":
        message = f"Received unknown parameter: {param}"
    elif code == "stripe_parameter_unsupported":
        # Stripe's code for a parameter it does not know; the message tells a gap in Kassa from a typo.
        code = "parameter_unknown"
        message = f"`{param}` is a Stripe parameter Kassa does not support yet."
    elif param:
        message = f"Invalid {param}: {text}" if not text.startswith("Invalid") else f"{text} ({param})"
    else:
        message = text
    return errors.InvalidRequest(message, code=code, param=param or None)


def translate(exc: Exception, request=None) -> tuple[errors.KassaError, dict]:
    if isinstance(exc, errors.KassaError):
        return exc, {}
    if isinstance(exc, SuspiciousOperation):
        return errors.InvalidRequest(f"Invalid request: {exc}"[:300], code="parameter_invalid"), {}
    if isinstance(exc, Http404):
        return errors.ResourceMissing("No such object."), {}
    if isinstance(exc, DjangoPermissionDenied):
        return errors.PermissionDenied("Permission denied."), {}
    if isinstance(exc, drf.ValidationError):
        return validation_error(exc), {}
    if isinstance(exc, drf.ParseError):
        return errors.InvalidRequest(f"Invalid request body: {exc.detail}", code="parameter_invalid"), {}
    if isinstance(exc, drf.UnsupportedMediaType):
        return errors.InvalidRequest(
            "Send the body as application/x-www-form-urlencoded or application/json.", code="parameter_invalid"
        ), {}
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return errors.AuthenticationFailed(str(exc.detail)), {}
    if isinstance(exc, drf.PermissionDenied):
        return errors.PermissionDenied(str(exc.detail)), {}
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(exc.wait or 1))
        return errors.RateLimited(
            "Too many requests hit the API too quickly. Slow down and retry with exponential backoff."
        ), {"Retry-After": str(wait)}
    if isinstance(exc, drf.MethodNotAllowed):
        # As at Stripe: a method a URL does not have is an unrecognized URL (404).
        where = f"{request.method}: {request.path}" if request is not None else "this method"
        return errors.KassaError(f"Unrecognized request URL ({where}).", status=404), {}
    if isinstance(exc, drf.NotFound):
        return errors.ResourceMissing(str(exc.detail)), {}
    return None, {}


def exception_handler(exc, context):
    error, headers = translate(exc, context.get("request"))
    if error is None:
        request = context.get("request")
        logger.exception(
            "Unhandled error in %s %s (request %s)",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            getattr(getattr(request, "_request", None), "request_id", "?"),
        )
        error = errors.KassaError("An unexpected error occurred. Try again later.")
        error.status, error.type = 500, "api_error"
    return error_response(error, headers)


@csrf_exempt
def not_found_json(request, exception=None):
    """404 for unknown URLs under /v1/, in the API's shape (Django's handler404 hook).

    CSRF-exempt: the API authenticates by key, never by cookie, and without it a
    POST to an unknown URL got Django's HTML 403 page instead of this answer.
    """
    body = {
        "error": {
            "type": "invalid_request_error",
            "message": f"Unrecognized request URL ({request.method}: {request.path}).",
        }
    }
    return JsonResponse(body, status=404)
