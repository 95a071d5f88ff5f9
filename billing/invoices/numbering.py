"""A merchant's invoice settings, and invoice numbers without gaps.

Numbers (Invoice Ninja's #1867 and French law both say why this matters):

- A number is given only when an invoice is **finalized**, never to a draft, by ``number_take``
  called *inside* the finalizing transaction. It locks the counter row of the merchant's current
  prefix in that mode (``InvoiceNumbering``, ``select_for_update``), reads it and raises it. If the
  finalization rolls back, so does the counter: no number is lost. Two finalizations at once queue
  on the row lock: no number is given twice (and a unique constraint on the invoice says so again).
- Test and live mode count separately under the same prefix: a test invoice never uses up a live
  number.
- The **prefix** is 3 to 12 upper-case letters and digits, as at Stripe. A prefix belongs to the first
  merchant that takes it, for ever (``InvoicePrefix`` is unique), so two merchants never issue the
  same number. A merchant may switch to a new prefix, which counts from 1; a prefix that has already
  numbered an invoice can never be chosen again (its counter would restart or collide).
- The **next number** can be raised (a merchant moving from another system continues its series)
  but never lowered: a lower number would be given twice.

Written as ``PREFIX-0001``: four digits at least, more when the series passes 9999.
"""

import re
from functools import cache

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils.translation import gettext as _

from kassa.batch import shared, unshared
from kassa.db import rows
from kassa.errors import InvalidRequest
from kassa.ids import random_string

from ..hosted.i18n import countries
from .models import InvoiceNumbering, InvoicePrefix, InvoiceSettings

PREFIX_PATTERN = re.compile(r"^[A-Z0-9]{3,12}$")
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
DAYS_UNTIL_DUE_MAX = 365
LANGUAGES = ("en", "fr")


def format_number(prefix: str, number: int) -> str:
    return f"{prefix}-{number:04d}"


def _prefix_from_name(name: str) -> str:
    letters = re.sub(r"[^A-Z0-9]", "", name.upper())[:8]
    return letters if len(letters) >= 3 else (letters + "INV")[:8]


def _reserve_default_prefix(merchant) -> str:
    """The merchant's name's letters (``ACME``), or with random characters after it when taken."""
    base = _prefix_from_name(merchant.name)
    # random_string is base62: its lower-case letters become capitals, so only A-Z and 0-9 remain.
    candidates = [base] + [f"{base}{random_string(4).upper()}"[:12] for _ in range(5)]
    for candidate in candidates:
        try:
            with transaction.atomic():
                InvoicePrefix.objects.create(prefix=candidate, merchant=merchant)
        except IntegrityError:
            continue
        return candidate
    raise RuntimeError("Could not reserve an invoice number prefix")  # pragma: no cover - 36^4 odds, five times


def invoice_settings_for(merchant) -> InvoiceSettings:
    """The merchant's invoice settings, made on first use with a prefix from its name and its support email; read
    once per batch inside ``kassa.batch.batch()`` (a renewal run)."""
    key = ("invoice_settings", merchant.pk)
    existing = shared(key, lambda: InvoiceSettings.objects.filter(merchant=merchant).first())
    if existing is not None:
        return existing
    unshared(key)  # made here, in a transaction that may yet be rolled back: the batch reads it again each time
    try:
        with transaction.atomic():
            return InvoiceSettings.objects.create(
                merchant=merchant,
                prefix=_reserve_default_prefix(merchant),
                legal_name=merchant.name,
                support_email=merchant.support_email or "",
            )
    except IntegrityError:
        # Made meanwhile by another request: that one is the merchant's.
        return InvoiceSettings.objects.get(merchant=merchant)


def _used(merchant, prefix: str) -> bool:
    return InvoiceNumbering.objects.filter(merchant=merchant, prefix=prefix, next_number__gt=1).exists()


def number_take(*, merchant, livemode: bool, settings: InvoiceSettings | None = None) -> str:
    """The next number of the merchant's series in this mode; call it inside the finalizing transaction.
    ``settings``: the merchant's invoice settings, when the caller has them already."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_take must run inside the transaction that finalizes the invoice")
    settings = settings or invoice_settings_for(merchant)
    number = _number_raise(merchant.pk, livemode, settings.prefix)
    if number is None:  # the series' first number: its row made (once, whoever else makes it), then raised
        InvoiceNumbering.objects.get_or_create(merchant=merchant, livemode=livemode, prefix=settings.prefix)
        number = _number_raise(merchant.pk, livemode, settings.prefix)
    return format_number(settings.prefix, number)


def _number_raise(merchant_pk: int, livemode: bool, prefix: str) -> int | None:
    """The series' next number, taken: its row raised by one and so locked to the end of the transaction, in one
    statement (a locking read and a save were two), built once and run through kassa.db (``rows``: with the writes
    kept for it, a renewal's, in one round trip); None when the series has no row yet."""
    found = rows(_number_raise_statement(transaction.get_connection().alias), [merchant_pk, livemode, prefix])
    return found[0][0] if found else None


@cache
def _number_raise_statement(using: str) -> str:
    meta, quote = InvoiceNumbering._meta, connections[using].ops.quote_name
    table, counter = quote(meta.db_table), quote(meta.get_field("next_number").column)
    merchant, mode, prefix_column = (quote(meta.get_field(name).column) for name in ("merchant", "livemode", "prefix"))
    return (
        f"UPDATE {table} SET {counter} = {counter} + 1"  # noqa: S608 (names from the model, values bound)
        f" WHERE {merchant} = %s AND {mode} = %s AND {prefix_column} = %s RETURNING {counter} - 1"
    )


def next_number(*, merchant, livemode: bool) -> int:
    """What ``number_take`` would give next in this mode (shown in the dashboard)."""
    settings = invoice_settings_for(merchant)
    row = InvoiceNumbering.objects.filter(merchant=merchant, livemode=livemode, prefix=settings.prefix).first()
    return row.next_number if row else 1


@transaction.atomic
def invoice_prefix_set(*, merchant, prefix: str) -> InvoiceSettings:
    """Switch to ``prefix``: free or this merchant's own, and never one that already numbered an invoice."""
    settings = InvoiceSettings.objects.select_for_update().get(pk=invoice_settings_for(merchant).pk)
    prefix = (prefix or "").strip().upper()
    if prefix == settings.prefix:
        return settings
    if not PREFIX_PATTERN.match(prefix):
        raise InvalidRequest(_("The prefix must be 3 to 12 capital letters or digits, such as ACME."), param="prefix")
    owner = InvoicePrefix.objects.filter(prefix=prefix).values_list("merchant_id", flat=True).first()
    if (owner is not None and owner != merchant.pk) or _used(merchant, prefix):
        raise InvalidRequest(
            _("The prefix %(prefix)s has already been used. Choose another one.") % {"prefix": prefix},
            param="prefix",
            code="invoice_prefix_used",
        )
    if owner is None:
        try:
            with transaction.atomic():
                InvoicePrefix.objects.create(prefix=prefix, merchant=merchant)
        except IntegrityError:
            raise InvalidRequest(
                _("The prefix %(prefix)s has already been used. Choose another one.") % {"prefix": prefix},
                param="prefix",
                code="invoice_prefix_used",
            ) from None
    settings.prefix = prefix
    settings.save(update_fields=["prefix", "updated"])
    return settings


@transaction.atomic
def invoice_next_number_set(*, merchant, livemode: bool, next_number: int) -> int:
    """Raise the next number of the current prefix in this mode; lowering it is refused (it would repeat one)."""
    settings = invoice_settings_for(merchant)
    row, _made = InvoiceNumbering.objects.get_or_create(merchant=merchant, livemode=livemode, prefix=settings.prefix)
    row = InvoiceNumbering.objects.select_for_update().get(pk=row.pk)
    if isinstance(next_number, bool) or not isinstance(next_number, int) or not 1 <= next_number <= 99_999_999:
        raise InvalidRequest(_("The next number must be a whole number from 1 to 99999999."), param="next_number")
    if next_number < row.next_number:
        raise InvalidRequest(
            _("The next number can only be raised: %(number)s has been reached.") % {"number": row.next_number},
            param="next_number",
        )
    row.next_number = next_number
    row.save(update_fields=["next_number"])
    return next_number


SETTINGS_FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "state",
    "country",
    "vat_number",
    "support_email",
    "footer",
    "days_until_due",
    "default_locale",
)


def logo_size_check(size: int) -> None:
    """Refuse a logo over 512 KB (the dashboard asks before reading the upload)."""
    if size > LOGO_MAX_BYTES:
        raise InvalidRequest(_("The logo must be at most 512 KB."), param="logo")


def logo_content_type(data: bytes) -> str:
    """``image/png`` or ``image/jpeg`` from the file's first bytes; anything else, or too big, is refused."""
    logo_size_check(len(data))
    for magic, content_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return content_type
    raise InvalidRequest(_("The logo must be a PNG or JPEG image."), param="logo")


@transaction.atomic
def invoice_settings_update(
    *, merchant, logo: bytes | None = None, logo_remove: bool = False, **changes
) -> InvoiceSettings:
    """Change the seller's details and defaults; issued invoices keep what they were issued with."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise InvalidRequest(f"Received unknown parameter: {sorted(unknown)[0]}", code="parameter_unknown")
    settings = InvoiceSettings.objects.select_for_update().get(pk=invoice_settings_for(merchant).pk)
    if "country" in changes:
        country = (changes["country"] or "").upper()
        if country and country not in {code for code, _name in countries("en")}:
            raise InvalidRequest(_("Choose a country from the list."), param="country")
        changes["country"] = country
    if "days_until_due" in changes:
        days = changes["days_until_due"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= DAYS_UNTIL_DUE_MAX:
            raise InvalidRequest(
                _("Days until due must be a whole number from 0 to %(max)s.") % {"max": DAYS_UNTIL_DUE_MAX},
                param="days_until_due",
            )
    if "default_locale" in changes and changes["default_locale"] not in LANGUAGES:
        raise InvalidRequest(_("Choose English or French."), param="default_locale")
    if changes.get("vat_number"):
        changes["vat_number"] = re.sub(r"\s", "", changes["vat_number"]).upper()
    for name in SETTINGS_FIELDS:
        if name in changes:
            value = changes[name]
            setattr(settings, name, value if value is not None else "")
    if logo is not None:
        settings.logo_content_type = logo_content_type(logo)
        settings.logo = logo
    elif logo_remove:
        settings.logo = None
        settings.logo_content_type = ""
    try:
        settings.full_clean(exclude=["merchant", "logo"])
    except ValidationError as exc:
        name, messages = next(iter(exc.message_dict.items()))
        raise InvalidRequest(f"{name}: {messages[0]}", param=name) from None
    settings.save()
    return settings
