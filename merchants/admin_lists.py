"""What the dashboard's lists share: a created-date range, search by amount, and "export what I see" as CSV.

- The date range is two plain dates (``created_from``, ``created_to``, both
  inclusive, in the viewer's time zone) set by a small form in the filter
  sidebar or by quick choices (today, last 7 / 30 days, this month).
- Amounts are searched in major units, as people type them: "12.50",
  "12,50" are twelve and a half, "1,250.00", "1 250,00" and "1,250" one
  thousand two hundred and fifty. The amount matches in every currency that
  can hold it ("12.50" never matches a JPY payment; "1250" matches 1,250.00
  EUR and 1,250 JPY): a typed number is never read as minor units.
- The CSV export is the list itself (``ChangeList``): the same scope
  (merchant and mode), filters, date range, search and order, streamed row
  by row. Anyone who may see the list may export it (viewers read). A cell
  that a spreadsheet would run as a formula is neutralised (OWASP's CSV
  injection advice: a leading ``'``).
"""

import csv
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kassa import money
from kassa.dates import day_start

# --- date range ---------------------------------------------------------------------


def _parse_date(values) -> date | None:
    value = values[-1] if isinstance(values, list) else values
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None  # a mistyped date filters nothing rather than failing the page


class CreatedRangeFilter(admin.ListFilter):
    """``created_from`` / ``created_to`` (inclusive dates): the list's period, and the CSV export's."""

    title = _("date")
    template = "admin/kassa/date_range_filter.html"
    field = "created"
    from_param, to_param = "created_from", "created_to"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.start = _parse_date(params.pop(self.from_param, None))
        self.end = _parse_date(params.pop(self.to_param, None))
        for name, value in ((self.from_param, self.start), (self.to_param, self.end)):
            if value is not None:
                self.used_parameters[name] = value.isoformat()
        # The other filters and the search, kept when the form is sent.
        self.hidden = [
            (key, value)
            for key, values in request.GET.lists()
            for value in values
            if key not in (self.from_param, self.to_param, "p")
        ]

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.from_param, self.to_param]

    def queryset(self, request, queryset):
        if self.start is not None:
            queryset = queryset.filter(**{f"{self.field}__gte": day_start(self.start)})
        if self.end is not None:
            queryset = queryset.filter(**{f"{self.field}__lt": day_start(self.end + timedelta(days=1))})
        return queryset

    def choices(self, changelist):
        today = timezone.localdate()
        quick = [
            (_("Any date"), None, None),
            (_("Today"), today, today),
            (_("Last 7 days"), today - timedelta(days=6), today),
            (_("Last 30 days"), today - timedelta(days=29), today),
            (_("This month"), today.replace(day=1), today),
        ]
        for label, start, end in quick:
            new = {self.from_param: start.isoformat(), self.to_param: end.isoformat()} if start else {}
            yield {
                "selected": (start, end) == (self.start, self.end),
                "query_string": changelist.get_query_string(new, [self.from_param, self.to_param]),
                "display": label,
            }


# --- search by amount ------------------------------------------------------------------

_AMOUNT_TYPED = re.compile(r"^\d{1,3}([ ,.\u00a0\u202f]\d{3})*([.,]\d{1,3})?$|^\d+([.,]\d{1,3})?$")


def typed_amount(term: str) -> Decimal | None:
    """ "12.50", "12,50", "1 250,00", "1,250.00", "1250" -> a Decimal in major units; None if not an amount."""
    term = (term or "").strip()
    if not term or not _AMOUNT_TYPED.match(term):
        return None
    for space in (" ", "\u00a0", "\u202f"):
        term = term.replace(space, "")
    if "," in term and "." in term:
        # The last one is the decimal separator, the other groups thousands.
        thousands = "," if term.rindex(".") > term.rindex(",") else "."
        term = term.replace(thousands, "").replace(",", ".")
    elif "," in term or "." in term:
        separator = "," if "," in term else "."
        head, _sep, tail = term.rpartition(separator)
        # Exactly three digits after the only separator group thousands ("1,250", "1.250"): people type
        # thousands far more often than a three-decimal currency's fils (12.500 KWD is found as "12.5").
        if term.count(separator) > 1 or len(tail) == 3:
            term = term.replace(separator, "")
        else:
            term = head.replace(separator, "") + "." + tail
    try:
        return Decimal(term)
    except InvalidOperation:
        return None


def amount_query(term: str, *, amount_field: str = "amount", currency_field: str = "currency") -> Q | None:
    """Rows whose amount is ``term`` in major units, in any currency that can hold it; None if not an amount."""
    value = typed_amount(term)
    if value is None or value <= 0:
        return None
    by_places: dict[int, list[str]] = {}
    for currency in money.SUPPORTED:
        by_places.setdefault(money.decimal_places(currency), []).append(currency)
    query = Q()
    for places, currencies in by_places.items():
        minor = value.scaleb(places)
        if minor == minor.to_integral_value() and minor <= money.MAX_AMOUNT:
            query |= Q(**{amount_field: int(minor), f"{currency_field}__in": currencies})
    return query or None


class AmountSearchMixin:
    """A ModelAdmin's search also finds rows by amount typed in major units (``amount_search_fields``)."""

    #: (amount field, currency field) pairs searched by a typed amount
    amount_search_fields: list[tuple[str, str]] = [("amount", "currency")]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        amounts = [amount_query(search_term, amount_field=a, currency_field=c) for a, c in self.amount_search_fields]
        amounts = [q for q in amounts if q is not None]
        if amounts:
            by_amount = Q()
            for q in amounts:
                by_amount |= q
            results = results | queryset.filter(by_amount)
        return results, may_have_duplicates


# --- CSV export --------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A phone number or a plain number starts like a formula but is not one: kept as typed (+33 1 23 45 67 89).
NOT_A_FORMULA = re.compile(r"[+-]?[0-9][0-9 ().-]*")


def csv_cell(value) -> str:
    """A value as a CSV cell: None is empty, datetimes ISO 8601 in UTC, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not NOT_A_FORMULA.fullmatch(text):
        return "'" + text
    return text


def csv_amount(amount: int | None, currency: str) -> str:
    """Minor units as a decimal string in major units: (1250, "eur") -> "12.50", (500, "jpy") -> "500"."""
    return "" if amount is None else str(money.to_decimal(amount, currency))


def _follow(obj, path: list[str]):
    for name in path:
        obj = getattr(obj, name)
    return obj


class _Echo:
    def write(self, value):
        return value


class CsvExportMixin:
    """An "Export CSV" of the list as shown: ``csv_columns`` = [(header, fn(obj) -> value)], ``csv_name``."""

    csv_columns: list = []
    csv_name = "export"

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def export_url(self, request) -> str:
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        query = request.GET.urlencode()
        return f"{url}?{query}" if query else url

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "export_url": self.export_url(request)}
        return super().changelist_view(request, extra_context)

    def csv_queryset(self, request):
        """The list's queryset: scope, filters, date range, search and order (Django's ChangeList decides)."""
        return self.get_changelist_instance(request).queryset

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.csv_queryset(request)
        except IncorrectLookupParameters:
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?e=1")
        scope = self.scope(request)
        mode = "live" if scope.livemode else "test"
        writer = csv.writer(_Echo())
        columns = list(self.csv_columns)
        if scope.merchant is None:  # platform staff exporting every merchant: say whose each row is
            path = self.merchant_path.split("__")
            columns.insert(0, ("merchant", lambda obj: _follow(obj, path).name))
        headers = [str(header) for header, _fn in columns]

        def rows():
            yield writer.writerow(headers)
            for obj in queryset.iterator(chunk_size=500):
                yield writer.writerow([csv_cell(fn(obj)) for _header, fn in columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        filename = f"{self.csv_name}-{mode}-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response
