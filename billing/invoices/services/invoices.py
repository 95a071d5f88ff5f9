"""Invoices from draft to open, void or uncollectible (paying them is in collection.py).

A draft is fully editable and numberless; ``invoice_finalize`` gives it its
number (``numbering.number_take``, in the same transaction, so a rolled-back
finalization gives the number back) and copies the customer's and the
seller's details onto it, which never change afterwards. A finalized invoice
keeps its amounts: only the few fields Stripe lets change on one can change.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from kassa import metadata as md
from kassa import money
from kassa.db import atomic_unless_held, insert_unless, new, snapshot, together, update, update_changed
from kassa.errors import IdempotencyConflict, InvalidRequest
from kassa.ids import public_id, random_string
from webhooks.services.outbox import event_emit, render

from ...catalogue.models import Customer
from ...catalogue.selectors import customer_now
from ...payments import services as payments
from ...payments.models import PaymentMethod
from .. import emails, hooks, numbering
from ..models import Invoice, InvoiceItem, InvoicePayment, TaxRate
from ..selectors import (
    invoice_open_payment,
    issued_share,
    lines_forget,
    lines_made,
    lines_prefetch,
    lines_read_with,
)
from .common import S, draft_lock, status_move, tax_rates_check, total_check, totals_refresh
from .items import subscription_lines_build, subscription_lines_insert
from .totals import lines_taxed, taxes_freeze, totals_values

#: A draft with auto_advance is finalized this long after it was made, as at Stripe
#: (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection).
AUTO_FINALIZE_AFTER = timedelta(hours=1)
LANGUAGES = numbering.LANGUAGES

#: What may change once an invoice is finalized (https://docs.stripe.com/api/invoices/update): amounts,
#: customer and collection are fixed; an open invoice's memo, footer and collection settings are not.
OPEN_FIELDS = {"metadata", "description", "footer", "auto_advance", "default_payment_method"}
CLOSED_FIELDS = {"metadata"}
DRAFT_FIELDS = {
    "metadata",
    "description",
    "footer",
    "auto_advance",
    "default_payment_method",
    "collection_method",
    "days_until_due",
    "due_date",
    "default_tax_rates",
}


def _payment_method_check(payment_method: PaymentMethod | None, customer: Customer, param: str):
    if payment_method is not None and payment_method.customer_id != customer.pk:
        raise InvalidRequest(
            f"The payment method {payment_method.public_id} is not one of this customer's saved cards.",
            code="resource_missing",
            param=param,
        )
    return payment_method


def _due_check(*, collection_method: str, days_until_due, due_date, now: datetime) -> None:
    """Stripe's rules: a due date is for ``send_invoice`` only, never both ways at once, never in the past."""
    if collection_method != Invoice.CollectionMethod.SEND_INVOICE:
        for name, value in (("days_until_due", days_until_due), ("due_date", due_date)):
            if value is not None:
                raise InvalidRequest(
                    f"{name} is only valid for invoices whose collection_method is send_invoice.", param=name
                )
    if days_until_due is not None and due_date is not None:
        raise InvalidRequest("Give either days_until_due or due_date, not both.", param="due_date")
    if due_date is not None and due_date < now:
        raise InvalidRequest("The due date must be in the future.", param="due_date")
    if days_until_due is not None and not 0 <= days_until_due <= numbering.DAYS_UNTIL_DUE_MAX:
        raise InvalidRequest(
            f"days_until_due must be from 0 to {numbering.DAYS_UNTIL_DUE_MAX}.", param="days_until_due"
        )


def _currency(currency: str | None, merchant, pending) -> str:
    """The new invoice's currency: the one given, else its first pending item's (``pending``: those it takes,
    None when it takes none), else the merchant's default."""
    if currency:
        currency = currency.lower()
        if not money.is_supported(currency):
            raise InvalidRequest(f"Invalid currency: {currency}.", code="parameter_invalid_currency", param="currency")
        return currency
    first = pending.first() if pending is not None else None
    return first.currency if first is not None else merchant.default_currency


#: The constraint that allows one create/cycle invoice per subscription period (models.Invoice).
PERIOD_ONCE = "invoice_one_per_subscription_period"


class PeriodInvoiced(IntegrityError):
    """``invoice_create`` was asked for a second invoice of a subscription's period: the database's constraint
    (``PERIOD_ONCE``) refused it, and nothing was written. An IntegrityError, as that constraint's refusal always
    was; unlike one the database raises, it leaves the caller's transaction usable, savepoint or none."""


def _totals_before_insert(draft: Invoice, lines: list[tuple[InvoiceItem, list]], default_tax_rates: list) -> None:
    """A draft whose only lines are a subscription's period lines (a renewal's), both made in memory: its totals and
    the lines' taxes set before either is inserted, so the draft is inserted with its totals (no UPDATE after) and
    a total over the maximum is refused before anything is written."""
    taxed, _retaxed = lines_taxed(lines, default_tax_rates)  # new lines: their taxes are set, nothing to save
    for name, value in totals_values(taxed, draft.amount_paid).items():
        setattr(draft, name, value)
    total_check(draft, param="items")


def _draft_insert(draft: Invoice, default_tax_rates: list[TaxRate]) -> Invoice:
    """The new draft, inserted with its default tax rates; a second invoice of its subscription's period raises
    ``PeriodInvoiced``, nothing written (only a subscription's period can meet that constraint)."""
    invoice = insert_unless(draft, PERIOD_ONCE)
    if invoice is None:
        raise PeriodInvoiced(
            f"{draft.subscription.public_id}'s period from {draft.subscription_period_start} is invoiced"
        )
    if default_tax_rates:  # a new invoice: none to replace (and none to add: not even its related manager made)
        invoice.default_tax_rates.add(*default_tax_rates)
    return invoice


@atomic_unless_held
def invoice_create(
    *,
    merchant,
    livemode: bool,
    customer: Customer,
    now: datetime,
    collection_method: str = Invoice.CollectionMethod.CHARGE_AUTOMATICALLY,
    days_until_due: int | None = None,
    due_date: datetime | None = None,
    auto_advance: bool = False,
    pending_invoice_items_behavior: str = "exclude",
    description: str | None = None,
    footer: str | None = None,
    default_tax_rates=None,
    default_payment_method: PaymentMethod | None = None,
    currency: str | None = None,
    metadata=None,
    billing_reason: str = Invoice.BillingReason.MANUAL,
    subscription=None,
    subscription_period_start: datetime | None = None,
    subscription_lines: list[dict] = (),
    lines_kept: bool = False,
    customer_locked: bool = False,
) -> Invoice:
    """A draft for ``customer``; with ``pending_invoice_items_behavior="include"`` it takes their pending items
    in its currency (Stripe's default is ``exclude``). ``auto_advance`` defaults to false, as for an invoice
    made through Stripe's API. ``subscription`` and ``subscription_period_start``: the subscription that makes
    it and the period it bills (billing.subscriptions; one invoice per period, a database constraint);
    ``subscription_lines``: that period's lines (``items.subscription_lines_build``), on the draft before
    ``invoice.created`` is recorded, so that the event shows them, as Stripe's does for a subscription's invoice.
    ``lines_kept``: the lines and rates read for its totals stay read with the draft returned, for its finalizing
    next in this same transaction (a renewal's); the caller adds no line to it meanwhile but through this same
    copy, forgetting them (``selectors.lines_forget``: a renewal's credit carried forward). ``customer_locked``:
    the caller read ``customer`` under its row lock in this transaction (a renewal's), so it is not locked and read
    again; if that read counted the customer's pending items (``customer.pending_invoice_items``) and there were
    none, none are read. A second invoice for one period of a subscription (the database's constraint ``PERIOD_ONCE``)
    is never made: ``PeriodInvoiced`` is raised, nothing written (``kassa.db.insert_unless``). ``held=True``: made in
    the caller's transaction with no savepoint of its own (``kassa.db.atomic_unless_held``: two statements fewer, a
    renewal's): ``PeriodInvoiced`` leaves that transaction as it was, and whatever else fails fails it whole."""
    if customer.deleted:
        raise InvalidRequest(f"No such customer: '{customer.public_id}'", code="resource_missing", param="customer")
    now = customer_now(customer=customer, now=now)  # a test clock's customer: created on the clock's time
    if collection_method not in Invoice.CollectionMethod.values:
        raise InvalidRequest(
            "collection_method must be charge_automatically or send_invoice.", param="collection_method"
        )
    if pending_invoice_items_behavior not in ("include", "exclude"):
        raise InvalidRequest(
            "pending_invoice_items_behavior must be include or exclude.", param="pending_invoice_items_behavior"
        )
    _due_check(collection_method=collection_method, days_until_due=days_until_due, due_date=due_date, now=now)
    settings = numbering.invoice_settings_for(merchant)
    if collection_method == Invoice.CollectionMethod.SEND_INVOICE and due_date is None and days_until_due is None:
        days_until_due = settings.days_until_due
    rates = tax_rates_check(default_tax_rates, merchant=merchant, livemode=livemode, param="default_tax_rates")
    _payment_method_check(default_payment_method, customer, "default_payment_method")
    pending = _customer_pending(customer, customer_locked=customer_locked)
    if pending_invoice_items_behavior != "include":
        pending = None
    currency = _currency(currency, merchant, pending)
    draft = new(
        Invoice,
        public_id=public_id(Invoice.PREFIX),
        merchant=merchant,
        livemode=livemode,
        created=now,
        customer=customer,
        collection_method=collection_method,
        billing_reason=billing_reason,
        auto_advance=auto_advance,
        automatically_finalizes_at=now + AUTO_FINALIZE_AFTER if auto_advance else None,
        currency=currency,
        description=description or None,
        footer=footer if footer is not None else (settings.footer or None),
        days_until_due=days_until_due,
        due_date=due_date,
        token=random_string(43),
        default_payment_method=default_payment_method,
        period_start=now,
        period_end=now,
        subscription=subscription,
        subscription_period_start=subscription_period_start,
        metadata=md.merge({}, metadata),
    )
    pending_items = list(pending.filter(currency=currency)) if pending is not None else []
    built = subscription_lines_build(invoice=draft, lines=subscription_lines, now=now) if subscription_lines else []
    if built and not pending_items:
        _totals_before_insert(draft, built, rates)
    invoice = _draft_insert(draft, rates)
    taken = []
    for item in pending_items:
        taken.append((item, render(item)))
        item.invoice = invoice
        item.save(update_fields=["invoice", "updated"])
    if built:
        subscription_lines_insert(invoice=invoice, lines=built)
    # Its lines and rates, for its totals and its event; forgotten before it is returned (a caller may add lines to
    # it through another copy), unless kept for its finalizing. A subscription's period lines alone (a renewal's) are
    # the ones just made, handed over as they are (totalled already); pending items taken are read with them.
    if taken:
        rates_read = "default_tax_rates" if rates else Prefetch("default_tax_rates", TaxRate.objects.none())
        prefetch_related_objects([invoice], lines_prefetch(), rates_read)
        totals_refresh(invoice, param="items" if subscription_lines else "pending_invoice_items_behavior")
    elif built:
        lines_made(invoice, built, rates)
    # else no lines yet: the totals are the model's zeros
    event_emit(type="invoice.created", obj=invoice)
    if not lines_kept:
        lines_forget(invoice)
    for item, before in taken:
        event_emit(type="invoiceitem.updated", obj=item, before=before)
    return invoice


def _editable_check(invoice: Invoice, changes: dict) -> None:
    allowed = DRAFT_FIELDS if invoice.status == S.DRAFT else OPEN_FIELDS if invoice.status == S.OPEN else CLOSED_FIELDS
    for name in sorted(changes):
        if name not in allowed:
            raise InvalidRequest(
                f"You can no longer change {name}: invoice {invoice.public_id} is {invoice.status}.",
                code="invoice_not_editable",
                param=name,
            )


@transaction.atomic
def invoice_update(*, invoice: Invoice, now: datetime, **changes) -> Invoice:
    """A draft: anything; an open invoice: memo, footer, metadata and collection settings; paid, void or
    uncollectible: metadata only. Anything else is refused, naming the parameter."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    now = customer_now(customer=invoice.customer, now=now)
    _editable_check(invoice, changes)
    before = render(invoice)
    collection = changes.get("collection_method", invoice.collection_method)
    if collection not in Invoice.CollectionMethod.values:
        raise InvalidRequest(
            "collection_method must be charge_automatically or send_invoice.", param="collection_method"
        )
    if invoice.status == S.DRAFT and {"collection_method", "days_until_due", "due_date"} & set(changes):
        days = changes.get("days_until_due", invoice.days_until_due if "due_date" not in changes else None)
        due = changes.get("due_date", invoice.due_date if "days_until_due" not in changes else None)
        if collection != Invoice.CollectionMethod.SEND_INVOICE and "collection_method" in changes:
            # Back to charging automatically: the due date goes, unless it is being set (refused below).
            days = changes.get("days_until_due")
            due = changes.get("due_date")
        _due_check(collection_method=collection, days_until_due=days, due_date=due, now=now)
        if collection == Invoice.CollectionMethod.SEND_INVOICE and days is None and due is None:
            days = numbering.invoice_settings_for(invoice.merchant).days_until_due
        invoice.collection_method, invoice.days_until_due, invoice.due_date = collection, days, due
    if "default_payment_method" in changes:
        invoice.default_payment_method = _payment_method_check(
            changes["default_payment_method"], invoice.customer, "default_payment_method"
        )
    for name in ("description", "footer"):
        if name in changes:
            setattr(invoice, name, changes[name] or None)
    if "auto_advance" in changes:
        invoice.auto_advance = changes["auto_advance"]
        if invoice.status == S.DRAFT:
            invoice.automatically_finalizes_at = (
                max(invoice.created + AUTO_FINALIZE_AFTER, now) if invoice.auto_advance else None
            )
        elif invoice.collection_method == Invoice.CollectionMethod.CHARGE_AUTOMATICALLY:
            # An open invoice's automatic collection switched on: beat attempts it now; off: no attempt.
            invoice.next_payment_attempt = now if invoice.auto_advance else None
    if "metadata" in changes:
        invoice.metadata = md.merge(invoice.metadata, changes["metadata"])
    invoice.save()
    if "default_tax_rates" in changes:
        rates = tax_rates_check(
            changes["default_tax_rates"],
            merchant=invoice.merchant,
            livemode=invoice.livemode,
            param="default_tax_rates",
        )
        invoice.default_tax_rates.set(rates)
    totals_refresh(invoice, before, param="default_tax_rates")
    return invoice


def invoices_card_detached(*, payment_method: PaymentMethod) -> None:
    """Payments' hook as a saved card is detached (``on_card_detached``), in its transaction: the unpaid invoices
    (draft, open, uncollectible) that name it as their default are locked, in id order and before the customer (as
    a payment locks an invoice), and stop naming it (``invoice.updated``): they show, as their next attempt
    (dunning's retry, a new default card's) uses, the customer's default card (``collection._card`` passes over a
    default that is no longer the customer's, for one this misses). A paid or void invoice keeps it: that is how
    it was paid, or no longer matters."""
    naming = Invoice.objects.select_for_update().filter(
        default_payment_method=payment_method, status__in=(S.DRAFT, S.OPEN, S.UNCOLLECTIBLE)
    )
    for invoice in naming.order_by("pk"):
        before = render(invoice)
        invoice.default_payment_method = None
        invoice.save()
        event_emit(type="invoice.updated", obj=invoice, before=before)


@transaction.atomic
def invoice_delete(*, invoice: Invoice) -> str:
    """Delete a draft (only a draft: a finalized invoice is voided instead); its items become pending again."""
    invoice = draft_lock(invoice)
    last = render(invoice)
    for item in invoice.items.select_for_update().order_by("pk"):
        before = render(item)
        item.invoice = None
        item.save(update_fields=["invoice", "updated"])
        event_emit(type="invoiceitem.updated", obj=item, before=before)
    event_emit(type="invoice.deleted", obj=invoice, data_object=last)
    invoice.delete()
    return last["id"]


def customer_language(customer: Customer, default: str) -> str:
    """The first of the customer's ``preferred_locales`` Kassa speaks (``fr-CA`` → ``fr``), else ``default``."""
    for locale in customer.preferred_locales or []:
        language = str(locale).split("-")[0].split("_")[0].lower()
        if language in LANGUAGES:
            return language
    return default if default in LANGUAGES else "en"


def _customer_pending(customer: Customer, *, customer_locked: bool) -> QuerySet | None:
    """The customer's row lock, taken here unless the caller holds it (``customer_locked``): two invoices made at
    once never both take one pending item. The default card as the lock finds it (the caller's copy may be older):
    what a charge begun in this transaction takes (collection.invoice_charge_begin), and no change of it commits
    before this transaction does. Returns the customer's pending items, to lock as they are read; none to read
    where the caller counted them under the lock it holds and found none (``customer.pending_invoice_items``): None."""
    if not customer_locked:
        locked = Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if locked is not None:
            customer.default_payment_method_id = locked.default_payment_method_id
    if customer_locked and getattr(customer, "pending_invoice_items", None) == 0:
        # None to read: not even an empty query (Django compiles a ``.none()`` query's SQL before it finds it empty:
        # a renewal's invoice made one for nothing).
        return None
    return InvoiceItem.objects.select_for_update().filter(customer=customer, invoice__isnull=True).order_by("pk")


def invoice_finalize(
    *, invoice: Invoice, now: datetime, auto_advance: bool | None = None, made_here: bool = False
) -> Invoice:
    """Draft → open: the number, the customer's and the seller's details, the due date; a zero total is paid.
    ``made_here``: the caller made this draft earlier in this same transaction (a renewal's, under the
    subscription's lock), so no one else can see it yet: it is finalized as the caller holds it, not locked and
    read again (a renewal's widest read), and as part of the caller's transaction, with no savepoint of its own
    (the caller's draft and its finalizing stand or fall together: two statements fewer). The caller's copy must be
    as stored (whatever it set on it, written): finalizing writes what it changes on it, not the whole row."""
    with transaction.atomic(savepoint=not made_here):
        return _finalize(invoice=invoice, now=now, auto_advance=auto_advance, made_here=made_here)


def _finalize(*, invoice: Invoice, now: datetime, auto_advance: bool | None, made_here: bool) -> Invoice:
    invoice = _finalize_read(invoice, made_here=made_here)
    # As stored: read here, or the caller's own draft, every change to which it has written (made_here).
    stored = snapshot(invoice)
    if invoice.status != S.DRAFT:
        raise InvalidRequest(
            f"Invoice {invoice.public_id} is already finalized ({invoice.status}); only a draft can be finalized.",
            code="invoice_unexpected_state",
            param="invoice",
        )
    if invoice.customer.deleted:
        raise InvalidRequest("The invoice's customer was deleted.", code="resource_missing", param="customer")
    now = customer_now(customer=invoice.customer, now=now)
    will_send = invoice.collection_method == Invoice.CollectionMethod.SEND_INVOICE and (
        invoice.auto_advance if auto_advance is None else auto_advance
    )
    if will_send and invoice.total > 0:
        _email_check(invoice.customer.email)  # finalizing it sends it
    if invoice.due_date is not None and invoice.due_date < now:
        raise InvalidRequest(
            "The invoice's due date has passed: set a new due_date (or days_until_due) before finalizing it.",
            param="due_date",
        )
    totals_refresh(invoice)
    total_check(invoice, param="invoice")  # before the number is taken: never an issued invoice nobody can pay
    taxes_freeze(invoice)  # the rates as issued: renaming one later changes no issued invoice
    settings = numbering.invoice_settings_for(invoice.merchant)
    customer = invoice.customer
    status_move(invoice, S.OPEN)
    invoice.number = numbering.number_take(merchant=invoice.merchant, livemode=invoice.livemode, settings=settings)
    invoice.finalized_at = now
    if auto_advance is not None:
        invoice.auto_advance = auto_advance
    invoice.automatically_finalizes_at = None
    invoice.customer_email = customer.email
    invoice.customer_name = customer.name
    invoice.customer_phone = customer.phone
    invoice.customer_address = customer.address
    # The seller as issued (legal fields of a French invoice): copied, never read from the settings again.
    invoice.issuer = settings.issuer()
    invoice.language = customer_language(customer, settings.default_locale)
    if invoice.collection_method == Invoice.CollectionMethod.SEND_INVOICE and invoice.due_date is None:
        invoice.due_date = now + timedelta(days=invoice.days_until_due or 0)
    if invoice.collection_method == Invoice.CollectionMethod.CHARGE_AUTOMATICALLY and invoice.auto_advance:
        invoice.next_payment_attempt = now  # beat charges it (collection.invoices_advance)
    with together(with_next=True):  # about twenty of its 56 columns, sent with what follows (kassa.db)
        update_changed(invoice, stored)
    issued_share(invoice)  # its lines and rates, for its renderings later in this batch (a renewal run's invoice.paid)
    event_emit(type="invoice.finalized", obj=invoice)
    if invoice.amount_remaining == 0:
        # Nothing to pay: paid as it is finalized, with the events a paid invoice sends at Stripe.
        _paid(invoice, now)
        shown = render(invoice)  # both events show the same invoice: rendered once
        event_emit(type="invoice.paid", obj=invoice, data_object=shown)
        event_emit(type="invoice.payment_succeeded", obj=invoice, data_object=shown)
    elif invoice.collection_method == Invoice.CollectionMethod.SEND_INVOICE and invoice.auto_advance:
        # Automatic collection of a send_invoice invoice emails it as it is finalized, as at Stripe.
        invoice.sent_at = now
        invoice.save(update_fields=["sent_at", "updated"])
        event_emit(type="invoice.sent", obj=invoice)
        emails.invoice_email_queue(invoice=invoice)
    return invoice


def _finalize_read(invoice: Invoice, *, made_here: bool) -> Invoice:
    """The draft to finalize, locked, with its customer, merchant and subscription, and its lines and tax rates
    read once for its totals, its frozen taxes and its event (selectors.lines_prefetch); ``made_here``: the
    caller's own copy, its lines and rates read onto it."""
    if made_here:
        if not lines_read_with(invoice):  # a renewal's draft: its lines kept as they were made (lines_kept)
            prefetch_related_objects([invoice], lines_prefetch(), "default_tax_rates")
        return invoice
    locking = Invoice.objects.select_for_update(of=("self",))  # what it reads comes with it, not locked
    reading = locking.select_related("customer", "merchant", "subscription")
    return reading.prefetch_related(lines_prefetch(), "default_tax_rates").get(pk=invoice.pk)


#: What marking an invoice's payment paid writes (``_paid``'s ``payment``).
PAYMENT_PAID = ("status", "amount_paid", "paid_at", "canceled_at")


def _paid(
    invoice: Invoice, now: datetime, *, stored: dict | None = None, payment: InvoicePayment | None = None
) -> None:
    """Mark a locked invoice paid (its payments recorded by the caller); saved here. ``stored``: the invoice as the
    caller read it (``kassa.db.snapshot``), so that what changed since is written (a payment's success, every paid
    renewal's: about a dozen columns, not 56); None (every other caller): the whole row, whatever the caller
    changed. ``payment``: the caller's payment of it, just marked paid (a payment's success): written with the
    invoice, in one statement (``kassa.db.together``)."""
    status_move(invoice, S.PAID)
    invoice.paid_at = now
    invoice.auto_advance = False
    invoice.next_payment_attempt = None
    invoice.amount_remaining = 0
    with together(with_next=True):  # sent with what follows (kassa.db): its events, or the COMMIT
        if payment is not None:
            update(payment, PAYMENT_PAID)
        if stored is None:
            update(invoice)
        else:
            update_changed(invoice, stored)
    hooks.invoice_changed(invoice=invoice, change=hooks.PAID, now=now)


def _closing_lock(invoice: Invoice, allowed: set[str], action: str) -> Invoice:
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status not in allowed:
        raise InvalidRequest(
            f"Invoice {locked.public_id} is {locked.status}: it cannot be {action}.",
            code="invoice_unexpected_state",
            param="invoice",
        )
    return locked


def _open_payment_cancel(invoice: Invoice) -> None:
    """Before an invoice stops taking payments: cancel its unpaid PaymentIntent (refused while one is in flight)."""
    payment = invoice_open_payment(invoice)
    if payment is None or payment.payment_intent is None:
        return
    intent = payment.payment_intent
    if intent.status == intent.Status.SUCCEEDED:
        raise IdempotencyConflict("A payment of this invoice has just succeeded.", code="payment_in_progress")
    if intent.status in payments.CANCELABLE:
        payments.payment_intent_cancel(payment_intent=intent, from_owner=True)


def _payment_close(invoice: Invoice, now: datetime) -> None:
    for payment in invoice.payments.select_for_update().filter(status=InvoicePayment.Status.OPEN):
        if (
            payment.payment_intent is not None
            and payment.payment_intent.status != payment.payment_intent.Status.CANCELED
        ):
            raise IdempotencyConflict(
                "A payment of this invoice is in progress; try again once it has finished.", code="payment_in_progress"
            )
        payment.status = InvoicePayment.Status.CANCELED
        payment.canceled_at = now
        payment.save(update_fields=["status", "canceled_at"])


def invoice_void(*, invoice: Invoice, now: datetime) -> Invoice:
    """Open or uncollectible → void: it stays on record with its number, and takes no payment any more."""
    _closing_lock_check(invoice, {S.OPEN, S.UNCOLLECTIBLE}, "voided")
    now = customer_now(customer=invoice.customer, now=now)
    _open_payment_cancel(invoice)
    with transaction.atomic():
        invoice = _closing_lock(invoice, {S.OPEN, S.UNCOLLECTIBLE}, "voided")
        _payment_close(invoice, now)
        status_move(invoice, S.VOID)
        invoice.voided_at = now
        invoice.auto_advance = False
        invoice.next_payment_attempt = None
        invoice.save()
        event_emit(type="invoice.voided", obj=invoice)
        hooks.invoice_changed(invoice=invoice, change=hooks.VOIDED, now=now)
    return invoice


def _closing_lock_check(invoice: Invoice, allowed: set[str], action: str) -> None:
    with transaction.atomic():
        _closing_lock(invoice, allowed, action)


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice, now: datetime) -> Invoice:
    """Open → uncollectible: written off, though it can still be paid (or voided)."""
    invoice = _closing_lock(invoice, {S.OPEN}, "marked uncollectible")
    now = customer_now(customer=invoice.customer, now=now)
    status_move(invoice, S.UNCOLLECTIBLE)
    invoice.marked_uncollectible_at = now
    invoice.auto_advance = False
    invoice.next_payment_attempt = None
    invoice.save()
    event_emit(type="invoice.marked_uncollectible", obj=invoice)
    hooks.invoice_changed(invoice=invoice, change=hooks.MARKED_UNCOLLECTIBLE, now=now)
    return invoice


@transaction.atomic
def invoice_send(*, invoice: Invoice, now: datetime) -> Invoice:
    """Send an open ``send_invoice`` invoice to its customer: records it and emits ``invoice.sent``.

    The email itself (link and PDF) is added here by the emails' part.
    """
    invoice = _closing_lock(invoice, {S.OPEN}, "sent")
    now = customer_now(customer=invoice.customer, now=now)
    if invoice.collection_method != Invoice.CollectionMethod.SEND_INVOICE:
        raise InvalidRequest(
            "You can only send an invoice whose collection_method is send_invoice.",
            code="invoice_unexpected_state",
            param="collection_method",
        )
    _email_check(invoice.customer_email)
    invoice.sent_at = now
    invoice.save(update_fields=["sent_at", "updated"])
    event_emit(type="invoice.sent", obj=invoice)
    emails.invoice_email_queue(invoice=invoice)
    return invoice


def _email_check(email: str | None) -> None:
    """Sending needs somewhere to send to, as at Stripe: a customer without an email is refused, nothing recorded."""
    if not email:
        raise InvalidRequest(
            "The customer has no email address, so the invoice cannot be sent: add one to the customer "
            "(before finalizing), or collect the payment another way.",
            code="customer_email_missing",
            param="customer",
        )
