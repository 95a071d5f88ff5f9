"""Billing periods from the anchor: the month-end rule, days and weeks, day_of_month, the stub before the anchor."""

from datetime import UTC, datetime

import pytest

from billing.subscriptions import periods


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("anchor", "interval", "count", "starts"),
    [
        # The month-end rule: always from the anchor, never chained (31 Jan → 28 Feb → 31 Mar, not 28 Mar).
        (
            d(2027, 1, 31, 9),
            "month",
            1,
            [d(2027, 1, 31, 9), d(2027, 2, 28, 9), d(2027, 3, 31, 9), d(2027, 4, 30, 9), d(2027, 5, 31, 9)],
        ),
        # A leap year's February.
        (d(2028, 1, 31), "month", 1, [d(2028, 1, 31), d(2028, 2, 29), d(2028, 3, 31)]),
        (d(2027, 1, 15, 12, 30), "month", 3, [d(2027, 1, 15, 12, 30), d(2027, 4, 15, 12, 30), d(2027, 7, 15, 12, 30)]),
        # 29 February yearly: 28 February in the years between, 29 again in the next leap year.
        (d(2028, 2, 29), "year", 1, [d(2028, 2, 29), d(2029, 2, 28), d(2030, 2, 28), d(2031, 2, 28), d(2032, 2, 29)]),
        # Every 30 days from 1 February.
        (d(2027, 2, 1), "day", 30, [d(2027, 2, 1), d(2027, 3, 3), d(2027, 4, 2), d(2027, 5, 2)]),
        (d(2027, 1, 4, 8), "week", 2, [d(2027, 1, 4, 8), d(2027, 1, 18, 8), d(2027, 2, 1, 8)]),
        # Across the end of a year.
        (d(2027, 11, 30), "month", 1, [d(2027, 11, 30), d(2027, 12, 30), d(2028, 1, 30), d(2028, 2, 29)]),
    ],
)
def test_period_starts_count_from_the_anchor(anchor, interval, count, starts):
    got = [periods.period_start(anchor=anchor, interval=interval, count=count, n=n) for n in range(len(starts))]
    assert got == starts
    # And each instant falls in the period that starts there and ends at the next start.
    for n, start in enumerate(starts[:-1]):
        assert periods.period_index(anchor=anchor, interval=interval, count=count, at=start) == n
        assert periods.period_at(anchor=anchor, interval=interval, count=count, at=start) == (start, starts[n + 1])
        just_before_next = starts[n + 1].replace(microsecond=0) - (starts[n + 1] - start) / 1000
        assert periods.period_index(anchor=anchor, interval=interval, count=count, at=just_before_next) == n


def test_a_year_of_months_from_31_january():
    ends = [periods.period_start(anchor=d(2027, 1, 31), interval="month", count=1, n=n).day for n in range(1, 13)]
    assert ends == [28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]


@pytest.mark.parametrize(
    ("start", "day_of_month", "anchor"),
    [
        (d(2027, 1, 10, 14), 15, d(2027, 1, 15, 14)),
        (d(2027, 1, 20, 14), 15, d(2027, 2, 15, 14)),
        (d(2027, 1, 15, 14), 15, d(2027, 1, 15, 14)),  # today is the day: no stub period
        (d(2027, 2, 3), 31, d(2027, 2, 28)),  # clamped to February's end
        (d(2027, 4, 30, 1), 31, d(2027, 4, 30, 1)),
    ],
)
def test_anchor_for_day_of_month(start, day_of_month, anchor):
    assert periods.anchor_for_day_of_month(start=start, day_of_month=day_of_month) == anchor


def test_day_of_month_holds_after_a_short_month():
    # Anchored on 28 February for day 31: March's period starts on the 31st, not the 28th.
    starts = [
        periods.period_start(anchor=d(2027, 2, 28), interval="month", count=1, n=n, day_of_month=31) for n in range(4)
    ]
    assert starts == [d(2027, 2, 28), d(2027, 3, 31), d(2027, 4, 30), d(2027, 5, 31)]


def test_before_the_anchor_a_stub_period_from_the_start():
    start, anchor = d(2027, 1, 10), d(2027, 2, 1)
    monthly = {"anchor": anchor, "interval": "month", "count": 1, "start": start}
    assert periods.period_at(at=d(2027, 1, 20), **monthly) == (start, anchor)
    assert periods.period_at(at=anchor, **monthly) == (anchor, d(2027, 3, 1))


def test_other_time_zones_are_read_as_utc():
    from zoneinfo import ZoneInfo

    paris = datetime(2027, 1, 31, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))  # 30 January 23:30 UTC
    assert periods.period_start(anchor=paris, interval="month", count=1, n=1) == d(2027, 2, 28, 23, 30)
