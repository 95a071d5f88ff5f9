"""The dashboard's home page: the merchant's numbers, chart and set-up checklist, and the "Start here" box.

Template tags of billing's (the top layer) because the home page belongs to
no part: it reads payments, refunds, customers, links and webhook endpoints
(billing/dashboard/selectors.py).
"""

from django import template
from django.urls import reverse
from django.utils import timezone

from billing.checkout.selectors import payment_link_list, payment_link_name
from billing.checkout.services import payment_link_url
from billing.dashboard import chart, selectors
from billing.payments.selectors import payment_display_status
from kassa import money

register = template.Library()

SHOWN_LINKS = 5


@register.filter
def amount(value: int, currency: str) -> str:
    """Minor units shown in the currency's own decimals: ``{{ 1250|amount:"eur" }}`` -> 12.50 EUR."""
    return money.format_amount(value, currency)


@register.inclusion_tag("admin/billing/_home.html", takes_context=True)
def merchant_home(context) -> dict:
    """The numbers of the merchant and mode in view; every merchant's for platform staff who picked none."""
    scope = context.get("kassa_scope")
    if scope is None:
        return {"home": None}
    home = selectors.home_overview(merchant=scope.merchant, livemode=scope.livemode, now=timezone.now())
    return {
        "home": home,
        "scope": scope,
        "recent_payments": [(p, payment_display_status(p), selectors.payer_of(p)) for p in home.recent_payments],
        "failed_payments": [(p, selectors.payer_of(p)) for p in home.failed_payments],
        "chart_url": reverse("admin:home_volume_chart"),
        # One chart per currency, the largest first: two currencies never share an axis.
        "chart_currencies": selectors.chart_currencies(home.chart_series)[: chart.CHARTS],
        "all_merchants": scope.merchant is None,
    }


@register.inclusion_tag("admin/billing/_start_here.html", takes_context=True)
def start_here(context) -> dict:
    """The links of the merchant and mode in view (none for platform staff looking at every merchant)."""
    scope = context.get("kassa_scope")
    links = []
    if scope is not None and scope.merchant is not None:
        active = payment_link_list(merchant=scope.merchant, livemode=scope.livemode, active=True)
        active = active.prefetch_related("line_items__price__product").order_by("-created")[:SHOWN_LINKS]
        links = [(link, payment_link_url(link), payment_link_name(link)) for link in active]
    return {"pay_links": links, "docs_url": reverse("docs"), "scope": scope}
