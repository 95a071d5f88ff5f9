"""``POST /webhooks/stripe/<merchant>/<mode>/``: where Stripe sends each merchant's events.

The path holds the merchant's public id and the mode; it is not a secret.
What protects it is the signature: every request must carry a
``Stripe-Signature`` made with the signing secret this merchant saved for
this mode (one secret per merchant and mode, never shared), at most five
minutes old. A request without one is refused before anything is stored.
The answer is a 2xx as soon as the raw event is stored; applying it is a
task.
"""

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kassa.errors import KassaError

from .services import inbound

logger = logging.getLogger(__name__)

#: Stripe's events are far smaller; anything larger is not one.
MAX_BODY = 512 * 1024


@csrf_exempt
@require_POST
def stripe_webhook(request, merchant_id: str, mode: str):
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return JsonResponse({"error": {"message": "Invalid Content-Length."}}, status=400)
    if length > MAX_BODY:
        return JsonResponse({"error": {"message": "The event is too large."}}, status=413)
    try:
        event, stored_now = inbound.processor_event_receive(
            merchant_id=merchant_id,
            mode=mode,
            body=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except KassaError as exc:
        if exc.status == 400:
            logger.warning("Refused a Stripe webhook for %s/%s: %s", merchant_id, mode, exc.message)
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    return JsonResponse({"received": True, "duplicate": not stored_now, "status": event.status})
