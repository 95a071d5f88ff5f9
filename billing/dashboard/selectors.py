"""Reads for the home page, scoped by merchant and mode like every dashboard read.

``merchant=None`` means every merchant: only platform staff who picked none
get there (merchants/dashboard.py's scope), and the page then shows their
totals across merchants.

Windows are calendar days in the viewer's time zone: "today" since local
midnight, "7 days" today and the six before. Volume is what Stripe's home
calls gross volume: succeeded payments by the day they were made, per
currency (amounts of different currencies are never added); refunds are
the succeeded refunds made in the same window.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kassa import dates
from merchants.selectors import payments_readiness
from webhooks.models import WebhookEndpoint

from ..catalogue.models import Customer, Product
from ..checkout.models import PaymentLink
from ..payments.models import PaymentIntent, Refund
from ..payments.selectors import payer_email, payments_filter_display_status, payments_with_refunds

S = PaymentIntent.Status
WINDOWS = (("today", _("Today"), 1), ("7d", _("Last 7 days"), 7), ("30d", _("Last 30 days"), 30))
CHART_DAYS = 30
SHOWN = 6  # rows in each "recent" list


def in_view(model, *, merchant, livemode: bool) -> QuerySet:
    """The model's rows of the merchant (every merchant's for ``None``) in the mode."""
    queryset = model.objects.filter(livemode=livemode)
    return queryset if merchant is None else queryset.filter(merchant=merchant)


def day_start(now: datetime, days_back: int = 0) -> datetime:
    """Local midnight ``days_back`` days before ``now``'s day (a calendar day, right across a DST change)."""
    return dates.day_start(timezone.localdate(now) - timedelta(days=days_back))


@dataclass(frozen=True)
class CurrencyVolume:
    currency: str
    gross: int  # minor units
    refunded: int
    count: int
    refunds: int = 0  # how many refunds make ``refunded``

    @property
    def net(self) -> int:
        return self.gross - self.refunded


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    volumes: list[CurrencyVolume]


def volume_by_currency(
    *, merchant, livemode: bool, since: datetime, until: datetime | None = None
) -> list[CurrencyVolume]:
    """Gross succeeded volume and succeeded refunds made since ``since`` (and before ``until``), per currency,
    largest first."""
    window = {"created__gte": since} | ({"created__lt": until} if until is not None else {})
    paid = (
        in_view(PaymentIntent, merchant=merchant, livemode=livemode)
        .filter(status=S.SUCCEEDED, **window)
        .values("currency")
        .annotate(total=Sum("amount_received"), n=Count("id"))
    )
    refunded = (
        in_view(Refund, merchant=merchant, livemode=livemode)
        .filter(status=Refund.Status.SUCCEEDED, **window)
        .values("currency")
        .annotate(total=Sum("amount"), n=Count("id"))
    )
    gross = {row["currency"]: (row["total"] or 0, row["n"]) for row in paid}
    back = {row["currency"]: (row["total"] or 0, row["n"]) for row in refunded}
    volumes = []
    for currency in set(gross) | set(back):
        (paid_total, paid_n), (back_total, back_n) = gross.get(currency, (0, 0)), back.get(currency, (0, 0))
        volumes.append(CurrencyVolume(currency, paid_total, back_total, paid_n, back_n))
    return sorted(volumes, key=lambda v: (-v.gross, v.currency))


def daily_volume(*, merchant, livemode: bool, now: datetime, days: int = CHART_DAYS) -> tuple[list, dict]:
    """(the last ``days`` local dates, oldest first; {currency: [gross minor units per date]})."""
    since = day_start(now, days - 1)
    dates = [(since + timedelta(days=n)).date() for n in range(days)]
    rows = (
        in_view(PaymentIntent, merchant=merchant, livemode=livemode)
        .filter(status=S.SUCCEEDED, created__gte=since)
        .annotate(day=TruncDate("created", tzinfo=timezone.get_current_timezone()))
        .values("day", "currency")
        .annotate(total=Sum("amount_received"))
    )
    series: dict[str, list[int]] = {}
    position = {d: i for i, d in enumerate(dates)}
    for row in rows:
        if row["day"] in position:
            series.setdefault(row["currency"], [0] * days)[position[row["day"]]] += row["total"] or 0
    return dates, series


def chart_currencies(series: dict[str, list[int]]) -> list[str]:
    """The currencies of ``daily_volume``'s series, the most volume first (ties by code): one chart each."""
    return sorted(series, key=lambda currency: (-sum(series[currency]), currency))


def payer_of(payment: PaymentIntent) -> str:
    customer = payment.customer
    return (customer.name if customer is not None else None) or payer_email(payment) or "—"


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    url: str


@dataclass
class Home:
    merchant: object  # None: every merchant (platform staff)
    livemode: bool
    windows: list[Window]
    has_payments: bool
    chart_days: list
    chart_series: dict
    recent_payments: list = field(default_factory=list)
    failed_count: int = 0
    failed_payments: list = field(default_factory=list)
    recent_refunds: list = field(default_factory=list)
    new_customer_count: int = 0
    new_customers: list = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(item.done for item in self.checklist)


def setup_checklist(*, merchant, livemode: bool) -> list[ChecklistItem]:
    """What a merchant does before taking payments in a mode, each with the page where it is done."""
    readiness = payments_readiness(merchant=merchant, livemode=livemode)
    mode = _("live") if livemode else _("test")
    return [
        ChecklistItem(
            "credentials",
            str(_("Add your Stripe credentials for %(mode)s mode") % {"mode": mode}),
            readiness.ready,
            readiness.fix_url or reverse("admin:merchants_processorcredential_changelist"),
        ),
        ChecklistItem(
            "product",
            str(_("Create your first product")),
            in_view(Product, merchant=merchant, livemode=livemode).exists(),
            reverse("admin:billing_product_add"),
        ),
        ChecklistItem(
            "link",
            str(_("Create your first payment link")),
            in_view(PaymentLink, merchant=merchant, livemode=livemode).exists(),
            reverse("admin:billing_paymentlink_add"),
        ),
        ChecklistItem(
            "webhook",
            str(_("Add a webhook endpoint to hear about payments")),
            in_view(WebhookEndpoint, merchant=merchant, livemode=livemode).exists(),
            reverse("admin:webhooks_webhookendpoint_add"),
        ),
    ]


def home_overview(*, merchant, livemode: bool, now: datetime) -> Home:
    """Everything the home page shows for the merchant (or every merchant) and mode."""
    payments = in_view(PaymentIntent, merchant=merchant, livemode=livemode)
    since_30 = day_start(now, CHART_DAYS - 1)
    windows = [
        Window(key, str(label), volume_by_currency(merchant=merchant, livemode=livemode, since=day_start(now, n - 1)))
        for key, label, n in WINDOWS
    ]
    dates, series = daily_volume(merchant=merchant, livemode=livemode, now=now)
    # Stripe's "Failed" (a decline, still waiting for a card): the payments list's own rule and filter.
    failed = payments_filter_display_status(payments, "failed").filter(created__gte=since_30)
    customers = in_view(Customer, merchant=merchant, livemode=livemode).filter(deleted=False, created__gte=since_30)
    related = ("customer", "merchant")
    return Home(
        merchant=merchant,
        livemode=livemode,
        windows=windows,
        has_payments=payments.exists(),
        chart_days=dates,
        chart_series=series,
        recent_payments=list(
            payments_with_refunds(payments).select_related(*related).order_by("-created", "-id")[:SHOWN]
        ),
        failed_count=failed.count(),
        failed_payments=list(failed.select_related(*related).order_by("-created", "-id")[:SHOWN]),
        recent_refunds=list(
            in_view(Refund, merchant=merchant, livemode=livemode)
            .select_related("payment_intent__customer", "merchant")
            .order_by("-created", "-id")[:SHOWN]
        ),
        new_customer_count=customers.count(),
        new_customers=list(customers.select_related("merchant").order_by("-created", "-id")[:SHOWN]),
        checklist=setup_checklist(merchant=merchant, livemode=livemode) if merchant else [],
    )
