"""Emails sent once each (the ``EmailSent`` ledger), and the invitation of a new owner or member.

Every Kassa email goes through ``email_send_once`` (billing's receipts and
notices too): a key per email (what it is about, and for whom) claimed in a
committed row before the mail server is called, so a retried task, a
duplicate webhook or a page and a webhook reporting the same success send one
email. An email about several things (a member's notice of a batch's
payments) claims each thing's key, in one statement, and is sent once for
those it claimed (``emails_claim``, ``email_send_claimed``); a failure gives
every claim back. Callers run in Celery tasks queued on commit.

Sent once, and owed until sent: an email's task is queued by
``email_task_queue``, which writes it down (``EmailTaskOwed``) in the
transaction of the change that calls for it and queues it once that commits;
the row is deleted when the task has run to its end (its mail server's
failures are retried by the task itself first). A task the broker could not
take (Redis down at the commit), or lost after it (a broker that lost its
queue), is queued again by beat's sweeper (``email_tasks_sweep``, every
minute) once it is ``KASSA_EMAIL_REQUEUE_SECONDS`` (10 minutes) old, then
after twice as long each time, and given up, logged as an error, after
``KASSA_EMAIL_GIVE_UP_DAYS`` (3 days). A task queued twice sends nothing
twice: the ledger's keys. (A worker killed between a claim and its send
leaves the claim: that email is not sent again, at most once as before.)

An invitation carries a one-time link to set a password: Django's password
reset token (``PasswordResetTokenGenerator``), which stops working once a
password is set, and the reset pages under ``/reset/`` (kassa/urls.py). A
person who already has a password is told to log in instead.
"""

import hashlib
import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from kassa import celery, mail
from kassa.db import insert_many_unless, update_where

from .models import EmailSent, EmailTaskOwed, Membership, Merchant

logger = logging.getLogger(__name__)

# Lazy: translated when the email is rendered, in its reader's language.
ROLE_LABELS = {
    Membership.Role.OWNER: _("owner"),
    Membership.Role.ADMIN: _("admin"),
    Membership.Role.DEVELOPER: _("developer"),
    Membership.Role.VIEWER: _("viewer"),
}


def email_send_once(
    *,
    key: str,
    kind: str,
    merchant: Merchant | None,
    to: str,
    template: str,
    context: dict,
    language: str,
    reply_to: str | None = None,
    attachments: list[mail.Attachment] | None = None,
) -> bool:
    """Send the email unless one with this ``key`` was sent (or is being sent); True if this call sent it.

    A failed send gives the key back and raises, so the task's retry may send it.
    """
    claimed = emails_claim(keys=[key], kind=kind, merchant=merchant, to=to, language=language)
    if not claimed:
        return False
    email_send_claimed(
        claimed,
        kind=kind,
        to=to,
        template=template,
        context=context,
        language=language,
        reply_to=reply_to,
        attachments=attachments,
    )
    return True


def emails_claim(*, keys: list[str], kind: str, merchant: Merchant | None, to: str, language: str) -> dict[str, int]:
    """Claim the ledger's rows for an email about ``keys`` (one, or each thing a notice of several tells of), committed
    before the mail server is called (by the statement itself, outside a transaction): ``{key: row}`` for those this
    call claimed, in their order (none: each is sent or being sent by someone else). One statement, whatever the
    number of keys (kassa.db.insert_many_unless); a key once in ``keys``."""
    language = mail.language_or_default(language)
    width = EmailSent._meta.get_field("key").max_length
    rows = [EmailSent(key=key[:width], kind=kind, merchant=merchant, recipient=to, language=language) for key in keys]
    insert_many_unless(rows, "key")
    return {key: row.pk for key, row in zip(keys, rows, strict=True) if row.pk is not None}


def emails_release(claimed: dict[str, int]) -> None:
    """Give back claims (``emails_claim``) whose email was not sent, so that a retry may send it."""
    EmailSent.objects.filter(pk__in=list(claimed.values())).delete()


def email_send_claimed(
    claimed: dict[str, int],
    *,
    kind: str,
    to: str,
    template: str,
    context: dict,
    language: str,
    reply_to: str | None = None,
    attachments: list[mail.Attachment] | None = None,
) -> None:
    """Send the one email the ``claimed`` rows are for (``emails_claim``) and mark them sent; a failed send gives them
    back and raises, so the task's retry may send it."""
    try:
        mail.send(
            to=to,
            template=template,
            context=context,
            language=mail.language_or_default(language),
            reply_to=reply_to,
            attachments=attachments,
        )
    except Exception:
        emails_release(claimed)
        raise
    sent = {"status": EmailSent.Status.SENT, "sent_at": timezone.now()}
    pks = list(claimed.values())
    if len(pks) == 1:  # through a statement built once (kassa.db): a lone payment's notice, an invoice's email
        update_where(EmailSent, sent, "id = %s", pks)
    else:
        EmailSent.objects.filter(pk__in=pks).update(**sent)
    for key in claimed:
        logger.info("Sent %s email %s", kind, key)  # the key names objects, never the address or the contents


# --- email tasks owed until they ran ---------------------------------------------------

#: Sweeps queue again at most this many owed tasks each (the next sweep takes the rest).
SWEEP_LIMIT = 500


def _owed_key(task_name: str, args) -> str:
    """The task and its arguments, as its queued message carries them (JSON: a tuple is a list), hashed."""
    text = json.dumps([task_name, list(args)], separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def email_task_queue(task_name: str, *args) -> None:
    """Queue an email task once this transaction commits, and write it down as owed in this transaction, so that
    the change and the email it calls for are committed together (outside a transaction, the row is committed at
    once). The task must be declared ``owed=True`` (``@shared_task(..., owed=True)``): its row is deleted when it
    ends (``email_task_done``)."""
    EmailTaskOwed.objects.create(task=task_name, args=list(args), key=_owed_key(task_name, args))
    celery.enqueue_on_commit(task_name, *args)


def email_task_done(task_name: str, args) -> int:
    """The task ran to its end (its sends made, or nothing left to send): it is no longer owed."""
    return EmailTaskOwed.objects.filter(key=_owed_key(task_name, args)).delete()[0]


def email_tasks_sweep(*, now: datetime) -> int:
    """Queue again the email tasks owed for longer than ``KASSA_EMAIL_REQUEUE_SECONDS`` since they were last queued
    (the broker could not take them, or lost them); give up those owed for ``KASSA_EMAIL_GIVE_UP_DAYS`` (logged as an
    error: by then the email would come too late to help). How many were queued; a broker still down stops the sweep
    (the next one tries again)."""
    gone = EmailTaskOwed.objects.filter(created__lt=now - timedelta(days=settings.KASSA_EMAIL_GIVE_UP_DAYS))
    for owed in gone.order_by("id"):
        logger.error("Email task %s%s given up: not run to its end since %s", owed.task, owed.args, owed.created)
    gone.delete()
    wait = timedelta(seconds=settings.KASSA_EMAIL_REQUEUE_SECONDS)
    queued = 0
    for owed in EmailTaskOwed.objects.filter(queued_at__lt=now - wait).order_by("queued_at", "id")[:SWEEP_LIMIT]:
        # Each time queued again, it waits twice as long: a task that keeps failing (or a queue backed up for hours)
        # is queued a dozen times in three days, not every ten minutes.
        if owed.queued_at > now - wait * 2 ** min(owed.requeued, 16):
            continue
        try:
            celery.enqueue_loaded(owed.task, *owed.args)
        except Exception:  # noqa: BLE001  (the broker's error, whatever its type: the next sweep tries again)
            logger.warning("Could not queue the email task %s%s; the next sweep will", owed.task, owed.args)
            break
        EmailTaskOwed.objects.filter(pk=owed.pk).update(queued_at=now, requeued=F("requeued") + 1)
        logger.info("Email task %s%s queued again: owed since %s", owed.task, owed.args, owed.created)
        queued += 1
    return queued


def email_task_narrowed(task_name: str, args, retried_args) -> None:
    """The task is to be retried with other arguments (a batch's emails, with the payments whose emails failed):
    what is owed is that retry, and the row is matched on its arguments when it ends."""
    EmailTaskOwed.objects.filter(key=_owed_key(task_name, args)).update(
        args=list(retried_args), key=_owed_key(task_name, retried_args)
    )


def merchant_context(merchant: Merchant) -> dict:
    """What every email about a merchant shows: its name, and where to write to it."""
    return {"merchant_name": merchant.name, "support_email": merchant.support_email or ""}


def dashboard_url(path: str = "/admin/") -> str:
    return f"{settings.KASSA_PUBLIC_URL}{path}"


def set_password_url(user) -> str:
    """A one-time link to set a password: valid until it is used or PASSWORD_RESET_TIMEOUT passes."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return dashboard_url(reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token}))


def invitation_queue(*, membership: Membership) -> None:
    """After the transaction that added the member commits, queue their invitation (owed until sent)."""
    email_task_queue("merchants.tasks.invitation_send", membership.pk)


def invitation_send(*, membership: Membership) -> bool:
    """The invitation of a new owner or member, in the language stored on their membership; sent once."""
    user = membership.user
    if not user.email or not user.is_active:
        return False
    merchant = membership.merchant
    needs_password = not user.has_usable_password()
    context = {
        **merchant_context(merchant),
        "role_label": ROLE_LABELS.get(membership.role, membership.role),
        "is_owner": membership.role == Membership.Role.OWNER,
        "email": user.email,
        "needs_password": needs_password,
        # The token is made here, in the task, and never stored: the email is its only copy.
        "set_password_url": set_password_url(user) if needs_password else "",
        "login_url": dashboard_url(reverse("admin:login")),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    return email_send_once(
        key=f"invitation:member:{membership.pk}",
        kind="invitation",
        merchant=merchant,
        to=user.email,
        template="email/invitation",
        context=context,
        language=membership.language,
    )
