"""Dashboard form fields for what people type, and the copy button next to what they copy.

The decision: a person types money in major units ("18" is 18.00 EUR, "500"
is 500 JPY), picks a currency from a list, edits metadata as key/value rows,
images and features as lists, and a restricted key's access as a grid; the
fields turn that into what the services take (minor units, dicts, lists) and
check it with the same rules (kassa.money, kassa.metadata, kassa.validators),
so a mistake is shown on its field before any service runs. The services
check again: nothing here is the last line.

No inline script: the rows and the copy buttons are driven by
``kassa/dashboard-widgets.js`` (loaded on every dashboard page) through data
attributes, so the dashboard works under a strict Content-Security-Policy.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import zip_longest

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from kassa import metadata, money
from kassa.errors import KassaError

# --- money ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    """What a money field gives: ``amount`` in minor units (None while not typed) and the currency."""

    amount: int | None
    currency: str

    def major(self) -> str:
        """The amount as a person types it: '18.00' EUR, '500' JPY ('' when none)."""
        return "" if self.amount is None else str(money.to_decimal(self.amount, self.currency))


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code.upper()) for code in sorted(money.SUPPORTED)]


class CurrencyField(forms.ChoiceField):
    """A select of the currencies Kassa supports, stored lowercase as the API has them."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Currency"))
        super().__init__(choices=currency_choices, **kwargs)

    def to_python(self, value):
        return super().to_python(value).lower()


_AMOUNT_RE = re.compile(r"^\d{1,12}(\.\d{1,6})?$")


def _example(currency: str) -> str:
    places = money.decimal_places(currency)
    return "1500" if places == 0 else f"12.{'5'.ljust(places, '0')}"


def parse_major(value: str, currency: str, *, minimum: int = 1) -> int:
    """ "18" EUR -> 1800, "500" JPY -> 500; a ValidationError a person can act on for anything else."""
    value = (value or "").strip()
    code = currency.upper()
    if not _AMOUNT_RE.match(value):
        raise forms.ValidationError(
            _("Enter an amount in %(currency)s, e.g. %(example)s."),
            code="invalid",
            params={"currency": code, "example": _example(currency)},
        )
    places = money.decimal_places(currency)
    if Decimal(value) != Decimal(value).quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise forms.ValidationError(
                _("%(currency)s has no decimals: enter a whole amount, e.g. %(example)s."),
                code="decimals",
                params={"currency": code, "example": _example(currency)},
            )
        raise forms.ValidationError(
            _("%(currency)s has at most %(places)d decimals, e.g. %(example)s."),
            code="decimals",
            params={"currency": code, "places": places, "example": _example(currency)},
        )
    amount = money.to_minor(value, currency)
    if amount < minimum:
        if minimum == 1:
            raise forms.ValidationError(_("The amount must be more than zero."), code="min")
        raise forms.ValidationError(
            _("The amount must be at least %(minimum)s."),
            code="min",
            params={"minimum": money.format_amount(minimum, currency)},
        )
    if amount > money.MAX_AMOUNT:
        raise forms.ValidationError(
            _("The amount can be at most %(maximum)s."),
            code="max",
            params={"maximum": money.format_amount(money.MAX_AMOUNT, currency)},
        )
    return amount


class MoneyWidget(forms.MultiWidget):
    """A currency select and an amount box, posted as ``<name>_currency`` and ``<name>``."""

    template_name = "merchants/widgets/money.html"

    def __init__(self, attrs=None):
        widgets = {
            "currency": forms.Select(choices=currency_choices(), attrs={"class": "kassa-money-currency"}),
            "": forms.TextInput(
                attrs={"class": "kassa-money-amount", "inputmode": "decimal", "autocomplete": "off", "size": 14}
            ),
        }
        super().__init__(widgets, attrs)

    def id_for_label(self, id_):
        return id_

    def decompress(self, value):
        if isinstance(value, Money):
            return [value.currency, value.major()]
        if isinstance(value, str):  # a currency alone: what a new form starts with
            return [value.lower(), ""]
        return [None, ""]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        base_id = context["widget"]["attrs"].get("id")
        if base_id:  # ids as the names: id_amount_currency and id_amount (the label points at the amount)
            for subwidget, suffix in zip(context["widget"]["subwidgets"], self.widgets_names, strict=True):
                subwidget["attrs"]["id"] = base_id + suffix
        context["widget"]["zero_decimal"] = " ".join(sorted(money.ZERO_DECIMAL))
        context["widget"]["three_decimal"] = " ".join(sorted(money.THREE_DECIMAL))
        return context


class MoneyField(forms.MultiValueField):
    """Currency plus an amount in major units, in the currency's own decimals; gives a ``Money``.

    ``minimum`` is in minor units (a price may be free, a payment link may not). The
    initial value may be a ``Money`` or just a currency code (the merchant's default).
    """

    widget = MoneyWidget

    def __init__(self, *, minimum: int = 1, **kwargs):
        self.minimum = minimum
        fields = (CurrencyField(), forms.CharField(required=False, max_length=32, strip=True))
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        if not data_list:
            return None
        currency, typed = data_list
        if not typed:
            if self.required:
                raise forms.ValidationError(_("Enter an amount."), code="required")
            return None
        return Money(parse_major(typed, currency, minimum=self.minimum), currency)

    def has_changed(self, initial, data):
        if isinstance(initial, str):
            initial = Money(None, initial)
        return super().has_changed(initial, data)


# --- rows: metadata, lists of URLs, lists of names -------------------------------------------


@dataclass(frozen=True)
class Column:
    suffix: str
    label: str
    input_type: str = "text"
    max_length: int | None = None


class RowsWidget(forms.Widget):
    """Rows of inputs, one ``<name>-<suffix>`` input per column, with add and remove buttons.

    Without JavaScript the page shows the rows there are plus one empty row; with it
    "Add row" copies a ``<template>`` row (no inline script).
    """

    template_name = "merchants/widgets/rows.html"

    def __init__(self, columns: Sequence[Column], *, max_rows: int, add_label, attrs=None):
        super().__init__(attrs)
        self.columns = list(columns)
        self.max_rows = max_rows
        self.add_label = add_label

    def format_value(self, value):
        return value

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        rows = [tuple(row) for row in (value or [])]
        if len(rows) < self.max_rows:
            rows.append(("",) * len(self.columns))
        context["widget"].update(
            rows=[
                [(column, f"{name}-{column.suffix}", cell) for column, cell in zip(self.columns, row, strict=True)]
                for row in rows
            ],
            columns=self.columns,
            max_rows=self.max_rows,
            add_label=self.add_label,
            template_row=[(column, f"{name}-{column.suffix}", "") for column in self.columns],
        )
        return context

    def value_from_datadict(self, data, files, name):
        cells = [data.getlist(f"{name}-{column.suffix}") for column in self.columns]
        rows = []
        for posted in zip_longest(*cells, fillvalue=""):
            row = tuple((cell or "").strip() for cell in posted)
            if any(row):
                rows.append(row)
        return rows

    def value_omitted_from_data(self, data, files, name):
        return not any(f"{name}-{column.suffix}" in data for column in self.columns)

    def id_for_label(self, id_):
        return None  # many inputs: each row's inputs carry their own labels


class RowsField(forms.Field):
    """Base of the row fields: rows (tuples of strings) in, a Python value out; ``python_to_rows`` back."""

    def python_to_rows(self, value) -> list[tuple]:  # pragma: no cover - each field says how
        raise NotImplementedError

    def rows_to_python(self, rows: list[tuple]):  # pragma: no cover - each field says how
        raise NotImplementedError

    def prepare_value(self, value):
        if isinstance(value, list) and all(isinstance(row, tuple) for row in value):
            return value  # rows as posted (a form shown again with its errors)
        return self.python_to_rows(value)

    def to_python(self, value):
        if isinstance(value, list) and all(isinstance(row, tuple) for row in value):
            return self.rows_to_python(value)
        return value

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != self.to_python(self.prepare_value(initial))
        except forms.ValidationError:
            return True


def _service_error(exc: KassaError) -> forms.ValidationError:
    return forms.ValidationError(exc.message, code=exc.code or "invalid")


class MetadataField(RowsField):
    """Metadata as key/value rows; the same rules as the API (kassa.metadata: 50 keys, 40 and 500 characters)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("initial", dict)
        kwargs.setdefault("label", _("Metadata"))
        kwargs.setdefault(
            "help_text",
            _("Your own key/value pairs (at most 50), kept with the object and shown to API clients."),
        )
        kwargs.setdefault(
            "widget",
            RowsWidget(
                [
                    Column("key", _("Key"), max_length=metadata.MAX_KEY_LENGTH),
                    Column("value", _("Value"), max_length=metadata.MAX_VALUE_LENGTH),
                ],
                max_rows=metadata.MAX_KEYS,
                add_label=_("Add row"),
            ),
        )
        super().__init__(**kwargs)

    def python_to_rows(self, value):
        if isinstance(value, Mapping):
            return [(str(k), str(v)) for k, v in value.items()]
        return []

    def rows_to_python(self, rows):
        result = {}
        for key, value in rows:
            if not key:
                raise forms.ValidationError(_("The value “%(value)s” has no key."), params={"value": value[:40]})
            if key in result:
                raise forms.ValidationError(_("The key “%(key)s” is there twice."), params={"key": key})
            result[key] = value
        return result

    def validate(self, value):
        super().validate(value)
        try:
            metadata.clean(value)
        except KassaError as exc:
            raise _service_error(exc) from None
        if any(v == "" for v in value.values()):
            raise forms.ValidationError(_("Every key needs a value (remove the row to remove the key)."))


class ListField(RowsField):
    """A list of strings, one input per row, e.g. a product's image URLs or its marketing features."""

    def __init__(
        self,
        *,
        max_items: int,
        item_label,
        input_type: str = "text",
        max_length: int | None = None,
        check: Callable[[list[str]], object] | None = None,
        **kwargs,
    ):
        self.max_items = max_items
        self.check = check
        kwargs.setdefault("required", False)
        kwargs.setdefault("initial", list)
        kwargs.setdefault(
            "widget",
            RowsWidget(
                [Column("item", item_label, input_type=input_type, max_length=max_length)],
                max_rows=max_items,
                add_label=_("Add another"),
            ),
        )
        super().__init__(**kwargs)

    def item_to_text(self, item) -> str:
        return str(item)

    def text_to_item(self, text: str):
        return text

    def python_to_rows(self, value):
        return [(self.item_to_text(item),) for item in value or []]

    def rows_to_python(self, rows):
        return [self.text_to_item(text) for (text,) in rows]

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise forms.ValidationError(_("At most %(count)d rows."), params={"count": self.max_items})
        if self.check is not None:
            try:
                self.check(value)
            except KassaError as exc:
                raise _service_error(exc) from None


class NamedListField(ListField):
    """Stripe's ``[{"name": …}]`` lists (a product's marketing features) as one name per row."""

    def item_to_text(self, item):
        return item.get("name", "") if isinstance(item, Mapping) else str(item)

    def text_to_item(self, text):
        return {"name": text}


# --- package dimensions ------------------------------------------------------------------------

DIMENSIONS = (
    ("height", _("Height (in)")),
    ("length", _("Length (in)")),
    ("width", _("Width (in)")),
    ("weight", _("Weight (oz)")),
)


class DimensionsWidget(forms.MultiWidget):
    template_name = "merchants/widgets/dimensions.html"

    def __init__(self, attrs=None):
        widgets = {
            name: forms.NumberInput(attrs={"step": "any", "min": "0", "class": "kassa-dimension"})
            for name, _label in DIMENSIONS
        }
        super().__init__(widgets, attrs)

    def decompress(self, value):
        value = value if isinstance(value, Mapping) else {}
        return [value.get(name) for name, _label in DIMENSIONS]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for subwidget, (_name, label) in zip(context["widget"]["subwidgets"], DIMENSIONS, strict=True):
            subwidget["label"] = label
        return context


class DimensionsField(forms.MultiValueField):
    """A parcel's height, length and width in inches and weight in ounces, as Stripe's: all four or none.

    Not money: the numbers are kept as typed (an integer when whole), as the API keeps them.
    """

    widget = DimensionsWidget

    def __init__(self, **kwargs):
        fields = tuple(forms.FloatField(min_value=0, required=False) for _dimension in DIMENSIONS)
        kwargs.setdefault("required", False)
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        if not data_list or all(v is None for v in data_list):
            return None
        if any(v is None or v <= 0 for v in data_list):
            raise forms.ValidationError(_("Give all four dimensions, each more than zero, or none."))
        return {
            name: int(v) if float(v).is_integer() else v
            for (name, _label), v in zip(DIMENSIONS, data_list, strict=True)
        }


# --- restricted-key permissions ----------------------------------------------------------------


class PermissionGridWidget(forms.Widget):
    """One row per resource, a None / Read / Write radio in each; posted as ``<name>_<resource>``."""

    template_name = "merchants/widgets/permission_grid.html"

    def __init__(self, resources: Sequence[tuple[str, str]], levels: Sequence[tuple[str, str]], attrs=None):
        super().__init__(attrs)
        self.resources = list(resources)
        self.levels = list(levels)

    def format_value(self, value):
        return value

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        value = value or {}
        context["widget"].update(
            levels=self.levels,
            rows=[
                (resource, label, f"{name}_{resource}", value.get(resource) or self.levels[0][0])
                for resource, label in self.resources
            ],
        )
        return context

    def value_from_datadict(self, data, files, name):
        return {resource: data.get(f"{name}_{resource}") for resource, _label in self.resources}

    def value_omitted_from_data(self, data, files, name):
        return False  # an unticked grid means "none" everywhere

    def id_for_label(self, id_):
        return None


class PermissionsField(forms.Field):
    """``{"products": "write", …}``: every resource with a level among ``levels`` ("none" when not sent)."""

    def __init__(self, *, resources: Sequence[tuple[str, str]], levels: Sequence[tuple[str, str]], **kwargs):
        self.resources = list(resources)
        self.levels = list(levels)
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", PermissionGridWidget(self.resources, self.levels))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = value or {}
        allowed = {level for level, _label in self.levels}
        result = {}
        for resource, label in self.resources:
            level = value.get(resource) or self.levels[0][0]
            if level not in allowed:
                raise forms.ValidationError(_("Pick None, Read or Write for %(resource)s."), params={"resource": label})
            result[resource] = level
        return result


# --- copy buttons ------------------------------------------------------------------------------


def copy_button(value: str, *, label=None) -> SafeString:
    """A Copy button for ``value`` alone (for text shown elsewhere on the page)."""
    return format_html(
        '<button type="button" class="button kassa-copy" data-copy-text="{}" data-copied-label="{}" '
        'aria-label="{}">{}</button>',
        value,
        _("Copied"),
        _("Copy %(what)s") % {"what": label} if label else _("Copy"),
        _("Copy"),
    )


def copyable(value: str | None, *, label=None, code_id: str = "") -> SafeString | str:
    """``value`` in a code box with a Copy button: public ids, link URLs, secrets shown once."""
    if not value:
        return "—"
    return format_html(
        '<span class="kassa-copyable"><code{}>{}</code> {}</span>',
        format_html(' id="{}"', code_id) if code_id else "",
        value,
        copy_button(value, label=label),
    )
