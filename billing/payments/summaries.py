"""The daily summary: one email a morning to each member who asked (``Membership.notify_daily``), about the day
before, for each merchant of theirs and each mode that had payments that day.

Why: a member's notices come a payment at a time (a second of a renewal run's payments at a time,
billing/payments/emails.py), so a merchant with a renewal day of ten thousand still gets hundreds of emails; a
member who wants to know how the business went, not of each payment, switches those off and this on (the
dashboard's email settings, or a manager on the member's page).

What: the day's payments received (how many, and their total by currency), the payments that failed (how many
payments were declined at least once that day), and the refunds made (how many, total by currency), in the
member's language, with a link to the dashboard. The day is the UTC day before beat's run (``now``: beat runs it
at 06:05 UTC); a payment is counted on the day Stripe confirmed it (its timeline's ``succeeded``), a failure on
the day of the decline, a refund on the day it was made. A day with none of those sends nothing (no empty
emails). Test-mode payments get their own summary, marked *[Test]*.

Once: each summary has its key in the ``EmailSent`` ledger (``summary.daily:<merchant>:<mode>:<day>:member:<id>``),
so a second run of the task that day, or a retry after a mail server's error, sends none twice.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Sum
from django.urls import reverse

from kassa import money
from merchants import emails as merchant_emails
from merchants.models import Membership

from .models import PaymentTimelineEntry, Refund

KIND = "summary.daily"


@dataclass
class _Day:
    received: int = 0
    received_by_currency: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    refunds: int = 0
    refunded_by_currency: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.received or self.failed or self.refunds)


def _window(now: datetime) -> tuple[date, datetime, datetime]:
    day = (now.astimezone(UTC) - timedelta(days=1)).date()
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return day, start, start + timedelta(days=1)


def _days(merchant_pks: list[int], start: datetime, end: datetime) -> dict[tuple[int, bool], _Day]:
    """What each merchant and mode did between ``start`` and ``end``: a few grouped reads for them all."""
    days: dict[tuple[int, bool], _Day] = defaultdict(_Day)
    in_window = {"created__gte": start, "created__lt": end, "payment_intent__merchant_id__in": merchant_pks}
    group = ("payment_intent__merchant_id", "payment_intent__livemode")
    succeeded = PaymentTimelineEntry.objects.filter(kind="succeeded", **in_window)
    for row in succeeded.values(*group, "payment_intent__currency").annotate(
        n=Count("payment_intent", distinct=True), amount=Sum("payment_intent__amount")
    ):
        day = days[(row["payment_intent__merchant_id"], row["payment_intent__livemode"])]
        day.received += row["n"]
        day.received_by_currency[row["payment_intent__currency"]] = row["amount"]
    failed = PaymentTimelineEntry.objects.filter(kind="payment_failed", **in_window)
    for row in failed.values(*group).annotate(n=Count("payment_intent", distinct=True)):
        days[(row["payment_intent__merchant_id"], row["payment_intent__livemode"])].failed += row["n"]
    refunds = Refund.objects.filter(
        status=Refund.Status.SUCCEEDED, created__gte=start, created__lt=end, merchant_id__in=merchant_pks
    )
    for row in refunds.values("merchant_id", "livemode", "currency").annotate(n=Count("pk"), amount=Sum("amount")):
        day = days[(row["merchant_id"], row["livemode"])]
        day.refunds += row["n"]
        day.refunded_by_currency[row["currency"]] = row["amount"]
    return days


def _totals(by_currency: dict[str, int], language: str) -> str:
    return ", ".join(money.format_localised(a, c, language) for c, a in sorted(by_currency.items()))


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
    days = _days(list(by_merchant), start, end) if by_merchant else {}
    sent, failure = 0, None
    for (merchant_pk, livemode), figures in sorted(days.items()):
        for membership in by_merchant[merchant_pk]:
            language = membership.language
            context = {
                "merchant_name": membership.merchant.name,
                "livemode": livemode,
                "day": day,
                "received": figures.received,
                "received_total": _totals(figures.received_by_currency, language),
                "failed": figures.failed,
                "refunds": figures.refunds,
                "refunded_total": _totals(figures.refunded_by_currency, language),
                "dashboard_url": merchant_emails.dashboard_url(reverse("admin:billing_paymentintent_changelist")),
                "settings_url": merchant_emails.dashboard_url(reverse("dashboard-email-settings")),
            }
            try:
                sent += merchant_emails.email_send_once(
                    key=f"{KIND}:{merchant_pk}:{int(livemode)}:{day.isoformat()}:member:{membership.pk}",
                    kind=KIND,
                    merchant=membership.merchant,
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
