"""Proration: what a mid-period change of a subscription item credits and charges, to the second.

Pure functions on integers: no database, no clock (the change time is an
argument), no floats. A change of price or quantity at ``at`` inside the
item's current period ``[start, end)`` makes Stripe's two lines
(https://docs.stripe.com/billing/subscriptions/prorations):

- "Unused time on Pro after 15 Jan 2027": a credit (negative) for what
  the *current* price and quantity charged for the time left, ``[at, end)``;
- "Remaining time on Pro after 15 Jan 2027": a charge for the new price
  and quantity over the same time
  (a quantity other than 1 is written before the product, "3 MULTIPLICATION
  SIGN Pro", as Stripe writes it; the date is the change's, in UTC).

Each line's amount is ``unit_amount * quantity * seconds_left / period_seconds``
rounded ONCE, half up on the exact fraction (integer arithmetic), to the
currency's minor unit — amounts are already minor units, so JPY rounds to the
yen and EUR to the cent with the same code. A credit is the negated rounding
of its magnitude (half away from zero), so crediting a quantity later gives
back exactly what charging the same quantity over the same time would have
charged. Nothing is rounded per unit or per day first.

Consecutive changes in one period (Lago #1776) are right because the credit
is always taken from what is in force *now* — the caller passes the item's
current price and quantity, i.e. those of the previous change — never from
the price the period was first invoiced at.

What prorates: Kassa's prices are all ``billing_scheme=per_unit`` and
``usage_type=licensed`` (billing/catalogue/models.py has no tiers, no
metering, no custom amounts), so every recurring price is quantity-priced and
prorates; a one-time price cannot be a subscription item (``price_prorates``).
Changes that reset the billing cycle (another interval) are the caller's:
it credits the unused time (``new=None``) and invoices the new period in
full, as Stripe does.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_date
from django.utils import translation
from django.utils.translation import gettext

from ..catalogue.models import Price


@dataclass(frozen=True)
class Charge:
    """What a subscription item charges for a whole period: a per-unit price times a quantity."""

    unit_amount: int
    quantity: int
    currency: str
    product_name: str
    # Carried through to the line untouched (the caller's Price, for the invoice item it makes).
    price: Any = None

    def __post_init__(self) -> None:
        for name in ("unit_amount", "quantity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}")


@dataclass(frozen=True)
class ProrationLine:
    """One proration line: a credit (``amount`` < 0, or 0) for unused time or a charge for remaining time."""

    kind: str  # "unused" | "remaining"
    amount: int
    currency: str
    quantity: int
    unit_amount: int  # the price's full-period unit amount (the line's amount is prorated)
    period_start: datetime  # the change time
    period_end: datetime  # the item's current period end
    description: str
    price: Any


UNUSED = "unused"
REMAINING = "remaining"


def price_prorates(price: Price) -> bool:
    """Whether a change of this price or its quantity is prorated: any recurring price (all are per-unit, licensed)."""
    return price.type == Price.Type.RECURRING


def prorated_amount(*, unit_amount: int, quantity: int, seconds_left: int, period_seconds: int) -> int:
    """``unit_amount * quantity * seconds_left / period_seconds`` rounded half up, in minor units (all ≥ 0)."""
    if period_seconds <= 0 or not 0 <= seconds_left <= period_seconds:
        raise ValueError(f"seconds_left {seconds_left} must lie within a period of {period_seconds} s")
    numerator = unit_amount * quantity * seconds_left
    return (2 * numerator + period_seconds) // (2 * period_seconds)


def _seconds(delta) -> int:
    # Periods and change times are whole seconds (Stripe's timestamps); a stray microsecond is dropped, not rounded.
    return delta.days * 86_400 + delta.seconds


def _description(kind: str, charge: Charge, at: datetime, language: str) -> str:
    with translation.override(language):
        date = format_date(at.astimezone(UTC).date(), "dd MMM yyyy", locale=translation.get_language() or "en")
        values = {"quantity": charge.quantity, "product": charge.product_name, "date": date}
        if kind == UNUSED:
            if charge.quantity == 1:
                return gettext("Unused time on %(product)s after %(date)s") % values
            return gettext("Unused time on %(quantity)s × %(product)s after %(date)s") % values  # noqa: RUF001
        if charge.quantity == 1:
            return gettext("Remaining time on %(product)s after %(date)s") % values
        return gettext("Remaining time on %(quantity)s × %(product)s after %(date)s") % values  # noqa: RUF001


def proration_lines(
    *,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
    old: Charge | None,
    new: Charge | None,
    language: str = "en",
    until: datetime | None = None,
) -> list[ProrationLine]:
    """The lines of changing one item from ``old`` to ``new`` at ``at`` in its period ``[period_start, period_end)``.

    ``old=None``: the item is added at ``at`` (a charge only); ``new=None``: it is removed (a credit only).
    No change (same price, unit amount and quantity) makes no line. ``language`` writes the descriptions
    (``en``/``fr``; the invoice's language, chosen by the caller). Lines of amount 0 (a free price) are
    kept, as Stripe shows them.

    ``until`` (within ``(at, period_end]``): the time billed ends there rather than at the period's end — a
    period cut short by ``cancel_at``, or the credit of moving ``cancel_at`` earlier — while the full period
    stays the denominator, so a day is worth the same whatever cuts it.
    """
    if period_start.tzinfo is None or period_end.tzinfo is None or at.tzinfo is None:
        raise ValueError("period_start, period_end and at must be aware datetimes")
    if not period_start <= at < period_end:
        raise ValueError(f"the change time {at.isoformat()} is outside the period [{period_start}, {period_end})")
    until = period_end if until is None else until
    if until.tzinfo is None or not at < until <= period_end:
        raise ValueError(f"until {until.isoformat()} must lie within ({at.isoformat()}, {period_end.isoformat()}]")
    if old is not None and new is not None:
        if old.currency != new.currency:
            raise ValueError(f"a subscription item cannot change currency ({old.currency} → {new.currency})")
        if (old.price, old.unit_amount, old.quantity) == (new.price, new.unit_amount, new.quantity):
            return []
    period_seconds = _seconds(period_end - period_start)
    seconds_left = _seconds(until - at)
    lines = []
    for kind, charge, sign in ((UNUSED, old, -1), (REMAINING, new, 1)):
        if charge is None:
            continue
        amount = prorated_amount(
            unit_amount=charge.unit_amount,
            quantity=charge.quantity,
            seconds_left=seconds_left,
            period_seconds=period_seconds,
        )
        lines.append(
            ProrationLine(
                kind=kind,
                amount=sign * amount,
                currency=charge.currency,
                quantity=charge.quantity,
                unit_amount=charge.unit_amount,
                period_start=at,
                period_end=until,
                description=_description(kind, charge, at, language),
                price=charge.price,
            )
        )
    return lines
