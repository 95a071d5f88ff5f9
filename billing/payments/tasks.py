"""Celery entry points for payments: thin and idempotent.

Task names stay ``billing.tasks.*`` (beat's schedule and queued messages know them by name).
"""

import logging

from celery import shared_task
from django.utils import timezone

from kassa.errors import ProcessorError
from merchants import emails as merchant_emails

from . import emails, services
from .models import PaymentIntent, Refund

logger = logging.getLogger(__name__)


@shared_task(name="billing.tasks.payments_reconcile")
def payments_reconcile() -> int:
    """Catch up with the processor for payments no page settled (safe to run twice)."""
    return services.payments_reconcile(now=timezone.now())


@shared_task(name="billing.tasks.payment_emails_send", bind=True, max_retries=5, owed=True)
def payment_emails_send(self, payment_intent_pk: int, outcome: str) -> int:
    """Receipt and notices of a payment that succeeded or failed; each sent once, so a retry sends what is left."""
    sent, _failed, failure = emails.payment_emails_send_many([[payment_intent_pk, outcome]])
    if failure is not None:  # the mail server's error, whatever its type
        raise self.retry(countdown=60, exc=failure) from failure
    return sent


@shared_task(name="billing.tasks.payment_emails_send_many", bind=True, max_retries=5, owed=True)
def payment_emails_send_many(self, outcomes: list) -> int:
    """The emails of a batch's payments (``[[payment_intent_pk, outcome], …]``: a renewal run's), each sent once;
    a retry is for the payments whose emails failed, and sends what is left of theirs."""
    sent, failed, failure = emails.payment_emails_send_many(outcomes)
    if failure is not None:
        merchant_emails.email_task_narrowed(self.name, [outcomes], [failed])  # what stays owed: the retry
        raise self.retry(args=[failed], countdown=60, exc=failure) from failure
    return sent


@shared_task(name="billing.tasks.refund_emails_send", bind=True, max_retries=5, owed=True)
def refund_emails_send(self, refund_pk: int) -> int:
    """A refund's emails: its receipt, or the notice that it failed (each sent once)."""
    refund = Refund.objects.select_related("payment_intent__merchant", "payment_intent__payment_method").get(
        pk=refund_pk
    )
    try:
        return emails.refund_emails_send(refund=refund)
    except Exception as exc:  # the mail server's error, whatever its type
        raise self.retry(countdown=60, exc=exc) from exc


@shared_task(name="billing.tasks.payment_intent_cards_release", bind=True, max_retries=10)
def payment_intent_cards_release(self, payment_intent_pk: int) -> int:
    """Detach a settled PaymentIntent's single-use cards at the processor (safe to run twice)."""
    payment_intent = PaymentIntent.objects.select_related("merchant", "customer").get(pk=payment_intent_pk)
    try:
        return services.payment_intent_cards_release(payment_intent=payment_intent)
    except ProcessorError as exc:
        logger.warning("Could not release the cards of %s at the processor: %s", payment_intent.public_id, exc.message)
        raise self.retry(countdown=300, exc=exc) from exc
