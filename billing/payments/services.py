"""PaymentIntents, saved cards and refunds: every money movement, two-phase.

A charge is never made inside a transaction or under a lock:

1. record the attempt (a ``PaymentAttempt`` row) and commit;
2. call the processor with an idempotency key derived from that row;
3. record the result under ``select_for_update``.

A double click, a retried request or two tabs therefore meet a committed
attempt in step 1 and get "a payment is already in progress" instead of a
second charge. An attempt whose outcome is unknown (the processor did not
answer) is retried with the *same* key, so the processor replays it rather
than charging again; before that it asks the processor for the charge its
attempt made (each processor PaymentIntent names its attempt in metadata,
``kassa_attempt``), so a key the processor has forgotten never charges twice.
Statuses only move along Stripe's arrows
(``TRANSITIONS``); a late or stale signal never moves a payment back.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from kassa import batch, gateway, mail, money
from kassa import metadata as md
from kassa.celery import enqueue_on_commit
from kassa.db import insert, new, select, select_one, snapshot, together, update_changed
from kassa.errors import CardError, IdempotencyConflict, InvalidRequest, KassaError, ProcessorError
from kassa.ids import public_id, random_string
from merchants.emails import email_task_queue
from merchants.selectors import processor_credential_for
from webhooks.services.outbox import event_emit, events_gathered, render

from ..catalogue.models import Customer
from ..catalogue.selectors import customer_now
from . import emails
from .models import REFUND_NOT_MADE, PaymentAttempt, PaymentIntent, PaymentMethod, PaymentTimelineEntry, Refund

logger = logging.getLogger(__name__)

S = PaymentIntent.Status
TRANSITIONS = {
    S.REQUIRES_PAYMENT_METHOD: {S.REQUIRES_CONFIRMATION, S.REQUIRES_ACTION, S.PROCESSING, S.SUCCEEDED, S.CANCELED},
    S.REQUIRES_CONFIRMATION: {S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_ACTION, S.PROCESSING, S.SUCCEEDED, S.CANCELED},
    S.REQUIRES_ACTION: {S.REQUIRES_PAYMENT_METHOD, S.PROCESSING, S.SUCCEEDED, S.CANCELED},
    S.PROCESSING: {S.REQUIRES_PAYMENT_METHOD, S.SUCCEEDED, S.CANCELED},
    S.SUCCEEDED: set(),
    # Not an arrow at Stripe, but money taken is never dropped: a charge that succeeded at the
    # processor while Kassa was canceling is recorded, and the timeline says so.
    S.CANCELED: {S.SUCCEEDED},
}
#: An attempt whose answer was lost and of which the processor has no record: its request never got there.
NO_RECORD = "processor_no_record"
CANCELABLE = {S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION, S.REQUIRES_ACTION}
# The events a move to each status sends (https://docs.stripe.com/api/events/types#event_types-payment_intent.succeeded).
_EVENT_TYPES = {
    S.REQUIRES_ACTION: "payment_intent.requires_action",
    S.PROCESSING: "payment_intent.processing",
    S.SUCCEEDED: "payment_intent.succeeded",
    S.CANCELED: "payment_intent.canceled",
}


# --- what owners of a payment hook into (registered at start-up in billing/apps.py) ---------------------
# Payments knows nothing of who owns a PaymentIntent (a checkout session, later an invoice): owners say so here.

#: fn(*, payment_intent) -> True when it owns the PaymentIntent (paid with it: it has done all a success means);
#: called in order inside the transaction that records a success, until one owns it (a PaymentIntent has one
#: owner: the hooks after it are not asked, nor is their lookup made); must be idempotent
_SUCCEEDED_HOOKS: list = []
#: fn(*, payment_intent) called inside the transaction that records a failed attempt (or a card refused
#: before one): the PaymentIntent is back at ``requires_payment_method`` with ``last_payment_error``
_FAILED_HOOKS: list = []
#: fn(*, payment_intent) called inside the transaction that records that the card asked for 3-D Secure
_REQUIRES_ACTION_HOOKS: list = []
#: fn(*, payment_intent) -> a refusal message when something else owns it (so it is not canceled directly)
_OWNERS: list = []
#: fn(*, payment_intent) -> True when its owner ended it without canceling it (an expired checkout session)
_ENDED_CHECKS: list = []
#: fn(*, payment_method) called first inside the transaction that detaches a saved card, in the order registered
#: and before the customer's and the card's row locks (what names the card is locked as its owners always lock it:
#: before its customer): what names the card as its default (an unpaid invoice, a subscription) stops naming it
_DETACHED_HOOKS: list = []


def on_payment_intent_succeeded(hook) -> None:
    _SUCCEEDED_HOOKS.append(hook)


def on_payment_intent_failed(hook) -> None:
    _FAILED_HOOKS.append(hook)


def on_payment_intent_requires_action(hook) -> None:
    _REQUIRES_ACTION_HOOKS.append(hook)


def payment_intent_owner(check) -> None:
    _OWNERS.append(check)


def payment_intent_ended_by_owner(check) -> None:
    _ENDED_CHECKS.append(check)


def on_card_detached(*hooks) -> None:
    _DETACHED_HOOKS.extend(hooks)


def _timeline_add(payment_intent: PaymentIntent, kind: str, message: str = "") -> None:
    insert(new(PaymentTimelineEntry, payment_intent=payment_intent, kind=kind, message=message[:500]))


@transaction.atomic
def payment_intent_create(**params) -> PaymentIntent:
    """``payment_intent_make`` in a transaction of its own (a savepoint inside a caller's)."""
    return payment_intent_make(**params)


def payment_intent_make(
    *,
    merchant,
    livemode: bool,
    amount: int,
    currency: str,
    customer: Customer | None = None,
    payment_method: PaymentMethod | None = None,
    description: str | None = None,
    receipt_email: str | None = None,
    receipt_language: str | None = None,
    setup_future_usage: str | None = None,
    metadata=None,
    now: datetime,
) -> PaymentIntent:
    """A PaymentIntent, made at ``now``: a test clock's customer's is dated on the clock (``customer_now``), as its
    invoices are. Its timeline, cancellation and the processor's own dates stay on the wall clock. Made as part of
    the caller's transaction, which it must be inside (invoicing's ``_payment_open``: its own transaction or
    savepoint undoes it on a refusal, or, held in a renewal's, nothing after it refuses); ``payment_intent_create``
    makes one in its own."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_intent_make is part of its caller's transaction: call it inside one")  # a bug
    currency = currency.lower()
    money.check(amount, currency, param="amount", minimum=1)
    if setup_future_usage not in (None, "off_session", "on_session"):
        raise InvalidRequest("setup_future_usage must be off_session or on_session.", param="setup_future_usage")
    if payment_method is not None and payment_method.customer_id is None:
        raise InvalidRequest(
            _not_reusable(payment_method), code="payment_method_unexpected_state", param="payment_method"
        )
    if payment_method is not None and payment_method.customer_id != getattr(customer, "pk", None):
        raise InvalidRequest(
            "The payment method belongs to another customer; pass that customer.", param="payment_method"
        )
    pid = public_id(PaymentIntent.PREFIX)
    payment_intent = insert(
        new(
            PaymentIntent,
            public_id=pid,
            merchant=merchant,
            livemode=livemode,
            amount=amount,
            currency=currency,
            customer=customer,
            payment_method=payment_method,
            status=S.REQUIRES_CONFIRMATION if payment_method else S.REQUIRES_PAYMENT_METHOD,
            description=description or None,
            setup_future_usage=setup_future_usage or None,
            receipt_email=receipt_email or None,
            receipt_language=mail.language_or_default(receipt_language) if receipt_language else "",
            client_secret=f"{pid}_secret_{random_string(24)}",
            metadata=md.merge({}, metadata),
            created=customer_now(customer=customer, now=now) if customer is not None else now,
        )
    )
    with together(with_next=True):  # sent with what follows (kassa.db): nothing needs it before
        _timeline_add(payment_intent, "created", f"{money.format_amount(amount, currency)}")
    event_emit(type="payment_intent.created", obj=payment_intent)
    return payment_intent


@transaction.atomic
def payment_intent_update(*, payment_intent: PaymentIntent, **changes) -> PaymentIntent:
    payment_intent = PaymentIntent.objects.select_for_update().get(pk=payment_intent.pk)
    for field in ("description", "receipt_email"):
        if field in changes:
            setattr(payment_intent, field, changes[field] or None)
    if "metadata" in changes:
        payment_intent.metadata = md.merge(payment_intent.metadata, changes["metadata"])
    payment_intent.save()
    return payment_intent


# --- cards ----------------------------------------------------------------------


def _processor_customer(customer: Customer, credential) -> str:
    """The customer's id at the processor, made (once) when they first pay."""
    if customer.processor_id:
        return customer.processor_id
    processor_id = gateway.customer_create(
        credential, email=customer.email, name=customer.name, kassa_id=customer.public_id
    )
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if not locked.processor_id:  # a concurrent first payment may have won; the idempotency key made it the same
            locked.processor_id = processor_id
            locked.save(update_fields=["processor_id"])
    customer.processor_id = locked.processor_id
    return customer.processor_id


def payment_method_create_from_token(
    *,
    customer: Customer,
    token: str,
    billing_details: dict | None = None,
    single_use_for: PaymentIntent | None = None,
) -> PaymentMethod:
    """Save a card (a Stripe.js token) for ``customer``; a refused card raises CardError (402).

    ``single_use_for``: the card is taken to pay that PaymentIntent (of ``customer``) only, as Stripe
    does without ``setup_future_usage``: it is not saved on the customer (``customer`` null, no
    ``payment_method.attached``), and is saved when that payment succeeds if its ``setup_future_usage``
    asks (``_card_keep``). The processor holds it on the customer either way (Kassa charges through
    the customer's processor record); a card not kept is detached there once that payment is
    settled (``payment_intent_cards_release``).
    """
    if customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    if not isinstance(token, str) or not token.startswith(("tok_", "src_", "card_")):
        raise InvalidRequest("Expected a card token (tok_…) made by Stripe.js.", param="card[token]")
    credential = processor_credential_for(customer.merchant, customer.livemode)
    processor_customer = _processor_customer(customer, credential)
    pm_id = public_id(PaymentMethod.PREFIX)
    card = gateway.card_attach(
        credential, customer_id=processor_customer, token=token, idempotency_key=f"{pm_id}-attach"
    )
    with transaction.atomic():
        payment_method = PaymentMethod.objects.create(
            public_id=pm_id,
            merchant=customer.merchant,
            livemode=customer.livemode,
            customer=None if single_use_for is not None else customer,
            single_use_for=single_use_for,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
            billing_details=billing_details or {},
            processor_id=card.id,
            processor_customer=processor_customer,
        )
        if single_use_for is None:
            # Saved on the customer as it is made: Stripe's attach, and its event.
            event_emit(type="payment_method.attached", obj=payment_method)
    return payment_method


def _card_keep(payment_intent: PaymentIntent) -> None:
    """A payment with ``setup_future_usage`` succeeded: its single-use card is saved on its customer (same transaction).

    As at Stripe, where the card is attached to the customer once the payment succeeds
    (https://docs.stripe.com/payments/save-during-payment), with ``payment_method.attached``.
    """
    if not payment_intent.setup_future_usage or payment_intent.payment_method_id is None:
        return
    card = PaymentMethod.objects.select_for_update().get(pk=payment_intent.payment_method_id)
    if card.customer_id is not None or card.single_use_for_id != payment_intent.pk:
        return  # already saved (a repeated success), or a saved card charged again
    before = render(card)
    card.customer_id = payment_intent.customer_id
    card.single_use_for = None  # a saved card now: once detached, it says so (DETACHED), not "used once"
    card.save(update_fields=["customer", "single_use_for"])
    event_emit(type="payment_method.attached", obj=card, before=before)


DETACHED = (
    "This PaymentMethod was detached from a customer and may not be used again. "
    "Save the card again (a new token) to use it."
)
# Stripe's words for a card used once without being saved
# (https://docs.stripe.com/payments/payment-methods#reuse-payment-methods).
SINGLE_USE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment. "
    "It may not be used again. To use a card several times, save it on the customer first "
    "(payment_intent_data[setup_future_usage], a setup-mode checkout session, or POST /v1/payment_methods)."
)


def payment_intent_cards_release_later(payment_intent: PaymentIntent) -> None:
    """Once this transaction commits, a task detaches the PaymentIntent's single-use cards at the processor.

    Called when the PaymentIntent is settled (succeeded, canceled, or ended by its owner); the task
    (``billing.tasks.payment_intent_cards_release``) re-checks that and calls ``payment_intent_cards_release``.
    """
    enqueue_on_commit("billing.tasks.payment_intent_cards_release", payment_intent.pk)


def _settled(payment_intent: PaymentIntent) -> bool:
    """Nothing can charge this PaymentIntent again: it succeeded, was canceled, or its owner ended it."""
    if payment_intent.status in (S.SUCCEEDED, S.CANCELED):
        return True
    if (
        payment_intent.status in (S.REQUIRES_ACTION, S.PROCESSING)
        or payment_intent.attempts.filter(
            status__in=[PaymentAttempt.Status.PENDING, PaymentAttempt.Status.ERRORED]
        ).exists()
    ):
        return False
    return any(check(payment_intent=payment_intent) for check in _ENDED_CHECKS)


def payment_intent_cards_release(*, payment_intent: PaymentIntent) -> int:
    """Detach at the processor the cards that were taken for this settled PaymentIntent only; answer how many.

    As at Stripe, a card given for one payment without ``setup_future_usage`` is not kept: Kassa
    holds it on the processor's customer only to charge through it, so once the payment is settled
    it is removed from there (a card that payment kept on its customer is not touched). Outside any
    transaction, one processor call per card; a card the processor no longer has counts as removed,
    so running it again is safe. A processor error is raised (the task retries).
    """
    if not _settled(payment_intent):
        return 0
    cards = PaymentMethod.objects.filter(single_use_for=payment_intent, customer__isnull=True).order_by("id")
    if not cards:
        return 0
    credential = processor_credential_for(payment_intent.merchant, payment_intent.livemode)
    fallback = payment_intent.customer.processor_id if payment_intent.customer_id else ""
    released = 0
    for card in cards:
        holder = card.processor_customer or fallback
        if not holder:
            continue  # never held on a processor customer: nothing to remove
        gateway.card_detach(credential, customer_id=holder, card_id=card.processor_id)
        released += 1
    return released


def _not_reusable(payment_method: PaymentMethod) -> str:
    return SINGLE_USE if payment_method.single_use_for_id is not None else DETACHED


def payment_method_attach(*, payment_method: PaymentMethod, customer: Customer) -> PaymentMethod:
    """Stripe's ``attach``, for cards that Kassa always saves on a customer as it makes them.

    ``payment_methods.create`` already attaches (Kassa has no unattached cards:
    the processor holds each card on its customer), so attaching again to the
    same customer answers the card unchanged, as Stripe does. Another customer's
    card, or one detached earlier, is refused as at Stripe: a card belongs to one
    customer, and a detached one is never used again
    (https://docs.stripe.com/api/payment_methods/detach).
    """
    if customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    if payment_method.customer_id is None:
        raise InvalidRequest(_not_reusable(payment_method), code="payment_method_unexpected_state")
    if payment_method.customer_id != customer.pk:
        raise InvalidRequest(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
            param="customer",
        )
    return payment_method


def payment_method_detach(*, payment_method: PaymentMethod) -> PaymentMethod:
    """Remove a saved card from its customer, at the processor first; it can never be used again.

    The processor is asked outside any transaction (a card it no longer has
    counts as removed, so a retry is safe); then, in one transaction, what
    names the card as its default stops naming it, each with its event (its
    owners' hooks, ``on_card_detached``: unpaid invoices, subscriptions), and
    under the customer's and the card's row locks the card loses its customer,
    stops being the customer's default if it was (``customer.updated``) and
    ``payment_method.detached`` is sent. So a detached card is nobody's default,
    and the next charge takes the next card in line (the customer's default).
    """
    if payment_method.customer_id is None:
        raise InvalidRequest(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    customer = payment_method.customer
    credential = processor_credential_for(payment_method.merchant, payment_method.livemode)
    gateway.card_detach(credential, customer_id=customer.processor_id or "", card_id=payment_method.processor_id)
    with transaction.atomic():
        for hook in _DETACHED_HOOKS:
            hook(payment_method=payment_method)
        # The customer first, as customers.update locks it before the card: no deadlock between the two.
        locked_customer = Customer.objects.select_for_update().get(pk=customer.pk)
        locked = PaymentMethod.objects.select_for_update().get(pk=payment_method.pk)
        if locked.customer_id is None:
            return locked  # a concurrent detach recorded it
        if locked_customer.default_payment_method_id == locked.pk:
            before_customer = render(locked_customer)
            locked_customer.default_payment_method = None
            locked_customer.save(update_fields=["default_payment_method"])
            event_emit(type="customer.updated", obj=locked_customer, before=before_customer)
        before = render(locked)
        locked.customer = None
        locked.save(update_fields=["customer"])
        event_emit(type="payment_method.detached", obj=locked, before=before)
    return locked


# --- confirming -------------------------------------------------------------------


def payment_attempt_made(attempt_key: str) -> PaymentAttempt | None:
    """The attempt an owner made under its own ``attempt_key`` (``payment_intent_confirm``), if it was made."""
    return PaymentAttempt.objects.filter(public_id=attempt_key).first()


def payment_attempt_replayable(attempt: PaymentAttempt) -> bool:
    """Made again, under its own key, by its owner's next try: its answer was lost (``errored``), or the processor
    has no record of it (the reconciler found its request never got there: nothing charged, nothing declined)."""
    if attempt.processor_payment_intent_id:
        return False
    no_record = attempt.status == PaymentAttempt.Status.FAILED and attempt.error_code == NO_RECORD
    return attempt.status == PaymentAttempt.Status.ERRORED or no_record


def _attempt_to_replay(
    payment_intent: PaymentIntent, latest: PaymentAttempt | None, keyed: PaymentAttempt | None
) -> PaymentAttempt | None:
    """The attempt to make again instead of a new one. An attempt whose outcome is unknown is tried again under
    its own key and with exactly its own parameters (its card, not a new one): the processor replays it, never
    charges twice. So is the owner's attempt the processor has no record of (the reconciler found its request
    never got there): nothing was charged and nothing was declined, so its owner (dunning) makes it again under
    its own key rather than recording a failure nobody's card had, even when another payment of the same
    PaymentIntent (by hand, declined) came after it. ``keyed``: the attempt made under the owner's key, if any."""
    if latest is not None and latest.status == PaymentAttempt.Status.ERRORED and payment_attempt_replayable(latest):
        return latest
    if keyed is None or keyed.payment_intent_id != payment_intent.pk:
        return None
    return keyed if payment_attempt_replayable(keyed) else None


def _begin_attempt(
    payment_intent: PaymentIntent,
    payment_method: PaymentMethod | None,
    *,
    off_session: bool = False,
    attempt_key: str | None = None,
) -> tuple[PaymentIntent, PaymentAttempt, bool]:
    """Phase 1: lock, check, record the attempt, commit. The flag: the attempt is one whose answer was lost, made
    again (``errored``)."""
    with transaction.atomic():
        # Its customer comes with it (not locked: ``of`` self): the processor's customer is read from it.
        locked = (
            PaymentIntent.objects.select_for_update(of=("self",)).select_related("customer").get(pk=payment_intent.pk)
        )
        if locked.status == S.SUCCEEDED:
            raise InvalidRequest(
                "This PaymentIntent has already succeeded.",
                code="payment_intent_unexpected_state",
                param="payment_intent",
            )
        if locked.status == S.CANCELED:
            raise InvalidRequest(
                "This PaymentIntent was canceled.", code="payment_intent_unexpected_state", param="payment_intent"
            )
        latest = locked.attempts.order_by("-id").first()
        if latest is not None and latest.status == PaymentAttempt.Status.PENDING:
            raise IdempotencyConflict(
                "A payment for this is already in progress. Wait for it to finish.", code="payment_in_progress"
            )
        if latest is not None and latest.status == PaymentAttempt.Status.REQUIRES_ACTION:
            raise InvalidRequest(
                "This payment is waiting for the card holder's authentication (3-D Secure).",
                code="payment_intent_unexpected_state",
            )
        if payment_method is not None:
            locked.payment_method = payment_method
        if locked.payment_method is None:
            raise InvalidRequest(
                "You must provide a payment method to confirm.", code="parameter_missing", param="payment_method"
            )
        keyed = payment_attempt_made(attempt_key) if attempt_key is not None else None
        replay = _attempt_to_replay(locked, latest, keyed)
        if replay is not None:
            attempt = replay
            lost = attempt.status == PaymentAttempt.Status.ERRORED
            attempt.status = PaymentAttempt.Status.PENDING
            attempt.error_code = attempt.error_message = ""
            attempt.save(update_fields=["status", "error_code", "error_message", "updated"])
            locked.payment_method = attempt.payment_method
        else:
            if keyed is not None:
                # The owner's attempt of this number was made already (a repeated run): never a second charge.
                raise IdempotencyConflict(
                    "This payment attempt was already made.", code="payment_attempt_already_made", param="attempt"
                )
            _card_check(locked)
            attempt = PaymentAttempt.objects.create(
                public_id=attempt_key or public_id(PaymentAttempt.PREFIX),
                payment_intent=locked,
                payment_method=locked.payment_method,
                off_session=off_session,
            )
            lost = False
        locked.save(update_fields=["payment_method", "updated"])
    return locked, attempt, lost


def _card_check(payment_intent: PaymentIntent) -> None:
    """The card as it is now (a detach may have committed since it was read): a detached card, or one taken for
    another payment, is never charged, as at Stripe."""
    card = select_one(PaymentMethod, "id = %s", [payment_intent.payment_method_id])  # a statement built once
    _card_rule(card, customer_id=payment_intent.customer_id, for_pk=payment_intent.pk)


def _card_rule(card: PaymentMethod, *, customer_id: int, for_pk: int | None) -> None:
    """``_card_check``'s rule for ``card`` as read, charged for customer ``customer_id`` by the PaymentIntent
    ``for_pk`` (None: one not made yet, for which no card can have been taken)."""
    owner_id, single_use_for = card.customer_id, card.single_use_for_id
    if owner_id is None and for_pk is not None and single_use_for == for_pk:
        owner_id = customer_id  # taken for this payment: held on its customer at the processor
    elif owner_id is None:
        message = SINGLE_USE if single_use_for is not None else DETACHED
        raise InvalidRequest(message, code="payment_method_unexpected_state", param="payment_method")
    if owner_id != customer_id:
        raise InvalidRequest(
            "The payment method must be saved to this PaymentIntent's customer.", param="payment_method"
        )


def _outcome_set(attempt: PaymentAttempt, result: gateway.ProcessorPayment, current: str) -> str:
    """Set the processor's answer on the attempt (the caller writes it); return the status it implies for the
    PaymentIntent."""
    if result.id and not attempt.processor_payment_intent_id:
        attempt.processor_payment_intent_id = result.id
    if result.status in ("failed", S.REQUIRES_PAYMENT_METHOD):
        attempt.status = PaymentAttempt.Status.FAILED
        attempt.error_code = result.error_code or "card_declined"
        attempt.decline_code = result.decline_code or ""
        attempt.error_message = result.error_message or gateway.CARD_MESSAGES["card_declined"]
        new_status = S.REQUIRES_PAYMENT_METHOD
    elif result.status == S.REQUIRES_ACTION:
        attempt.status = PaymentAttempt.Status.REQUIRES_ACTION
        new_status = S.REQUIRES_ACTION
    elif result.status == S.SUCCEEDED:
        attempt.status = PaymentAttempt.Status.SUCCEEDED
        new_status = S.SUCCEEDED
    elif result.status == S.CANCELED:
        attempt.status = PaymentAttempt.Status.FAILED
        attempt.error_message = "The processor canceled this payment."
        new_status = S.CANCELED
    else:
        new_status = S.PROCESSING if result.status == S.PROCESSING else current
    return new_status


#: An attempt's statuses once its answer is recorded.
_ATTEMPT_SETTLED = frozenset({PaymentAttempt.Status.FAILED, PaymentAttempt.Status.SUCCEEDED})


def _record_processor_answer(
    payment_intent: PaymentIntent, result: gateway.ProcessorPayment, attempt: PaymentAttempt, *, begun: bool = False
) -> PaymentIntent:
    """Phase 3: record the processor's answer under the row lock, forward only. ``begun``: the answer to the attempt
    ``payment_attempt_begin_new`` made with its PaymentIntent (a renewal's charge)."""
    with transaction.atomic(), events_gathered():  # a paid invoice's three events in one INSERT
        locked = _answer_lock(payment_intent)
        # The attempt, and whether a newer one was made since, in one read (both locked; the PaymentIntent's lock
        # already keeps every other writer of its attempts out).
        found = select(
            PaymentAttempt,
            "payment_intent_id = %s AND id >= %s",
            [locked.pk, attempt.pk],
            tail="ORDER BY id LIMIT 2",
            lock=True,
        )
        if not found or found[0].pk != attempt.pk:
            raise RuntimeError(f"Attempt {attempt.public_id} is not one of {locked.public_id}'s")  # never: a bug
        # A begun attempt still pending and untouched (its ``updated`` as it was made) as its own confirm records it
        # has been in flight since the PaymentIntent and it were committed together, with a saved card: no card can
        # have been taken for this PaymentIntent alone (invoicing refuses a payer's card while a payment is in
        # flight), so none is looked for to release (a statement a renewal). Recorded by anyone else first, or made
        # again after the reconciler found it stuck (``errored``: a payer may have paid meanwhile with a card of
        # their own, and the replay saves it pending again with a new ``updated``), it is looked for as for any other.
        made = attempt.updated
        attempt, after = found[0], found[1:]
        # Both rows as read under their locks: what this answer changes of them is what is written (a PaymentIntent's
        # row is some twenty columns, of which an answer sets a few).
        stored, attempt_stored = snapshot(locked), snapshot(attempt)
        first = begun and attempt.status == PaymentAttempt.Status.PENDING and attempt.updated == made
        late_success = result.status == S.SUCCEEDED and attempt.status == PaymentAttempt.Status.FAILED
        if attempt.status in _ATTEMPT_SETTLED and not late_success:
            # Already recorded (a duplicate or late answer): applying it again changes nothing.
            return locked
        new_status = _outcome_set(attempt, result, locked.status)
        if after and new_status != S.SUCCEEDED:
            update_changed(attempt, attempt_stored)
            return locked  # a stale answer about an older attempt changes nothing
        if new_status != locked.status and new_status not in TRANSITIONS[locked.status]:
            logger.info("Ignoring %s -> %s for %s", locked.status, new_status, locked.public_id)
            update_changed(attempt, attempt_stored)
            return locked
        previous = locked.status
        locked.status = new_status
        locked.processor_id = result.id or locked.processor_id
        if new_status == S.SUCCEEDED and previous == S.CANCELED:
            logger.error("Payment %s succeeded at the processor after it was canceled", locked.public_id)
            _timeline_add(locked, "succeeded_after_cancel", "Stripe took the payment while it was being canceled")
            locked.canceled_at = None
            locked.cancellation_reason = None
        entry = None  # the timeline's entry for this answer, written with the attempt and the PaymentIntent
        if new_status == S.SUCCEEDED:
            _card_keep(locked)
            locked.amount_received = locked.amount
            locked.latest_charge = result.latest_charge or locked.latest_charge
            locked.last_payment_error = None
            if previous != S.SUCCEEDED:
                entry = ("succeeded", f"Stripe confirmed {money.format_amount(locked.amount, locked.currency)}")
        elif new_status == S.REQUIRES_ACTION and previous != S.REQUIRES_ACTION:
            entry = ("requires_action", "The card asked for 3-D Secure authentication")
        elif new_status == S.REQUIRES_PAYMENT_METHOD and attempt.status == PaymentAttempt.Status.FAILED:
            locked.last_payment_error = {
                "type": "invalid_request_error" if attempt.error_code == "processor_refused" else "card_error",
                "code": attempt.error_code,
                "decline_code": attempt.decline_code or None,
                "message": attempt.error_message,
            }
            entry = ("payment_failed", f"{attempt.error_message} ({attempt.error_code})")
        elif new_status == S.CANCELED:
            locked.canceled_at = timezone.now()
        # The attempt, its PaymentIntent and its timeline's entry in one statement (kassa.db), sent with what follows
        # (a paid invoice's read, or the COMMIT).
        with together(with_next=True):
            update_changed(attempt, attempt_stored)
            update_changed(locked, stored)
            if entry is not None:
                _timeline_add(locked, *entry)
        _announce(locked, previous=previous, failed=attempt.status == PaymentAttempt.Status.FAILED)
        settles = new_status in (S.SUCCEEDED, S.CANCELED) and previous != new_status
        if settles and not first and _has_single_use_cards(locked):
            payment_intent_cards_release_later(locked)
    return locked


#: What recording an answer reads besides the PaymentIntent: its customer and card (its event shows both) and its
#: merchant (whether its emails are due, _emails_queue).
_ANSWER_RELATED = ("customer", "payment_method", "merchant")


def _answer_lock(payment_intent: PaymentIntent) -> PaymentIntent:
    """The PaymentIntent locked and read again, with its customer, card and merchant: those the caller's copy holds
    already (a renewal's, made in its run) are taken from it where the row still names them, the others read
    with it (not locked: ``of`` self). A renewal's answer then reads one row, not four tables joined. What is read
    of them here: the customer's and the card's ids (its event), the merchant's receipts and notices settings
    (its emails: a renewal's as of its batch's start, as every read ``kassa.batch`` shares; a switch made during
    a batch applies from the next one, and a receipt switched off is checked again as it is sent)."""
    held = {}
    for name in _ANSWER_RELATED:
        field = PaymentIntent._meta.get_field(name)
        if field.is_cached(payment_intent) and field.get_cached_value(payment_intent) is not None:
            held[name] = field.get_cached_value(payment_intent)
    missing = [name for name in _ANSWER_RELATED if name not in held]
    if missing:
        locking = PaymentIntent.objects.select_for_update(of=("self",)).select_related(*missing)
        locked = locking.get(pk=payment_intent.pk)
    else:  # a renewal's: its one row, through a statement built once
        locked = select_one(PaymentIntent, "id = %s", [payment_intent.pk], lock=True)
    for name, obj in held.items():
        if getattr(locked, f"{name}_id") == obj.pk:
            setattr(locked, name, obj)  # else read when asked for: the row names another one now
    return locked


def _has_single_use_cards(payment_intent: PaymentIntent) -> bool:
    """Cards taken for this PaymentIntent only (none when it charged a saved card, as a renewal does): then
    there is something for ``payment_intent_cards_release`` to detach, and a task is worth queuing."""
    # Through a statement built once (kassa.db): every successful renewal asks.
    return bool(
        select(PaymentMethod, "single_use_for_id = %s AND customer_id IS NULL", [payment_intent.pk], tail="LIMIT 1")
    )


def _announce(payment_intent: PaymentIntent, *, previous: str, failed: bool) -> None:
    """The recorded answer's event for the merchant, and the owners' hooks on a success (same transaction)."""
    status = payment_intent.status
    event_type = _EVENT_TYPES.get(status) if status != previous else None
    if status == S.REQUIRES_PAYMENT_METHOD and failed:
        event_type = "payment_intent.payment_failed"
    if event_type:
        event_emit(type=event_type, obj=payment_intent)
    if event_type == "payment_intent.payment_failed":
        _emails_queue(payment_intent, "failed")
        for hook in _FAILED_HOOKS:
            hook(payment_intent=payment_intent)
    if event_type == "payment_intent.requires_action":
        for hook in _REQUIRES_ACTION_HOOKS:
            hook(payment_intent=payment_intent)
    if status == S.SUCCEEDED:
        if previous != S.SUCCEEDED:
            _emails_queue(payment_intent, "succeeded")
        for hook in _SUCCEEDED_HOOKS:
            if hook(payment_intent=payment_intent):
                break  # its owner: no other hook owns it


#: Inside a batch (``kassa.batch``: a renewal run), its payments' emails are queued together this often (seconds).
EMAILS_GATHERED_EVERY = 1.0


def _emails_queue(payment_intent: PaymentIntent, outcome: str) -> None:
    """The receipt and members' notices (billing/payments/emails.py), sent by a task once this commits; no task
    when there is nobody to email. Inside a batch (a renewal run), one task for the batch's payments of each
    second and one at its end, not one a payment: a task per renewal was about a fifth of a renewal day's CPU, and
    the task of many reads what they share once (emails.payment_emails_send_many). A worker killed inside the batch
    loses the emails of at most that second's payments (the payments stand; no email is ever sent twice)."""
    if not emails.payment_emails_due(payment_intent=payment_intent, outcome=outcome):
        return
    gathered = batch.state("billing.payment_emails", _emails_gathered)
    if gathered is None:
        email_task_queue("billing.tasks.payment_emails_send", payment_intent.pk, outcome)
    else:
        gathered.add([payment_intent.pk, outcome])


def _emails_gathered() -> batch.Gathered:
    return batch.Gathered(
        lambda outcomes: email_task_queue("billing.tasks.payment_emails_send_many", outcomes),
        every=EMAILS_GATHERED_EVERY,
    )


def payment_intent_in_flight(payment_intent: PaymentIntent) -> bool:
    """An attempt is being made (pending) or waits for 3-D Secure: nothing else may start meanwhile."""
    return _attempt_in_flight(payment_intent)


def _attempt_in_flight(payment_intent: PaymentIntent) -> bool:
    latest = payment_intent.attempts.order_by("-id").first()
    return latest is not None and latest.status in (
        PaymentAttempt.Status.PENDING,
        PaymentAttempt.Status.REQUIRES_ACTION,
    )


def payment_intent_payer_may_change(payment_intent: PaymentIntent | None) -> bool:
    """No payment yet, or one waiting for a card with nothing in flight (a hint; the setter re-checks).

    An attempt whose outcome is unknown (no answer from the processor) counts as in flight: the next
    confirm replays it under its own key with its own card and customer, and may find it charged.
    """
    if payment_intent is None:
        return True
    if payment_intent.status != S.REQUIRES_PAYMENT_METHOD:
        return False
    latest = payment_intent.attempts.order_by("-id").first()
    if latest is None:
        return True
    unknown = latest.status == PaymentAttempt.Status.ERRORED and latest.processor_payment_intent_id == ""
    return not (unknown or latest.status in (PaymentAttempt.Status.PENDING, PaymentAttempt.Status.REQUIRES_ACTION))


def payment_intent_payer_set(*, payment_intent: PaymentIntent, customer: Customer | None, receipt_email: str | None):
    """Who pays and where the receipt goes, as the payer gave them for the attempt about to be made.

    A payer declined with one email who pays with another gets the receipt at
    the second. Nothing changes once the payment succeeded or while an attempt
    is in flight (another tab); the processor's PaymentIntent is made per
    attempt, so the next attempt charges for the customer set here.
    """
    locked = PaymentIntent.objects.select_for_update().get(pk=payment_intent.pk)
    if not payment_intent_payer_may_change(locked):
        return locked
    changes = {}
    if locked.customer_id != getattr(customer, "pk", None):
        changes["customer"] = customer
        changes["payment_method"] = None  # the last card was the other customer's
    if (locked.receipt_email or None) != (receipt_email or None):
        changes["receipt_email"] = receipt_email or None
    if changes:
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*changes, "updated"])
    return locked


def payment_intent_card_refused(*, payment_intent: PaymentIntent, error: CardError) -> PaymentIntent:
    """A card refused before the payment could be tried (Stripe refused to attach it): recorded as Stripe does.

    The PaymentIntent stays ``requires_payment_method`` with the decline in
    ``last_payment_error``, its timeline says so, and the merchant gets
    ``payment_intent.payment_failed``, as when a confirm is declined.
    """
    with transaction.atomic():
        locked = PaymentIntent.objects.select_for_update().get(pk=payment_intent.pk)
        if locked.status != S.REQUIRES_PAYMENT_METHOD or _attempt_in_flight(locked):
            return locked  # paid or being paid meanwhile (another tab): this refusal changes nothing
        locked.last_payment_error = {
            "type": "card_error",
            "code": error.code or "card_declined",
            "decline_code": error.extra.get("decline_code"),
            "message": error.message,
        }
        locked.save(update_fields=["last_payment_error", "updated"])
        _timeline_add(locked, "payment_failed", f"{error.message} ({error.code or 'card_declined'}, card not saved)")
        event_emit(type="payment_intent.payment_failed", obj=locked)
        _emails_queue(locked, "failed")
        for hook in _FAILED_HOOKS:
            hook(payment_intent=locked)
    return locked


def payment_attempt_begin_check(*, merchant, livemode: bool, card_read_now: PaymentMethod, customer: Customer) -> None:
    """What an attempt begun in its owner's transaction (``payment_attempt_begin_new``) is refused for, asked by the
    owner before it writes anything of the payment (invoicing's ``_payment_open``, held), so that a refusal leaves
    nothing to undo and needs no savepoint: the merchant's Stripe credentials (an attempt begun without them would
    wait for ever), and the card as it is now (detached or taken for another payment: refused), to be charged for
    ``customer``. ``card_read_now``: the card as the owner read it a moment ago in its transaction, by its id, not
    a copy read earlier (invoicing's ``_card(read_now=True)``): read once there, not a second time here."""
    processor_credential_for(merchant, livemode)
    _card_rule(card_read_now, customer_id=customer.pk, for_pk=None)


def payment_attempt_begin_new(*, payment_intent: PaymentIntent, attempt_key: str, off_session: bool) -> PaymentAttempt:
    """``payment_intent_confirm``'s first phase for a PaymentIntent its owner made a moment ago in the transaction it
    is still in (a renewal's charge: billing/invoices' ``invoice_charge_begin``): its first attempt, with the saved
    card it was made with, recorded in that transaction. Nobody else can see this PaymentIntent before that
    transaction commits, so nobody can have made an attempt of it, settled or canceled it: unlike
    ``_begin_attempt``, nothing to lock and read again. What others share with it (the merchant's credentials, the
    card as it is now) the owner checked before making the PaymentIntent (``payment_attempt_begin_check``): this
    refuses nothing. Confirm it once committed: ``payment_intent_confirm(payment_intent=…, begun=attempt)``."""
    return insert(
        new(
            PaymentAttempt,
            public_id=attempt_key,
            payment_intent=payment_intent,
            payment_method=payment_intent.payment_method,
            off_session=off_session,
        )
    )


def payment_intent_confirm(
    *,
    payment_intent: PaymentIntent,
    payment_method: PaymentMethod | None = None,
    off_session: bool = False,
    attempt_key: str | None = None,
    begun: PaymentAttempt | None = None,
) -> PaymentIntent:
    """Confirm with the processor, two-phase. A refused card leaves ``requires_payment_method`` and raises CardError.

    ``off_session``: the payer is not there (a saved card charged later), as Stripe's: a card that asks
    for authentication is refused (``authentication_required``) rather than waiting for 3-D Secure.

    ``attempt_key``: the owner's own id for this attempt (``payatt_…``, unguessable, derived from its rows, e.g. an
    invoice and its retry number), used as the processor's idempotency key: an attempt of that key already made
    is refused (409 ``payment_attempt_already_made``), so a run repeated by a scheduler never charges twice.

    ``begun``: the attempt ``payment_attempt_begin_new`` recorded and its transaction committed: this is its charge.
    """
    credential = processor_credential_for(payment_intent.merchant, payment_intent.livemode)
    if begun is None:
        payment_intent, attempt, lost = _begin_attempt(
            payment_intent, payment_method, off_session=off_session, attempt_key=attempt_key
        )
    else:
        attempt, lost = begun, False
    try:
        processor_customer = _processor_customer(payment_intent.customer, credential)
        # An attempt whose answer was lost asks first what it did (its ``kassa_attempt`` at the processor): a charge
        # made is recorded, never made again, even where the key is no longer replayed (Stripe keeps idempotency
        # keys for 24 hours; localstripe keeps none).
        result = _processor_find(payment_intent, attempt, credential, processor_customer) if lost else None
        result = result or gateway.payment_intent_confirm(
            credential,
            amount=payment_intent.amount,
            currency=payment_intent.currency,
            customer_id=processor_customer,
            payment_method_id=attempt.payment_method.processor_id,
            idempotency_key=attempt.public_id,
            kassa_id=payment_intent.public_id,
            attempt_id=attempt.public_id,
            off_session=attempt.off_session,
            setup_future_usage=payment_intent.setup_future_usage,
        )
    except Exception as exc:
        # Outcome unknown (no answer, or Kassa failed mid-call): the next confirm retries this
        # attempt under the same key with the same card, which cannot charge twice.
        PaymentAttempt.objects.filter(pk=attempt.pk).update(
            status=PaymentAttempt.Status.ERRORED, error_message="No answer from the processor: outcome unknown."
        )
        if isinstance(exc, ProcessorError):
            raise ProcessorError(
                "The payment processor did not answer, so the outcome is not known yet. Confirming this "
                "payment again is safe: it cannot charge twice.",
                code="processor_unavailable",
                payment_intent=payment_intent.public_id,
            ) from exc
        raise
    payment_intent = _record_processor_answer(payment_intent, result, attempt, begun=begun is not None)
    if payment_intent.status == S.REQUIRES_PAYMENT_METHOD and payment_intent.last_payment_error:
        error = payment_intent.last_payment_error
        if error["code"] == "processor_refused":
            raise InvalidRequest(error["message"], code="processor_refused", payment_intent=payment_intent.public_id)
        extra = {"decline_code": error["decline_code"]} if error.get("decline_code") else {}
        raise CardError(error["message"], code=error["code"], payment_intent=payment_intent.public_id, **extra)
    return payment_intent


def payment_intent_create_and_confirm(
    *, merchant, livemode: bool, off_session: bool = False, **params
) -> PaymentIntent:
    """``payment_intents.create`` with ``confirm=true``: made (and committed), then confirmed two-phase.

    The credentials are checked first, so a merchant without them gets the
    clear error and no orphan PaymentIntent.
    """
    processor_credential_for(merchant, livemode)
    payment_intent = payment_intent_create(merchant=merchant, livemode=livemode, **params)
    return payment_intent_confirm(payment_intent=payment_intent, off_session=off_session)


def payment_intent_current(*, payment_intent: PaymentIntent) -> PaymentIntent:
    """The PaymentIntent as it stands, re-read from the processor while it is still moving there.

    If the processor cannot be asked, the last recorded state is the answer.
    """
    if payment_intent.status not in (S.REQUIRES_ACTION, S.PROCESSING):
        return payment_intent
    try:
        return payment_intent_refresh(payment_intent=payment_intent)
    except KassaError as exc:
        logger.warning("Could not re-read %s: %s", payment_intent.public_id, exc.message)
        return payment_intent


def processor_client_secret(payment_intent: PaymentIntent) -> str | None:
    """The processor's client secret, for Stripe.js's 3-D Secure step in the payer's browser (None if unknown)."""
    if payment_intent.status != S.REQUIRES_ACTION or not payment_intent.processor_id:
        return None
    try:
        credential = processor_credential_for(payment_intent.merchant, payment_intent.livemode)
        return gateway.payment_intent_retrieve(credential, payment_intent.processor_id).client_secret
    except KassaError as exc:
        logger.warning("No client secret for %s: %s", payment_intent.public_id, exc.message)
        return None


def _settle(payment_intent: PaymentIntent, attempt: PaymentAttempt, result: gateway.ProcessorPayment) -> PaymentIntent:
    if result.status == S.REQUIRES_PAYMENT_METHOD and not result.error_code:
        # 3-D Secure failed or was abandoned: Stripe keeps no error; say what happened.
        result = gateway.ProcessorPayment(
            id=result.id,
            status="failed",
            error_code="payment_intent_authentication_failure",
            error_message=gateway.CARD_MESSAGES["payment_intent_authentication_failure"],
        )
    return _record_processor_answer(payment_intent, result, attempt)


def payment_intent_refresh(*, payment_intent: PaymentIntent) -> PaymentIntent:
    """Re-read the processor's state and apply it (after 3-D Secure, or for a page that lost track)."""
    if not payment_intent.processor_id:
        return payment_intent
    attempt = (
        payment_intent.attempts.filter(processor_payment_intent_id=payment_intent.processor_id).order_by("-id").first()
    )
    if attempt is None:
        return payment_intent
    credential = processor_credential_for(payment_intent.merchant, payment_intent.livemode)
    return _settle(payment_intent, attempt, gateway.payment_intent_retrieve(credential, payment_intent.processor_id))


def payment_intent_sync(*, merchant, livemode: bool, processor_payment_intent_id: str) -> str:
    """Apply the processor's current state of one of its PaymentIntents (a webhook said it changed).

    The event's own copy of the object is never trusted for the state: it is
    re-read, so a duplicate, late or out-of-order event ends where an
    in-order one would, and ``_record_processor_answer`` moves only forward. The Kassa
    PaymentIntent is found by the attempt that made the processor's one, or,
    when Kassa never heard the answer to that request, by the processor
    object's metadata (the attempt it names; for a PaymentIntent made before
    attempts were named, the latest attempt without an answer). Returns what
    happened, for the event's record.
    """
    credential = processor_credential_for(merchant, livemode)
    result = gateway.payment_intent_retrieve(credential, processor_payment_intent_id)
    attempt = (
        PaymentAttempt.objects.filter(
            processor_payment_intent_id=processor_payment_intent_id,
            payment_intent__merchant=merchant,
            payment_intent__livemode=livemode,
        )
        .select_related("payment_intent")
        .order_by("-id")
        .first()
    )
    if attempt is None and result.attempt_id:
        attempt = (
            PaymentAttempt.objects.filter(
                public_id=result.attempt_id, payment_intent__merchant=merchant, payment_intent__livemode=livemode
            )
            .select_related("payment_intent")
            .first()
        )
    elif attempt is None and result.kassa_id:
        payment_intent = PaymentIntent.objects.filter(
            merchant=merchant, livemode=livemode, public_id=result.kassa_id
        ).first()
        if payment_intent is not None:
            # The confirm whose answer was lost (errored, or still pending when the event came).
            attempt = (
                payment_intent.attempts.filter(
                    status__in=[PaymentAttempt.Status.ERRORED, PaymentAttempt.Status.PENDING],
                    processor_payment_intent_id="",
                )
                .order_by("-id")
                .first()
            )
    if attempt is None:
        return f"No Kassa payment of this merchant made {processor_payment_intent_id}; nothing to do."
    payment_intent = _settle(attempt.payment_intent, attempt, result)
    return f"{payment_intent.public_id} is {payment_intent.status} (Stripe says {result.status})."


def payment_intent_cancel(
    *, payment_intent: PaymentIntent, cancellation_reason: str | None = None, from_owner: bool = False
) -> PaymentIntent:
    """Cancel an unpaid PaymentIntent. One that something else owns (a checkout session) is ended through its owner,
    which cancels it with ``from_owner=True``."""
    with transaction.atomic():
        locked = PaymentIntent.objects.select_for_update().get(pk=payment_intent.pk)
        if locked.status not in CANCELABLE:
            raise InvalidRequest(
                f"You cannot cancel this PaymentIntent because it has a status of {locked.status}.",
                code="payment_intent_unexpected_state",
            )
        for owner in () if from_owner else _OWNERS:
            refusal = owner(payment_intent=locked)
            if refusal:
                raise InvalidRequest(refusal, code="payment_intent_unexpected_state")
        if locked.attempts.filter(status__in=[PaymentAttempt.Status.PENDING, PaymentAttempt.Status.ERRORED]).exists():
            raise IdempotencyConflict(
                "A payment for this is in progress or its outcome is unknown; it cannot be canceled now.",
                code="payment_in_progress",
            )
        last_attempt = locked.attempts.order_by("-id").values_list("pk", flat=True).first()
    if locked.processor_id:
        credential = processor_credential_for(locked.merchant, locked.livemode)
        gateway.payment_intent_cancel(credential, locked.processor_id)
    with transaction.atomic():
        locked = PaymentIntent.objects.select_for_update().get(pk=payment_intent.pk)
        if locked.attempts.order_by("-id").values_list("pk", flat=True).first() != last_attempt:
            # A confirm started while the processor was being asked: it wins; nothing is canceled.
            raise IdempotencyConflict("A payment for this started meanwhile.", code="payment_in_progress")
        if locked.status in CANCELABLE:
            locked.status = S.CANCELED
            locked.canceled_at = timezone.now()
            locked.cancellation_reason = cancellation_reason
            locked.save()
            _timeline_add(locked, "canceled", cancellation_reason or "")
            event_emit(type="payment_intent.canceled", obj=locked)
            payment_intent_cards_release_later(locked)
    return locked


# --- refunds ----------------------------------------------------------------------


def refundable_amount(payment_intent: PaymentIntent) -> int:
    reserved = sum(
        payment_intent.refunds.filter(status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]).values_list(
            "amount", flat=True
        )
    )
    return payment_intent.amount_received - reserved


def refund_create(
    *,
    payment_intent: PaymentIntent,
    amount: int | None = None,
    reason: str | None = None,
    metadata=None,
    request_key: str | None = None,
) -> Refund:
    """Refund (part of) a succeeded payment; never more than what remains, even under concurrency.

    The pending refund reserves its amount in the same transaction that checks
    what remains, under the PaymentIntent's row lock; the processor is called
    after that commits.
    """
    if reason is not None and reason not in Refund.Reason.values:
        raise InvalidRequest("reason must be duplicate, fraudulent or requested_by_customer.", param="reason")
    credential = processor_credential_for(payment_intent.merchant, payment_intent.livemode)
    with transaction.atomic():
        locked = PaymentIntent.objects.select_for_update().get(pk=payment_intent.pk)
        if request_key:
            earlier = locked.refunds.filter(request_key=request_key).first()
            if earlier is not None:
                return earlier  # the same form submitted twice: one refund
        if locked.status != S.SUCCEEDED or not locked.processor_id:
            raise InvalidRequest(
                "Only a succeeded payment can be refunded.", code="charge_not_refundable", param="payment_intent"
            )
        remaining = refundable_amount(locked)
        if remaining <= 0:
            raise InvalidRequest("This payment has already been refunded in full.", code="charge_already_refunded")
        amount = remaining if amount is None else amount
        if amount < 1:
            raise InvalidRequest("A refund must be at least 1.", code="amount_too_small", param="amount")
        if amount > remaining:
            raise InvalidRequest(
                f"Refund amount ({money.format_amount(amount, locked.currency)}) is greater than the unrefunded "
                f"amount ({money.format_amount(remaining, locked.currency)}).",
                code="amount_too_large",
                param="amount",
            )
        refund = Refund.objects.create(
            public_id=public_id(Refund.PREFIX),
            merchant=locked.merchant,
            livemode=locked.livemode,
            payment_intent=locked,
            amount=amount,
            currency=locked.currency,
            reason=reason,
            metadata=md.merge({}, metadata),
            request_key=request_key or None,
        )
        _timeline_add(
            locked, "refund_created", f"{money.format_amount(amount, locked.currency)} ({reason or 'no reason'})"
        )
        event_emit(type="refund.created", obj=refund)
    try:
        result = gateway.refund_create(
            credential,
            payment_intent_id=locked.processor_id,
            amount=amount,
            idempotency_key=refund.public_id,
            kassa_id=refund.public_id,
        )
    except KassaError as exc:
        # Outcome unknown: the refund stays pending, and keeps its amount reserved, until it is known.
        logger.warning("Refund %s left pending: the processor did not answer", refund.public_id)
        raise ProcessorError(
            f"The payment processor did not answer; refund {refund.public_id} stays pending until its outcome "
            "is known, and its amount stays reserved.",
            code="processor_unavailable",
        ) from exc
    return _refund_answered(refund, result)


_REFUND_ENDED = (Refund.Status.SUCCEEDED, Refund.Status.FAILED, Refund.Status.CANCELED)


def _refund_answered(refund: Refund, result: gateway.ProcessorRefund) -> Refund:
    """Record the processor's answer about a pending refund, under its row lock and forward only: the processor's id,
    and where the refund ended if it has (a failed or canceled one frees its amount), with its timeline entry and
    events. A refund no longer pending is left as it is, but for two answers that only the processor can give:

    - one the reconciler gave up on (``REFUND_NOT_MADE``) that the processor says it made after all: the money went
      back, so the refund succeeded (logged as an error);
    - one that succeeded and that the processor, read again (its ``refund.*`` webhook), says failed: a card's bank
      can return a refund days later (Stripe: "refunds can fail after succeeding"), so the money did not reach
      the payer, the refund failed and its amount is refundable again (logged)."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment_intent").get(pk=refund.pk)
        given_up = refund.status == Refund.Status.FAILED and refund.failure_reason == REFUND_NOT_MADE
        returned = (
            refund.status == Refund.Status.SUCCEEDED
            and result.status in (Refund.Status.FAILED, Refund.Status.CANCELED)
            and result.id is not None
            and result.id == refund.processor_id
        )
        if given_up and result.status == Refund.Status.SUCCEEDED:
            logger.error("Refund %s was made at the processor after it was recorded as not made", refund.public_id)
        elif returned:
            logger.warning("Refund %s failed at the processor after it succeeded", refund.public_id)
        elif refund.status != Refund.Status.PENDING:
            return refund  # already recorded (a duplicate or late answer): applying it again changes nothing
        before = render(refund)
        refund.processor_id = result.id or refund.processor_id
        if result.status in _REFUND_ENDED:
            refund.status = result.status
            refund.failure_reason = result.failure_reason
        refund.save(update_fields=["processor_id", "status", "failure_reason"])
        amount = money.format_amount(refund.amount, refund.currency)
        if refund.status == Refund.Status.SUCCEEDED:
            _timeline_add(refund.payment_intent, "refunded", amount)
        elif refund.status != Refund.Status.PENDING:
            _timeline_add(refund.payment_intent, "refund_failed", refund.failure_reason or amount)
        _refund_events(refund, before)
    return refund


def _refund_events(refund: Refund, before: dict) -> None:
    """``refund.updated`` when its status moved, with ``refund.failed`` when it failed; ``charge.refunded`` when money
    went back."""
    if before["status"] == refund.status:
        return
    event_emit(type="refund.updated", obj=refund, before=before)
    if refund.status == Refund.Status.FAILED:
        event_emit(type="refund.failed", obj=refund)
    if refund.status == Refund.Status.FAILED or before["status"] == Refund.Status.SUCCEEDED:
        # Failed, or canceled after it succeeded: the members who asked are told (emails.refund_emails_send).
        email_task_queue("billing.tasks.refund_emails_send", refund.pk)
    if refund.status == Refund.Status.SUCCEEDED:
        payment_intent = refund.payment_intent
        event_emit(type="charge.refunded", obj=payment_intent, data_object=render(payment_intent, shape="charge"))
        email_task_queue("billing.tasks.refund_emails_send", refund.pk)


@transaction.atomic
def refund_update(*, refund: Refund, metadata=None) -> Refund:
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    before = render(refund)
    refund.metadata = md.merge(refund.metadata, metadata)
    refund.save(update_fields=["metadata"])
    event_emit(type="refund.updated", obj=refund, before=before)
    return refund


def _processor_find(
    payment_intent: PaymentIntent, attempt: PaymentAttempt, credential, processor_customer: str
) -> gateway.ProcessorPayment | None:
    """The processor's PaymentIntent this attempt made (its ``kassa_attempt``), if it made one."""
    known = frozenset(
        payment_intent.attempts.exclude(processor_payment_intent_id="").values_list(
            "processor_payment_intent_id", flat=True
        )
    )
    return gateway.payment_intent_find(
        credential,
        customer_id=processor_customer,
        attempt_id=attempt.public_id,
        kassa_id=payment_intent.public_id,
        created_since=int(attempt.created.timestamp()) - 60,
        known=known,
    )


def _lost_answer_settle(attempt: PaymentAttempt) -> bool:
    """Find what an attempt whose answer was lost did at the processor, and record it. True: a charge was found."""
    payment_intent = attempt.payment_intent
    if payment_intent.status in (S.SUCCEEDED, S.CANCELED) or payment_intent.customer is None:
        return False
    credential = processor_credential_for(payment_intent.merchant, payment_intent.livemode)
    result = None
    if payment_intent.customer.processor_id:
        result = _processor_find(payment_intent, attempt, credential, payment_intent.customer.processor_id)
    if result is None:
        PaymentAttempt.objects.filter(pk=attempt.pk, status=PaymentAttempt.Status.ERRORED).update(
            status=PaymentAttempt.Status.FAILED,
            error_code=NO_RECORD,
            error_message="The processor has no payment for this attempt: nothing was charged.",
        )
        return False
    _record_processor_answer(payment_intent, result, attempt)
    return True


def payments_reconcile(*, now: datetime, stuck_after: timedelta = timedelta(minutes=15)) -> int:
    """Beat's catch-up with the processor, for what no page or webhook settled.

    - Payments waiting on 3-D Secure or processing are re-read (a payer who
      authenticated and closed the tab has still paid).
    - Attempts left ``pending`` longer than any request can run (a killed
      worker) become ``errored``.
    - An ``errored`` attempt (its answer was lost: a killed worker, a timeout) is
      looked up at the processor by the attempt's own id in the charge's
      metadata (``kassa_attempt``; never by the PaymentIntent's alone, which an
      invoice's dunning tries share): the charge it made is recorded (and its
      owner, an invoice say, is paid through the usual hooks), or, when the
      processor has none, the attempt is marked failed with nothing charged
      (``NO_RECORD``), so a new attempt may run, or the owner's same keyed
      attempt be made again (``payment_attempt_replayable``: dunning's next
      pass, with no failure recorded or emailed).
      Either way nobody has to charge again to find out.
    - A refund whose request never had an answer (no processor id after as
      long as an attempt is given) is looked up at the processor among the
      payment's refunds by its own id in their metadata (``kassa_refund``):
      the refund found is recorded, or, when there is none, the refund failed
      with nothing refunded (``REFUND_NOT_MADE``) and its amount is freed.
    - Refunds the processor acknowledged as pending are re-read until they
      succeed or fail (a failed one frees its amount).
    Safe to run twice: every change goes through the forward-only ``_record_processor_answer``.
    """
    count = 0
    cutoff = now - stuck_after
    PaymentAttempt.objects.filter(status=PaymentAttempt.Status.PENDING, updated__lt=cutoff).update(
        status=PaymentAttempt.Status.ERRORED, error_message="Left pending: outcome unknown."
    )
    lost = PaymentAttempt.objects.filter(
        status=PaymentAttempt.Status.ERRORED, processor_payment_intent_id="", updated__lt=cutoff
    ).select_related("payment_intent__customer", "payment_intent__merchant")
    for attempt in lost.iterator():
        try:
            if _lost_answer_settle(attempt):
                count += 1
        except KassaError as exc:
            logger.warning("Could not reconcile attempt %s: %s", attempt.public_id, exc.message)
    waiting = PaymentIntent.objects.filter(
        status__in=[S.REQUIRES_ACTION, S.PROCESSING],
        processor_id__isnull=False,
        updated__lt=now - timedelta(minutes=1),
    )
    for payment_intent in waiting.iterator():
        try:
            before = payment_intent.status
            if payment_intent_refresh(payment_intent=payment_intent).status != before:
                count += 1
        except KassaError as exc:
            logger.warning("Could not reconcile %s: %s", payment_intent.public_id, exc.message)
    unanswered = Refund.objects.filter(
        status=Refund.Status.PENDING, processor_id__isnull=True, created__lt=cutoff
    ).select_related("payment_intent", "merchant")
    for refund in unanswered.iterator():
        try:
            _lost_refund_settle(refund)
            count += 1
        except KassaError as exc:
            logger.warning("Could not reconcile %s: %s", refund.public_id, exc.message)
    pending = Refund.objects.filter(status=Refund.Status.PENDING, processor_id__isnull=False).select_related(
        "payment_intent"
    )
    for refund in pending.iterator():
        try:
            if refund_refresh(refund=refund).status != Refund.Status.PENDING:
                count += 1
        except KassaError as exc:
            logger.warning("Could not reconcile %s: %s", refund.public_id, exc.message)
    return count


def refund_refresh(*, refund: Refund) -> Refund:
    """Re-read a pending refund at the processor and record where it ended."""
    credential = processor_credential_for(refund.merchant, refund.livemode)
    return _refund_answered(refund, gateway.refund_retrieve(credential, refund.processor_id))


def _lost_refund_settle(refund: Refund) -> bool:
    """Find what a refund whose answer never came did at the processor (by its own id in the refund's metadata,
    ``kassa_refund``), and record it: the refund the processor made, or, when it made none, the refund failed with
    nothing refunded (``REFUND_NOT_MADE``), which frees its amount to be refunded again. True: the processor made
    it."""
    credential = processor_credential_for(refund.merchant, refund.livemode)
    found = gateway.refund_find(
        credential, payment_intent_id=refund.payment_intent.processor_id, kassa_id=refund.public_id
    )
    not_made = gateway.ProcessorRefund(id=None, status=Refund.Status.FAILED, failure_reason=REFUND_NOT_MADE)
    _refund_answered(refund, found or not_made)
    return found is not None


def refund_sync(*, merchant, livemode: bool, processor_refund_id: str) -> str:
    """Apply the processor's current state of one of its refunds (a webhook said it changed)."""
    refund = Refund.objects.filter(merchant=merchant, livemode=livemode, processor_id=processor_refund_id).first()
    if refund is None:
        return f"No Kassa refund of this merchant is {processor_refund_id}; nothing to do."
    refund = refund_refresh(refund=refund)
    return f"{refund.public_id} is {refund.status}."
