"""Receipts to payers and notices to the merchant's members, about payments and refunds.

- When: a PaymentIntent recorded as succeeded or failed, a refund recorded as
  succeeded (``services``, which queue ``billing.tasks.payment_emails_send`` /
  ``refund_emails_send`` on commit). Never inside the payment's transaction.
- Together: a batch's payments (a renewal run's) are emailed by one task,
  ``payment_emails_send_many``, which reads them in one query and the members
  to notify once per merchant; a payment alone by a task of its own (the same
  code, for one). A member's notices of the batch's payments (those that
  succeeded, and apart those that failed) are one email listing them, with
  their total by currency ("You received 48 payments"), not one email a
  payment: a renewal day would have sent the owner one per renewal. Such an
  email lists the first ``DIGEST_ROWS`` and says how many more there are. A
  payment alone, or the only one of its batch, gets its own notice.
- Once: each email has a key (``receipt:pi_…``, ``notice.payment_failed:pi_…:member:7``)
  in the ``EmailSent`` ledger (merchants.emails), so the page and a webhook
  recording the same success, or a retried task, send one receipt; a notice
  of several payments claims each payment's key, so none is told of twice. A payment
  declined several times sends one failure notice per member.
- To whom: the receipt to ``receipt_email`` (what the payer typed on the
  hosted page, or the API's ``receipt_email``) when the merchant has
  receipts switched on; notices to this merchant's members who asked for them.
- In which language: the payer's (``receipt_language``, the hosted page's),
  the member's (``Membership.language``); English otherwise.
- What: the merchant's name and support email (also the Reply-To of
  receipts), the amount in the reader's format, what was bought, the date, the
  payment's id, the card's brand and last four. Never more of the card, never
  a secret.
"""

import logging
from functools import partial

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kassa import mail, money
from kassa.batch import batch, share, shared
from merchants import emails as merchant_emails
from merchants.selectors import members_to_notify

from .models import REFUND_NOT_MADE, PaymentIntent, PaymentTimelineEntry, Refund

logger = logging.getLogger(__name__)

#: Why a payment failed, as a member reads it in their own language, by the error's code (the card errors Kassa
#: tells payers of, kassa.gateway.CARD_MESSAGES); any other code's reason is the processor's own words.
DECLINE_REASONS = {
    "card_declined": _("The card was declined."),
    "expired_card": _("The card has expired."),
    "incorrect_cvc": _("The card's security code was incorrect."),
    "incorrect_number": _("The card number was incorrect."),
    "insufficient_funds": _("The card has insufficient funds."),
    "processing_error": _("An error occurred while processing the card."),
    "authentication_required": _("The bank asked for authentication, which was not completed."),
    "payment_intent_authentication_failure": _("The authentication with the bank failed."),
}

#: fn(payment_intents) -> {payment_intent_pk: [(description, quantity, amount, currency)]}; the owners of
#: payments (checkout sessions) say what was bought, for all the payments asked about in one read (those they do
#: not own are left out); registered in billing/apps.py
_LINE_ITEMS: list = []


def receipt_line_items(provider) -> None:
    _LINE_ITEMS.append(provider)


#: fn(payment_intent) -> bool; True when the payment's owner sends its own receipt instead (an invoice's
#: receipt, with its PDF), so the payer never gets two (registered in billing/apps.py)
_RECEIPT_OWNERS: list = []


def receipt_replaced_by(check) -> None:
    _RECEIPT_OWNERS.append(check)


def _receipt_due(payment_intent: PaymentIntent | None) -> bool:
    """Whether the payer of this payment (or refund) gets receipts: its merchant sends them and the payer gave an
    email."""
    return (
        payment_intent is not None and payment_intent.merchant.receipts_enabled and bool(payment_intent.receipt_email)
    )


def _receipt_replaced(payment_intent: PaymentIntent) -> bool:
    return any(check(payment_intent) for check in _RECEIPT_OWNERS)


def _lines_bought(payment_intents: list[PaymentIntent]) -> dict[int, list]:
    """What the owners of these payments say was bought, each payment's (``[]`` when no owner says): one read per
    owner for all of them."""
    found: dict[int, list] = {}
    for provider in _LINE_ITEMS:
        for pk, lines in provider(payment_intents).items():
            if lines:  # an owner that lists nothing leaves the word to the next one
                found.setdefault(pk, lines)
    return {payment_intent.pk: found.get(payment_intent.pk) or [] for payment_intent in payment_intents}


def _bought(payment_intent: PaymentIntent, language: str) -> list[dict]:
    key = ("payment_lines_bought", payment_intent.pk)  # read for the batch's payments together (_batch_read)
    lines = shared(key, lambda: _lines_bought([payment_intent])[payment_intent.pk])
    if lines:
        return [
            {"description": d, "quantity": q, "amount": money.format_localised(a, c, language)} for d, q, a, c in lines
        ]
    if payment_intent.description:
        amount = money.format_localised(payment_intent.amount, payment_intent.currency, language)
        return [{"description": payment_intent.description, "quantity": 1, "amount": amount}]
    return []


#: The timeline entries that say when a payment succeeded or failed, for its emails.
_WHEN_KINDS = ("succeeded", "payment_failed")


def _when(payment_intent: PaymentIntent, kind: str):
    """When the payment's latest ``kind`` entry (``_WHEN_KINDS``) was written; its last change if it has none."""
    key = ("payment_when", payment_intent.pk, kind)  # read for the batch's payments together (_batch_read)
    entry = shared(key, lambda: payment_intent.timeline.filter(kind=kind).order_by("-id").first())
    return entry.created if entry else payment_intent.updated


def _batch_read(payment_intents: list[PaymentIntent]) -> None:
    """Inside a batch of emails (``payment_emails_send_many``): what ``_bought`` and ``_when`` read for each
    payment, read for all of them at once (a statement each instead of two a payment: those two were about a
    third of a renewal run's email task, the receipt lines' owner read finding nothing for an invoice's payment)."""
    for pk, lines in _lines_bought(payment_intents).items():
        share(("payment_lines_bought", pk), lines)
    entries = PaymentTimelineEntry.objects.filter(payment_intent__in=payment_intents, kind__in=_WHEN_KINDS)
    for entry in entries.order_by("id"):  # the latest of each kind last: it is the one kept
        share(("payment_when", entry.payment_intent_id, entry.kind), entry)


def _payment_context(payment_intent: PaymentIntent, language: str) -> dict:
    card = payment_intent.payment_method
    return {
        **merchant_emails.merchant_context(payment_intent.merchant),
        "livemode": payment_intent.livemode,
        "payment_id": payment_intent.public_id,
        "amount": money.format_localised(payment_intent.amount, payment_intent.currency, language),
        "line_items": _bought(payment_intent, language),
        "card_brand": (card.card_brand if card else "") or "",
        "card_last4": (card.card_last4 if card else "") or "",
    }


def _dashboard_link(payment_intent: PaymentIntent) -> str:
    return merchant_emails.dashboard_url(reverse("admin:billing_paymentintent_change", args=[payment_intent.pk]))


#: The key of a notice's send (``_notices``) that says whom and what it is about, for a batch's notices to be one
#: email (``_notices_send``): ``(membership, payment_intent, the template of a notice of several, what its row in
#: that notice shows besides the payment's own)``; not sent. A notice's ``context`` is made only if it is sent alone
#: (``_notice_context``): in a notice of several, it is one row (``_digest_row``).
NOTICE = "notice_of"


def _notices(
    payment_intent: PaymentIntent,
    *,
    kind: str,
    about: str,
    extra: dict,
    key_of: str | None = None,
    amount: tuple[int, str] | None = None,
) -> list:
    """One notice per member of *this* merchant who asked; each sent once. Returns the sends to make. ``key_of``: what
    the notice is about, when not the payment itself (a refund's id: each refund is told of once); ``amount``: the
    amount it is about, ``(amount, currency)``, shown as ``amount`` when not the payment's own (the payment's then as
    ``payment_amount``)."""
    sends = []
    merchant = payment_intent.merchant
    # A batch's payments (payment_emails_send_many) are one merchant's: its members are read once for them.
    members = shared(
        ("members_notified", merchant.pk, about), lambda: list(members_to_notify(merchant=merchant, about=about))
    )
    for membership in members:
        sends.append(
            {
                "key": f"notice.{kind}:{key_of or payment_intent.public_id}:member:{membership.pk}",
                "kind": f"notice.{kind}",
                "to": membership.user.email,
                "template": f"email/notice_{kind}",
                "context": partial(_notice_context, payment_intent, membership.language, amount, extra),
                "language": membership.language,
                NOTICE: (membership, payment_intent, f"email/notice_payments_{kind.removeprefix('payment_')}", extra),
            }
        )
    return sends


def _notice_context(payment_intent: PaymentIntent, language: str, amount: tuple[int, str] | None, extra: dict) -> dict:
    """What a notice sent alone shows (``_notices``)."""
    return {
        **_payment_context(payment_intent, language),
        **_amount_shown(amount, payment_intent, language),
        **extra,
        "payer_email": payment_intent.receipt_email or "",
        "dashboard_url": _dashboard_link(payment_intent),
        "settings_url": _settings_url(),
    }


def _settings_url() -> str:
    return merchant_emails.dashboard_url(reverse("dashboard-email-settings"))


def _amount_shown(amount: tuple[int, str] | None, payment_intent: PaymentIntent, language: str) -> dict:
    if amount is None:
        return {}
    payment_amount = money.format_localised(payment_intent.amount, payment_intent.currency, language)
    return {"amount": money.format_localised(*amount, language), "payment_amount": payment_amount}


def _send_all(sends: list, merchant) -> int:
    """Send each (once); one failing does not stop the others; the first failure is raised (the task retries)."""
    sent, failure = 0, None
    for send in sends:
        try:
            sent += merchant_emails.email_send_once(merchant=merchant, **send)
        except Exception as exc:  # noqa: BLE001  (the mail server's error, whatever its type: raised below)
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent


def _notices_send(sends: list, merchant) -> int:
    """One member's notices of one kind, about a batch's payments (``sends``, made by ``_notices``), as one email: the
    ledger's rows of all of them claimed in one statement; those claimed already (sent before, by a retried task or
    a payment's own) left out; one payment left, its own notice, as a payment alone gets; several, one email listing
    them (``email/notice_payments_<kind>``). A renewal run emailed its merchant's owner once a payment: ten thousand
    emails on a renewal day, rendering them about a quarter of the worker's CPU (bench/renewals_profile.py --tasks).
    Returns how many emails it sent (one, or none); a failure gives every claim back and is raised (the task
    retries)."""
    first = sends[0]
    claimed = merchant_emails.emails_claim(
        keys=[send["key"] for send in sends],
        kind=first["kind"],
        merchant=merchant,
        to=first["to"],
        language=first["language"],
    )
    told = [send for send in sends if send["key"] in claimed]
    if not told:
        return 0
    try:
        if len(told) == 1:
            template, context = told[0]["template"], told[0]["context"]()
        else:
            template, context = first[NOTICE][2], _digest(told)
    except Exception:
        merchant_emails.emails_release(claimed)  # nothing sent: the retry may send it
        raise
    merchant_emails.email_send_claimed(
        claimed, kind=first["kind"], to=first["to"], template=template, context=context, language=first["language"]
    )
    return 1


#: How many payments a notice of several lists, one row each; it says how many more there are, and links to the
#: dashboard's list of payments. Its count and totals are of all of them, and each is claimed (told of once).
DIGEST_ROWS = 25


def _digest(sends: list) -> dict:
    """What a notice of several payments shows: the first ``DIGEST_ROWS`` payments as rows (``_digest_row``: what the
    templates of such a notice show of it, not a notice's whole context: what was bought, the card, its merchant's
    names were made for each payment only to be left out, about a fifth of a renewal run's email task), how many
    more there are, and the totals by currency of all of them, in the member's language. A renewal run's notice is
    about the second's payments of one worker process, some sixty on a renewal day: listed whole, rendering their
    rows was most of the email task's CPU, for an email too long to read (bench/renewals_profile.py --tasks: 0.57 ->
    0.36 ms a renewal)."""
    membership, payment_intent = sends[0][NOTICE][:2]
    totals: dict[str, int] = {}
    for send in sends:
        each = send[NOTICE][1]
        totals[each.currency] = totals.get(each.currency, 0) + each.amount
    return {
        **merchant_emails.merchant_context(payment_intent.merchant),
        "livemode": payment_intent.livemode,
        "settings_url": _settings_url(),
        "count": len(sends),
        "total": money.format_totals(totals, membership.language),
        "payments": [_digest_row(send) for send in sends[:DIGEST_ROWS]],
        "more": max(len(sends) - DIGEST_ROWS, 0),
        "dashboard_url": merchant_emails.dashboard_url(reverse("admin:billing_paymentintent_changelist")),
    }


def _digest_row(send: dict) -> dict:
    """One payment in a notice of several (``email/notice_payments_*``), in the member's language."""
    membership, payment_intent, _template, extra = send[NOTICE]
    return {
        **extra,
        "payment_id": payment_intent.public_id,
        "amount": money.format_localised(payment_intent.amount, payment_intent.currency, membership.language),
        "payer_email": payment_intent.receipt_email or "",
        "dashboard_url": _dashboard_link(payment_intent),
    }


def payment_emails_due(*, payment_intent: PaymentIntent, outcome: str) -> bool:
    """Whether ``payment_emails_send_many`` may have something to send about this outcome: a receipt (the merchant
    sends them and the payer gave an email) or a member who asked for these notices. Asked as the outcome is
    recorded, so that a merchant who sends none queues no task per payment (a renewal day queued one a renewal,
    each reading the payment again to send nothing); inside a batch (kassa.batch: a renewal run) the members are
    looked up once. A member who asks for notices afterwards gets them from the next payment (or batch) on."""
    merchant = payment_intent.merchant
    if outcome == "succeeded" and _receipt_due(payment_intent):
        return True
    about = "payments" if outcome == "succeeded" else "failures"
    return shared(
        ("members_to_notify", merchant.pk, about),
        lambda: members_to_notify(merchant=merchant, about=about).exists(),
    )


def payment_emails_send_many(outcomes: list) -> tuple[int, list, Exception | None]:
    """The emails of these payments' outcomes (``[[payment_intent_pk, outcome], …]``), each sent once: how many were
    sent, the outcomes whose emails failed (for the task's retry) and the first failure. The payments are read in
    one query, and what they share (the members to notify) once: they are one batch (kassa.batch)."""
    outcomes = [list(each) for each in dict.fromkeys(tuple(each) for each in outcomes)]  # one given twice: once
    intents = PaymentIntent.objects.select_related("merchant", "payment_method").in_bulk({pk for pk, _ in outcomes})
    sent, failed, failure = 0, [], None
    # A member's notices of one kind in one mode, with the outcomes they are about: sent together, below.
    notices: dict[tuple, list] = {}
    with batch():
        _batch_read(list(intents.values()))
        for pk, outcome in outcomes:
            payment_intent = intents.get(pk)
            if payment_intent is None:
                logger.warning("Payment %s to email about is gone", pk)
                continue
            try:
                sends = payment_emails_of(payment_intent=payment_intent, outcome=outcome)
                for send in sends:
                    if NOTICE in send:
                        group = (send[NOTICE][0].pk, send["kind"], payment_intent.livemode)
                        notices.setdefault(group, []).append((send, [pk, outcome]))
                sent += _send_all([send for send in sends if NOTICE not in send], payment_intent.merchant)
            except Exception as exc:  # noqa: BLE001  (the mail server's error, whatever its type: returned)
                failed.append([pk, outcome])
                failure = failure or exc
        for group in notices.values():
            try:
                sent += _notices_send([send for send, _ in group], group[0][0][NOTICE][1].merchant)
            except Exception as exc:  # noqa: BLE001  (the mail server's error, whatever its type: returned)
                failed.extend(about for _, about in group if about not in failed)
                failure = failure or exc
    return sent, failed, failure


def payment_emails_of(*, payment_intent: PaymentIntent, outcome: str) -> list:
    """The emails of a payment that ``succeeded`` (receipt, notices) or ``failed`` (notices), each to send once
    (``payment_emails_send_many`` sends them)."""
    merchant = payment_intent.merchant
    sends = []
    if outcome == "succeeded":
        if payment_intent.status != PaymentIntent.Status.SUCCEEDED:
            return []
        language = mail.language_or_default(payment_intent.receipt_language)
        if _receipt_due(payment_intent) and not _receipt_replaced(payment_intent):
            context = {**_payment_context(payment_intent, language), "paid_at": _when(payment_intent, "succeeded")}
            sends.append(
                {
                    "key": f"receipt:{payment_intent.public_id}",
                    "kind": "receipt",
                    "to": payment_intent.receipt_email,
                    "template": "email/receipt",
                    "context": context,
                    "language": language,
                    "reply_to": merchant.support_email or None,
                }
            )
        sends += _notices(
            payment_intent,
            kind="payment_succeeded",
            about="payments",
            extra={"paid_at": _when(payment_intent, "succeeded")},
        )
    elif outcome == "failed":
        error = payment_intent.last_payment_error or {}
        if payment_intent.status == PaymentIntent.Status.SUCCEEDED or not error:
            return []  # paid since (the task ran late): members get "you received a payment", not a stale failure
        sends += _notices(
            payment_intent,
            kind="payment_failed",
            about="failures",
            extra={
                "failed_at": _when(payment_intent, "payment_failed"),
                # Lazy: each member's notice shows it in their language, as it is rendered.
                "decline_message": DECLINE_REASONS.get(error.get("code")) or error.get("message") or "",
                "decline_code": error.get("decline_code") or error.get("code") or "",
            },
        )
    return sends


#: Why a refund failed, as a member reads it in their own language, by Stripe's ``failure_reason`` (and Kassa's own,
#: ``REFUND_NOT_MADE``); any other reason (a processor's words) is shown as it is.
REFUND_FAILURE_REASONS = {
    "lost_or_stolen_card": _("The card was reported lost or stolen."),
    "expired_or_canceled_card": _("The card has expired or was canceled."),
    "charge_for_pending_refund_disputed": _("The payment is disputed."),
    "insufficient_funds": _("The balance was too low to make the refund."),
    "declined": _("The card's bank declined the refund."),
    "merchant_request": _("The refund was canceled at the merchant's request."),
    "unknown": _("The card's bank gave no reason."),
    REFUND_NOT_MADE: _(REFUND_NOT_MADE),
}


def refund_emails_send(*, refund: Refund) -> int:
    """A refund's emails, each sent once: a succeeded refund's receipt to the payer (when receipts are on and the payer
    gave an email); a failed refund's notice to the members who asked to be told of failures. A refund can fail
    after it succeeded (the card's bank returned it, days later): the payer may hold a receipt for money that never
    reached them, and only the merchant can put that right (refund again, or pay them another way), so the merchant
    is told; the payer is not emailed by Kassa, as Stripe does not."""
    if refund.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
        return _refund_failed_notices(refund)
    payment_intent = refund.payment_intent
    merchant = payment_intent.merchant
    if refund.status != Refund.Status.SUCCEEDED or not _receipt_due(payment_intent):
        return 0
    language = mail.language_or_default(payment_intent.receipt_language)
    context = {
        **_payment_context(payment_intent, language),
        "refund_id": refund.public_id,
        "refund_amount": money.format_localised(refund.amount, refund.currency, language),
        "refunded_at": refund.created,  # this refund's own time (the timeline's latest may be another's)
        "paid_at": _when(payment_intent, "succeeded"),
    }
    send = {
        "key": f"refund_receipt:{refund.public_id}",
        "kind": "refund_receipt",
        "to": payment_intent.receipt_email,
        "template": "email/refund_receipt",
        "context": context,
        "language": language,
        "reply_to": merchant.support_email or None,
    }
    return _send_all([send], merchant)


def _refund_failed_notices(refund: Refund) -> int:
    """``notice.refund_failed`` to each member of the refund's merchant who asked to be told of failures, once each."""
    payment_intent = refund.payment_intent
    reason = refund.failure_reason or ""
    sends = _notices(
        payment_intent,
        kind="refund_failed",
        about="failures",
        extra={
            "refund_id": refund.public_id,
            "refunded_at": refund.created,
            # Lazy: each member's notice shows it in their language, as it is rendered.
            "failure_message": REFUND_FAILURE_REASONS.get(reason) or reason,
        },
        key_of=refund.public_id,
        amount=(refund.amount, refund.currency),
    )
    sent, failure = 0, None
    for send in sends:  # one member's failing does not hold the others back; the task's retry sends what is left
        try:
            sent += _notices_send([send], payment_intent.merchant)
        except Exception as exc:  # noqa: BLE001  (the mail server's error, whatever its type: raised below)
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent
