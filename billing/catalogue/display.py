"""How a price's billing interval reads, in the reader's language: one set of words for the dashboard, the pay page
and the portal ("every month", "every 30 days"; a count is never 0, so no plural forms are needed)."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Price

EVERY = {"day": _("every day"), "week": _("every week"), "month": _("every month"), "year": _("every year")}
EVERY_N = {
    "day": _("every %(count)s days"),
    "week": _("every %(count)s weeks"),
    "month": _("every %(count)s months"),
    "year": _("every %(count)s years"),
}


def price_interval(price: Price) -> str:
    """ "every month", "every 30 days"; "one time" for a price that does not recur."""
    if price.type != Price.Type.RECURRING or price.recurring_interval not in EVERY:
        return gettext("one time")
    count = price.recurring_interval_count or 1
    if count == 1:
        return str(EVERY[price.recurring_interval])
    return str(EVERY_N[price.recurring_interval]) % {"count": count}
