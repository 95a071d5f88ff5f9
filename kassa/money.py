"""Money: an integer amount in the currency's minor unit plus a lowercase ISO code.

The one place that knows which currencies Kassa accepts and how many decimal
places each has. Amounts are never floats; formatting happens only at the
edges (templates, admin) through ``format_amount``.
Lists follow https://docs.stripe.com/currencies.
"""

import re
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency

from kassa.errors import InvalidRequest

# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
# https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

SUPPORTED = frozenset(
    [
        "usd",
        "aed",
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "aud",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bgn",
        "bhd",
        "bif",
        "bmd",
        "bnd",
        "bob",
        "brl",
        "bsd",
        "bwp",
        "byn",
        "bzd",
        "cad",
        "cdf",
        "chf",
        "clp",
        "cny",
        "cop",
        "crc",
        "cve",
        "czk",
        "djf",
        "dkk",
        "dop",
        "dzd",
        "egp",
        "etb",
        "eur",
        "fjd",
        "fkp",
        "gbp",
        "gel",
        "gip",
        "gmd",
        "gnf",
        "gtq",
        "gyd",
        "hkd",
        "hnl",
        "htg",
        "huf",
        "idr",
        "ils",
        "inr",
        "isk",
        "jmd",
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "krw",
        "kwd",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "mad",
        "mdl",
        "mga",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mur",
        "mvr",
        "mwk",
        "mxn",
        "myr",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "nok",
        "npr",
        "nzd",
        "omr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "pln",
        "pyg",
        "qar",
        "ron",
        "rsd",
        "rub",
        "rwf",
        "sar",
        "sbd",
        "scr",
        "sek",
        "sgd",
        "shp",
        "sle",
        "sos",
        "srd",
        "std",
        "szl",
        "thb",
        "tjs",
        "tnd",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "ugx",
        "uyu",
        "uzs",
        "vnd",
        "vuv",
        "wst",
        "xaf",
        "xcd",
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
    ]
)

# The largest amount Kassa accepts in one price or charge, in minor units
# (Stripe's limit is eight digits for most currencies).
MAX_AMOUNT = 99_999_999


def is_supported(currency: str) -> bool:
    return currency in SUPPORTED


def decimal_places(currency: str) -> int:
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def to_decimal(amount: int, currency: str) -> Decimal:
    """Minor units to a Decimal in major units: (1999, 'usd') -> Decimal('19.99')."""
    return Decimal(amount).scaleb(-decimal_places(currency))


def to_minor(value: Decimal | str | int, currency: str) -> int:
    """Major units to minor units; refuses values finer than the currency allows."""
    exact = Decimal(value).scaleb(decimal_places(currency))
    if exact != exact.to_integral_value():
        raise ValueError(f"{value} has more decimal places than {currency.upper()} allows")
    return int(exact)


def format_amount(amount: int, currency: str) -> str:
    """A human amount: '19.99 USD', '500 JPY'. Locale-aware formatting is the template's job."""
    places = decimal_places(currency)
    return f"{to_decimal(amount, currency):,.{places}f} {currency.upper()}"


def check(amount, currency: str, *, param: str, minimum: int = 0) -> None:
    """The rules every amount Kassa stores obeys: a supported currency, an integer within limits."""
    if not is_supported(currency):
        raise InvalidRequest(f"Invalid currency: {currency}.", code="parameter_invalid_currency", param="currency")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidRequest(f"{param} must be an integer.", code="parameter_invalid_integer", param=param)
    if amount < minimum:
        raise InvalidRequest(f"{param} must be at least {minimum}.", code="amount_too_small", param=param)
    if amount > MAX_AMOUNT:
        raise InvalidRequest(
            f"{param} must be at most {MAX_AMOUNT} (in {currency.upper()}'s smallest unit).",
            code="amount_too_large",
            param=param,
        )


def format_localised(amount: int, currency: str, language: str) -> str:
    """An amount in minor units for a reader of ``language``: ``€25.00``, ``25,00 €``, ``¥500`` (pages, emails).

    Babel gives the locale's pattern and symbol; the number of decimals comes
    from this module (Stripe's list), not from CLDR, so the reader sees
    exactly what is charged: JPY has none, KWD three.
    """
    places = decimal_places(currency)
    pattern = Locale.parse(language).currency_formats["standard"].pattern
    pattern = re.sub(r"\.0+", "." + "0" * places if places else "", pattern)
    return format_currency(
        to_decimal(amount, currency), currency.upper(), format=pattern, locale=language, currency_digits=False
    )


def format_totals(by_currency: dict[str, int], language: str) -> str:
    """Totals of several currencies for a reader of ``language``, never added together: ``€50.00, $12.00``, one per
    currency in the currencies' order (emails' totals)."""
    return ", ".join(format_localised(amount, currency, language) for currency, amount in sorted(by_currency.items()))
