"""A merchant's dunning settings (per mode): the retry schedule and the final actions, checked here.

The schedule is a list of days after the **first** failed automatic charge (Stripe's custom retry schedule,
https://docs.stripe.com/invoicing/automatic-collection#custom-retry-schedule): 0 to 8 retries, each 1 to 60
days, strictly increasing. The row is made on first use with Stripe's defaults (1, 3, 5, 7 days; the
subscription canceled, the invoice left open). ``overdue_days``: for a subscription's invoices sent to customers
(``send_invoice``, never charged), how many days after its due date one still unpaid gets the same final actions, as
Stripe's "Manage invoices sent to customers" does (1 to ``OVERDUE_DAYS_MAX``; None, the default: never, its
subscription stays ``past_due``); it is fixed as an invoice becomes overdue, so a change applies to invoices that
become overdue afterwards.
"""

from itertools import pairwise

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kassa.errors import InvalidRequest

from ..models import DunningSettings

RETRIES_MAX = 8
RETRY_DAY_MAX = 60
OVERDUE_DAYS_MAX = 90
#: ``dunning_settings_update``'s "leave it as it is" (None sets no deadline).
UNCHANGED = object()


def dunning_settings_for(*, merchant, livemode: bool) -> DunningSettings:
    """The merchant's dunning settings in this mode, made with the defaults on first use."""
    existing = DunningSettings.objects.filter(merchant=merchant, livemode=livemode).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return DunningSettings.objects.create(merchant=merchant, livemode=livemode)
    except IntegrityError:  # made meanwhile by another request
        return DunningSettings.objects.get(merchant=merchant, livemode=livemode)


def retry_days_check(days, *, param: str = "retry_days") -> list[int]:
    """The schedule as whole days after the first failure, or a 400 saying what is wrong with it."""
    if not isinstance(days, list | tuple) or any(isinstance(d, bool) or not isinstance(d, int) for d in days):
        raise InvalidRequest(_("The retry schedule is a list of whole numbers of days."), param=param)
    if len(days) > RETRIES_MAX:
        raise InvalidRequest(_("At most %(max)d retries.") % {"max": RETRIES_MAX}, param=param)
    if any(not 1 <= d <= RETRY_DAY_MAX for d in days):
        raise InvalidRequest(
            _("Each retry is 1 to %(max)d days after the first failure.") % {"max": RETRY_DAY_MAX}, param=param
        )
    if any(later <= earlier for earlier, later in pairwise(days)):
        raise InvalidRequest(_("Each retry must come after the one before it (e.g. 1, 3, 5, 7)."), param=param)
    return list(days)


def overdue_days_check(days, *, param: str = "overdue_days") -> int | None:
    """Days after the due date (None: never), or a 400 saying what is wrong with it."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= OVERDUE_DAYS_MAX:
        raise InvalidRequest(
            _("The days after the due date are a whole number from 1 to %(max)d, or none.") % {"max": OVERDUE_DAYS_MAX},
            param=param,
        )
    return days


@transaction.atomic
def dunning_settings_update(
    *,
    merchant,
    livemode: bool,
    retry_days: list[int] | None = None,
    subscription_action: str | None = None,
    invoice_action: str | None = None,
    overdue_days=UNCHANGED,
) -> DunningSettings:
    """Change what is given; invoices already failing follow the new schedule from their next failure on."""
    settings = DunningSettings.objects.select_for_update().get(
        pk=dunning_settings_for(merchant=merchant, livemode=livemode).pk
    )
    if retry_days is not None:
        settings.retry_days = retry_days_check(retry_days)
    if subscription_action is not None:
        if subscription_action not in DunningSettings.SubscriptionAction.values:
            raise InvalidRequest(_("Unknown subscription action."), param="subscription_action")
        settings.subscription_action = subscription_action
    if invoice_action is not None:
        if invoice_action not in DunningSettings.InvoiceAction.values:
            raise InvalidRequest(_("Unknown invoice action."), param="invoice_action")
        settings.invoice_action = invoice_action
    if overdue_days is not UNCHANGED:
        settings.overdue_days = overdue_days_check(overdue_days)
    settings.save()
    return settings
