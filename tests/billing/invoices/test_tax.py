"""The tax arithmetic invoices use (billing/invoices/services.py's docstring states the rule)."""

from decimal import Decimal

import pytest

from billing.invoices.services import tax_amount, tax_amounts


@pytest.mark.parametrize(
    ("amount", "percentage", "currency", "tax"),
    [
        (10000, "20", "eur", 2000),  # 100.00 EUR at 20 % → 20.00
        (999, "20", "eur", 200),  # 9.99 * 0.2 = 1.998 → 2.00
        (43, "15", "usd", 6),  # Stripe's example: 0.0645 → 0.06
        (484, "15", "usd", 73),  # Stripe's example: 0.7265 → 0.73
        (250, "1", "eur", 3),  # 2.5 cents: a half goes up
        (249, "1", "eur", 2),
        (1999, "5.5", "eur", 110),  # 109.945 → 110
        (1000, "8.875", "usd", 89),  # 88.75 → 89
        (1001, "10", "jpy", 100),  # ¥100.1 → ¥100
        (1005, "10", "jpy", 101),  # ¥100.5 → ¥101: half up in yen too
        (1234, "8", "jpy", 99),  # ¥98.72 → ¥99
        (-250, "1", "eur", -3),  # a credit: halves away from zero
        (0, "20", "eur", 0),
        (10000, "0", "eur", 0),
    ],
)
def test_exclusive_tax_to_the_minor_unit(amount, percentage, currency, tax):
    assert tax_amount(amount, Decimal(percentage), False, currency) == tax


@pytest.mark.parametrize(
    ("amount", "percentage", "currency", "tax"),
    [
        (12000, "20", "eur", 2000),  # 120.00 incl. 20 % → 20.00 tax, 100.00 net
        (1000, "20", "eur", 167),  # 166.67 → 167 (net 833)
        (1055, "5.5", "eur", 55),  # 55.0 exactly
        (100, "5.5", "eur", 5),  # 5.21 → 5
        (1100, "10", "jpy", 100),  # ¥1,100 incl. 10 % consumption tax → ¥100
        (1000, "10", "jpy", 91),  # ¥90.909 → ¥91
        (108, "8", "jpy", 8),
        (3, "50", "jpy", 1),  # ¥1 exactly
        (9, "50", "jpy", 3),
        (105, "5", "eur", 5),
        (21, "5", "eur", 1),  # 1.0 exactly
        (-1000, "20", "eur", -167),
    ],
)
def test_inclusive_tax_to_the_minor_unit(amount, percentage, currency, tax):
    assert tax_amount(amount, Decimal(percentage), True, currency) == tax


def test_exact_halves_round_away_from_zero_both_ways():
    assert tax_amount(10, Decimal("25"), False, "jpy") == 3  # 2.5 -> 3
    assert tax_amount(25, Decimal("25"), False, "jpy") == 6  # 6.25 -> 6
    assert tax_amount(-10, Decimal("25"), False, "jpy") == -3  # -2.5 -> -3
    assert tax_amount(125, Decimal("25"), True, "eur") == 25  # 125 * 25 / 125 = 25 exactly
    assert tax_amount(75, Decimal("50"), True, "eur") == 25  # 75 * 50 / 150 = 25 exactly
    assert tax_amount(15, Decimal("200") / 2, True, "jpy") == 8  # 15 * 100 / 200 = 7.5 -> 8


def test_strings_and_integers_are_exact_and_floats_are_refused():
    assert tax_amount(1999, "5.5", False, "eur") == 110
    assert tax_amount(1999, 20, False, "eur") == 400
    with pytest.raises(TypeError):
        tax_amount(1999, 5.5, False, "eur")
    with pytest.raises(TypeError):
        tax_amount(19.99, "5.5", False, "eur")
    with pytest.raises(ValueError, match="Unsupported currency"):
        tax_amount(1999, "5.5", False, "xyz")
    with pytest.raises(TypeError):  # several rates, inclusive among them: the amount is checked all the same
        tax_amounts(19.99, [("5.5", True), ("2", True)], "eur")


def test_several_rates_on_one_line():
    # Two exclusive rates: each on the line's amount, each rounded.
    assert tax_amounts(1000, [(Decimal("5"), False), (Decimal("9.975"), False)], "usd") == [50, 100]
    # One inclusive rate: exactly tax_amount.
    assert tax_amounts(1000, [(Decimal("20"), True)], "eur") == [tax_amount(1000, Decimal("20"), True, "eur")]
    # Two inclusive rates: 1150 incl. 10 % + 5 % → net 1000, taxes 100 and 50.
    assert tax_amounts(1150, [(Decimal("10"), True), (Decimal("5"), True)], "eur") == [100, 50]
    # Inclusive and exclusive together: the exclusive one applies to the net.
    assert tax_amounts(1200, [(Decimal("20"), True), (Decimal("10"), False)], "eur") == [200, 100]
