"""``subscription_create``: the subscription, its items, and its first invoice, finalized at once and collected.

The subscription, its items and the first invoice (``subscription_create``, for the first period) are made
and finalized in one transaction; the charge comes after it commits (invoices' two-phase ``invoice_pay``,
keyed by the invoice's own PaymentIntent), so no lock is held across the processor's call. The first
invoice's answer decides the status through invoicing's hook (``subscription_invoice_changed``):
paid → ``active`` (``trialing`` in a trial); otherwise ``incomplete`` until it is paid, and
``incomplete_expired`` after 23 hours (renewal.py).

``payment_behavior``: ``allow_incomplete`` (the default) charges and answers whatever the outcome;
``default_incomplete`` charges nothing (the customer pays on the hosted invoice page); with
``error_if_incomplete`` a failed first charge voids the invoice, ends the subscription
(``incomplete_expired``) and answers the card's error (Stripe makes no subscription then; Kassa keeps the
row it had to commit before charging, ended).

A ``billing_cycle_anchor`` (or ``billing_cycle_anchor_config[day_of_month]``) later than the start makes
a stub period from the start to the anchor, billed on the first invoice as its share of a full period to
the second (``proration_behavior=create_prorations``, the default) or not billed at all (``none``), as at
Stripe. A trial (``trial_end`` or ``trial_period_days``) bills nothing up front (a zero invoice, paid at
once) and anchors the periods at its end unless an anchor is given. ``add_invoice_items``: one-time prices on
the first invoice only (one_time.py); within a trial they make that invoice one to pay.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from kassa import metadata as md
from kassa.errors import CardError, InvalidRequest, KassaError
from kassa.ids import public_id
from webhooks.services.outbox import event_emit

from ...catalogue import services as catalogue
from ...catalogue.models import Customer, Price
from ...catalogue.selectors import customer_now
from ...invoices import numbering
from ...invoices import services as invoices
from ...invoices.models import Invoice
from ...invoices.services.common import tax_rates_check
from ...payments.models import PaymentMethod
from .. import periods
from ..models import Subscription, SubscriptionItem
from .common import (
    ITEMS_MAX,
    S,
    interval_of,
    items_period_set,
    next_work_at,
    period_after,
    period_invoice_create,
    period_until_cancel,
    recurring_price_check,
)
from .one_time import invoice_items_add, invoice_items_check

PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")
TRIAL_DAYS_MAX = 730


def _price_of(entry: dict, *, merchant, livemode: bool, param: str) -> Price:
    """An item's price, or the one ``price_data`` makes (recurring, on an existing product, as at Stripe)."""
    price, data = entry.get("price"), entry.get("price_data")
    if (price is None) == (data is None):
        raise InvalidRequest(f"Give either {param}[price] or {param}[price_data].", param=f"{param}[price]")
    if data is not None:
        if not data.get("recurring"):
            raise InvalidRequest(
                "Missing required param: price_data[recurring].",
                code="parameter_missing",
                param=f"{param}[price_data][recurring]",
            )
        price = catalogue.price_create(
            merchant=merchant,
            livemode=livemode,
            currency=data.get("currency") or "",
            unit_amount=data.get("unit_amount"),
            product=data.get("product"),
            recurring=data["recurring"],
            active=False,  # made for this subscription only, as Stripe's inline prices
        )
        return price
    if not price.active:
        raise InvalidRequest(f"The price {price.public_id} is archived (active=false).", param=f"{param}[price]")
    return recurring_price_check(price, merchant=merchant, livemode=livemode, param=f"{param}[price]")


def items_check(items, *, merchant, livemode: bool) -> list[tuple[Price, int, dict, list]]:
    """``[(price, quantity, metadata, tax_rates)]``: recurring prices of one currency and one interval."""
    if not items:
        raise InvalidRequest("Missing required param: items.", code="parameter_missing", param="items")
    if len(items) > ITEMS_MAX:
        raise InvalidRequest(f"A subscription has at most {ITEMS_MAX} items.", param="items")
    checked = []
    for n, entry in enumerate(items):
        param = f"items[{n}]"
        price = _price_of(entry, merchant=merchant, livemode=livemode, param=param)
        quantity = entry.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= invoices.QUANTITY_MAX:
            raise InvalidRequest(
                f"quantity must be a whole number from 0 to {invoices.QUANTITY_MAX}.", param=f"{param}[quantity]"
            )
        rates = tax_rates_check(
            entry.get("tax_rates"), merchant=merchant, livemode=livemode, param=f"{param}[tax_rates]"
        )
        checked.append((price, quantity, md.merge({}, entry.get("metadata")), rates))
    first = checked[0][0]
    for n, (price, *_rest) in enumerate(checked):
        if price.currency != first.currency:
            raise InvalidRequest("All of a subscription's prices must be in the same currency.", param=f"items[{n}]")
        if interval_of(price) != interval_of(first):
            raise InvalidRequest(
                "All of a subscription's prices must have the same billing interval.", param=f"items[{n}][price]"
            )
    if len({price.pk for price, *_rest in checked}) != len(checked):
        raise InvalidRequest("A subscription cannot have two items with the same price.", param="items")
    return checked


def trial_end_check(*, now: datetime, trial_end, trial_period_days) -> datetime | None:
    if trial_end is not None and trial_period_days is not None:
        raise InvalidRequest("Give either trial_end or trial_period_days, not both.", param="trial_end")
    if trial_period_days is not None:
        if not 0 <= trial_period_days <= TRIAL_DAYS_MAX:
            raise InvalidRequest(f"trial_period_days must be from 0 to {TRIAL_DAYS_MAX}.", param="trial_period_days")
        return now + timedelta(days=trial_period_days) if trial_period_days else None
    if trial_end is None or trial_end == "now":
        return None
    if trial_end <= now:
        raise InvalidRequest("trial_end must be in the future (or now).", param="trial_end")
    if trial_end > now + timedelta(days=TRIAL_DAYS_MAX):
        raise InvalidRequest("trial_end can be at most two years from now.", param="trial_end")
    return trial_end


def anchor_check(*, now: datetime, trial_end, billing_cycle_anchor, day_of_month) -> tuple[datetime, int | None]:
    start = trial_end or now
    if billing_cycle_anchor is not None and day_of_month is not None:
        raise InvalidRequest(
            "Give either billing_cycle_anchor or billing_cycle_anchor_config, not both.",
            param="billing_cycle_anchor_config",
        )
    if day_of_month is not None:
        if not 1 <= day_of_month <= 31:
            raise InvalidRequest(
                "billing_cycle_anchor_config[day_of_month] must be from 1 to 31.",
                param="billing_cycle_anchor_config[day_of_month]",
            )
        return periods.anchor_for_day_of_month(start=start, day_of_month=day_of_month), day_of_month
    if billing_cycle_anchor is None:
        return start, None
    if billing_cycle_anchor < start:
        raise InvalidRequest(
            "billing_cycle_anchor must be in the future (and not before the trial ends).",
            param="billing_cycle_anchor",
        )
    return billing_cycle_anchor, None


def _collection_check(collection_method: str, days_until_due) -> None:
    if collection_method not in Invoice.CollectionMethod.values:
        raise InvalidRequest(
            "collection_method must be charge_automatically or send_invoice.", param="collection_method"
        )
    if days_until_due is not None and collection_method != Invoice.CollectionMethod.SEND_INVOICE:
        raise InvalidRequest(
            "days_until_due is only valid for subscriptions whose collection_method is send_invoice.",
            param="days_until_due",
        )


def save_default_check(payment_settings: dict | None) -> str | None:
    """``payment_settings[save_default_payment_method]`` (``off`` | ``on_subscription``), None when not given."""
    value = (payment_settings or {}).get("save_default_payment_method")
    if value is not None and value not in Subscription.SaveDefaultPaymentMethod.values:
        raise InvalidRequest(
            "payment_settings[save_default_payment_method] must be off or on_subscription.",
            param="payment_settings[save_default_payment_method]",
        )
    return value


def payment_method_check(payment_method: PaymentMethod | None, customer: Customer) -> PaymentMethod | None:
    if payment_method is not None and payment_method.customer_id != customer.pk:
        raise InvalidRequest(
            f"The payment method {payment_method.public_id} is not one of this customer's saved cards.",
            code="resource_missing",
            param="default_payment_method",
        )
    return payment_method


def first_period(subscription: Subscription, first_price: Price, now: datetime) -> tuple[datetime, datetime]:
    """The first period: the trial, else the stub to a later anchor, else a full period from now (``subscription``
    may be unsaved: ``invoices.create_preview`` shows its first invoice)."""
    if subscription.trial_end:
        return now, subscription.trial_end
    return period_after(subscription, first_price, now)


def first_period_unbilled(subscription: Subscription, start: datetime, proration_behavior: str) -> bool:
    """A stub before a later anchor with ``proration_behavior=none``: not billed, as at Stripe."""
    return not subscription.trial_end and start < subscription.billing_cycle_anchor and proration_behavior == "none"


@transaction.atomic
def _subscription_make(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    items: list,
    now: datetime,
    default_payment_method,
    collection_method: str,
    days_until_due,
    trial_end,
    billing_cycle_anchor,
    day_of_month,
    proration_behavior: str,
    payment_behavior: str,
    cancel_at_period_end: bool,
    cancel_at,
    default_tax_rates,
    description,
    metadata,
    save_default_payment_method: str,
    charge_automatically_once_paid: bool,
    add_invoice_items,
) -> tuple[Subscription, Invoice]:
    checked = items_check(items, merchant=merchant, livemode=livemode)
    one_time = invoice_items_check(
        add_invoice_items, merchant=merchant, livemode=livemode, currency=checked[0][0].currency
    )
    rates = tax_rates_check(default_tax_rates, merchant=merchant, livemode=livemode, param="default_tax_rates")
    anchor, day = anchor_check(
        now=now, trial_end=trial_end, billing_cycle_anchor=billing_cycle_anchor, day_of_month=day_of_month
    )
    if cancel_at is not None and cancel_at <= now:
        raise InvalidRequest("cancel_at must be in the future.", param="cancel_at")
    if collection_method == Invoice.CollectionMethod.SEND_INVOICE and days_until_due is None:
        days_until_due = numbering.invoice_settings_for(merchant).days_until_due
    first_price = checked[0][0]
    subscription = Subscription.objects.create(
        public_id=public_id(Subscription.PREFIX),
        merchant=merchant,
        livemode=livemode,
        created=now,
        customer=customer,
        status=S.TRIALING if trial_end else S.INCOMPLETE,
        currency=first_price.currency,
        description=description or None,
        collection_method=collection_method,
        days_until_due=days_until_due,
        default_payment_method=default_payment_method,
        billing_cycle_anchor=anchor,
        billing_cycle_anchor_day_of_month=day,
        start_date=now,
        trial_start=now if trial_end else None,
        trial_end=trial_end,
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=cancel_at,
        save_default_payment_method=save_default_payment_method,
        charge_automatically_once_paid=charge_automatically_once_paid,
        metadata=md.merge({}, metadata),
    )
    subscription.default_tax_rates.set(rates)
    start, end = first_period(subscription, first_price, now)
    end, whole_end = period_until_cancel(cancel_at, start, end)  # a cancel_at inside it: billed up to it
    for price, quantity, item_metadata, item_rates in checked:
        item = SubscriptionItem.objects.create(
            public_id=public_id(SubscriptionItem.PREFIX),
            merchant=merchant,
            livemode=livemode,
            created=now,
            subscription=subscription,
            price=price,
            quantity=quantity,
            current_period_start=start,
            current_period_end=end,
            metadata=item_metadata,
        )
        item.tax_rates.set(item_rates)
    stub_unbilled = first_period_unbilled(subscription, start, proration_behavior)
    invoice = period_invoice_create(
        subscription=subscription,
        start=start,
        end=end,
        now=now,
        billing_reason=Invoice.BillingReason.SUBSCRIPTION_CREATE,
        trial=bool(trial_end),
        unbilled=stub_unbilled,
        whole_end=whole_end,
    )
    invoice_items_add(invoice=invoice, checked=one_time, now=now)  # add_invoice_items: on this invoice only
    if collection_method == Invoice.CollectionMethod.SEND_INVOICE:
        subscription.status = S.ACTIVE  # as at Stripe: sent, not waited for
    items_period_set(subscription, start, end)
    subscription.next_renewal_at = next_work_at(subscription, end)
    subscription.save()
    event_emit(type="customer.subscription.created", obj=subscription)
    # Finalized now; collected automatically (beat retries a charge this run never made) unless the client
    # confirms it itself (default_incomplete).
    auto_advance = payment_behavior != "default_incomplete" or collection_method != "charge_automatically"
    if collection_method == Invoice.CollectionMethod.SEND_INVOICE and not customer.email:
        auto_advance = False  # nowhere to send it: left open for the merchant to collect
    invoices.invoice_finalize(invoice=invoice, now=now, auto_advance=auto_advance)
    return Subscription.objects.get(pk=subscription.pk), Invoice.objects.get(pk=invoice.pk)


def subscription_create(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    items: list,
    now: datetime,
    payment_behavior: str = "allow_incomplete",
    **options,
) -> Subscription:
    """A subscription of ``customer`` to ``items`` (``[{"price" | "price_data", "quantity", "metadata",
    "tax_rates"}]``), its first invoice finalized and (``charge_automatically``) charged off-session.

    ``options``: those of ``subscription_create_records``."""
    subscription, invoice = subscription_create_records(
        merchant=merchant,
        livemode=livemode,
        customer=customer,
        items=items,
        now=now,
        payment_behavior=payment_behavior,
        **options,
    )
    return subscription_first_invoice_collect(
        subscription=subscription, invoice=invoice, now=now, payment_behavior=payment_behavior
    )


def subscription_create_records(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    items: list,
    now: datetime,
    default_payment_method: PaymentMethod | None = None,
    collection_method: str = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY,
    days_until_due: int | None = None,
    trial_period_days: int | None = None,
    trial_end=None,
    billing_cycle_anchor: datetime | None = None,
    billing_cycle_anchor_day_of_month: int | None = None,
    proration_behavior: str = "create_prorations",
    payment_behavior: str = "allow_incomplete",
    cancel_at_period_end: bool = False,
    cancel_at: datetime | None = None,
    default_tax_rates=None,
    description: str | None = None,
    metadata=None,
    payment_settings: dict | None = None,
    charge_automatically_once_paid: bool = False,
    add_invoice_items: list | None = None,
) -> tuple[Subscription, Invoice]:
    """Phase 1 of ``subscription_create``: the subscription, its items and its first invoice, finalized, in one
    transaction (the caller's, when it has one: the dashboard's "recurring payment" makes its customer and
    price in the same one) and no processor call; ``subscription_first_invoice_collect`` charges it after the
    commit.

    ``payment_settings[save_default_payment_method]=on_subscription``: the card that pays one of its invoices
    (the hosted invoice page's too) is saved on the customer and becomes the subscription's default (renewal.py).
    ``charge_automatically_once_paid`` (Kassa's own, for the dashboard's "recurring payment"): a ``send_invoice``
    subscription saving its card so becomes ``charge_automatically`` with it once an invoice is paid by card."""
    if customer.deleted or customer.merchant_id != merchant.pk or customer.livemode != livemode:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    if payment_behavior not in PAYMENT_BEHAVIORS:
        raise InvalidRequest(
            "payment_behavior must be allow_incomplete, default_incomplete or error_if_incomplete.",
            param="payment_behavior",
        )
    if proration_behavior not in PRORATION_BEHAVIORS:
        raise InvalidRequest(
            "proration_behavior must be create_prorations, always_invoice or none.", param="proration_behavior"
        )
    _collection_check(collection_method, days_until_due)
    save_default = save_default_check(payment_settings) or Subscription.SaveDefaultPaymentMethod.OFF
    if charge_automatically_once_paid and (
        collection_method != Invoice.CollectionMethod.SEND_INVOICE
        or save_default != Subscription.SaveDefaultPaymentMethod.ON_SUBSCRIPTION
    ):
        raise InvalidRequest(
            "Switching to automatic charging needs send_invoice and save_default_payment_method=on_subscription.",
            param="payment_settings[save_default_payment_method]",
        )
    payment_method_check(default_payment_method, customer)
    now = customer_now(customer=customer, now=now)
    trial = trial_end_check(now=now, trial_end=trial_end, trial_period_days=trial_period_days)
    try:
        return _subscription_make(
            merchant=merchant,
            livemode=livemode,
            customer=customer,
            items=items,
            now=now,
            default_payment_method=default_payment_method,
            collection_method=collection_method,
            days_until_due=days_until_due,
            trial_end=trial,
            billing_cycle_anchor=billing_cycle_anchor,
            day_of_month=billing_cycle_anchor_day_of_month,
            proration_behavior=proration_behavior,
            payment_behavior=payment_behavior,
            cancel_at_period_end=cancel_at_period_end,
            cancel_at=cancel_at,
            default_tax_rates=default_tax_rates,
            description=description,
            metadata=metadata,
            save_default_payment_method=save_default,
            charge_automatically_once_paid=charge_automatically_once_paid,
            add_invoice_items=add_invoice_items,
        )
    except IntegrityError as exc:  # pragma: no cover - a fresh subscription's period cannot be taken
        raise InvalidRequest("The subscription could not be made; try again.") from exc


def subscription_first_invoice_collect(
    *, subscription: Subscription, invoice: Invoice, now: datetime, payment_behavior: str = "allow_incomplete"
) -> Subscription:
    """Phase 2 of ``subscription_create``, after the commit: the first invoice charged (its own two phases), then
    invoicing's hook decides the status. Nothing to do for an emailed invoice or ``default_incomplete``."""
    now = customer_now(customer=subscription.customer, now=now)
    if (
        invoice.status != Invoice.Status.OPEN
        or subscription.collection_method != Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
        or payment_behavior == "default_incomplete"
    ):
        return subscription
    try:
        invoices.invoice_pay(invoice=invoice, now=now, off_session=True)
    except (CardError, InvalidRequest) as exc:
        if payment_behavior == "error_if_incomplete":
            _first_charge_failed(subscription, invoice, now)
            raise
        if isinstance(exc, InvalidRequest) and exc.code != "invoice_no_payment_method":
            raise
        # As at Stripe, an incomplete subscription's first invoice is not retried by itself: the customer pays it
        # (hosted page, a new card) within 23 hours, or it is voided. Beat would otherwise try the card again now.
        invoices.invoice_update(invoice=invoice, now=now, auto_advance=False)
    except KassaError:  # another run (beat's) is charging it: its answer decides the status
        pass
    return Subscription.objects.get(pk=subscription.pk)


def _first_charge_failed(subscription: Subscription, invoice: Invoice, now: datetime) -> None:
    """error_if_incomplete: the first invoice voided (which ends the subscription, incomplete_expired)."""
    try:
        invoices.invoice_void(invoice=invoice, now=now)
    except KassaError:  # a payment in flight after all: the subscription stays incomplete, its invoice decides
        return
