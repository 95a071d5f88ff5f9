"""Emails sent once each (the ``EmailSent`` ledger), and the invitation of a new owner or member.

Every Kassa email goes through ``email_send_once`` (billing's receipts and
notices too): a key per email (what it is about, and for whom) claimed in a
committed row before the mail server is called, so a retried task, a
duplicate webhook or a page and a webhook reporting the same success send one
email. An email about several things (a member's notice of a batch's
payments) claims each thing's key, in one statement, and is sent once for
those it claimed (``emails_claim``, ``email_send_claimed``); a failure gives
every claim back. Callers run in Celery tasks queued on commit
(``kassa.celery.enqueue_on_commit``).

An invitation carries a one-time link to set a password: Django's password
reset token (``PasswordResetTokenGenerator``), which stops working once a
password is set, and the reset pages under ``/reset/`` (kassa/urls.py). A
person who already has a password is told to log in instead.
"""

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from kassa import celery, mail
from kassa.db import insert_many_unless, update_where

from .models import EmailSent, Membership, Merchant

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
    """After the transaction that added the member commits, queue their invitation."""
    celery.enqueue_on_commit("merchants.tasks.invitation_send", membership.pk)


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
