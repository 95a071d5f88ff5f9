"""Collecting invoices: ``invoice_pay`` (a saved card, or paid outside Kassa), payments' hooks, overdue notices
(beat's automatic charges and their retries are in dunning.py).

Paying is two-phase, on billing/payments' machinery:

1. under the invoice's row lock, the invoice's open ``InvoicePayment`` and
   its PaymentIntent (for what remains) are made, or the open one reused,
   and committed;
2. ``payments.payment_intent_confirm`` records a ``PaymentAttempt`` of that
   PaymentIntent and commits it, then charges with the attempt's id as the
   processor's idempotency key: the key is derived from the invoice's own
   PaymentIntent, so a retried attempt replays at the processor, never charges
   twice; a second ``pay`` meanwhile meets the attempt in flight (409);
3. payments records the answer and calls the hooks registered in
   billing/apps.py (``invoice_payment_succeeded`` …) in that transaction: the
   invoice becomes paid exactly when its PaymentIntent succeeds, whether the
   answer came to this request, to a Stripe webhook, or to the reconciler.

An automatic attempt (dunning.py) brings its own key, derived from the invoice and its retry number
(``attempt_key``), instead of a random one: a beat run repeated after a crash replays that attempt, or finds it
made (409 ``payment_attempt_already_made``), and never charges twice; the next retry is a new charge.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from kassa.db import (
    atomic_unless,
    held,
    insert,
    new,
    related,
    select,
    select_locked_with,
    select_one,
    snapshot,
    together,
    update,
)
from kassa.errors import CardError, IdempotencyConflict, InvalidRequest
from kassa.ids import public_id
from webhooks.services.outbox import event_emit, render

from ...catalogue.selectors import customer_now
from ...payments import services as payments
from ...payments.models import PaymentAttempt, PaymentIntent, PaymentMethod
from .. import emails, hooks, selectors
from ..models import Invoice, InvoicePayment
from .common import S
from .dunning_settings import dunning_settings_for
from .invoices import PAYMENT_PAID, _open_payment_cancel, _paid, _payment_close

logger = logging.getLogger(__name__)

PAYABLE = {S.OPEN, S.UNCOLLECTIBLE}
PI = PaymentIntent.Status


def _payable_lock(invoice: Invoice) -> Invoice:
    # The customer and merchant come with it (not locked: ``of`` self), as paying reads both, and the cards paying
    # it would take (_card).
    reading = Invoice.objects.select_for_update(of=("self",)).select_related(
        "customer__default_payment_method", "merchant", "default_payment_method"
    )
    locked = reading.get(pk=invoice.pk)
    if locked.status == S.DRAFT:
        raise InvalidRequest(
            f"Invoice {locked.public_id} is a draft: finalize it before paying it.",
            code="invoice_unexpected_state",
            param="invoice",
        )
    if locked.status not in PAYABLE:
        raise InvalidRequest(
            f"Invoice {locked.public_id} is {locked.status} and takes no payment.",
            code="invoice_unexpected_state",
            param="invoice",
        )
    return locked


def _card(invoice: Invoice, payment_method: PaymentMethod | None, *, read_now: bool = False) -> PaymentMethod:
    """The card to charge: the one given, else the invoice's default, else the customer's (as at Stripe). A default
    that is no longer one of the customer's saved cards counts as unset: a detach clears it from the invoices naming
    it (``invoices_card_detached``), and one set by an update that read the card before the detach committed, or
    named before that clearing existed, must not stop every attempt. ``read_now``: each card read again now by its
    id, whoever holds a copy read earlier (a held charge checks the card as it is now with this read:
    ``payments.payment_attempt_begin_check``)."""
    # Each read (if not read with the invoice or its customer) through a statement built once (kassa.db): a renewal's
    # charge reads the customer's default card here.
    if payment_method is not None:
        card = select_one(PaymentMethod, "id = %s", [payment_method.pk]) if read_now else payment_method
        if card is None or card.customer_id != invoice.customer_id:
            raise InvalidRequest(
                f"The payment method {payment_method.public_id} is not one of this invoice's customer's saved cards.",
                code="resource_missing",
                param="payment_method",
            )
        return card
    card = _default_card(invoice, invoice, read_now) or _default_card(invoice, related(invoice, "customer"), read_now)
    if card is not None:
        return card
    raise InvalidRequest(
        "The customer has no default payment method and none was given: pass payment_method.",
        code="invoice_no_payment_method",
        param="payment_method",
    )


def _default_card(invoice: Invoice, owner, read_now: bool) -> PaymentMethod | None:
    """``owner``'s default card (the invoice's or its customer's) while it is one of the customer's saved cards."""
    if owner.default_payment_method_id is None:
        return None
    if read_now:
        card = select_one(PaymentMethod, "id = %s", [owner.default_payment_method_id])
    else:
        card = related(owner, "default_payment_method")
    return card if card is not None and card.customer_id == invoice.customer_id else None


@dataclass
class Opened:
    """What phase 1 left: the invoice as locked, and the PaymentIntent to confirm with ``card`` — or no
    PaymentIntent when nothing remained to pay (the invoice was paid then, with its event). ``attempt``: payments'
    own first phase made too (``invoice_charge_begin``), to be charged once the caller's transaction commits."""

    invoice: Invoice
    intent: PaymentIntent | None
    card: PaymentMethod | None
    attempt: PaymentAttempt | None = None


def _payment_open(
    invoice: Invoice,
    now: datetime,
    *,
    payment_method: PaymentMethod | None = None,
    saved_card: bool = True,
    attempt_key: str | None = None,
    setup_future_usage: str | None = None,
    held: bool = False,
) -> Opened:
    """Phase 1, in one transaction under the invoice's row lock: the card (``payment_method``, else the invoice's
    or the customer's default; none with ``saved_card=False``, when the payer's one-off card is to be taken for
    it), an invoice with nothing left to pay paid at once, else the open InvoicePayment's PaymentIntent for what
    remains, made or reused. ``attempt_key``: an automatic attempt's own key (services/dunning.py); one already
    made is refused here, before it is counted again. ``held``: the caller made and finalized the invoice in the
    transaction it is still in (``invoice_charge_begin``): taken as it is, not locked and read again, and payments'
    first phase is made here too. Held, it writes in the caller's transaction with no savepoint of its own (two
    statements a renewal): whatever refuses is asked before its first write (the card, read again now, and the
    credentials: ``payments.payment_attempt_begin_check``), so a refusal leaves nothing to undo."""
    with atomic_unless(held):  # not held: its own transaction, or a savepoint in the caller's
        invoice = invoice if held else _payable_lock(invoice)
        card = _card(invoice, payment_method, read_now=held) if saved_card else None
        if held:  # what payments' first phase refuses, asked before anything is written or set on the invoice
            payments.payment_attempt_begin_check(
                merchant=invoice.merchant, livemode=invoice.livemode, card_read_now=card, customer=invoice.customer
            )
        if invoice.amount_remaining <= 0:
            _paid(invoice, now)
            event_emit(type="invoice.paid", obj=invoice)
            return Opened(invoice, None, card)
        # An invoice never attempted has no attempt under its key: one is made only once counted (_attempt_count).
        made = payments.payment_attempt_made(attempt_key) if attempt_key is not None and invoice.attempted else None
        if made is not None and not payments.payment_attempt_replayable(made):
            raise IdempotencyConflict("This payment attempt was already made.", code="payment_attempt_already_made")
        # An automatic attempt is counted once, when its key is first claimed (under this lock): a run repeated
        # (or overlapping) goes on under the same key, uncounted, and payments makes (or replays) it only once.
        claimed = attempt_key is not None and invoice.automatic_attempt_key == attempt_key
        if attempt_key is not None and not claimed:
            invoice.automatic_attempt_key = attempt_key  # saved with the count (_attempt_count), in this transaction
        # An invoice never attempted has no payment (each is opened here and counted in the same transaction): not
        # even the query is built then (a renewal's: building it was about 2 % of a renewal's CPU).
        payment = selectors.invoice_open_payment(invoice) if invoice.attempted else None
        if payment is not None:
            intent = payment.payment_intent
            if intent.status == PI.REQUIRES_ACTION:
                raise InvalidRequest(
                    "This invoice's payment is waiting for the card holder's authentication (3-D Secure).",
                    code="invoice_payment_intent_requires_action",
                    param="invoice",
                )
            if intent.status in (PI.PROCESSING, PI.SUCCEEDED) or payments.payment_intent_in_flight(intent):
                raise IdempotencyConflict(
                    "A payment of this invoice is already in progress. Wait for it to finish.",
                    code="payment_in_progress",
                )
            if intent.amount == invoice.amount_remaining and intent.status != PI.CANCELED:
                if not claimed:
                    _attempt_count(invoice, automatic=attempt_key is not None)
                if setup_future_usage and intent.setup_future_usage != setup_future_usage:
                    intent.setup_future_usage = setup_future_usage  # the payer's card is to be kept this time
                    intent.save(update_fields=["setup_future_usage", "updated"])
                return Opened(invoice, intent, card)
            payment.status = InvoicePayment.Status.CANCELED
            payment.canceled_at = now
            payment.save(update_fields=["status", "canceled_at"])
        # Not held, a refusal from here on is undone with this transaction (or savepoint); held, nothing from here on
        # refuses (asked above), and whatever else fails fails the caller's whole transaction.
        intent = payments.payment_intent_make(
            merchant=invoice.merchant,
            livemode=invoice.livemode,
            amount=invoice.amount_remaining,
            currency=invoice.currency,
            customer=invoice.customer,
            payment_method=card,
            description=f"Invoice {invoice.number}",
            setup_future_usage=setup_future_usage,
            metadata={"invoice": invoice.public_id, "invoice_number": invoice.number},
            now=now,
        )
        attempt = _payment_add(invoice, intent, now, counted=not claimed, attempt_key=attempt_key, held=held)
    return Opened(invoice, intent, card, attempt)


def _payment_add(
    invoice: Invoice, intent: PaymentIntent, now: datetime, *, counted: bool, attempt_key: str | None, held: bool
) -> PaymentAttempt | None:
    """The invoice's payment by ``intent``, the attempt counted (``counted``) and, ``held``, payments' first attempt
    of it begun (returned): three tables' rows in one statement (``kassa.db.together``)."""
    attempt = None
    with together(with_next=True):  # sent with what follows (kassa.db): the keys are set then
        insert(
            new(
                InvoicePayment,
                public_id=public_id(InvoicePayment.PREFIX),
                invoice=invoice,
                payment_intent=intent,
                amount_requested=intent.amount,
                currency=invoice.currency,
                created=now,
            )
        )
        if counted:
            _attempt_count(invoice, automatic=attempt_key is not None)
        if held:
            attempt = payments.payment_attempt_begin_new(
                payment_intent=intent, attempt_key=attempt_key, off_session=True
            )
    return attempt


def _attempt_count(invoice: Invoice, *, automatic: bool) -> None:
    """One more attempt, counted as Stripe's ``attempt_count``: "Any payment attempt counts as the first attempt,
    and subsequently only automatic retries increment the attempt count" (a payment by hand after the first
    attempt is on its PaymentIntent, not counted). The schedule (``next_payment_attempt``) is left to
    services/dunning.py, which sets it when an outcome is known, whoever made the attempt: a payment by hand that
    is declined before any automatic one failed is the first attempt, and dunning's schedule starts from it
    (dunning's ``invoice_payment_failed``); one that succeeds pays the invoice; one whose outcome is not known yet
    (3-D Secure, a lost answer) leaves the pending automatic attempt due, so an invoice is never left with no
    attempt to come."""
    invoice.attempted = True
    if automatic or invoice.attempt_count == 0:
        invoice.attempt_count += 1
    update(invoice, ["attempted", "attempt_count", "automatic_attempt_key", "updated"])


def _pay_out_of_band(invoice: Invoice, now: datetime, note: str) -> Invoice:
    """Paid outside Kassa: the open card payment is canceled first, through the route ``invoice_void`` takes (at
    the processor too, so it can never be confirmed afterwards). One whose attempt is pending or of unknown
    outcome (no answer from the processor: the card may have been charged) is refused with a 409 until it is
    settled (reconciled, or Stripe's webhook), so the customer never pays twice."""
    with transaction.atomic():
        _payable_lock(invoice)
    _open_payment_cancel(invoice)
    with transaction.atomic():
        invoice = _payable_lock(invoice)
        _payment_close(invoice, now)
        invoice.paid_out_of_band = True
        invoice.out_of_band_note = (note or "")[:500]
        invoice.amount_paid += invoice.amount_remaining
        _paid(invoice, now)
        event_emit(type="invoice.paid", obj=invoice)
    return invoice


def invoice_pay(
    *,
    invoice: Invoice,
    now: datetime,
    payment_method: PaymentMethod | None = None,
    paid_out_of_band: bool = False,
    off_session: bool = True,
    note: str = "",
    attempt_key: str | None = None,
) -> Invoice:
    """Pay an open (or uncollectible) invoice: charge a saved card of its customer, or record a payment made
    outside Kassa (``paid_out_of_band``: no charge). A declined card raises CardError (402); a card that asks
    for 3-D Secure raises it with ``invoice_payment_intent_requires_action``, as Stripe's ``pay`` does. The
    invoice as it is afterwards."""
    if paid_out_of_band:
        now = customer_now(customer=invoice.customer, now=now)  # a test clock's customer pays on the clock's time
        return _pay_out_of_band(invoice, now, note)
    invoice_charge(
        invoice=invoice, now=now, payment_method=payment_method, off_session=off_session, attempt_key=attempt_key
    )
    return Invoice.objects.get(pk=invoice.pk)


def invoice_charge(
    *,
    invoice: Invoice,
    now: datetime,
    payment_method: PaymentMethod | None = None,
    off_session: bool = True,
    attempt_key: str | None = None,
    opened: Opened | None = None,
) -> PaymentIntent | None:
    """``invoice_pay`` with a saved card, for a caller that needs how the charge ended, not the invoice read
    again (dunning's automatic attempt: a renewal's charge): the PaymentIntent as its answer was recorded, or
    None when nothing remained to pay (the invoice was paid at once). Raises as ``invoice_pay`` does. ``opened``:
    its first phase made by ``invoice_charge_begin`` and committed."""
    now = customer_now(customer=invoice.customer, now=now)  # a test clock's customer pays on the clock's time
    # Phase 1 commits before the processor is called (the charge is never inside a transaction).
    if opened is None:
        opened = _payment_open(invoice, now, payment_method=payment_method, attempt_key=attempt_key)
    if opened.intent is None:
        return None
    return _confirm(
        invoice, opened.intent, opened.card, off_session=off_session, attempt_key=attempt_key, begun=opened.attempt
    )


def invoice_charge_begin(*, invoice: Invoice, now: datetime, attempt_key: str) -> Opened:
    """``invoice_charge``'s first phase, and payments' own (the keyed attempt, off-session, with the invoice's or its
    customer's default card), for an invoice the caller made and finalized in the transaction it is still in (a
    renewal's), to be charged once that commits: ``invoice_charge(opened=…)``. Taken as the caller holds it: nobody
    else can see, let alone pay, an invoice before its transaction commits, so it is not locked and read again, and
    the phases' own transactions are the caller's (a renewal saves two transactions and five reads). Raises as
    ``invoice_charge`` does, having written nothing (whatever refuses is asked before the first write, so there is
    no savepoint to roll back): the caller's transaction goes on. A worker
    killed after the commit leaves the attempt made and not charged: the reconciler finds the processor has no
    record of it, and dunning's next run makes it under its key (``payment_attempt_replayable``)."""
    now = customer_now(customer=invoice.customer, now=now)
    return _payment_open(invoice, now, attempt_key=attempt_key, held=True)


def invoice_pay_with_card_token(
    *, invoice: Invoice, now: datetime, token: str, billing_details: dict | None = None
) -> Invoice:
    """The hosted page's payment: the payer's card (a Stripe.js token) pays this invoice only, on-session.

    The card is not saved on the customer (the payer did not ask for it): it is taken for the invoice's
    PaymentIntent alone (``single_use_for``), as checkout's one-off cards are, so a declined card is not kept
    either. A card refused when Stripe is asked to take it fails the payment as a declined charge does
    (``invoice.payment_failed``) and raises CardError. Unless a part above keeps it (``hooks.card_kept``: a
    subscription with ``save_default_payment_method=on_subscription``, whose page says so): the PaymentIntent
    then has ``setup_future_usage=off_session`` and payments saves the card on the customer once it succeeds.
    """
    now = customer_now(customer=invoice.customer, now=now)
    keep = "off_session" if hooks.card_kept(invoice=invoice) else None
    opened = _payment_open(invoice, now, saved_card=False, setup_future_usage=keep)
    if opened.intent is None:
        return opened.invoice
    intent = opened.intent
    try:
        card = payments.payment_method_create_from_token(
            customer=intent.customer, token=token, billing_details=billing_details, single_use_for=intent
        )
    except CardError as exc:
        payments.payment_intent_card_refused(payment_intent=intent, error=exc)
        raise
    _confirm(invoice, intent, card, off_session=False)
    return Invoice.objects.get(pk=invoice.pk)


def _confirm(
    invoice: Invoice,
    intent: PaymentIntent,
    card: PaymentMethod,
    *,
    off_session: bool,
    attempt_key: str | None = None,
    begun: PaymentAttempt | None = None,
) -> PaymentIntent:
    """Phase 2 and 3: payments charges (its own two phases, or the second of an attempt ``begun`` already) and
    records the answer; the hooks follow. The PaymentIntent as recorded."""
    try:
        intent = payments.payment_intent_confirm(
            payment_intent=intent, payment_method=card, off_session=off_session, attempt_key=attempt_key, begun=begun
        )
    except InvalidRequest as exc:
        if exc.code != "payment_intent_unexpected_state":
            raise
        # Another pay of this invoice settled its PaymentIntent meanwhile: say so about the invoice.
        with transaction.atomic():
            _payable_lock(invoice)
        raise IdempotencyConflict(
            "A payment of this invoice is already in progress. Wait for it to finish.", code="payment_in_progress"
        ) from exc
    if intent.status == PI.REQUIRES_ACTION:
        raise CardError(
            "This payment requires the card holder's authentication (3-D Secure): the customer can complete it "
            "on the hosted invoice page.",
            code="invoice_payment_intent_requires_action",
            payment_intent=intent.public_id,
        )
    return intent


# --- what payments calls back (registered in billing/apps.py) -----------------------------------------


def _invoice_payment_of(payment_intent: PaymentIntent) -> InvoicePayment | None:
    return InvoicePayment.objects.filter(payment_intent=payment_intent).first()  # its invoice is locked by id


#: The invoice a PaymentIntent pays (one at most: an invoice payment's PaymentIntent is its own), for ``select``.
_PAID_INVOICE = f"id = (SELECT invoice_id FROM {InvoicePayment._meta.db_table} WHERE payment_intent_id = %s)"  # noqa: S608 (a model's name)


def invoice_payment_succeeded(*, payment_intent: PaymentIntent) -> bool:
    """payments' success hook (inside the transaction that records it); idempotent; True when the PaymentIntent pays
    an invoice. The invoice is paid when nothing remains; a void invoice stays void (the money is recorded on its
    payment, and logged); its receipt is queued (emails.invoice_receipt_queue)."""
    # The invoice it pays, found and locked in one read with its subscription (locked after it: the hook of a paid
    # invoice, subscription_invoice_changed, decides the subscription's status under that lock, and the invoice's
    # renderings show it), then its payments: invoice first, as every writer of an invoice's payments locks them.
    # Both reads through statements built once (kassa.db: every paid renewal comes through here); the customer and
    # the PaymentIntents are those the caller holds where they are the same rows (a renewal's: one payment).
    found = select_locked_with(Invoice, "subscription", _PAID_INVOICE, [payment_intent.pk])
    if not found:
        return False
    (invoice,) = found
    stored = snapshot(invoice)  # as read under its lock: what changes below is what is written (_paid)
    if invoice.customer_id == payment_intent.customer_id and payment_intent.customer_id is not None:
        Invoice.customer.field.set_cached_value(invoice, related(payment_intent, "customer"))
    emails.invoice_receipt_queue(payment_intent=payment_intent, invoice=invoice)
    # Its payments next, all of them locked in one read: this one to mark paid, and every one for the invoice's
    # events, which show them with their PaymentIntents (read here, not a second time for the rendering).
    payments = select(InvoicePayment, "invoice_id = %s", [invoice.pk], tail="ORDER BY id", lock=True)
    others = PaymentIntent.objects.in_bulk(
        [p.payment_intent_id for p in payments if p.payment_intent_id not in (None, payment_intent.pk)]
    )
    for each in payments:
        each.invoice = invoice
        each.payment_intent = (
            payment_intent if each.payment_intent_id == payment_intent.pk else others.get(each.payment_intent_id)
        )
    (payment,) = [payment for payment in payments if payment.payment_intent_id == payment_intent.pk]
    selectors.payments_read_with(invoice, payments)
    if payment.status == InvoicePayment.Status.PAID:
        return True
    # The processor's answer came at payment_intent.updated; a test clock's customer was paid on the clock's time.
    now = customer_now(customer=invoice.customer, now=payment_intent.updated)
    payment.status = InvoicePayment.Status.PAID
    payment.amount_paid = payment_intent.amount_received
    payment.paid_at = now
    payment.canceled_at = None
    invoice.amount_paid += payment_intent.amount_received
    invoice.amount_remaining = max(invoice.amount_due - invoice.amount_paid, 0)
    if invoice.status not in PAYABLE:
        logger.error("Invoice %s is %s but its payment %s succeeded", invoice.public_id, invoice.status, payment_intent)
        update(payment, PAYMENT_PAID)
        invoice.save(update_fields=["amount_paid", "amount_remaining", "updated"])
        return True
    if invoice.amount_remaining == 0:
        with held(invoice, "subscription"):  # locked above: its hook reads it from the invoice, not again
            _paid(invoice, now, stored=stored, payment=payment)  # the payment written with the invoice, one statement
        shown = render(invoice)  # both events show the same invoice: rendered once
        event_emit(type="invoice.paid", obj=invoice, data_object=shown)
    else:
        update(payment, PAYMENT_PAID)
        invoice.save()
        shown = render(invoice)
    event_emit(type="invoice.payment_succeeded", obj=invoice, data_object=shown)
    return True


def invoice_payment_failed_notify(*, payment_intent: PaymentIntent) -> Invoice | None:
    """Part of payments' failure hook (dunning's ``invoice_payment_failed``): ``invoice.payment_failed`` and the
    subscription told (the payment stays open: another card may pay it). Returns the invoice, locked (with its
    customer), or None when the PaymentIntent pays no open invoice payment."""
    payment = _invoice_payment_of(payment_intent)
    if payment is None or payment.status != InvoicePayment.Status.OPEN:
        return None
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("customer").get(pk=payment.invoice_id)
    event_emit(type="invoice.payment_failed", obj=invoice)
    now = customer_now(customer=invoice.customer, now=payment_intent.updated)
    hooks.invoice_changed(invoice=invoice, change=hooks.PAYMENT_FAILED, now=now)
    return invoice


def invoice_payment_action_required(*, payment_intent: PaymentIntent) -> None:
    """payments' 3-D Secure hook: ``invoice.payment_action_required`` (the hosted page takes the payer through it)."""
    payment = _invoice_payment_of(payment_intent)
    if payment is None or payment.status != InvoicePayment.Status.OPEN:
        return
    invoice = Invoice.objects.select_for_update().get(pk=payment.invoice_id)
    event_emit(type="invoice.payment_action_required", obj=invoice)
    # Not paid: for a subscription's latest invoice, as a failed attempt (past_due until the payer authenticates).
    now = customer_now(customer=invoice.customer, now=payment_intent.updated)
    hooks.invoice_changed(invoice=invoice, change=hooks.PAYMENT_FAILED, now=now)


def invoice_owning(*, payment_intent: PaymentIntent) -> str | None:
    """payments' owner check: an invoice's PaymentIntent is ended through the invoice (void), not canceled."""
    if InvoicePayment.objects.filter(payment_intent=payment_intent, status=InvoicePayment.Status.OPEN).exists():
        return "This PaymentIntent pays an invoice: void the invoice instead of canceling it."
    return None


# --- beat ---------------------------------------------------------------------------------------------


def of_customers(invoices: QuerySet, customers: QuerySet | None) -> QuerySet:
    """The invoices of ``customers``; without them, of the customers on the wall clock (none on a test clock)."""
    if customers is None:
        return invoices.filter(customer__test_clock__isnull=True)
    return invoices.filter(customer__in=customers)


def invoices_mark_overdue(*, now: datetime, customers: QuerySet | None = None) -> int:
    """``invoice.overdue``, once, for each open ``send_invoice`` invoice past its due date (``customers``: as
    ``dunning.invoices_advance``), and the parts above told (``hooks.OVERDUE``: a subscription whose latest invoice
    it is goes ``past_due``, as at Stripe)."""
    count = 0
    overdue = of_customers(
        Invoice.objects.filter(
            status=S.OPEN,
            collection_method=Invoice.CollectionMethod.SEND_INVOICE,
            overdue_at__isnull=True,
            due_date__lt=now,
        ),
        customers,
    ).values_list("pk", flat=True)
    for pk in list(overdue):
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=pk)
            if invoice.status != S.OPEN or invoice.overdue_at is not None:
                continue
            invoice.overdue_at = now
            # A subscription's: the merchant's deadline for the final actions, if any (dunning's invoices_retry_due).
            days = dunning_settings_for(merchant=invoice.merchant, livemode=invoice.livemode).overdue_days
            if invoice.subscription_id is not None and invoice.auto_advance and days is not None:
                invoice.dunning_ends_at = invoice.due_date + timedelta(days=days)
            invoice.save(update_fields=["overdue_at", "dunning_ends_at"])
            event_emit(type="invoice.overdue", obj=invoice)
            hooks.invoice_changed(invoice=invoice, change=hooks.OVERDUE, now=now)  # a subscription's: past_due
            count += 1
    return count
