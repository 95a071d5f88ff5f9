"""Celery entry points for merchants: thin and idempotent."""

from celery import shared_task, states
from celery.signals import task_postrun
from django.utils import timezone

from . import emails
from .idempotency import idempotency_keys_purge as _purge
from .models import Membership


@shared_task(name="merchants.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    return _purge(now=timezone.now())


@task_postrun.connect
def _owed_email_task_ended(sender=None, args=None, state=None, **_kwargs) -> None:
    """An email task declared ``owed=True`` (merchants.emails.email_task_queue) that ran to its end is no longer owed;
    one that is to be retried, or failed, stays owed (the sweeper queues it again)."""
    if state == states.SUCCESS and getattr(sender, "owed", False):
        emails.email_task_done(sender.name, args or [])


@shared_task(name="merchants.tasks.email_tasks_sweep")
def email_tasks_sweep() -> int:
    """Queue again the email tasks the broker could not take or lost (merchants.emails)."""
    return emails.email_tasks_sweep(now=timezone.now())


@shared_task(name="merchants.tasks.invitation_send", bind=True, max_retries=5, owed=True)
def invitation_send(self, membership_pk: int) -> bool:
    """Invite a new owner or member (sent once: merchants.emails); a mail server that fails is retried."""
    membership = Membership.objects.select_related("user", "merchant").filter(pk=membership_pk).first()
    if membership is None:
        return False  # removed before the invitation went out
    try:
        return emails.invitation_send(membership=membership)
    except Exception as exc:  # the mail server's error, whatever its type; the claim was given back
        raise self.retry(countdown=60, exc=exc) from exc
