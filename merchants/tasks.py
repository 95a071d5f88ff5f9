"""Celery entry points for merchants: thin and idempotent."""

from celery import shared_task
from django.utils import timezone

from . import emails
from .idempotency import idempotency_keys_purge as _purge
from .models import Membership


@shared_task(name="merchants.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return _purge(now=timezone.now())


@shared_task(name="merchants.tasks.invitation_send", bind=True, max_retries=5)
def invitation_send(self, membership_pk: int) -> bool:
    """Invite a new owner or member (sent once: merchants.emails); a mail server that fails is retried."""
    membership = Membership.objects.select_related("user", "merchant").filter(pk=membership_pk).first()
    if membership is None:
        return False  # removed before the invitation went out
    try:
        return emails.invitation_send(membership=membership)
    except Exception as exc:  # the mail server's error, whatever its type; the claim was given back
        raise self.retry(countdown=60, exc=exc) from exc
