"""The daily summary: one email a morning to each member who asked (``Membership.notify_daily``), about the day
before, for each merchant of theirs and each mode that had payments that day.

Why: a member's notices come a payment at a time (a second of a renewal run's payments at a time,
billing/payments/emails.py), so a merchant with a renewal day of ten thousand still gets hundreds of emails; a
member who wants to know how the business went, not of each payment, switches those off and this on (the
dashboard's email settings, or a manager on the member's page).

What: the day's payments received (how many, and their total by currency), the payments that failed (how many
payments were declined at least once that day), and the refunds made (how many, total by currency), in the
member's language, with a link to the dashboard. The day is the UTC day before beat's run (``now``: beat runs it
at 06:05 UTC). Payments and refunds are counted as the home page counts its volume
(``selectors.volume_by_currency``: a succeeded payment on the day it was made, a succeeded refund on the day it
was made), a failure on the day of the decline. A day with none of those sends nothing (no empty emails).
Test-mode payments get their own summary, marked *[Test]*.

Once: each summary has its key in the ``EmailSent`` ledger (``summary.daily:<merchant>:<mode>:<day>:member:<id>``),
so a second run of the task that day, or a retry after a mail server's error, sends none twice.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count
from django.urls import reverse

from kassa import money
from merchants import emails as merchant_emails
from merchants.models import Membership

from ..payments.models import PaymentTimelineEntry
from .selectors import volume_by_currency

KIND = "summary.daily"


@dataclass
class _Day:
    received: int
    received_by_currency: dict[str, int]
    failed: int
    refunds: int
    refunded_by_currency: dict[str, int]

    def __bool__(self) -> bool:
        return bool(self.received or self.failed or self.refunds)


def _window(now: datetime) -> tuple[date, datetime, datetime]:
    day = (now.astimezone(UTC) - timedelta(days=1)).date()
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return day, start, start + timedelta(days=1)


def _declined(merchant_pks: list[int], start: datetime, end: datetime) -> dict[tuple[int, bool], int]:
    """How many payments of each merchant and mode were declined at least once between ``start`` and ``end``."""
    rows = (
        PaymentTimelineEntry.objects.filter(
            kind="payment_failed", created__gte=start, created__lt=end, payment_intent__merchant_id__in=merchant_pks
        )
        .values("payment_intent__merchant_id", "payment_intent__livemode")
        .annotate(n=Count("payment_intent", distinct=True))
    )
    return {(row["payment_intent__merchant_id"], row["payment_intent__livemode"]): row["n"] for row in rows}


def _day(merchant, livemode: bool, start: datetime, end: datetime, declined: int) -> _Day:
    volumes = volume_by_currency(merchant=merchant, livemode=livemode, since=start, until=end)
    return _Day(
        received=sum(volume.count for volume in volumes),
        received_by_currency={volume.currency: volume.gross for volume in volumes if volume.count},
        failed=declined,
        refunds=sum(volume.refunds for volume in volumes),
        refunded_by_currency={volume.currency: volume.refunded for volume in volumes if volume.refunded},
    )


def daily_summaries_send(*, now: datetime) -> int:
    """Send the summaries of the UTC day before ``now`` (see the module's docstring); how many were sent. A failed
    send does not stop the others; the first failure is raised once all were tried (the task retries, and sends
    only what is left)."""
    day, start, end = _window(now)
    members = (
        Membership.objects.filter(notify_daily=True, user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "merchant")
        .order_by("pk")
    )
    by_merchant: dict[int, list[Membership]] = defaultdict(list)
    for membership in members:
        by_merchant[membership.merchant_id].append(membership)
    declined = _declined(list(by_merchant), start, end) if by_merchant else {}
    sent, failure = 0, None
    for merchant_pk, livemode in ((pk, mode) for pk in sorted(by_merchant) for mode in (True, False)):
        merchant = by_merchant[merchant_pk][0].merchant
        figures = _day(merchant, livemode, start, end, declined.get((merchant_pk, livemode), 0))
        if not figures:
            continue  # a quiet day: no email
        for membership in by_merchant[merchant_pk]:
            language = membership.language
            context = {
                "merchant_name": merchant.name,
                "livemode": livemode,
                "day": day,
                "received": figures.received,
                "received_total": money.format_totals(figures.received_by_currency, language),
                "failed": figures.failed,
                "refunds": figures.refunds,
                "refunded_total": money.format_totals(figures.refunded_by_currency, language),
                "dashboard_url": merchant_emails.dashboard_url(reverse("admin:billing_paymentintent_changelist")),
                "settings_url": merchant_emails.dashboard_url(reverse("dashboard-email-settings")),
            }
            try:
                sent += merchant_emails.email_send_once(
                    key=f"{KIND}:{merchant_pk}:{int(livemode)}:{day.isoformat()}:member:{membership.pk}",
                    kind=KIND,
                    merchant=merchant,
                    to=membership.user.email,
                    template="email/summary_daily",
                    context=context,
                    language=language,
                )
            except Exception as exc:  # noqa: BLE001  (the mail server's error, whatever its type: raised below)
                failure = failure or exc
    if failure is not None:
        raise failure
    return sent
