"""Proration to the second against a table computed by hand.

Every amount below was worked out on paper first; the comment beside each row
shows the sum. Seconds: a day is 86,400 s; January 2027 (31 days) is
2,678,400 s, February 2027 (28 days) 2,419,200 s, April 2027 (30 days)
2,592,000 s. Rounding: once per line, half up on the exact fraction (a
credit is the negated rounding of its magnitude).
"""

from datetime import UTC, datetime, timedelta

import pytest

from billing.catalogue.models import Price
from billing.subscriptions.proration import (
    Charge,
    price_prorates,
    prorated_amount,
    proration_lines,
)

JAN = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))  # 31 days
FEB = (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))  # 28 days
TIMES = "\N{MULTIPLICATION SIGN}"  # Stripe writes the real sign between quantity and product
APR = (datetime(2027, 4, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))  # 30 days


def eur(unit_amount: int, quantity: int = 1, product: str = "Pro") -> Charge:
    return Charge(unit_amount=unit_amount, quantity=quantity, currency="eur", product_name=product)


def jpy(unit_amount: int, quantity: int = 1, product: str = "Pro") -> Charge:
    return Charge(unit_amount=unit_amount, quantity=quantity, currency="jpy", product_name=product)


def amounts(period, at, old, new) -> list[int]:
    return [
        line.amount for line in proration_lines(period_start=period[0], period_end=period[1], at=at, old=old, new=new)
    ]


TABLE = [
    pytest.param(
        # 15.5 of 31 days left = 1/2. Credit 1000 * 1/2 = 500; charge 2500 * 1/2 = 1250.
        JAN,
        datetime(2027, 1, 16, 12, tzinfo=UTC),
        eur(1000),
        eur(2500),
        [-500, 1250],
        id="upgrade, 31-day month, exactly half",
    ),
    pytest.param(
        # 21 of 31 days left. 1999 * 21 / 31 = 41979 / 31 = 1354 r 5 (0.16) → 1354.
        # 4999 * 21 / 31 = 104979 / 31 = 3386 r 13 (0.42) → 3386.
        JAN,
        datetime(2027, 1, 11, tzinfo=UTC),
        eur(1999),
        eur(4999),
        [-1354, 3386],
        id="upgrade, 31-day month",
    ),
    pytest.param(
        # 20 days 18 h of 28 days left = 20.75 / 28 = 83 / 112.
        # 4999 * 83 / 112 = 414917 / 112 = 3704 r 69 (0.62) → 3705, a credit.
        # 1999 * 83 / 112 = 165917 / 112 = 1481 r 45 (0.40) → 1481.
        FEB,
        datetime(2027, 2, 8, 6, tzinfo=UTC),
        eur(4999),
        eur(1999),
        [-3705, 1481],
        id="downgrade, 28-day month",
    ),
    pytest.param(
        # Same price, quantity 3 → 5, 10 of 30 days left = 1/3.
        # 1000 * 3 / 3 = 1000 exactly; 1000 * 5 / 3 = 5000 / 3 = 1666 r 2 (0.67) → 1667.
        APR,
        datetime(2027, 4, 21, tzinfo=UTC),
        eur(1000, 3),
        eur(1000, 5),
        [-1000, 1667],
        id="quantity up, 30-day month",
    ),
    pytest.param(
        # Quantity 5 → 2 at the same time: 5000 / 3 → 1667 credited; 2000 / 3 = 666 r 2 (0.67) → 667.
        APR,
        datetime(2027, 4, 21, tzinfo=UTC),
        eur(1000, 5),
        eur(1000, 2),
        [-1667, 667],
        id="quantity down, 30-day month",
    ),
    pytest.param(
        # At the period's first second the whole period is left: 1000 * 2 = 2000 back, 2000 * 2 = 4000 charged.
        JAN,
        JAN[0],
        eur(1000, 2),
        eur(2000, 2),
        [-2000, 4000],
        id="change at the first second",
    ),
    pytest.param(
        # 1 s of 2,678,400 s left. 1000 / 2678400 = 0.0004 → 0 (a 0 credit line, as Stripe shows it).
        # 99,999,999 / 2,678,400 = 37 r 899,199 (0.34) → 37.
        JAN,
        JAN[1] - timedelta(seconds=1),
        eur(1000),
        eur(99_999_999),
        [0, 37],
        id="change at the last second",
    ),
    pytest.param(
        # 1 of 28 days left = 1/28: 14 / 28 = 0.5 exactly → 1 (half up); the credit is -1 (half away from zero).
        FEB,
        datetime(2027, 2, 28, tzinfo=UTC),
        eur(14),
        eur(14, 2),
        [-1, 1],
        id="exactly half a cent rounds up",
    ),
    pytest.param(
        # JPY has no minor unit below the yen: amounts are yen. 11 of 31 days left.
        # 980 * 11 / 31 = 10780 / 31 = 347 r 23 (0.74) → 348, a credit.
        # 1980 * 2 * 11 / 31 = 43560 / 31 = 1405 r 5 (0.16) → 1405.
        JAN,
        datetime(2027, 1, 21, tzinfo=UTC),
        jpy(980),
        jpy(1980, 2),
        [-348, 1405],
        id="zero-decimal currency (JPY)",
    ),
]


@pytest.mark.parametrize(("period", "at", "old", "new", "expected"), TABLE)
def test_proration_matches_the_hand_computed_table(period, at, old, new, expected):
    assert amounts(period, at, old, new) == expected


def test_both_lines_cover_the_time_left_and_keep_the_full_period_unit_amount():
    unused, remaining = proration_lines(
        period_start=FEB[0], period_end=FEB[1], at=datetime(2027, 2, 8, 6, tzinfo=UTC), old=eur(4999), new=eur(1999, 3)
    )
    assert (unused.kind, unused.quantity, unused.unit_amount) == ("unused", 1, 4999)
    assert (remaining.kind, remaining.quantity, remaining.unit_amount) == ("remaining", 3, 1999)
    for line in (unused, remaining):
        assert (line.period_start, line.period_end, line.currency) == (
            datetime(2027, 2, 8, 6, tzinfo=UTC),
            FEB[1],
            "eur",
        )


def test_two_changes_in_one_period_credit_the_price_in_force_not_the_first_one():
    """Lago #1776: the second change credits what the first change charged for the time left."""
    # April, 30 days. The period was invoiced 1000 (A) in advance.
    # 7 Apr (24 of 30 days left): A → B 3000: -1000 * 24/30 = -800; +3000 * 24/30 = +2400.
    first = amounts(APR, datetime(2027, 4, 7, tzinfo=UTC), eur(1000), eur(3000))
    assert first == [-800, 2400]
    # 19 Apr (12 of 30 days left): B → C 1250 * 2: -3000 * 12/30 = -1200 (B, not A's -400); +2500 * 12/30 = +1000.
    second = amounts(APR, datetime(2027, 4, 19, tzinfo=UTC), eur(3000), eur(1250, 2))
    assert second == [-1200, 1000]
    # The period then costs what was used: A 6 days = 200, B 12 days = 1200, C 12 days = 1000 → 2400.
    assert 1000 + sum(first) + sum(second) == 200 + 1200 + 1000


def test_two_changes_in_a_31_day_month_round_each_line_once():
    # January, 31 days. 10 Jan (22 of 31 days left): A 1999 → B 2999.
    # 1999 * 22 / 31 = 43978 / 31 = 1418 r 20 (0.65) → 1419; 2999 * 22 / 31 = 65978 / 31 = 2128 r 10 (0.32) → 2128.
    assert amounts(JAN, datetime(2027, 1, 10, tzinfo=UTC), eur(1999), eur(2999)) == [-1419, 2128]
    # 25 Jan 12:00 (6.5 of 31 days left = 13/62): B → C 999 * 3.
    # 2999 * 13 / 62 = 38987 / 62 = 628 r 51 (0.82) → 629; 2997 * 13 / 62 = 38961 / 62 = 628 r 25 (0.40) → 628.
    assert amounts(JAN, datetime(2027, 1, 25, 12, tzinfo=UTC), eur(2999), eur(999, 3)) == [-629, 628]


def test_adding_or_removing_an_item_makes_one_line_and_no_change_makes_none():
    at = datetime(2027, 4, 21, tzinfo=UTC)  # 10 of 30 days left
    assert amounts(APR, at, None, eur(1000, 3)) == [1000]  # 3000 / 3
    assert amounts(APR, at, eur(1000, 3), None) == [-1000]
    assert amounts(APR, at, eur(1000, 3), eur(1000, 3)) == []


@pytest.mark.parametrize(
    ("language", "old", "new", "expected"),
    [
        (
            "en",
            eur(4999),
            eur(1999),
            ["Unused time on Pro after 16 Jan 2027", "Remaining time on Pro after 16 Jan 2027"],
        ),
        (
            "en",
            eur(1000, 3, "Seats"),
            eur(1000, 5, "Seats"),
            [
                f"Unused time on 3 {TIMES} Seats after 16 Jan 2027",
                f"Remaining time on 5 {TIMES} Seats after 16 Jan 2027",
            ],
        ),
        (
            "fr",
            eur(1000, 3, "Postes"),
            eur(1000, 1, "Postes"),
            [
                f"Temps non utilisé sur 3 {TIMES} Postes après le 16 janv. 2027",
                "Temps restant sur Postes après le 16 janv. 2027",
            ],
        ),
    ],
)
def test_descriptions_are_stripes_in_the_invoices_language(language, old, new, expected):
    lines = proration_lines(
        period_start=JAN[0],
        period_end=JAN[1],
        at=datetime(2027, 1, 16, 23, 59, tzinfo=UTC),
        old=old,
        new=new,
        language=language,
    )
    assert [line.description for line in lines] == expected


def test_a_change_outside_the_period_or_across_currencies_is_refused():
    with pytest.raises(ValueError, match="outside the period"):
        proration_lines(period_start=JAN[0], period_end=JAN[1], at=JAN[1], old=eur(1), new=eur(2))
    with pytest.raises(ValueError, match="outside the period"):
        proration_lines(
            period_start=JAN[0], period_end=JAN[1], at=JAN[0] - timedelta(seconds=1), old=eur(1), new=eur(2)
        )
    with pytest.raises(ValueError, match="currency"):
        proration_lines(period_start=JAN[0], period_end=JAN[1], at=JAN[0], old=eur(1), new=jpy(2))
    with pytest.raises(ValueError, match="quantity"):
        eur(1000, -1)


def test_no_float_and_no_overflow_at_kassas_largest_amounts():
    # 99,999,999 * 2,147,483,647 units * a whole year's seconds stays exact in Python's integers.
    year = 365 * 86_400
    assert prorated_amount(unit_amount=99_999_999, quantity=2_147_483_647, seconds_left=year, period_seconds=year) == (
        99_999_999 * 2_147_483_647
    )
    # 1 s of a year of 1 cent * 15,768,000 units = 0.5 → 1.
    assert prorated_amount(unit_amount=1, quantity=year // 2, seconds_left=1, period_seconds=year) == 1


def test_only_recurring_prices_prorate():
    assert price_prorates(Price(type=Price.Type.RECURRING, recurring_interval="month", recurring_interval_count=1))
    assert not price_prorates(Price(type=Price.Type.ONE_TIME))
