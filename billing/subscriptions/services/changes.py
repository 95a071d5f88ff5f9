"""Changing a subscription: ``subscription_update``, ``subscription_cancel``, ``subscription_pause``,
``subscription_resume``, and its items (``subscription_item_create|update|delete``).

A change of price or quantity is prorated to the second (billing/subscriptions/prorations.py, its amounts
from proration.py): with ``proration_behavior=create_prorations`` (the default) the credit for the unused
time and the charge for the remaining time become pending invoice items that the next renewal's invoice
takes; with ``always_invoice`` they are invoiced and charged at once; with ``none`` nothing else is billed
and the change takes effect on the next renewal's invoice. ``proration_date`` (inside the current period)
says when the change counts from, so that an update bills exactly what ``invoices.create_preview`` showed.
``billing_cycle_anchor=now`` resets the cycle: the unused time of the current period is credited, and a new
period from now is invoiced and charged at once (``_cycle_reset``).

Every decision takes ``now`` (a test clock's customer: the clock's time). Work that calls the processor
(voiding an invoice, charging one) runs after the subscription's transaction has committed.
"""

import contextlib
from datetime import UTC, datetime

from django.db import transaction

from kassa import metadata as md
from kassa.errors import InvalidRequest, KassaError
from kassa.ids import public_id
from webhooks.services.outbox import event_emit, render

from ...catalogue.models import Price
from ...catalogue.selectors import customer_now
from ...invoices import hooks
from ...invoices import services as invoices
from ...invoices.models import Invoice, InvoiceItem, TaxRate
from ...invoices.services.common import tax_rates_check
from .. import prorations
from ..models import Subscription, SubscriptionItem
from .cards import paying_card_keep
from .common import (
    ENDED,
    ITEMS_MAX,
    PENDING_UPDATE_EXPIRES_AFTER,
    S,
    current_period,
    emit_updated,
    interval_of,
    items_period_set,
    next_work_at,
    pending_update_clear,
    period_after,
    status_move,
)
from .create import PRORATION_BEHAVIORS, _price_of, payment_method_check, save_default_check
from .renewal import invoice_collect, period_advance, subscription_end, subscription_renew

FEEDBACK = (
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
)
PAUSE_BEHAVIORS = tuple(Subscription.PauseBehavior.values)


def _lock(subscription: Subscription) -> Subscription:
    return Subscription.objects.select_for_update().select_related("customer").get(pk=subscription.pk)


def _not_ended(subscription: Subscription, action: str = "updated") -> None:
    if subscription.status in ENDED:
        raise InvalidRequest(
            f"Subscription {subscription.public_id} is {subscription.status}: it can no longer be {action}.",
            code="subscription_unexpected_state",
            param="subscription",
        )


def _prorations_check(proration_behavior: str, param: str = "proration_behavior") -> None:
    if proration_behavior not in PRORATION_BEHAVIORS:
        raise InvalidRequest("proration_behavior must be create_prorations, always_invoice or none.", param=param)


def _cancellation_details(subscription: Subscription, details: dict | None) -> None:
    if not details:
        return
    if "feedback" in details:
        feedback = details["feedback"] or None
        if feedback is not None and feedback not in FEEDBACK:
            raise InvalidRequest(
                f"cancellation_details[feedback] must be one of {', '.join(FEEDBACK)}.",
                param="cancellation_details[feedback]",
            )
        subscription.cancellation_feedback = feedback
    if "comment" in details:
        subscription.cancellation_comment = (details["comment"] or None) and str(details["comment"])[:5000]


def _pause_collection(subscription: Subscription, pause, now: datetime) -> None:
    if not pause:
        subscription.pause_behavior = None
        subscription.pause_resumes_at = None
        return
    behavior = pause.get("behavior")
    if behavior not in PAUSE_BEHAVIORS:
        raise InvalidRequest(
            "pause_collection[behavior] must be keep_as_draft, mark_uncollectible or void.",
            param="pause_collection[behavior]",
        )
    resumes_at = pause.get("resumes_at")
    if resumes_at is not None and resumes_at <= now:
        raise InvalidRequest(
            "pause_collection[resumes_at] must be in the future.", param="pause_collection[resumes_at]"
        )
    subscription.pause_behavior = behavior
    subscription.pause_resumes_at = resumes_at


def _entry_price(subscription: Subscription, entry: dict, first: SubscriptionItem, param: str):
    if entry.get("price") is None and entry.get("price_data") is None:
        return None
    price = _price_of(entry, merchant=subscription.merchant, livemode=subscription.livemode, param=param)
    if price.currency != subscription.currency:
        raise InvalidRequest(
            f"The price is in {price.currency.upper()}, the subscription in {subscription.currency.upper()}.",
            param=f"{param}[price]",
        )
    if interval_of(price) != interval_of(first.price):
        raise InvalidRequest(
            "Kassa does not change a subscription's billing interval yet: use a price with the same "
            "interval, or cancel and start a new subscription.",
            param=f"{param}[price]",
        )
    return price


def _entry_quantity(entry: dict, param: str) -> int | None:
    quantity = entry.get("quantity")
    if quantity is not None and (
        isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= invoices.QUANTITY_MAX
    ):
        raise InvalidRequest(
            f"quantity must be a whole number from 0 to {invoices.QUANTITY_MAX}.", param=f"{param}[quantity]"
        )
    return quantity


def _item_of(items: dict, entry: dict, param: str) -> SubscriptionItem | None:
    if not entry.get("id"):
        if entry.get("deleted"):
            raise InvalidRequest("Give the id of the item to delete.", param=f"{param}[id]")
        return None
    item = items.get(entry["id"])
    if item is None:
        raise InvalidRequest(
            f"No such subscription item: '{entry['id']}' on this subscription.",
            code="resource_missing",
            param=f"{param}[id]",
        )
    return item


def _item_apply(subscription: Subscription, items: dict, entry: dict, param: str, now: datetime) -> None:
    """One entry of Stripe's ``items`` on update: ``{id, price|price_data, quantity, deleted, metadata,
    tax_rates}``: a new item (no id), a change to one, or its removal (``deleted``)."""
    first = next(iter(items.values()))
    item = _item_of(items, entry, param)
    if entry.get("deleted"):
        item.delete()
        items.pop(item.public_id)
        return
    price = _entry_price(subscription, entry, first, param)
    quantity = _entry_quantity(entry, param)
    if item is None:
        if price is None:
            raise InvalidRequest("Missing required param: price.", code="parameter_missing", param=f"{param}[price]")
        item = SubscriptionItem.objects.create(
            # A pending update applied: the id its pending_update showed.
            public_id=entry.get("public_id") or public_id(SubscriptionItem.PREFIX),
            merchant=subscription.merchant,
            livemode=subscription.livemode,
            created=now,
            subscription=subscription,
            price=price,
            quantity=1 if quantity is None else quantity,
            current_period_start=first.current_period_start,
            current_period_end=first.current_period_end,
            metadata=md.merge({}, entry.get("metadata")),
        )
        items[item.public_id] = item
    else:
        item.price = price or item.price
        item.quantity = item.quantity if quantity is None else quantity
        item.metadata = md.merge(item.metadata, entry.get("metadata"))
        item.save()
    if "tax_rates" in entry:
        item.tax_rates.set(
            tax_rates_check(
                entry["tax_rates"],
                merchant=subscription.merchant,
                livemode=subscription.livemode,
                param=f"{param}[tax_rates]",
            )
        )


def _items_apply(subscription: Subscription, entries: list, now: datetime) -> None:
    if subscription.pending_update_invoice_id is not None:
        raise InvalidRequest(
            f"Subscription {subscription.public_id} has a pending update waiting for its invoice to be paid: "
            "its items change once it is paid, or once it expires.",
            code="subscription_unexpected_state",
            param="items",
        )
    items = {item.public_id: item for item in subscription.items.select_related("price").order_by("pk")}
    for n, entry in enumerate(entries):
        _item_apply(subscription, items, entry, f"items[{n}]", now)
    if not items:
        raise InvalidRequest("A subscription keeps at least one item.", param="items")
    if len(items) > ITEMS_MAX:
        raise InvalidRequest(f"A subscription has at most {ITEMS_MAX} items.", param="items")
    if len({item.price_id for item in items.values()}) != len(items):
        raise InvalidRequest("A subscription cannot have two items with the same price.", param="items")


def _trial_invoice_unkeyed(subscription: Subscription, start: datetime) -> None:
    """A trial ended in the very second it began lasted no time: its zero invoice billed no period, so it gives
    up the period start it was keyed by (the one-invoice-per-period constraint, billing/invoices/models.py) to
    the first paid period's invoice, which starts at that same second. The constraint stays whole for every other
    invoice: a renewal or a retry can still never make a second invoice for a period."""
    Invoice.objects.filter(
        subscription=subscription,
        subscription_period_start=start,
        billing_reason=Invoice.BillingReason.SUBSCRIPTION_CREATE,
        total=0,
    ).update(subscription_period_start=None)


def trial_end_moved(subscription: Subscription, trial_end, now: datetime, param: str = "trial_end") -> datetime:
    """``trial_end`` ("now" or a later date) set on ``subscription`` (a trial's only); nothing saved
    (``invoices.create_preview`` applies it to a copy). The new end.

    The billing cycle moves with it, as at Stripe, where a trial is how a subscription's billing cycle is changed,
    when the anchor was the trial's end or the new end is past the anchor: the anchor becomes the new end (and a
    ``billing_cycle_anchor_config[day_of_month]`` goes with the old anchor), so that the first paid period starts
    when the trial ends, never inside it. An anchor still after the new end stays, and the time from the trial's
    end to it is billed as a stub, as when the subscription was made so."""
    if subscription.status != S.TRIALING:
        raise InvalidRequest(
            f"Subscription {subscription.public_id} is not in a trial ({subscription.status}).", param=param
        )
    anchored_on_trial = subscription.billing_cycle_anchor == subscription.trial_end
    if trial_end == "now":
        trial_end = now
    elif trial_end <= now:
        raise InvalidRequest("trial_end must be in the future, or now.", param=param)
    subscription.trial_end = trial_end
    if anchored_on_trial or subscription.billing_cycle_anchor < trial_end:
        subscription.billing_cycle_anchor = trial_end
        subscription.billing_cycle_anchor_day_of_month = None
    return trial_end


def _trial_end_change(subscription: Subscription, trial_end, now: datetime) -> bool:
    """``trial_end``: "now" ends the trial (billed at once: True), a date moves it (within a trial only)."""
    trial_end = trial_end_moved(subscription, trial_end, now)
    start, _end = current_period(subscription)
    if trial_end == start:
        _trial_invoice_unkeyed(subscription, start)
    items_period_set(subscription, start, trial_end)
    subscription.next_renewal_at = next_work_at(subscription, trial_end)
    return trial_end <= now


def _payment_settings_apply(subscription: Subscription, payment_settings: dict | None) -> None:
    value = save_default_check(payment_settings)
    if value is not None:
        subscription.save_default_payment_method = value
        if value == Subscription.SaveDefaultPaymentMethod.OFF:
            subscription.charge_automatically_once_paid = False  # no card saved: nothing to switch to


def _fields_apply(subscription: Subscription, changes: dict, now: datetime) -> None:
    """The plain fields of an update: cancellation, pause, payment method, description, metadata, taxes."""
    if "cancel_at_period_end" in changes:
        subscription.cancel_at_period_end = bool(changes["cancel_at_period_end"])
        if subscription.cancel_at_period_end:
            subscription.cancel_at = None
    if "cancel_at" in changes:
        cancel_at = changes["cancel_at"] or None
        if cancel_at is not None and cancel_at <= now:
            raise InvalidRequest("cancel_at must be in the future.", param="cancel_at")
        subscription.cancel_at = cancel_at
        if cancel_at is not None:
            subscription.cancel_at_period_end = False
    if "pause_collection" in changes:
        _pause_collection(subscription, changes["pause_collection"], now)
    if "default_payment_method" in changes:
        subscription.default_payment_method = payment_method_check(
            changes["default_payment_method"], subscription.customer
        )
    if "payment_settings" in changes:
        _payment_settings_apply(subscription, changes["payment_settings"])
    if "description" in changes:
        subscription.description = changes["description"] or None
    if "metadata" in changes:
        subscription.metadata = md.merge(subscription.metadata, changes["metadata"])
    _cancellation_details(subscription, changes.get("cancellation_details"))
    if "default_tax_rates" in changes:
        subscription.default_tax_rates.set(
            tax_rates_check(
                changes["default_tax_rates"],
                merchant=subscription.merchant,
                livemode=subscription.livemode,
                param="default_tax_rates",
            )
        )


def _period_end_uncut(subscription: Subscription) -> datetime | None:
    item = subscription.items.select_related("price").order_by("pk").first()
    return prorations.period_end_uncut(subscription, item) if item is not None else None


def _period_cut(subscription: Subscription, uncut_end: datetime, proration_behavior: str, now: datetime) -> bool:
    """``cancel_at`` inside the current period cuts it there (the items' ``current_period_end``; the renewal due
    then ends the subscription); moved later or cleared, the period runs to ``uncut_end`` again. The time no
    longer billed is credited, the time billed again charged, per ``proration_behavior`` (Stripe: "If set to a
    date before the current period ends, this will cause a proration if prorations have been enabled"). True
    when proration items were made."""
    start, end = current_period(subscription)
    cancel_at = subscription.cancel_at
    billed_until = cancel_at if cancel_at is not None and start < cancel_at < uncut_end else uncut_end
    if billed_until == end:
        return False
    made = []
    if proration_behavior != "none":
        made = prorations.subscription_billed_until_prorations_create(
            subscription=subscription, billed_until=billed_until, period_end=uncut_end, now=now
        )
    items_period_set(subscription, start, billed_until)
    return bool(made)


UPDATABLE = {
    "billing_cycle_anchor",
    "items",
    "proration_behavior",
    "trial_end",
    "cancel_at_period_end",
    "cancel_at",
    "pause_collection",
    "default_payment_method",
    "default_tax_rates",
    "description",
    "metadata",
    "cancellation_details",
    "payment_behavior",
    "payment_settings",
    "proration_date",
}


def _proration_date(value, now: datetime) -> datetime:
    """``proration_date``: Unix seconds (or a datetime) the change counts from; ``now`` when not given."""
    if value is None:
        return now
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value, tz=UTC)


#: What may come with ``billing_cycle_anchor=now`` (a new period now): not another change of the periods.
ANCHOR_NOW_EXCLUDES = ("trial_end", "cancel_at", "cancel_at_period_end", "pause_collection")


def anchor_now_check(subscription: Subscription, param: str = "billing_cycle_anchor") -> None:
    """``billing_cycle_anchor=now`` resets the cycle of a subscription being billed (active or past due): not in a
    trial (``trial_end=now`` ends one), nor paused or incomplete."""
    if subscription.status not in (S.ACTIVE, S.PAST_DUE):
        raise InvalidRequest(
            f"billing_cycle_anchor=now resets the billing cycle of an active subscription; {subscription.public_id} "
            f"is {subscription.status}"
            + (" (end the trial with trial_end=now)." if subscription.status == S.TRIALING else "."),
            code="subscription_unexpected_state",
            param=param,
        )


def _anchor_of(changes: dict) -> bool:
    """``billing_cycle_anchor``: True for ``now`` (a new period starts now, invoiced at once); ``unchanged`` is the
    default."""
    anchor = changes.get("billing_cycle_anchor")
    if anchor in (None, "unchanged"):
        return False
    if anchor != "now":
        raise InvalidRequest("billing_cycle_anchor must be now or unchanged.", param="billing_cycle_anchor")
    _prorations_check(changes.get("proration_behavior", "create_prorations"))
    anchor_now_alone_check(changes)
    return True


def anchor_now_alone_check(given, param=lambda name: name) -> None:
    """``billing_cycle_anchor=now`` comes with none of ``ANCHOR_NOW_EXCLUDES`` (``given``: the names given with it;
    ``param``: how a refused one is named, ``invoices.create_preview`` nesting it under ``subscription_details``)."""
    for name in ANCHOR_NOW_EXCLUDES:
        if name in given:
            raise InvalidRequest(
                f"{name} cannot be changed together with billing_cycle_anchor=now: make them two updates.",
                param=param(name),
            )


def _items_change(subscription, changes: dict, proration_behavior: str, proration_date, now: datetime, *, prorate):
    """``items`` applied (the caller holds the lock), prorated unless ``prorate`` is False (a cycle reset credits
    the whole rest of the period itself); ``(the items' snapshot from before, whether prorations were made)``."""
    if "items" not in changes:
        return (None if prorate else prorations.items_snapshot(subscription)), False
    _prorations_check(proration_behavior)
    snapshot = prorations.items_snapshot(subscription)
    _items_apply(subscription, changes["items"] or [], now)
    if proration_behavior == "none" or not prorate:
        return snapshot, False
    made = prorations.subscription_prorations_create(
        subscription=subscription, before=snapshot, at=proration_date, now=now
    )
    return snapshot, bool(made)


def subscription_update(*, subscription: Subscription, now: datetime, **changes) -> Subscription:
    """Stripe's update, as far as Kassa goes (see the module's docstring); anything else is refused by name."""
    for name in sorted(changes):
        if name not in UPDATABLE:
            raise InvalidRequest(f"Kassa cannot change {name} on a subscription yet.", param=name)
    now = customer_now(customer=subscription.customer, now=now)
    if changes.get("payment_behavior") == "pending_if_incomplete":
        return _update_pending_if_incomplete(subscription, now, changes)
    proration_behavior = changes.get("proration_behavior", "create_prorations")
    proration_date = _proration_date(changes.get("proration_date"), now)
    anchor_now = _anchor_of(changes)
    bill_now = prorated = False
    new_period = None
    with transaction.atomic():
        subscription = _lock(subscription)
        if set(changes) - {"metadata"}:
            _not_ended(subscription)
        before = render(subscription)
        snapshot, prorated = _items_change(
            subscription, changes, proration_behavior, proration_date, now, prorate=not anchor_now
        )
        if changes.get("trial_end") is not None:
            bill_now = _trial_end_change(subscription, changes["trial_end"], now)
        cancel_moves = "cancel_at" in changes or "cancel_at_period_end" in changes
        if cancel_moves:
            _prorations_check(proration_behavior)
            uncut_end = _period_end_uncut(subscription)
        _fields_apply(subscription, changes, now)
        if cancel_moves and uncut_end is not None:
            prorated = _period_cut(subscription, uncut_end, proration_behavior, now) or prorated
        if anchor_now:
            new_period = _cycle_reset(subscription, snapshot, proration_behavior, proration_date, now, before)
        else:
            if not bill_now:
                period = current_period(subscription)
                subscription.next_renewal_at = next_work_at(subscription, period[1])
            subscription.save()
            emit_updated(subscription, before)
    if new_period is not None:
        invoice_collect(*new_period, now=now)  # the new period's invoice, charged once committed
    else:
        _bill_after_commit(
            subscription, bill_now=bill_now, always_invoice=prorated and proration_behavior == "always_invoice", now=now
        )
    return Subscription.objects.get(pk=subscription.pk)


def _bill_after_commit(subscription: Subscription, *, bill_now: bool, always_invoice: bool, now: datetime) -> None:
    if bill_now:
        # The trial ended now: its first paid period is invoiced and charged as a renewal is.
        subscription_renew(subscription_pk=subscription.pk, now=now)
    elif always_invoice:
        # After the commit: the prorations invoiced and charged now (a net credit waits for the renewal).
        prorations.subscription_proration_invoice(subscription=subscription, now=now)


def _cycle_reset(subscription, snapshot, proration_behavior: str, proration_date: datetime, now: datetime, before):
    """``billing_cycle_anchor=now`` (the caller holds the lock): the unused time of the current period credited
    per item as it was before the change ("Unused time on …", per ``proration_behavior``), the anchor moved to now,
    and a new period from now invoiced at once with the credit and everything pending
    (``billing_reason=subscription_update``, as at Stripe), finalized; what to collect once committed.
    https://docs.stripe.com/billing/subscriptions/billing-cycle#changing"""
    anchor_now_check(subscription)  # refused: the whole update rolls back
    if proration_behavior != "none":
        prorations.subscription_prorations_create(
            subscription=subscription, before=snapshot, at=proration_date, now=now, ending=True
        )
    subscription.billing_cycle_anchor = now
    subscription.billing_cycle_anchor_day_of_month = None
    return period_advance(subscription, now, now, before, billing_reason=Invoice.BillingReason.SUBSCRIPTION_UPDATE)


# --- payment_behavior=pending_if_incomplete (https://docs.stripe.com/billing/subscriptions/pending-updates) ---

PENDING_PARAMS = {"items", "proration_behavior", "proration_date", "payment_behavior"}


def _entry_resolved(subscription: Subscription, entry: dict, param: str) -> dict:
    """An ``items`` entry with its ``price_data`` made into a price now (kept whatever becomes of the update)."""
    entry = dict(entry)
    if entry.get("price_data") is not None:
        entry["price"] = _price_of(entry, merchant=subscription.merchant, livemode=subscription.livemode, param=param)
        entry.pop("price_data")
    return entry


def _entry_stored(entry: dict, new_id: str | None) -> dict:
    """What a pending update keeps of an entry to apply it later: ids and numbers, no objects."""
    stored = {key: entry[key] for key in ("id", "quantity", "deleted", "metadata") if key in entry}
    if entry.get("price") is not None:
        stored["price"] = entry["price"].pk
    if "tax_rates" in entry:
        stored["tax_rates"] = [rate.pk for rate in entry["tax_rates"]]
    if new_id is not None:
        stored["public_id"] = new_id
    return stored


def _entry_loaded(stored: dict) -> dict:
    entry = dict(stored)
    if "price" in entry:
        entry["price"] = Price.objects.get(pk=entry["price"])
    if "tax_rates" in entry:
        entry["tax_rates"] = list(TaxRate.objects.filter(pk__in=entry["tax_rates"]))
    return entry


def _item_shown(item: SubscriptionItem) -> dict:
    """An item as ``pending_update.subscription_items`` shows it (the price as its id and amounts)."""
    price = item.price
    return {
        "id": item.public_id,
        "object": "subscription_item",
        "created": int(item.created.timestamp()),
        "current_period_start": int(item.current_period_start.timestamp()),
        "current_period_end": int(item.current_period_end.timestamp()),
        "metadata": item.metadata,
        "price": {
            "id": price.public_id,
            "object": "price",
            "currency": price.currency,
            "product": price.product.public_id,
            "recurring": {"interval": price.recurring_interval, "interval_count": price.recurring_interval_count or 1},
            "unit_amount": price.unit_amount,
        },
        "quantity": item.quantity,
        "subscription": item.subscription.public_id,
    }


def _pending_invoice(subscription: Subscription, made: list[InvoiceItem], now: datetime) -> Invoice:
    """The held change's prorations, written again after the rehearsal was rolled back, invoiced now with the
    customer's other pending items and finalized (charged by the caller once committed)."""
    kept_items = set(subscription.items.values_list("pk", flat=True))
    for item in made:
        rates_of = item.subscription_item_id if item.subscription_item_id in kept_items else None
        item.pk = None
        item._state.adding = True
        item.subscription_item_id = rates_of
        item.save()
        if rates_of is not None:
            rates = list(SubscriptionItem.objects.get(pk=rates_of).tax_rates.all())
            if rates:
                item.tax_rates.set(rates)
        event_emit(type="invoiceitem.created", obj=item)
    send = subscription.collection_method == Invoice.CollectionMethod.SEND_INVOICE
    invoice = invoices.invoice_create(
        merchant=subscription.merchant,
        livemode=subscription.livemode,
        customer=subscription.customer,
        now=now,
        collection_method=subscription.collection_method,
        days_until_due=subscription.days_until_due if send else None,
        pending_invoice_items_behavior="include",
        default_payment_method=subscription.default_payment_method,
        default_tax_rates=list(subscription.default_tax_rates.all()),
        currency=subscription.currency,
        description=subscription.description,
        billing_reason=Invoice.BillingReason.SUBSCRIPTION_UPDATE,
        subscription=subscription,
    )
    return invoices.invoice_finalize(
        invoice=invoice, now=now, auto_advance=not send or bool(subscription.customer.email)
    )


def _update_pending_if_incomplete(subscription: Subscription, now: datetime, changes: dict) -> Subscription:
    """``payment_behavior=pending_if_incomplete``: a change of items whose prorations come to a charge is
    rehearsed (applied in a savepoint to check it and compute its prorations, then rolled back), held in
    ``pending_update``, and its invoice made and charged now. Paid, the change applies
    (``customer.subscription.pending_update_applied``); unpaid after 23 hours, the renewal pass drops it
    (``customer.subscription.pending_update_expired``) and voids the invoice. A change with nothing to pay
    (a downgrade, ``proration_behavior=none``, a trial) applies at once, as Stripe's does."""
    for name in sorted(changes):
        if name not in PENDING_PARAMS:
            raise InvalidRequest(
                f"{name} cannot be changed with payment_behavior=pending_if_incomplete: Kassa holds only items "
                "(with proration_behavior and proration_date) until they are paid.",
                param=name,
            )
    if not changes.get("items"):
        raise InvalidRequest(
            "payment_behavior=pending_if_incomplete holds a change of items: give items.",
            code="parameter_missing",
            param="items",
        )
    proration_behavior = changes.get("proration_behavior", "create_prorations")
    _prorations_check(proration_behavior)
    proration_date = _proration_date(changes.get("proration_date"), now)
    invoice = None
    with transaction.atomic():
        subscription = _lock(subscription)
        _not_ended(subscription)
        if subscription.pending_update_invoice_id is not None:
            raise InvalidRequest(
                f"Subscription {subscription.public_id} already has a pending update.",
                code="subscription_unexpected_state",
                param="payment_behavior",
            )
        before = render(subscription)
        entries = [_entry_resolved(subscription, e, f"items[{n}]") for n, e in enumerate(changes["items"])]
        snapshot = prorations.items_snapshot(subscription)
        rehearsal = transaction.savepoint()
        _items_apply(subscription, entries, now)
        made = []
        if proration_behavior != "none":
            made = prorations.subscription_prorations_create(
                subscription=subscription, before=snapshot, at=proration_date, now=now
            )
        if sum(item.amount for item in made) > 0:
            after = list(subscription.items.select_related("price__product", "subscription").order_by("pk"))
            added = iter(item.public_id for item in after if item.pk not in snapshot)
            stored = [
                _entry_stored(entry, None if entry.get("id") or entry.get("deleted") else next(added, None))
                for entry in entries
            ]
            shown = [_item_shown(item) for item in after]
            transaction.savepoint_rollback(rehearsal)
            expires_at = now + PENDING_UPDATE_EXPIRES_AFTER
            invoice = _pending_invoice(subscription, made, now)
            subscription.latest_invoice = invoice
            subscription.pending_update = {
                "billing_cycle_anchor": None,
                "expires_at": int(expires_at.timestamp()),
                "subscription_items": shown,
                "trial_end": None,
                "trial_from_plan": None,
                "entries": stored,
            }
            subscription.pending_update_invoice = invoice
            subscription.pending_update_expires_at = expires_at
            if invoice.status == Invoice.Status.PAID:  # nothing left to pay once other pending credits counted
                _pending_update_apply(subscription, now)
        else:
            transaction.savepoint_commit(rehearsal)
        period = current_period(subscription)
        subscription.next_renewal_at = next_work_at(subscription, period[1])
        subscription.save()
        emit_updated(subscription, before)
    if (
        invoice is not None
        and invoice.status == Invoice.Status.OPEN
        and invoice.collection_method == Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
    ):
        # Declined or needing the customer: the update waits, pending, until paid or expired.
        with contextlib.suppress(KassaError):
            invoices.invoice_pay(invoice=invoice, now=now, off_session=True)
    return Subscription.objects.get(pk=subscription.pk)


def _pending_update_apply(subscription: Subscription, now: datetime) -> None:
    """The held change applied (the caller holds the lock and saves)."""
    entries = [_entry_loaded(stored) for stored in subscription.pending_update["entries"]]
    pending_update_clear(subscription)
    _items_apply(subscription, entries, now)
    event_emit(type="customer.subscription.pending_update_applied", obj=subscription)


def subscription_pending_update_invoice_changed(*, invoice: Invoice, change: str, now: datetime) -> None:
    """Invoicing's hook (billing/apps.py): a pending update's invoice paid applies the update (and, with
    ``save_default_payment_method=on_subscription``, the card that paid it becomes the default, as for any of
    the subscription's invoices); voided, it drops it. Inside the payment's transaction, as every hook."""
    if invoice.subscription_id is None or change not in (hooks.PAID, hooks.VOIDED):
        return
    if invoice.billing_reason != Invoice.BillingReason.SUBSCRIPTION_UPDATE:
        return  # a pending update's invoice is an update's (_pending_invoice): a renewal's is not, and costs no lock
    subscription = (
        Subscription.objects.select_for_update()
        .filter(pk=invoice.subscription_id, pending_update_invoice=invoice)
        .first()
    )
    if subscription is None or subscription.status in ENDED:
        return
    before = render(subscription)
    if change == hooks.PAID:
        _pending_update_apply(subscription, now)
        paying_card_keep(subscription, invoice)
    else:
        pending_update_clear(subscription)
        event_emit(type="customer.subscription.pending_update_expired", obj=subscription)
    period = current_period(subscription)
    subscription.next_renewal_at = next_work_at(subscription, period[1])
    subscription.save()
    emit_updated(subscription, before)


def subscription_cancel(
    *,
    subscription: Subscription,
    now: datetime,
    invoice_now: bool = False,
    prorate: bool = False,
    cancellation_details: dict | None = None,
) -> Subscription:
    """Cancel now (Stripe's DELETE). ``prorate``: the unused time of the current period is credited, "Unused
    time on … after …" per item (to the second, as an update's proration). ``invoice_now``: a final invoice now
    with everything pending for the customer (that credit, an earlier change's prorations, invoice items),
    finalized in the same transaction and, for ``charge_automatically``, charged once committed; a credit
    larger than the charges makes it zero and stays pending for the customer's next invoice (Kassa keeps no
    balance; prorations.subscription_final_invoice). Without ``invoice_now`` the credit waits, pending, for that
    next invoice. An incomplete subscription's unpaid first invoice is voided (nothing was charged: nothing is
    prorated or invoiced)."""
    now = customer_now(customer=subscription.customer, now=now)
    final = None
    with transaction.atomic():
        subscription = _lock(subscription)
        _not_ended(subscription, "canceled")
        before = render(subscription)
        _cancellation_details(subscription, cancellation_details)
        was_incomplete = subscription.status == S.INCOMPLETE
        if prorate and not was_incomplete:
            snapshot = prorations.items_snapshot(subscription)
            prorations.subscription_prorations_create(
                subscription=subscription, before=snapshot, at=now, now=now, ending=True
            )
        latest = subscription.latest_invoice
        subscription_end(subscription, now=now, ended_at=now, before=before)
        if invoice_now and not was_incomplete:
            final = prorations.subscription_final_invoice(subscription=subscription, now=now)
    if was_incomplete and latest is not None and latest.status == Invoice.Status.OPEN:
        # A payment in flight: left for the merchant (the subscription has ended either way).
        with contextlib.suppress(KassaError):
            invoices.invoice_void(invoice=latest, now=now)
    if (
        final is not None
        and final.status == Invoice.Status.OPEN
        and final.collection_method == Invoice.CollectionMethod.CHARGE_AUTOMATICALLY
    ):
        invoice_collect("charge", final, now=now)
    return Subscription.objects.get(pk=subscription.pk)


@transaction.atomic
def subscription_pause(*, subscription: Subscription, now: datetime) -> Subscription:
    """Stripe's ``pause`` (type subscription, nothing billed for the unused time): ``paused``, no renewals."""
    subscription = _lock(subscription)
    if subscription.status not in (S.ACTIVE, S.TRIALING):
        raise InvalidRequest(
            f"Only an active or trialing subscription can be paused; {subscription.public_id} is "
            f"{subscription.status}.",
            code="subscription_unexpected_state",
            param="subscription",
        )
    before = render(subscription)
    status_move(subscription, S.PAUSED)
    period = current_period(subscription)
    subscription.next_renewal_at = next_work_at(subscription, period[1] if period else None)  # its cancel_at only
    subscription.save()
    emit_updated(subscription, before)
    event_emit(type="customer.subscription.paused", obj=subscription)
    return subscription


def subscription_resume(
    *,
    subscription: Subscription,
    now: datetime,
    billing_cycle_anchor: str = "now",
    proration_behavior: str = "create_prorations",
    proration_date: int | datetime | None = None,
) -> Subscription:
    """A paused subscription active again. ``billing_cycle_anchor=now`` (the default): a new period starts now and
    is invoiced and charged at once. ``unchanged``: the period the anchor gives goes on; when it is not one its
    invoices already billed (the pause outlasted the period it began in), the time left in it, from the resumption
    (or ``proration_date``), is billed per ``proration_behavior`` as Stripe does: ``create_prorations`` (the
    default) a "Remaining time on …" item per item that prorates, pending for the next renewal's invoice;
    ``always_invoice`` the same invoiced and charged now; ``none`` nothing. A pause inside a period its invoice
    paid for credits nothing (``subscription_pause``), so resuming in that same period bills nothing either. A
    ``cancel_at`` inside the period cuts it there (only the time to it is billed); one that passed during the
    pause bills nothing, whatever the anchor: beat ends the subscription at once, as of its ``cancel_at``."""
    if billing_cycle_anchor not in ("now", "unchanged"):
        raise InvalidRequest("billing_cycle_anchor must be now or unchanged.", param="billing_cycle_anchor")
    _prorations_check(proration_behavior)
    now = customer_now(customer=subscription.customer, now=now)
    with transaction.atomic():
        subscription = _lock(subscription)
        if subscription.status != S.PAUSED:
            raise InvalidRequest(
                f"Only a paused subscription can be resumed; {subscription.public_id} is {subscription.status}.",
                code="subscription_unexpected_state",
                param="subscription",
            )
        before = render(subscription)
        status_move(subscription, S.ACTIVE)
        after = None
        billed = False
        cancel_at = subscription.cancel_at
        # Its cancel_at passed while it was paused: beat ends it then (ended_at = cancel_at); nothing is billed.
        ending = cancel_at is not None and cancel_at <= now
        if billing_cycle_anchor == "now" and not ending:
            # A new period from now, invoiced (and charged once committed) as a renewal's is.
            subscription.billing_cycle_anchor = now
            subscription.billing_cycle_anchor_day_of_month = None
            after = period_advance(subscription, now, now, before)
        else:
            first = subscription.items.order_by("pk").first()
            billed_until = first.current_period_end  # the end of the last period its invoices billed
            start, end = period_after(subscription, first.price, now)
            if cancel_at is not None and start < cancel_at < end:
                end = cancel_at  # the period is cut there, as a renewal cuts it: only the time to it is billed
            items_period_set(subscription, start, end)
            subscription.next_renewal_at = next_work_at(subscription, end)
            subscription.save()
            if billed_until <= start and proration_behavior != "none" and not ending:
                made = prorations.subscription_prorations_create(
                    subscription=subscription, before={}, at=_proration_date(proration_date, now), now=now
                )
                billed = bool(made) and proration_behavior == "always_invoice"
            emit_updated(subscription, before)
        event_emit(type="customer.subscription.resumed", obj=subscription)
    if after is not None:
        invoice_collect(*after, now=now)
    _bill_after_commit(subscription, bill_now=False, always_invoice=billed, now=now)
    return Subscription.objects.get(pk=subscription.pk)


# --- subscription items (/v1/subscription_items): the same rules, one item at a time ---------------------


def subscription_item_create(
    *, subscription: Subscription, now: datetime, proration_behavior: str = "create_prorations", **entry
) -> SubscriptionItem:
    """A new item on ``subscription`` (``price`` or ``price_data``, ``quantity``, ``metadata``, ``tax_rates``)."""
    known = set(subscription.items.values_list("pk", flat=True))
    subscription_update(subscription=subscription, now=now, items=[entry], proration_behavior=proration_behavior)
    return subscription.items.exclude(pk__in=known).get()


def subscription_item_update(
    *, item: SubscriptionItem, now: datetime, proration_behavior: str = "create_prorations", **entry
) -> SubscriptionItem:
    subscription_update(
        subscription=item.subscription,
        now=now,
        items=[{"id": item.public_id, **entry}],
        proration_behavior=proration_behavior,
    )
    return SubscriptionItem.objects.get(pk=item.pk)


def subscription_item_delete(
    *,
    item: SubscriptionItem,
    now: datetime,
    proration_behavior: str = "create_prorations",
    proration_date: int | datetime | None = None,
) -> str:
    """Stripe's ``DELETE /v1/subscription_items/{id}``: the item removed, its unused time credited per
    ``proration_behavior``; never the subscription's last item (Stripe refuses it: cancel the subscription)."""
    if not item.subscription.items.exclude(pk=item.pk).exists():
        raise InvalidRequest(
            f"{item.public_id} is the subscription's only item: a subscription keeps at least one item "
            "(cancel the subscription to end it)."
        )
    extra = {} if proration_date is None else {"proration_date": proration_date}
    subscription_update(
        subscription=item.subscription,
        now=now,
        items=[{"id": item.public_id, "deleted": True}],
        proration_behavior=proration_behavior,
        **extra,
    )
    return item.public_id
