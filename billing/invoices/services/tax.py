"""Writes for invoicing (tax rates so far), and the tax arithmetic every invoice will use.

The API and the dashboard both call these; every rule about what may be
stored is checked here.

How Kassa computes tax (the rule invoices use, written down once)
=================================================================

As at Stripe, tax is computed **per line and per tax rate, then rounded to
the currency's minor unit** (a cent, a yen: amounts are integers in the
minor unit already). Invoice totals are sums of those rounded amounts, so
an invoice's ``total_taxes`` always equals the sum of its lines' ``taxes``,
and each rate's total on the invoice is the sum over the lines.

- **Exclusive** rate (added on top): ``tax = amount * percentage / 100``.
- **Inclusive** rate (already in the price): the amount is gross, so
  ``tax = amount * percentage / (100 + percentage)`` (the net is
  ``amount - tax``; the line's total does not change).
- **Rounding**: to the nearest minor unit, **halves away from zero**
  (``ROUND_HALF_UP`` in Python's ``decimal``: 0.5 cent becomes 1 cent,
  -0.5 becomes -1), on the exact decimal value: no float ever enters.
  Stripe's support pages round to the nearest unit with halves up
  (0.025 → 0.03) and show tax rounded per line (15 %: 0.0645 → 0.06 and
  0.7265 → 0.73 on two lines; the invoice's tax is their sum, 0.79).
- A line's ``amount`` is its whole amount (unit amount * quantity), taxed
  once: never per unit, then multiplied.
- A line with several **inclusive** rates (rare; Stripe allows it) divides
  by ``100 + the sum of its inclusive percentages`` for the taxable amount,
  then applies each rate to it; ``tax_amounts`` does that. Exclusive rates
  apply to the line's amount net of inclusive taxes.

``tax_amount`` and ``tax_amounts`` are pure functions: no database, no
rounding anywhere but at the very end of each rate's amount.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction

from kassa import metadata as metadata_rules
from kassa import money
from kassa.errors import InvalidRequest
from kassa.ids import public_id
from webhooks.services.outbox import event_emit, render

from ...hosted.i18n import countries
from ..models import TaxRate

# --- tax arithmetic ------------------------------------------------------------------


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _percent(percentage) -> Decimal:
    if isinstance(percentage, float):
        raise TypeError("percentage must be a Decimal (or str/int), never a float")
    return Decimal(percentage)


def _check(amount, currency: str) -> None:
    if not money.is_supported(currency):
        raise ValueError(f"Unsupported currency: {currency}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amount must be an integer in the currency's minor unit")


def tax_amount(amount: int, percentage, inclusive: bool, currency: str) -> int:
    """The tax, in ``currency``'s minor unit, of one rate on one line of ``amount`` (minor units).

    ``inclusive``: ``amount`` already contains the tax (gross); otherwise the
    tax is added on top. Rounded half away from zero, once.
    """
    _check(amount, currency)
    rate = _percent(percentage)
    base = Decimal(amount)
    if inclusive:
        return _round(base * rate / (Decimal(100) + rate))
    return _round(base * rate / Decimal(100))


def tax_amounts(amount: int, rates: list[tuple[object, bool]], currency: str) -> list[int]:
    """Each rate's tax on one line, in order; ``rates`` are ``(percentage, inclusive)`` pairs.

    One inclusive rate gives exactly ``tax_amount``; with several, the taxable
    amount is the gross amount divided by ``100 + their sum`` (as Stripe does),
    and each rate is applied to that (rounded per rate).
    """
    _check(amount, currency)
    inclusive_sum = sum((_percent(p) for p, inclusive in rates if inclusive), Decimal(0))
    if inclusive_sum == 0:
        return [tax_amount(amount, p, inclusive, currency) for p, inclusive in rates]
    taxable = Decimal(amount) * Decimal(100) / (Decimal(100) + inclusive_sum)
    return [_round(taxable * _percent(p) / Decimal(100)) for p, _inclusive in rates]


# --- tax rates -------------------------------------------------------------------------

TAX_RATE_FIELDS = ("display_name", "active", "country", "state", "jurisdiction", "description", "tax_type")
_MAX_LENGTHS = {"display_name": 50, "jurisdiction": 50, "description": 5000}
PERCENTAGE_PLACES = 4


def parse_percentage(value) -> Decimal:
    """A percentage as sent (``"20"``, ``"5.5"``, 19.6 from JSON): a Decimal of 0 to 100 with at most 4 places."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidRequest(f"Invalid decimal: {str(value)[:50]}", param="percentage")
    text = str(value).strip()  # a JSON float's str() is its shortest exact decimal form
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidRequest(f"Invalid decimal: {text[:50]}", param="percentage") from None
    if not number.is_finite() or "_" in text:
        raise InvalidRequest(f"Invalid decimal: {text[:50]}", param="percentage")
    if not 0 <= number <= 100:
        raise InvalidRequest("percentage must be between 0 and 100.", param="percentage")
    if number != number.quantize(Decimal(1).scaleb(-PERCENTAGE_PLACES)):
        raise InvalidRequest(f"percentage may have at most {PERCENTAGE_PLACES} decimal places.", param="percentage")
    return number.quantize(Decimal(1).scaleb(-PERCENTAGE_PLACES))


def country_codes() -> frozenset[str]:
    return frozenset(code for code, _name in countries("en"))


def _tax_rate_fields(changes: dict) -> dict:
    unknown = set(changes) - {*TAX_RATE_FIELDS, "metadata"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidRequest(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
    if "display_name" in changes:
        value = changes["display_name"]
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(
                "Missing required param: display_name.", code="parameter_missing", param="display_name"
            )
    for name in ("country", "state", "jurisdiction", "description", "tax_type"):
        if name in changes:
            changes[name] = changes[name] or None
    for name, limit in _MAX_LENGTHS.items():
        if changes.get(name) and len(changes[name]) > limit:
            raise InvalidRequest(f"{name} is at most {limit} characters.", param=name)
    if changes.get("country"):
        country = changes["country"].upper()
        if country not in country_codes():
            raise InvalidRequest(
                f"Invalid country: {changes['country'][:10]}. Use a two-letter ISO 3166-1 code such as FR.",
                param="country",
            )
        changes["country"] = country
    if changes.get("state"):
        state = changes["state"].upper()
        if not (1 <= len(state) <= 3 and state.isalnum()):
            raise InvalidRequest(
                "state is an ISO 3166-2 subdivision code without the country, such as NY.", param="state"
            )
        changes["state"] = state
    if changes.get("tax_type") and changes["tax_type"] not in TaxRate.TAX_TYPES:
        raise InvalidRequest(f"Invalid tax_type: {changes['tax_type'][:40]}.", param="tax_type")
    return changes


@transaction.atomic
def tax_rate_create(
    *,
    merchant,
    livemode: bool,
    display_name: str,
    percentage,
    inclusive: bool,
    active: bool = True,
    metadata=None,
    **fields,
) -> TaxRate:
    """A tax rate; its percentage and ``inclusive`` are fixed from now on."""
    fields = _tax_rate_fields({"display_name": display_name, "active": active, **fields})
    if not isinstance(inclusive, bool):
        raise InvalidRequest("Missing required param: inclusive.", code="parameter_missing", param="inclusive")
    tax_rate = TaxRate.objects.create(
        public_id=public_id(TaxRate.PREFIX),
        merchant=merchant,
        livemode=livemode,
        percentage=parse_percentage(percentage),
        inclusive=inclusive,
        metadata=metadata_rules.merge({}, metadata),
        **fields,
    )
    event_emit(type="tax_rate.created", obj=tax_rate)
    return tax_rate


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, **changes) -> TaxRate:
    """Change what may change; ``percentage`` and ``inclusive`` never do (refused, naming the parameter)."""
    for fixed in ("percentage", "inclusive"):
        if fixed in changes:
            raise InvalidRequest(f"Received unknown parameter: {fixed}", code="parameter_unknown", param=fixed)
    tax_rate = TaxRate.objects.select_for_update().get(pk=tax_rate.pk)
    before = render(tax_rate)
    changes = _tax_rate_fields(changes)
    fields = []
    for name in TAX_RATE_FIELDS:
        if name in changes:
            setattr(tax_rate, name, changes[name])
            fields.append(name)
    if "metadata" in changes:
        tax_rate.metadata = metadata_rules.merge(tax_rate.metadata, changes["metadata"])
        fields.append("metadata")
    if fields:
        tax_rate.save(update_fields=fields)
        event_emit(type="tax_rate.updated", obj=tax_rate, before=before)
    return tax_rate
