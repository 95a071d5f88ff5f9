"""Kassa's emails: one way to render and send them, in the reader's language, as plain text and HTML.

An email is three templates found by one name: ``<name>_subject.txt``,
``<name>.txt`` and ``<name>.html`` (``billing/templates/email/…``,
``merchants/templates/email/…``), rendered with the *recipient's* language
active (never the request's: a receipt is read by the payer, a notice by a
member), and sent through Django's email backend (``EMAIL_BACKEND``) as one
``EmailMultiAlternatives``.

Nothing here is sent inside the transaction that caused it: callers queue a
task with ``kassa.celery.enqueue_on_commit``, so a slow or broken mail server never slows or
fails a payment. Which emails were sent, once each, is the callers' ledger
(``merchants.models.EmailSent``).
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy as _

#: The languages Kassa writes emails in; anything else reads English.
LANGUAGES = ("en", "fr")
LANGUAGE_CHOICES = [("en", _("English")), ("fr", _("French"))]


def language_or_default(value: str | None) -> str:
    """``fr-CA`` → ``fr``; unknown or empty → ``en``."""
    base = (value or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, context: dict, *, language: str) -> Rendered:
    """The email ``template`` (``email/receipt``) in ``language``: subject on one line, text and HTML bodies."""
    with translation.override(language_or_default(language)):
        context = {**context, "language": language_or_default(language)}
        # One line (no header injection); a no-break space in an amount ("25,00\xa0€") stays.
        subject = re.sub(r"[ \t\r\n]+", " ", render_to_string(f"{template}_subject.txt", context)).strip()
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    return Rendered(subject=subject, text=text.strip() + "\n", html=html)


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (an invoice's PDF): its name as the reader sees it, its bytes, its MIME type."""

    filename: str
    content: bytes
    mimetype: str


def send(
    *,
    to: str,
    template: str,
    context: dict,
    language: str,
    reply_to: str | None = None,
    attachments: list[Attachment] | None = None,
) -> Rendered:
    """Render and send one email to one address, with its ``attachments``; the backend's error is raised (the task
    retries)."""
    rendered = render(template, context, language=language)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
    )
    message.attach_alternative(rendered.html, "text/html")
    for attachment in attachments or []:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    message.send()
    return rendered
