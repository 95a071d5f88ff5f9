"""A subscription's billing periods: pure functions of the anchor, the interval and its count, in UTC.

Every period is counted from the ``billing_cycle_anchor``, never chained from the previous period:
period ``n`` starts at ``anchor + n * count`` intervals. For months and years ``relativedelta`` keeps
the anchor's day and clamps it to the month's end, so an anchor on 31 January gives 28 (or 29)
February, 31 March, 30 April, 31 May… (chaining would drift to the 28th for good). Days and weeks are
exact multiples of 24 hours. With ``billing_cycle_anchor_config[day_of_month]`` the day is that one,
clamped the same way, every month (as at Stripe).

Before the anchor (a trial, or an anchor set later than the start), the subscription is in a stub
period from its start to the anchor.
"""

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

DAY, WEEK, MONTH, YEAR = "day", "week", "month", "year"


def _months(interval: str, count: int) -> int | None:
    if interval == MONTH:
        return count
    if interval == YEAR:
        return 12 * count
    return None


def _days(interval: str, count: int) -> int:
    if interval == DAY:
        return count
    if interval == WEEK:
        return 7 * count
    raise ValueError(f"Unknown interval {interval!r}")


def period_start(*, anchor: datetime, interval: str, count: int, n: int, day_of_month: int | None = None) -> datetime:
    """The start of period ``n`` (0 starts at the anchor), counted from the anchor, in UTC."""
    anchor = anchor.astimezone(UTC)
    months = _months(interval, count)
    if months is None:
        return anchor + timedelta(days=n * _days(interval, count))
    return anchor + relativedelta(months=n * months, day=day_of_month or anchor.day)


def period_index(*, anchor: datetime, interval: str, count: int, at: datetime, day_of_month: int | None = None) -> int:
    """The number of the period ``at`` falls in: the largest ``n`` whose start is at or before ``at``."""
    anchor, at = anchor.astimezone(UTC), at.astimezone(UTC)
    months = _months(interval, count)
    if months is None:
        n = (at - anchor) // timedelta(days=_days(interval, count))
    else:
        n = ((at.year - anchor.year) * 12 + at.month - anchor.month) // months
    # The estimate is off by at most one either way (month ends, the time of day): settle it exactly.
    while period_start(anchor=anchor, interval=interval, count=count, n=n, day_of_month=day_of_month) > at:
        n -= 1
    while period_start(anchor=anchor, interval=interval, count=count, n=n + 1, day_of_month=day_of_month) <= at:
        n += 1
    return n


def period_at(
    *,
    anchor: datetime,
    interval: str,
    count: int,
    at: datetime,
    start: datetime | None = None,
    day_of_month: int | None = None,
) -> tuple[datetime, datetime]:
    """``(start, end)`` of the period ``at`` falls in; before the anchor, the stub from ``start`` to the anchor."""
    anchor = anchor.astimezone(UTC)
    if at < anchor:
        return ((start or at).astimezone(UTC), anchor)
    n = period_index(anchor=anchor, interval=interval, count=count, at=at, day_of_month=day_of_month)
    return (
        period_start(anchor=anchor, interval=interval, count=count, n=n, day_of_month=day_of_month),
        period_start(anchor=anchor, interval=interval, count=count, n=n + 1, day_of_month=day_of_month),
    )


def anchor_for_day_of_month(*, start: datetime, day_of_month: int) -> datetime:
    """The first instant at or after ``start`` on ``day_of_month`` (clamped to the month's end), at start's time."""
    start = start.astimezone(UTC)
    candidate = start + relativedelta(day=day_of_month)
    if candidate < start:
        candidate = start + relativedelta(months=1, day=day_of_month)
    return candidate
