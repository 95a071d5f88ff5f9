"""The home page's chart image: the volume of the merchant and mode in view, never another's."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from merchants.dashboard import scope_of

from . import chart, selectors


@require_GET
def volume_chart(request) -> HttpResponse:
    scope = scope_of(request)
    if scope is None:
        raise PermissionDenied
    dates, series = selectors.daily_volume(merchant=scope.merchant, livemode=scope.livemode, now=timezone.now())
    # ?currency=usd: that currency's chart; none: the one with the most volume (the page's first chart).
    currency = request.GET.get("currency") or next(iter(selectors.chart_currencies(series)), "")
    svg = chart.volume_chart_svg(dates, series.get(currency), currency, no_data_text=_("No payments yet"))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-store"
    # Opened on its own, the image may style itself and nothing else (no script, no fetch).
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
